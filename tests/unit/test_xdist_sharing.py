"""Session resources under pytest-xdist: with several workers, exactly one worker starts a
shared resource (testlib.start_once, the pattern of the ``cluster`` and ``central``
fixtures), no worker stops it while others run, and the controller stops it once, after
every worker has finished (tests/conftest.py's hooks, copied into a throw-away suite)."""
from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from testlib import REPO

pytest.importorskip("xdist")

CONFTEST = textwrap.dedent('''
    import os, sys, tempfile, time
    from pathlib import Path
    import pytest
    sys.path.insert(0, {tests!r})
    from testlib import XDIST_SHARED_KEY, start_once, started_by_run, xdist_shared_dir

    LOG = Path(os.environ["SHARING_LOG"])

    def log(line):
        with LOG.open("a") as f:
            f.write(line + "\\n")

    def start():
        log("start")
        time.sleep(1.5)  # slow start: the other workers must wait for it, not start again
        return True

    @pytest.fixture(scope="session")
    def resource(request):
        start_once(xdist_shared_dir(request.config), "res", start)
        yield
        log("worker-teardown-without-stop")

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(node):
        if getattr(node.config, "kubiya_shared_dir", None) is None:
            node.config.kubiya_shared_dir = tempfile.mkdtemp(prefix="kubiya-xdist-test-")
        node.workerinput[XDIST_SHARED_KEY] = node.config.kubiya_shared_dir

    def pytest_unconfigure(config):
        shared = getattr(config, "kubiya_shared_dir", None)
        if shared and started_by_run(Path(shared), "res"):
            log("stop")
''')


def test_one_worker_starts_the_controller_stops_once(tmp_path: Path):
    (tmp_path / "conftest.py").write_text(CONFTEST.format(tests=str(REPO / "tests")))
    (tmp_path / "test_many.py").write_text(textwrap.dedent('''
        import pytest
        @pytest.mark.parametrize("i", range(6))
        def test_uses(resource, i):
            pass
    '''))
    log = tmp_path / "log"
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "3",
                          "-c", "/dev/null", "--rootdir", str(tmp_path), str(tmp_path)],
                         env={"SHARING_LOG": str(log), "PATH": "/usr/bin:/bin"},
                         cwd=tmp_path, text=True, capture_output=True, timeout=300, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    lines = log.read_text().splitlines()
    assert lines.count("start") == 1, lines
    assert lines.count("stop") == 1 and lines[-1] == "stop", lines  # after every worker's teardown


@pytest.mark.xfail(strict=True, reason="with pytest 9.2 + pytest-xdist 3.8.0 here, --dist loadgroup spreads even "
                   "a decorated xdist_group over the workers (xdist sets item._nodeid, pytest 9 reads item._id); "
                   "make test runs the grouped tests in a separate serial run until this passes")
def test_groups_added_by_a_conftest_hook_reach_loadgroup(tmp_path: Path):
    """tests/conftest.py adds xdist_group marks in pytest_collection_modifyitems; it must run
    before xdist's own hook (tryfirst), or the tests of a group spread over the workers."""
    (tmp_path / "conftest.py").write_text(textwrap.dedent('''
        import pytest
        @pytest.hookimpl(tryfirst=True)
        def pytest_collection_modifyitems(config, items):
            for item in items:
                item.add_marker(pytest.mark.xdist_group("fixed-port"))
    '''))
    (tmp_path / "test_many.py").write_text("import pytest\n@pytest.mark.parametrize('i', range(6))\n"
                                           "def test_uses(i):\n    pass\n")
    out = subprocess.run([sys.executable, "-m", "pytest", "-v", "-p", "no:cacheprovider", "-n", "2", "--dist",
                          "loadgroup", "-c", "/dev/null", "--rootdir", str(tmp_path), str(tmp_path)],
                         env={"PATH": "/usr/bin:/bin"}, cwd=tmp_path, text=True, capture_output=True, timeout=300,
                         check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    workers = {line.split("]")[0] for line in out.stdout.splitlines() if "PASSED" in line and "@fixed-port" in line}
    assert len(workers) == 1, out.stdout
