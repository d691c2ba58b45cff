"""Session fixtures shared by every suite.

- ``cluster``: the local control plane (tests/cluster/up.sh). Started for the
  session when no cluster is running, stopped again at the end unless it was
  already running or ``KUBIYA_KEEP_CLUSTER=1``. With ``KUBIYA_EXISTING_CLUSTER=1``
  the cluster given by ``KUBECONFIG`` is used instead and never touched.
- ``namespace``: a fresh namespace per test, deleted afterwards.
- ``run_module``: a module of this collection run as a real process (testlib.run_module);
  ``cluster.run_module(...)`` runs one against the cluster.

With pytest-xdist (``-n N``, ``make test`` uses ``--dist loadgroup``): exactly one worker
starts the cluster (and the central side), under a file lock in a directory the controller
shares with its workers; no worker stops them, the controller does at the end of the run
(testlib.start_once). Tests that share a fixed resource are pinned to one worker by an
``xdist_group`` mark (``XDIST_GROUPS`` below).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))

# pylint: disable=wrong-import-position
from testlib import (CLUSTER_DIR, REPO, XDIST_SHARED_KEY, ModuleRun, base_env,  # noqa: E402
                     ensure_collection_on_path, start_once, started_by_run, xdist_shared_dir)
from testlib import run_module as _run_module  # noqa: E402

ensure_collection_on_path()

# the local central side (Prometheus + token endpoint + auth front): fixture `central`
from central.fixtures import central  # noqa: E402,F401  pylint: disable=unused-import


@dataclass
class Cluster:
    kubeconfig: Path
    env: dict[str, str] = field(default_factory=dict)

    def kubectl(self, *args: str, check: bool = True, input: str | None = None,
                timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run(["kubectl", *args], env=self.env, text=True, input=input,
                              capture_output=True, check=check, timeout=timeout)

    def run_module(self, module: str, tmp_path: Path, /, **args) -> ModuleRun:
        """kubiya.runners.<module> as a real process against this cluster (its kubeconfig
        unless ``kubeconfig`` is given)."""
        args.setdefault("kubeconfig", str(self.kubeconfig))
        return _run_module(module, tmp_path, env=self.env, process_timeout=300, **args)


def _running() -> bool:
    return (CLUSTER_DIR / "pids").is_dir() and any((CLUSTER_DIR / "pids").iterdir())


def _cluster_up() -> bool:
    """Start the local control plane; True if this call started it."""
    was_running = _running()
    up = subprocess.run([str(REPO / "tests" / "cluster" / "up.sh")], text=True,
                        capture_output=True, env=base_env(), timeout=3600, check=False)
    if up.returncode != 0:
        pytest.fail(f"tests/cluster/up.sh failed:\n{up.stderr[-4000:]}")
    return not was_running


def _cluster_down() -> None:
    subprocess.run([str(REPO / "tests" / "cluster" / "down.sh")], env=base_env(),
                   capture_output=True, timeout=120, check=False)


@pytest.fixture(scope="session")
def cluster(request) -> Cluster:
    if os.environ.get("KUBIYA_EXISTING_CLUSTER") == "1":
        kubeconfig = os.environ.get("KUBECONFIG")
        if not kubeconfig:
            pytest.fail("KUBIYA_EXISTING_CLUSTER=1 needs KUBECONFIG to name the cluster to use")
        yield Cluster(Path(kubeconfig), base_env(KUBECONFIG=kubeconfig))
        return
    kubeconfig = CLUSTER_DIR / "kubeconfig"
    shared = xdist_shared_dir(request.config)
    if shared is not None:  # an xdist worker: one worker starts it, the controller stops it
        start_once(shared, "cluster", _cluster_up)
        yield Cluster(kubeconfig, base_env(KUBECONFIG=str(kubeconfig)))
        return
    started = _cluster_up()
    yield Cluster(kubeconfig, base_env(KUBECONFIG=str(kubeconfig)))
    # KUBIYA_STOP_CLUSTER_AFTER=1: the second pytest run of `make test` stops the cluster the
    # first one started and kept for it
    if (started and os.environ.get("KUBIYA_KEEP_CLUSTER") != "1") or os.environ.get("KUBIYA_STOP_CLUSTER_AFTER") == "1":
        _cluster_down()


# --- pytest-xdist ----------------------------------------------------------------------
# `make test` runs pytest twice: the tests that can share the machine in parallel
# (`-n N --dist loadfile -m "not serial"`: one file stays on one worker), then the `serial`
# ones alone (`-m serial`). `--dist loadgroup` would be the natural tool, but with pytest 9.2
# and pytest-xdist 3.8.0 it does not keep a group on one worker (xdist sets `item._nodeid`,
# which pytest 9 no longer reads; tests/unit/test_xdist_sharing.py records it), so a group
# here means: run serially. Serial, by file:
SERIAL_FILES = {
    # a second, throw-away cluster on fixed ports 26443-26446 / 33790-33792
    "tests/cluster/test_harness_lifecycle.py": "harness-lifecycle",
    # its own central side on fixed ports 39190-39192
    "tests/central/test_scripts.py": "central-scripts",
    # `make demo` and `make central-up` in a copy of the checkout: the demo's fixed ports
    "tests/integration/docs/test_readme_commands.py": "demo",
    # wall-clock bounds of a few seconds: measured on a machine not shared with other workers
    "tests/unit/plugins/module_utils/test_kube_retry.py": "timing",
    "tests/unit/plugins/module_utils/test_kube_exec_credentials.py": "timing",
    "tests/unit/plugins/module_utils/test_kube_client.py": "timing",
    "tests/unit/plugins/modules/test_metrics_delivery_deadlines.py": "timing",
    "tests/integration/runner/test_runner_health.py": "timing",
}
# By fixture: every test of the session's central side (127.0.0.1:39090-39092) runs serially,
# because tests/integration/metrics_delivery/test_delivery_live.py stops and restarts its
# token endpoint; a test running beside it would see it gone.
SERIAL_FIXTURES = {"central": "central"}
# kept for tests/unit/test_xdist_sharing.py and readers who look for the old names
XDIST_GROUPS, XDIST_FIXTURE_GROUPS = SERIAL_FILES, SERIAL_FIXTURES


def serial_group(item) -> str | None:
    """The reason ``item`` must run alone (a SERIAL_FILES/SERIAL_FIXTURES name), or None."""
    mark = item.get_closest_marker("xdist_group")
    if mark:
        return str(mark.args[0] if mark.args else mark.kwargs.get("name", "default"))
    path = Path(str(item.fspath)).resolve()
    group = SERIAL_FILES.get(path.relative_to(REPO).as_posix()) if path.is_relative_to(REPO) else None
    return group or next((g for f, g in SERIAL_FIXTURES.items() if f in getattr(item, "fixturenames", ())), None)


def pytest_sessionstart(session):
    """The umbrella chart renders its components from built archives (git-ignored): when they
    are missing or older than the chart directories (a pull, an edit of a component chart),
    tools/chart-deps.sh rebuilds them before any test renders or installs the chart. It locks
    and skips what is fresh, so xdist workers and the controller may all call it."""
    from ansible_collections.kubiya.runners.plugins.filter import runner_checks  # pylint: disable=import-outside-toplevel
    if not runner_checks.missing_dependency_errors(str(REPO / "charts" / "kubiya-runner")):
        return
    out = subprocess.run(["bash", str(REPO / "tools" / "chart-deps.sh")], env=base_env(), text=True,
                         capture_output=True, check=False)
    if out.returncode != 0:
        raise pytest.UsageError("tools/chart-deps.sh failed: %s" % (out.stderr or out.stdout)[-2000:])
    session.config.kubiya_chart_deps = out.stdout.strip()


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):  # pylint: disable=unused-argument
    for item in items:
        group = serial_group(item)
        if group:
            item.add_marker(pytest.mark.serial)
            if not item.get_closest_marker("xdist_group"):
                item.add_marker(pytest.mark.xdist_group(group))


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node):
    """xdist controller: hand the run's shared directory (one per run) to each worker."""
    if getattr(node.config, "kubiya_shared_dir", None) is None:
        node.config.kubiya_shared_dir = tempfile.mkdtemp(prefix="kubiya-xdist-")
    node.workerinput[XDIST_SHARED_KEY] = node.config.kubiya_shared_dir


