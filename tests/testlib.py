"""Paths and the subprocess environment shared by every suite.

Import it as ``from testlib import REPO, base_env, run_module`` (tests/ is on sys.path);
``conftest`` is not importable by name reliably because every directory
may have its own.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# the umbrella chart's version (charts/kubiya-runner/Chart.yaml), for tests that name its archive
CHART_VERSION = re.search(r"^version: *(\S+)", (REPO / "charts" / "kubiya-runner" / "Chart.yaml").read_text(),
                          re.M).group(1)
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


# --- one real module process ------------------------------------------------------------
MODULES = "ansible_collections.kubiya.runners.plugins.modules."
# KUBIYA_MODULE_COLLECTIONS runs the modules of another checkout (e.g. main, to see a test fail)
MODULE_COLLECTIONS = Path(os.environ.get("KUBIYA_MODULE_COLLECTIONS") or COLLECTIONS)
PROXY_VARS = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy")


@dataclass
class ModuleRun:
    """What one module process printed (its JSON result), its stderr, and its run time
    measured from outside the process."""
    result: dict
    elapsed: float
    stderr: str

    @property
    def failed(self) -> bool:
        return bool(self.result.get("failed"))

    @property
    def msg(self) -> str:
        return self.result.get("msg", "")


def run_module(module: str, tmp_path: Path, /, *, env: dict | None = None, process_timeout: float = 120,
               **args) -> ModuleRun:
    """Run kubiya.runners.<module> with ``args`` as Ansible's local executor does: a Python
    process fed an args file (written to ``tmp_path``, also its working directory). ``env``
    adds to os.environ; proxies are dropped so loopback servers are reached directly.
    The fixture ``run_module`` (tests/conftest.py) is this with ``tmp_path`` bound."""
    args_file = tmp_path / ("args-%s.json" % time.monotonic_ns())
    args_file.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": args}))
    proc_env = {**os.environ, **(env or {}), "PYTHONPATH": str(MODULE_COLLECTIONS)}
    for var in PROXY_VARS:
        proc_env.pop(var, None)
    proc_env["NO_PROXY"] = proc_env["no_proxy"] = "127.0.0.1,localhost"
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", MODULES + module, str(args_file)], capture_output=True,
                          text=True, env=proc_env, cwd=tmp_path, timeout=process_timeout, check=False)
    elapsed = time.monotonic() - started
    try:
        return ModuleRun(json.loads(proc.stdout), elapsed, proc.stderr)
    except ValueError:
        raise AssertionError("module printed no JSON (rc %s):\n%s\n%s"
                             % (proc.returncode, proc.stdout, proc.stderr)) from None


# --- one module run through `ansible` (ad hoc) ------------------------------------------
_ADHOC_RESULT = re.compile(r"^localhost \| ([A-Z]+)!? => ", re.M)


@dataclass
class AdhocRun:
    """What ``ansible localhost -m kubiya.runners.<module>`` printed: exit code, the host's
    status (SUCCESS, FAILED, CHANGED) and result, and the run time measured from outside."""
    rc: int
    status: str | None
    result: dict
    elapsed: float
    stdout: str
    stderr: str

    @property
    def failed(self) -> bool:
        return self.status == "FAILED" and self.rc != 0

    @property
    def msg(self) -> str:
        return self.result.get("msg", "")

    def check(self, name: str) -> dict:
        return next(c for c in self.result["checks"] if c["name"] == name)

    def __repr__(self) -> str:
        return "AdhocRun(rc=%s, %.1fs)\n%s\n%s" % (self.rc, self.elapsed, self.stdout[-4000:], self.stderr[-2000:])


def run_adhoc(module: str, args: dict, *, check_mode: bool = False, timeout: float = 120,
              verbose: bool = False, env: dict | None = None) -> AdhocRun:
    """Run kubiya.runners.<module> with ``args`` (JSON) through ``ansible`` ad hoc on localhost,
    the way an operator's playbook reaches it (action plugin, connection, module transfer);
    ``env`` is added to the process environment (e.g. an HTTPS_PROXY)."""
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS),
               ANSIBLE_HOME=str(REPO / ".build" / "ansible-home"),
               ANSIBLE_LOCAL_TEMP=str(REPO / ".build" / "ansible-tmp"),
               ANSIBLE_NOCOLOR="1", ANSIBLE_DEPRECATION_WARNINGS="0",
               ANSIBLE_LOCALHOST_WARNING="0", ANSIBLE_INVENTORY_UNPARSED_WARNING="0", **(env or {}))
    cmd = [str(Path(sys.executable).parent / "ansible"), "localhost", *(["-vvv"] if verbose else []),
           "-m", "kubiya.runners." + module, "-a", json.dumps(args),
           "-e", "ansible_python_interpreter=%s" % sys.executable]
    if check_mode:
        cmd.append("--check")
    started = time.monotonic()
    proc = subprocess.run(cmd, env=env, text=True, capture_output=True, timeout=timeout, check=False)
    elapsed = time.monotonic() - started
    found = _ADHOC_RESULT.search(proc.stdout)
    result = json.loads(proc.stdout[found.end():]) if found else {}
    return AdhocRun(proc.returncode, found.group(1) if found else None, result, elapsed, proc.stdout, proc.stderr)


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


# --- the example inventory's customer, deployed through the playbook ----------------------
EXAMPLE_INVENTORY = REPO / "inventories" / "example"


def deploy_example(cluster, extra: dict, *args: str) -> subprocess.CompletedProcess:
    """`kubiya.runners.deploy --limit acme` on the example inventory (its vault password from
    the documented client script), with ``extra`` as extra vars."""
    env = dict(cluster.env, KUBIYA_VAULT_PASSWORD="kubiya-example-vault",
               ANSIBLE_VAULT_PASSWORD_FILE=str(EXAMPLE_INVENTORY / "vault-pass-client.sh"), ANSIBLE_FORCE_COLOR="0")
    env.setdefault("HELM_PLUGINS", str(REPO / ".tools" / "helm-plugins"))
    return subprocess.run(["ansible-playbook", "-i", str(EXAMPLE_INVENTORY / "hosts.yml"), "kubiya.runners.deploy",
                           "--limit", "acme", "-e", json.dumps(extra), *args],
                          cwd=REPO, env=env, text=True, capture_output=True, timeout=600, check=False)


def recap_changed(stdout: str, host: str = "acme") -> int:
    """The changed= count of ``host`` in the play recap."""
    recap = re.search(r"^%s\s*:.*changed=(\d+)" % re.escape(host), stdout, re.M)
    assert recap, stdout[-3000:]
    return int(recap.group(1))
