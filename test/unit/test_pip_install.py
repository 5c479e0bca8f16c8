"""The installer's building blocks without the network (deps/pip_install.py, deps/__init__.py): constraints of
what the Python has, top-level modules and removal of an installed distribution, the folder on sys.path, finding
the interpreter, and the messages made of pip's real output. The whole tool against the real package index is
tested in test/test_install_dependencies.py."""
import importlib
import os
import subprocess
import sys

import pytest

from mining_eco_plugin import deps
from mining_eco_plugin.deps import pip_install as pi


def test_constraints_pin_what_is_installed_and_the_scientific_stack():
    import numpy
    import sklearn
    present = pi.installed_distributions()
    text = pi.constraints_text(dict(present, **{"odd": ("odd", "1.0 (debian weird)"), "bad name": ("bad name", "1")}))
    lines = set(text.split())
    assert f"numpy=={numpy.__version__}" in lines and any(line.startswith("scikit-learn==") for line in lines)
    assert sklearn.__version__ in text
    assert not [line for line in lines if line.startswith(("odd", "bad"))]      # unparsable entries are left out
    assert all(line.count("==") == 1 for line in lines)


def test_installed_distributions_leave_out_the_plugin_folder(tmp_path):
    info = tmp_path / "fakepkg-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fakepkg\nVersion: 1.0\n")
    sys.path.insert(0, str(tmp_path))
    try:
        importlib.invalidate_caches()
        assert pi.installed_distributions()["fakepkg"] == ("fakepkg", "1.0")
        assert "fakepkg" not in pi.installed_distributions(exclude=str(tmp_path))
    finally:
        sys.path.remove(str(tmp_path))


def _install_fake(folder, name="demo_pkg", version="1.0", top_level=True):
    pkg = folder / name
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("X = 1\n")
    (pkg / "sub").mkdir()
    (pkg / "sub" / "m.py").write_text("")
    (folder / "demo_mod.py").write_text("")
    (folder / "_demo_ext.cpython-311-x86_64-linux-gnu.so").write_text("")
    info = folder / f"{name}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: Demo-Pkg\nVersion: {version}\n\nbody\n")
    record = [f"{name}/__init__.py,,", f"{name}/sub/m.py,,", "demo_mod.py,,", "_demo_ext.cpython-311-x86_64-linux-gnu.so,,",
              "tests/__init__.py,,", f"{info.name}/METADATA,,", f"{info.name}/RECORD,,", "../../bin/outside,,"]
    (info / "RECORD").write_text("\n".join(record) + "\n")
    if top_level:
        (info / "top_level.txt").write_text(f"{name}\ndemo_mod\n")
    return info


def test_top_level_names_from_top_level_txt_or_record(tmp_path):
    info = _install_fake(tmp_path, top_level=False)
    assert pi.dist_infos(str(tmp_path)) == {"demo-pkg": ("Demo-Pkg", "1.0", str(info))}
    assert pi.top_level(str(tmp_path), str(info)) == ["_demo_ext", "demo_mod", "demo_pkg"]   # not 'tests', not '..'
    (info / "top_level.txt").write_text("demo_pkg\ndemo_mod\n")
    assert pi.top_level(str(tmp_path), str(info)) == ["demo_mod", "demo_pkg"]


def test_remove_distribution_deletes_its_files_only(tmp_path):
    info = _install_fake(tmp_path)
    (tmp_path / "demo_pkg" / "__pycache__").mkdir()
    (tmp_path / "demo_pkg" / "__pycache__" / "x.pyc").write_text("")
    (tmp_path / "other.py").write_text("")
    outside = tmp_path.parent / "keep-me"
    outside.write_text("")
    pi.remove_distribution(str(tmp_path), str(info))
    assert sorted(os.listdir(tmp_path)) == ["other.py"] and outside.exists()


def test_replace_folder_swaps_and_keeps_the_old_one_on_failure(tmp_path):
    target, staging = tmp_path / "python3.x", tmp_path / ".staging-python3.x-1"
    target.mkdir()
    (target / "old.txt").write_text("old")
    staging.mkdir()
    (staging / "new.txt").write_text("new")
    pi.replace_folder(str(staging), str(target))
    assert os.listdir(target) == ["new.txt"] and sorted(os.listdir(tmp_path)) == ["python3.x"]
    with pytest.raises(OSError):
        pi.replace_folder(str(tmp_path / "missing"), str(target))
    assert os.listdir(target) == ["new.txt"] and sorted(os.listdir(tmp_path)) == ["python3.x"]


