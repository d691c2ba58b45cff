"""Fixtures of the metrics_delivery integration tests: the central side and a
runner of the real module through ``ansible`` (ad-hoc, JSON arguments)."""
import secrets

import pytest

# the `central` fixture comes from tests/conftest.py
from testlib import run_adhoc as _run_adhoc


@pytest.fixture(scope="session")
def run_adhoc():
    """run_adhoc(args: dict, check_mode=False) -> testlib.AdhocRun: one real invocation of
    kubiya.runners.metrics_delivery through ``ansible`` (ad hoc, -vvv)."""
    def run(args, check_mode=False, timeout=120):
        return _run_adhoc("metrics_delivery", args, check_mode=check_mode, timeout=timeout, verbose=True)
    return run


@pytest.fixture
def runner_name():
    """A runner name no other test pushes for."""
    return "it-%s" % secrets.token_hex(4)
