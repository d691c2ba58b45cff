"""Paths and the subprocess environment shared by every suite.

Import it as ``from testlib import REPO, base_env`` (tests/ is on sys.path);
``conftest`` is not importable by name reliably because every directory
may have its own.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
COLLECTIONS = REPO / ".build" / "collections"
TOOLS = REPO / ".tools" / "bin"
VENV_BIN = REPO / ".venv" / "bin"
CLUSTER_DIR = Path(os.environ.get("KUBIYA_CLUSTER_DIR", REPO / ".cluster"))


def ensure_collection_on_path() -> None:
    """Make ``ansible_collections.kubiya.runners`` importable and visible to Ansible."""
    link = COLLECTIONS / "ansible_collections" / "kubiya" / "runners"
    if not link.exists():
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(REPO)
    if str(COLLECTIONS) not in sys.path:
        sys.path.insert(0, str(COLLECTIONS))


def base_env(**extra: str) -> dict[str, str]:
    """Environment for subprocesses: pinned tools first on PATH, this collection visible."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(TOOLS), str(VENV_BIN), env.get("PATH", "")])
    env["ANSIBLE_COLLECTIONS_PATH"] = str(COLLECTIONS)
    env.setdefault("ANSIBLE_HOME", str(REPO / ".build" / "ansible-home"))
    env.setdefault("ANSIBLE_LOCAL_TEMP", str(REPO / ".build" / "ansible-tmp"))
    env.update(extra)
    return env


# --- pytest-xdist: session resources shared by the workers of one run --------------------
# The controller creates one directory per run and hands it to every worker
# (tests/conftest.py, pytest_configure_node). A worker that needs the cluster or the
# central side takes the resource's file lock there: the first one starts it and writes a
# marker, the others find the marker and use what runs. Workers never stop a shared
# resource (another worker may still use it); the controller stops what a worker started
# once every worker has finished (tests/conftest.py, pytest_unconfigure).
XDIST_SHARED_KEY = "kubiya_shared_dir"


def xdist_shared_dir(config) -> Path | None:
    """The run's shared directory when this process is an xdist worker, else None."""
    workerinput = getattr(config, "workerinput", None)
    if not workerinput or XDIST_SHARED_KEY not in workerinput:
        return None
    return Path(workerinput[XDIST_SHARED_KEY])


def start_once(shared: Path, name: str, start) -> None:
    """Run ``start() -> bool (True: we started it, False: it was already running)`` in exactly
    one worker of the run; record in ``<shared>/<name>.up`` whether the run must stop it."""
    from filelock import FileLock  # pylint: disable=import-outside-toplevel

    marker = shared / f"{name}.up"
    with FileLock(str(shared / f"{name}.lock")):
        if marker.exists():
            return
        started = start()
        marker.write_text("started" if started else "was-running")


def started_by_run(shared: Path, name: str) -> bool:
    marker = shared / f"{name}.up"
    return marker.exists() and marker.read_text() == "started"