def test_add_to_sys_path_once_before_site_packages_and_importable_at_once(tmp_path):
    folder = tmp_path / "mining_eco" / "python3.x"
    saved = list(sys.path)
    try:
        assert deps.add_to_sys_path(str(folder)) is False and sys.path == saved     # no folder: nothing added
        folder.mkdir(parents=True)
        assert deps.add_to_sys_path(str(folder)) and deps.add_to_sys_path(str(folder))
        assert sys.path.count(str(folder)) == 1
        site = next(i for i, p in enumerate(sys.path) if os.path.basename(p) in ("site-packages", "dist-packages"))
        assert sys.path.index(str(folder)) < site
        (folder / "mining_eco_written_later.py").write_text("V = 7\n")   # installed while QGIS runs
        deps.refresh_imports(str(folder))
        assert importlib.import_module("mining_eco_written_later").V == 7
    finally:
        sys.path[:] = saved
        sys.modules.pop("mining_eco_written_later", None)


def test_deps_dir_is_per_python_version_in_the_profile(tmp_path):
    assert deps.deps_dir(str(tmp_path)) == str(tmp_path / "mining_eco" / ("python%d.%d" % sys.version_info[:2]))
    assert deps.deps_dir("") == ""


def test_find_python_gives_an_interpreter_of_this_version(monkeypatch):
    monkeypatch.delenv(pi.PYTHON_ENV, raising=False)
    info = pi.find_python()
    out = subprocess.run([info.path, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"], capture_output=True,
                         text=True).stdout.strip()
    assert out == "%d.%d" % sys.version_info[:2] and info.version.startswith(out)
    assert all(os.path.basename(p).lower().startswith("python") for p in pi.candidates())


def test_python_variable_is_checked(monkeypatch, tmp_path):
    monkeypatch.setenv(pi.PYTHON_ENV, str(tmp_path / "nothing"))
    with pytest.raises(pi.InstallError, match="MINING_ECO_PYTHON names .* does not run as Python"):
        pi.find_python()
    monkeypatch.setenv(pi.PYTHON_ENV, sys.executable)
    assert pi.find_python().path == sys.executable


def test_pip_missing_names_the_fix(tmp_path):
    venv = tmp_path / "nopip"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = pi.PythonInfo(str(venv / "bin" / "python"), "3", str(venv))
    with pytest.raises(pi.InstallError, match="pip is not available .* python3-pip"):
        pi.pip_version(python, pi.pip_env())


def test_pip_env_neutralises_settings_that_break_target_or_add_other_indexes(monkeypatch):
    monkeypatch.setenv("PIP_TARGET", "/somewhere")
    monkeypatch.setenv("PYTHONPATH", "/a")
    env = pi.pip_env(["/folder"], "https://mirror.example/simple")
    assert "PIP_TARGET" not in env and env["PIP_USER"] == "0" and env["PYTHONPATH"] == os.pathsep.join(["/folder", "/a"])
    assert env["PIP_EXTRA_INDEX_URL"] == " " and env["PIP_FIND_LINKS"] == " "      # a space: pip's empty list
    assert pi.pip_env([], "").get("PIP_EXTRA_INDEX_URL") == os.environ.get("PIP_EXTRA_INDEX_URL")   # pip's own


# pip 23.0.1's own words (captured from real runs)
REFUSED = ("Looking in indexes: http://127.0.0.1:9/simple\n"
           "WARNING: Retrying (Retry(total=0, connect=None, read=None, redirect=None, status=None)) after connection "
           "broken by 'NewConnectionError('<pip._vendor.urllib3.connection.HTTPConnection object at 0x7f015c72ca50>: "
           "Failed to establish a new connection: [Errno 111] Connection refused')': /simple/skops/\n"
           "ERROR: Could not find a version that satisfies the requirement skops (from versions: none)\n"
           "ERROR: No matching distribution found for skops\n")
CONFLICT = ("ERROR: Cannot install skops==99.0 because these package versions have conflicting dependencies.\n\n"
            "The conflict is caused by:\n    skops 99.0 depends on numpy>=999\n"
            "    The user requested (constraint) numpy==1.24.2\n\nTo fix this you could try to:\n"
            "1. loosen the range of package versions you've specified\n\n"
            "ERROR: ResolutionImpossible: for help visit the pip documentation\n")


def test_messages_from_pips_output():
    err = pi.diagnose(1, REFUSED, ["skops>=0.10"], "http://127.0.0.1:9/simple", 3, "numpy 1.24.2")
    assert str(err).startswith("the package index cannot be reached (http://127.0.0.1:9/simple; timeout 3 s): "
                               "Failed to establish a new connection: [Errno 111] Connection refused. ")
    assert "INDEX_URL" in str(err)
    err = pi.diagnose(1, CONFLICT, ["skops>=0.10"], "x", 3, "numpy 1.24.2")
    assert "fits the packages QGIS's Python has (numpy 1.24.2)" in str(err)
    assert "skops 99.0 depends on numpy>=999; The user requested (constraint) numpy==1.24.2" in str(err)
    err = pi.diagnose(1, "ERROR: No matching distribution found for skops\n", ["skops"], "file:///m", 3, "")
    assert "offers no release of skops" in str(err)
    timeout = ("WARNING: Retrying (Retry(total=0)) after connection broken by 'ConnectTimeoutError(<pip._vendor."
               "urllib3.connection.HTTPSConnection object at 0x7f>, 'Connection to 10.255.255.1 timed out. (connect "
               "timeout=3)')': /simple/skops/\nERROR: No matching distribution found for skops\n")
    assert "Connection to 10.255.255.1 timed out. Check" in str(pi.diagnose(1, timeout, ["skops"], "i", 3, ""))


def test_run_command_streams_and_cancels(tmp_path):
    lines = []
    code, out = pi.run_command([sys.executable, "-c", "print('a'); print('b')"], None, str(tmp_path), lines.append,
                               lambda: False)
    assert code == 0 and lines == ["a", "b"] and out == "a\nb"
    pids = []
    script = "import time, sys\nprint('started', flush=True)\ntime.sleep(60)"
    with pytest.raises(pi.Cancelled):
        pi.run_command([sys.executable, "-c", script], None, str(tmp_path), lines.append,
                       lambda: "started" in lines, debug=lambda s: pids.append(int(s.split()[1].rstrip(":"))))
    assert pids and not os.path.exists(f"/proc/{pids[0]}")


def test_merge_keeps_what_other_packages_put_in_shared_folders(tmp_path):
    folder, new = tmp_path / "site", tmp_path / "site" / ".pip-new"
    (folder / "bin").mkdir(parents=True)
    (folder / "bin" / "old-script").write_text("old")
    (folder / "ns" / "a").mkdir(parents=True)
    (folder / "ns" / "a" / "__init__.py").write_text("a")
    (new / "bin").mkdir(parents=True)
    (new / "bin" / "new-script").write_text("new")
    (new / "ns" / "b").mkdir(parents=True)
    (new / "ns" / "b" / "__init__.py").write_text("b")
    (new / "pkg").mkdir()
    (new / "pkg" / "__init__.py").write_text("")
    pi.merge_into(str(new), str(folder))
    assert sorted(os.listdir(folder)) == ["bin", "ns", "pkg"]
    assert sorted(os.listdir(folder / "bin")) == ["new-script", "old-script"]
    assert sorted(os.listdir(folder / "ns")) == ["a", "b"]


def test_installer_ranges_are_the_tested_ones():
    """The versions the installer may pick are those the test suite runs with (requirements-dev.txt)."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    lines = [line.split("#")[0].strip().replace(" ", "") for line in open(os.path.join(root, "requirements-dev.txt"))]
    assert pi.SKOPS.requirement in lines and pi.XGBOOST.requirement in lines and pi.GSTOOLS.requirement in lines
    assert pi.OPTUNA.requirement in lines
    assert pi.SHAP.requirement in lines


def test_knows_option_reads_pips_help():
    python = pi.find_python()
    assert pi.knows_option(python, pi.pip_env(), "--dry-run")
    assert not pi.knows_option(python, pi.pip_env(), "--no-such-option-here")