def pytest_unconfigure(config):
    """xdist controller, after every worker finished: stop what a worker started."""
    shared = getattr(config, "kubiya_shared_dir", None)
    if shared is None:
        return
    shared = Path(shared)
    if started_by_run(shared, "central") and os.environ.get("KUBIYA_KEEP_CENTRAL") != "1":
        from central.fixtures import stop_central  # pylint: disable=import-outside-toplevel
        stop_central()
    if started_by_run(shared, "cluster") and os.environ.get("KUBIYA_KEEP_CLUSTER") != "1":
        _cluster_down()
    shutil.rmtree(shared, ignore_errors=True)


@pytest.fixture
def run_module(tmp_path):
    """``run_module(module, **args) -> testlib.ModuleRun``: kubiya.runners.<module> run as
    Ansible's local executor runs it (testlib.run_module with this test's tmp_path)."""
    def run(module: str, /, **args) -> ModuleRun:
        return _run_module(module, tmp_path, **args)
    return run


@pytest.fixture
def namespace(cluster: Cluster, request) -> str:
    """A fresh namespace for one test; deleted (without waiting) afterwards."""
    name = f"t-{request.node.name[:30].lower().replace('_', '-').strip('-')}-{uuid.uuid4().hex[:6]}"
    name = "".join(c for c in name if c.isalnum() or c == "-")
    cluster.kubectl("create", "namespace", name)
    yield name
    cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)
