"""Fixtures of the metrics_delivery integration tests: the central side and a
runner of the real module through ``ansible`` (ad-hoc, JSON arguments)."""
import json
import os
import re
import secrets
import subprocess
import sys
import time

import pytest

# the `central` fixture comes from tests/conftest.py
_TESTS = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
REPO = os.path.dirname(_TESTS)
COLLECTIONS = os.path.join(REPO, ".build", "collections")


class Run(object):
    def __init__(self, proc, elapsed):
        self.rc, self.elapsed = proc.returncode, elapsed
        self.stdout, self.stderr = proc.stdout, proc.stderr
        found = re.search(r"^localhost \| ([A-Z]+)!? => ", proc.stdout, re.M)
        self.status = found.group(1) if found else None
        self.result = json.loads(proc.stdout[found.end():]) if found else {}

    @property
    def failed(self):
        return self.status == "FAILED" and self.rc != 0

    @property
    def msg(self):
        return self.result.get("msg", "")

    def check(self, name):
        return next(c for c in self.result["checks"] if c["name"] == name)

    def __repr__(self):
        return "Run(rc=%s, %.1fs)\n%s\n%s" % (self.rc, self.elapsed, self.stdout[-4000:],
                                              self.stderr[-2000:])


@pytest.fixture(scope="session")
def run_module():
    """run_module(args: dict, check_mode=False) -> Run: one real module invocation."""
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS,
               ANSIBLE_HOME=os.path.join(REPO, ".build", "ansible-home"),
               ANSIBLE_LOCAL_TEMP=os.path.join(REPO, ".build", "ansible-tmp"),
               ANSIBLE_NOCOLOR="1", ANSIBLE_DEPRECATION_WARNINGS="0",
               ANSIBLE_LOCALHOST_WARNING="0", ANSIBLE_INVENTORY_UNPARSED_WARNING="0")
    ansible = os.path.join(os.path.dirname(sys.executable), "ansible")

    def run(args, check_mode=False, timeout=120):
        cmd = [ansible, "localhost", "-vvv", "-m", "kubiya.runners.metrics_delivery",
               "-a", json.dumps(args), "-e", "ansible_python_interpreter=%s" % sys.executable]
        if check_mode:
            cmd.append("--check")
        started = time.monotonic()
        proc = subprocess.run(cmd, env=env, text=True, capture_output=True, timeout=timeout,
                              check=False)
        return Run(proc, time.monotonic() - started)
    return run


@pytest.fixture
def runner_name():
    """A runner name no other test pushes for."""
    return "it-%s" % secrets.token_hex(4)
