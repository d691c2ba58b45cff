"""Run the deploy the way AWX does: ansible-runner with a private data dir.

AWX copies the project (here: awx/, the thin wrapper playbooks) into
<private_data_dir>/project, writes the inventory, the survey answers as extravars,
the credentials as environment variables (a Kubernetes credential injects
K8S_AUTH_*), answers the vault password prompt from env/passwords, and runs
`ansible-runner run`. The test checks the job status and artifacts: rc 0, status
successful, the verification report in the job events, a second run unchanged, and
no secret of the vault in any artifact.
"""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from testlib import REPO

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

VAULT_PASSWORD = "kubiya-example-vault"  # the example inventory's documented password
SURVEY = REPO / "awx" / "surveys" / "deploy.json"


def survey_defaults() -> dict:
    spec = json.loads(SURVEY.read_text())["spec"]
    answers = {}
    for question in spec:
        if "default" in question:
            answers[question["variable"]] = question["default"]
    return answers


def private_data_dir(root: Path, cluster, namespace: str) -> Path:
    pdd = root / "pdd"
    shutil.copytree(REPO / "awx", pdd / "project")
    # the inventory AWX would sync from the example (an SCM inventory source)
    shutil.copytree(REPO / "inventories" / "example", pdd / "inventory",
                    ignore=shutil.ignore_patterns("*.sh", "*.md"))
    env = pdd / "env"
    env.mkdir()
    answers = survey_defaults()
    answers.update(kubiya_runner_hosts="acme", runner_health_window=3, runner_wait_timeout=120,
                   runner_namespace=namespace)
    (env / "extravars").write_text(yaml.safe_dump(answers))
    # what AWX's Kubernetes credential injects, plus the execution environment's settings
    (env / "envvars").write_text(yaml.safe_dump({
        "K8S_AUTH_KUBECONFIG": str(cluster.kubeconfig),
        "ANSIBLE_COLLECTIONS_PATH": cluster.env["ANSIBLE_COLLECTIONS_PATH"],
        "HELM_PLUGINS": str(REPO / ".tools" / "helm-plugins"),
        "ANSIBLE_FORCE_COLOR": "0",
    }))
    # AWX's vault credential: ansible-playbook --ask-vault-pass, answered by ansible-runner
    (env / "cmdline").write_text("--ask-vault-pass")
    (env / "passwords").write_text(yaml.safe_dump({r"^Vault password:\s*?$": VAULT_PASSWORD}))
    (env / "settings").write_text(yaml.safe_dump({"job_timeout": 900, "suppress_ansible_output": True}))
    return pdd


def run_job(pdd: Path, cluster, ident: str) -> Path:
    env = dict(cluster.env)
    # only what AWX would give the job: the credential's K8S_AUTH_KUBECONFIG, the vault
    # password through the prompt
    for name in ("KUBECONFIG", "ANSIBLE_VAULT_PASSWORD_FILE", "ANSIBLE_VAULT_IDENTITY_LIST", "KUBIYA_VAULT_PASSWORD"):
        env.pop(name, None)
    result = subprocess.run(["ansible-runner", "run", str(pdd), "-p", "deploy.yml", "--ident", ident],
                            env=env, text=True, capture_output=True, timeout=900, check=False)
    artifacts = pdd / "artifacts" / ident
    assert artifacts.is_dir(), result.stdout[-3000:] + result.stderr[-3000:]
    return artifacts


def events(artifacts: Path) -> list[dict]:
    files = sorted((artifacts / "job_events").glob("*.json"), key=lambda p: int(p.name.split("-", 1)[0]))
    return [json.loads(p.read_text()) for p in files]


def stats(artifacts: Path) -> dict:
    found = [e["event_data"] for e in events(artifacts) if e.get("event") == "playbook_on_stats"]
    assert found, "no playbook_on_stats event"
    return found[-1]


def test_deploy_through_ansible_runner(tmp_path, cluster, namespace):
    pdd = private_data_dir(tmp_path, cluster, namespace)

    first = run_job(pdd, cluster, "job-1")
    stdout = (first / "stdout").read_text()
    assert (first / "status").read_text().strip() == "successful", stdout[-5000:]
    assert (first / "rc").read_text().strip() == "0"
    data = stats(first)
    assert set(data["ok"]) == {"acme"} and not data["failures"] and not data["dark"]
    assert data["changed"].get("acme", 0) > 0

    # the verification report is in the job events, as AWX shows it
    report = [e for e in events(first) if e.get("event") == "runner_on_ok"
              and e["event_data"].get("task", "").endswith("Verify | Report")]
    assert report, "no verification report event"
    lines = report[0]["event_data"]["res"]["msg"]
    assert any(line.startswith("health: ok") for line in lines), lines
    assert any(line.startswith("permissions: ok") for line in lines), lines
    assert any(line.split()[:2] == ["agent-manager", "Deployment"] and line.split()[-1] == "ok" for line in lines)

    deployments = cluster.kubectl("-n", namespace, "get", "deploy", "-o", "name").stdout.split()
    assert "deployment.apps/agent-manager" in deployments

    # re-running the job template changes nothing
    second = run_job(pdd, cluster, "job-2")
    assert (second / "status").read_text().strip() == "successful", (second / "stdout").read_text()[-5000:]
    assert stats(second)["changed"] == {}

    # no credential from the vault leaks into what AWX stores
    leaked = []
    for path in (pdd / "artifacts").rglob("*"):
        if path.is_file() and "EXAMPLE-NOT-A-REAL" in path.read_text(errors="replace"):
            leaked.append(str(path.relative_to(pdd)))
    assert not leaked, f"vault placeholders in artifacts: {leaked[:5]}"
