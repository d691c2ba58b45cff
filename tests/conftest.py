"""Session fixtures shared by every suite.

- ``cluster``: the local control plane (tests/cluster/up.sh). Started for the
  session when no cluster is running, stopped again at the end unless it was
  already running or ``KUBIYA_KEEP_CLUSTER=1``. With ``KUBIYA_EXISTING_CLUSTER=1``
  the cluster given by ``KUBECONFIG`` is used instead and never touched.
- ``namespace``: a fresh namespace per test, deleted afterwards.
- ``run_module``: a module of this collection run as a real process (testlib.run_module);
  ``cluster.run_module(...)`` runs one against the cluster.
"""
from __future__ import annotations

import os
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))

# pylint: disable=wrong-import-position
from testlib import CLUSTER_DIR, REPO, ModuleRun, base_env, ensure_collection_on_path  # noqa: E402
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


@pytest.fixture(scope="session")
def cluster() -> Cluster:
    if os.environ.get("KUBIYA_EXISTING_CLUSTER") == "1":
        kubeconfig = os.environ.get("KUBECONFIG")
        if not kubeconfig:
            pytest.fail("KUBIYA_EXISTING_CLUSTER=1 needs KUBECONFIG to name the cluster to use")
        yield Cluster(Path(kubeconfig), base_env(KUBECONFIG=kubeconfig))
        return
    was_running = _running()
    up = subprocess.run([str(REPO / "tests" / "cluster" / "up.sh")], text=True,
                        capture_output=True, env=base_env(), timeout=3600, check=False)
    if up.returncode != 0:
        pytest.fail(f"tests/cluster/up.sh failed:\n{up.stderr[-4000:]}")
    kubeconfig = CLUSTER_DIR / "kubeconfig"
    yield Cluster(kubeconfig, base_env(KUBECONFIG=str(kubeconfig)))
    if not was_running and os.environ.get("KUBIYA_KEEP_CLUSTER") != "1":
        subprocess.run([str(REPO / "tests" / "cluster" / "down.sh")], env=base_env(),
                       capture_output=True, timeout=120, check=False)


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
