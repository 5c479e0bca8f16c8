"""Report writers (HTML pages, PNG charts) shared by the algorithms.

No qgis import.  matplotlib is imported lazily, only when a writer is used, so that
loading the plugin stays fast.
"""

__all__ = ["histogram_png", "write_html_report"]


def __getattr__(name):
    if name in __all__:
        from . import html as _html

        return getattr(_html, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
