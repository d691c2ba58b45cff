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
