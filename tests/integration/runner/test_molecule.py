"""The Molecule scenarios of the runner role, against the local control plane.

Each scenario runs as `molecule test -s <name>` (extensions/molecule/<name>) in a
subprocess with the `cluster` fixture's environment, so `make test` runs them:

- default: converge -> idempotence (second run changed=0) -> verify -> destroy
- upgrade_rollback: install, upgrade to a newer packaged chart version with other
  overrides, then an upgrade that cannot become ready: --atomic rolls it back
- least_privilege: an extra ClusterRoleBinding and an extra Role rule for one
  ServiceAccount; verification must fail and name both
- bad_input: invalid customers are stopped in validation, the namespace is untouched
"""
from __future__ import annotations

import re
import subprocess

import pytest

from testlib import REPO

SCENARIOS = ["default", "upgrade_rollback", "least_privilege", "bad_input"]
ANSI = re.compile(r"\x1b\[[0-9;]*m")

pytestmark = [pytest.mark.cluster, pytest.mark.slow]


def molecule(cluster, scenario: str, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    env = dict(cluster.env)
    env.setdefault("HELM_PLUGINS", str(REPO / ".tools" / "helm-plugins"))
    env["ANSIBLE_FORCE_COLOR"] = "0"
    env["NO_COLOR"] = "1"
    return subprocess.run(["molecule", *args, "-s", scenario], cwd=REPO, env=env, text=True,
                          capture_output=True, timeout=timeout, check=False)


def failures(output: str) -> str:
    """The failed tasks' messages (where a red run went wrong), then the end of the log."""
    blocks = []
    lines = output.splitlines()
    for i, line in enumerate(lines):
        if line.lstrip().startswith("fatal:") and "...ignoring" not in "\n".join(lines[i:i + 40]):
            blocks.append("\n".join(lines[max(0, i - 3):i + 25]))
    return "\n---\n".join(blocks)[-6000:] + "\n=== end of log ===\n" + output[-3000:]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_scenario(cluster, scenario):
    result = molecule(cluster, scenario, "test")
    output = ANSI.sub("", result.stdout + result.stderr)
    assert result.returncode == 0, f"molecule test -s {scenario} failed:\n{failures(output)}"
    recap = re.search(rf"^{scenario}\s*: actions=(\d+)\s+successful=(\d+).*failed=(\d+)", output, re.M)
    assert recap, output[-3000:]
    actions, successful, failed = (int(x) for x in recap.groups())
    assert failed == 0 and successful == actions, recap.group(0)
    if scenario in ("default", "upgrade_rollback"):
        assert re.search(rf"{scenario} (➜|>) idempotence: Executed: Successful", output), output[-3000:]
