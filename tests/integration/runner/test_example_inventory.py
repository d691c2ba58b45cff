"""The example inventory: vault-encrypted secrets, password from the environment, and
the role's offline validation (`--tags validate`) -- no cluster needed.

- every `vault` file under inventories/ is encrypted and opens with the documented
  example password given through KUBIYA_VAULT_PASSWORD and the password client script;
- both customers pass validation without any cluster (KUBECONFIG points nowhere) and
  their override_<customer>.yaml holds their overrides and no secret;
- a broken customer fails validation naming the variable.
"""
from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from testlib import REPO, base_env

INVENTORY = REPO / "inventories" / "example"
CLIENT = INVENTORY / "vault-pass-client.sh"
PASSWORD = "kubiya-example-vault"  # documented in inventories/example/README.md


def env(**extra: str) -> dict[str, str]:
    e = base_env(KUBIYA_VAULT_PASSWORD=PASSWORD, ANSIBLE_VAULT_PASSWORD_FILE=str(CLIENT),
                 KUBECONFIG="/nonexistent/kubeconfig", ANSIBLE_FORCE_COLOR="0", **extra)
    for name in ("K8S_AUTH_KUBECONFIG", "ANSIBLE_VAULT_IDENTITY_LIST"):
        e.pop(name, None)
    return e


def playbook(*args: str, **extra_env: str) -> subprocess.CompletedProcess:
    return subprocess.run(["ansible-playbook", "-i", str(INVENTORY / "hosts.yml"), "kubiya.runners.deploy",
                           "--tags", "validate", *args], cwd=REPO, env=env(**extra_env), text=True,
                          capture_output=True, timeout=300, check=False)


def test_vault_files_are_encrypted_and_open_with_the_example_password():
    vaults = sorted(INVENTORY.rglob("vault"))
    assert {p.parent.name for p in vaults} == {"acme", "globex"}
    for path in vaults:
        assert path.read_text().startswith("$ANSIBLE_VAULT;1.1;AES256"), f"{path} is not encrypted"
        view = subprocess.run(["ansible-vault", "view", str(path)], env=env(), text=True,
                              capture_output=True, timeout=60, check=False)
        assert view.returncode == 0, view.stderr
        data = yaml.safe_load(view.stdout)
        assert all(k.startswith("vault_runner_") for k in data), sorted(data)
        assert all("EXAMPLE-NOT-A-REAL" in str(v) for v in data.values()), "only placeholders belong here"


def test_client_script_refuses_without_the_environment_variable():
    e = env()
    del e["KUBIYA_VAULT_PASSWORD"]
    out = subprocess.run([str(CLIENT), "--vault-id", "example"], env=e, text=True, capture_output=True,
                         check=False)
    assert out.returncode != 0 and "KUBIYA_VAULT_PASSWORD" in out.stderr


def test_both_customers_validate_offline_and_render_their_override(tmp_path: Path):
    out = playbook("-e", f"runner_values_dir={tmp_path}")
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert "acme " in out.stdout and "globex " in out.stdout
    acme = yaml.safe_load((tmp_path / "override_acme.yaml").read_text())
    globex = yaml.safe_load((tmp_path / "override_globex.yaml").read_text())
    assert acme["global"]["runner"] == {"name": "acme-runner", "organization": "acme",
                                        "uuid": "3f1c2a9e-8b7d-4e6f-9a1b-2c3d4e5f6a7b"}
    assert acme["global"]["nats"]["existingSecret"] == "kubiya-runner-nats-credentials"
    assert globex["workflowEngine"]["enabled"] is True
    assert globex["global"]["registryTls"] == {"enabled": True, "host": "registry.globex.example",
                                               "existingSecret": "kubiya-runner-registry-tls"}
    for path in tmp_path.iterdir():
        text = path.read_text()
        assert "EXAMPLE-NOT-A-REAL" not in text and "BEGIN" not in text, f"secret material in {path.name}"


def test_a_broken_customer_is_stopped_naming_the_variable():
    out = playbook("--limit", "globex", "-e", "runner_remote_write_url=ftp://metrics.example.com/write")
    assert out.returncode != 0
    assert "runner_remote_write_url: 'ftp://metrics.example.com/write' is not a valid URL" in out.stdout


def test_metric_verification_without_a_query_endpoint_is_stopped_naming_the_opt_out():
    """Telemetry is on in the example; it opts out of the metric check explicitly. Turning the
    check back on without runner_metrics_delivery.url stops the validation step."""
    out = playbook("--limit", "acme", "-e", "runner_verify_metrics=true")
    assert out.returncode != 0
    assert "runner_metrics_delivery.url: is missing or not a valid URL" in out.stdout
    assert "runner_verify_metrics: false to opt out" in out.stdout
