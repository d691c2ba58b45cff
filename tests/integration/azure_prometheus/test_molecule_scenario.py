"""extensions/molecule/azure_prometheus through `molecule test`: prepare starts the Azure
stand-in (free port, test CA and credentials generated then), converge runs
roles/azure_prometheus (staging, two customers) through the real azure.azcollection
modules, idempotence (changed=0), verify reads back from the stand-in, destroy stops it by
PID. Its own file so that pytest-xdist (`--dist loadfile`) can run it beside test_role.py:
nothing here uses a fixed port or a shared state directory."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
from azurestandin import fixtures as azfx
from testlib import REPO, PROXY_VARS, base_env

pytestmark = [pytest.mark.azure, pytest.mark.slow]


def _standins_of_this_checkout() -> list[str]:
    """Command lines of stand-ins a molecule run of this checkout started (its ephemeral
    directory is under .build/ansible-home/tmp)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        text = " ".join(a.decode(errors="replace") for a in args)
        if "azurestandin.server" in text and str(REPO / ".build") in text and "azure-standin" in text:
            found.append(text)
    return found


@pytest.mark.timeout(1800)
def test_molecule_scenario_azure_prometheus():
    if not azfx.azure_venv_ready():
        pytest.fail(f"{azfx.AZURE_VENV} is missing: run `make azure-venv` (azure.azcollection's requirements)")
    env = base_env(ANSIBLE_FORCE_COLOR="0", NO_COLOR="1")
    for k in [k for k in env if k in PROXY_VARS or k.upper() == "NO_PROXY" or k.startswith("AZURE_")]:
        env.pop(k)
    t0 = time.monotonic()
    res = subprocess.run(["molecule", "test", "-s", "azure_prometheus"], cwd=REPO, env=env, text=True, capture_output=True, timeout=1700, check=False)
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-8000:]
    # molecule's closing summary: one line per action of the test sequence
    for step in ("prepare", "converge", "idempotence", "verify", "destroy"):
        assert f"azure_prometheus > {step}: Executed: Successful" in out, (step, out[-3000:])
    assert _standins_of_this_checkout() == [], "destroy left the stand-in running"
    print(f"\nmolecule test -s azure_prometheus: {time.monotonic() - t0:.0f} s")
