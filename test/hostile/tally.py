"""Run the hostile-input battery alone and print its tally (issue 11's closing note needs it).

    cd <checkout> && QT_QPA_PLATFORM=offscreen .venv/bin/python test/hostile/tally.py [--json FILE] [pytest args]

Prints, after pytest's own summary: the count of cases per outcome (clean error, correct result, clean cancel /
hang, raw traceback, silently wrong, leftover files, valid input refused, unclear message), cases and failures
per tool, how read-only folders were made (root: chattr +i), then every failing case with its first problem,
grouped by outcome. ``--json FILE`` also writes one JSON line per case (id, tool, category, via, kind, problems,
seconds, message). Exit status: pytest's (non-zero while any case fails).
"""
from __future__ import annotations

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def main(argv):
    args = list(argv)
    if "--json" in args:
        i = args.index("--json")
        os.environ["HOSTILE_REPORT"] = os.path.abspath(args[i + 1])
        del args[i:i + 2]
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.chdir(ROOT)
    import pytest
    # --tb=no: the tally lists every failing case with its problems; pytest's tracebacks would only repeat them
    return pytest.main([os.path.join("test", "hostile"), "-q", "--tb=no", "-p", "no:cacheprovider", *args])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
