"""Mistakes an operator makes in a customer's inventory, caught by `kubiya.runners.deploy
--tags validate` (no cluster needed): each message names the variable and the fix, all
mistakes of a customer come at once, and nothing is written.

Every test works on its own copy of inventories/example (tmp_path), runs the real
playbook from a directory outside the repository, with the repository's ansible.cfg
only where the test says so.
"""
from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
import yaml

from testlib import COLLECTIONS, REPO, base_env

EXAMPLE = REPO / "inventories" / "example"
PASSWORD = "kubiya-example-vault"  # documented in inventories/example/README.md


def env(inventory: Path, **extra: str) -> dict[str, str]:
    settings = {"KUBIYA_VAULT_PASSWORD": PASSWORD, "ANSIBLE_VAULT_PASSWORD_FILE": str(inventory / "vault-pass-client.sh"),
                "KUBECONFIG": "/nonexistent/kubeconfig", "ANSIBLE_FORCE_COLOR": "0", "ANSIBLE_NOCOLOR": "1",
                "ANSIBLE_COLLECTIONS_PATH": str(COLLECTIONS)}
    settings.update(extra)
    e = base_env(**settings)
    for name in ("K8S_AUTH_KUBECONFIG", "ANSIBLE_VAULT_IDENTITY_LIST", "ANSIBLE_CONFIG"):
        e.pop(name, None)
    return e


@pytest.fixture
def inv(tmp_path: Path) -> Path:
    target = tmp_path / "inventory"
    shutil.copytree(EXAMPLE, target)
    return target


def validate(inventory: Path, *args: str, cwd: Path | None = None, **extra_env: str) -> subprocess.CompletedProcess:
    cwd = cwd or inventory.parent
    return subprocess.run(["ansible-playbook", "-i", str(inventory / "hosts.yml"), "kubiya.runners.deploy",
                           "--tags", "validate", "--limit", "acme", *args], cwd=cwd, env=env(inventory, **extra_env),
                          text=True, capture_output=True, timeout=300, check=False)


def host_vars(inventory: Path, customer: str = "acme") -> dict:
    return yaml.safe_load((inventory / "host_vars" / customer / "main.yml").read_text())


def write_host_vars(inventory: Path, data: dict, customer: str = "acme") -> None:
    (inventory / "host_vars" / customer / "main.yml").write_text("---\n" + yaml.safe_dump(data, sort_keys=False))


def failure(out: subprocess.CompletedProcess) -> str:
    assert out.returncode != 0, out.stdout[-3000:]
    return out.stdout + out.stderr


def test_every_mistake_of_a_customer_is_named_at_once_and_nothing_is_written(inv: Path, tmp_path: Path):
    data = host_vars(inv)
    data["runner_state"] = "absent"  # the deploy playbook's runner_state: present wins
    data["runner_remote_write_url"] = "http://metrics.example.com/api/v1/write"
    data["runner_values"] = {
        "agentManger": {"replicaCount": 3},
        "agentManager": {"extraEnv": [{"name": "GITHUB_TOKEN", "value": "ghp_literal_token_value"}]},
        "tool-manager": {"replicaCount": 2},
        "global": {"nodeSelector": {"pool": "p" * 100}},
        "alloy": {"podAnnotations": {"example.com/blob": "x" * (300 * 1024)}},
    }
    data["runner_metrics_delivery"] = {"url": "file:///etc/passwd"}
    data["runner_verify_metrics"] = True
    write_host_vars(inv, data)
    # the vault file left in plain text; YAML made the client secret a number
    (inv / "host_vars" / "acme" / "vault").write_text(
        "vault_runner_nats_operator_creds: |\n  -----BEGIN NATS USER JWT-----\n  x\n"
        "vault_runner_nats_runner_creds: |\n  -----BEGIN NATS USER JWT-----\n  y\n"
        "vault_runner_remote_write_client_secret: 0123\n")
    out = validate(inv, "-e", f"runner_values_dir={tmp_path / 'rendered'}")
    text = failure(out)
    assert "Invalid input for customer acme; nothing was changed." in text
    expected = [
        "inventory/host_vars/acme/vault: is a vault file but not encrypted",
        "ansible-vault encrypt --vault-id acme@",
        "runner_state: the inventory sets 'absent', but the play 'Deploy and verify Kubiya runners' sets 'present'",
        "runner_remote_write_client_secret: is an integer, not a string (value not shown)",
        "runner_remote_write_url: 'http://metrics.example.com/api/v1/write' is plain http",
        "runner_metrics_delivery.url: 'file:///etc/passwd' has the scheme 'file:', which is never accepted",
        "runner_values.agentManager.extraEnv[0] (GITHUB_TOKEN):",
        "valueFrom.secretKeyRef",
        "runner_values.global.nodeSelector.pool: label value 'pppp",
        "(100 characters, shown truncated)",
        "runner_values.alloy.podAnnotations: the annotations add up to",
        "runner_values.agentManger: the chart has no value 'agentManger'; did you mean 'agentManager'?",
        "runner_values.tool-manager: renamed to 'toolManager' in chart 2.0.0",
    ]
    missing = [m for m in expected if m not in text]
    assert not missing, f"not reported: {missing}\n{text[-4000:]}"
    assert "ghp_literal_token_value" not in text and "x" * 200 not in text
    assert not (tmp_path / "rendered").exists()


def test_missing_vault_variables_are_all_named_by_the_role(inv: Path):
    (inv / "host_vars" / "acme" / "vault").unlink()
    text = failure(validate(inv))
    assert "runner_nats_operator_creds, runner_nats_runner_creds, runner_remote_write_client_secret: set from " \
           "variables that are not defined" in text
    assert "missing from the vault of customer acme: vault_runner_nats_operator_creds, " \
           "vault_runner_nats_runner_creds, vault_runner_remote_write_client_secret" in text
    assert "is undefined" not in text


def test_a_yaml_error_in_the_inventory_names_file_and_line(inv: Path):
    path = inv / "host_vars" / "acme" / "main.yml"
    path.write_text(path.read_text() + "runner_namespace_labels: {team: [a, b}\n")
    lines = path.read_text().count("\n")
    text = failure(validate(inv))
    assert f"{path}:{lines}:" in text and "YAML syntax error" in text


def test_an_unparsable_hosts_file_is_not_a_silent_success(inv: Path):
    (inv / "hosts.yml").write_text((inv / "hosts.yml").read_text() + "    initech: {\n")
    out = subprocess.run(["ansible-playbook", "-i", str(inv / "hosts.yml"), "kubiya.runners.deploy", "--tags",
                          "validate"], cwd=inv.parent, env=env(inv), text=True, capture_output=True, timeout=300,
                         check=False)
    text = failure(out)
    assert f"{inv / 'hosts.yml'}:" in text and "YAML syntax error" in text


def test_group_values_are_kept_when_a_customer_sets_runner_values(inv: Path, tmp_path: Path):
    data = host_vars(inv)
    assert isinstance(data["runner_values"], dict), "the example sets plain runner_values"
    data["runner_values"] = {"agentManager": {"replicaCount": 4}}
    write_host_vars(inv, data)
    out = validate(inv, "-e", f"runner_values_dir={tmp_path / 'out'}")
    assert out.returncode == 0, out.stdout[-3000:]
    override = yaml.safe_load((tmp_path / "out" / "override_acme.yaml").read_text())
    assert override["imageUpdater"] == {"enabled": False}, "runner_values_common of group_vars was dropped"
    assert override["agentManager"] == {"replicaCount": 4}


def test_relative_values_dir_lands_where_the_command_was_run(inv: Path, tmp_path: Path):
    workdir = tmp_path / "operator-cwd"
    workdir.mkdir()
    out = validate(inv, "-e", "runner_values_dir=rendered", cwd=workdir)
    assert out.returncode == 0, out.stdout[-3000:]
    assert (workdir / "rendered" / "override_acme.yaml").is_file()
    # today's main wrote it next to the playbook, into the collection: playbooks/rendered/
    inside = [d for d in (REPO, REPO / "playbooks", REPO / "roles" / "runner", REPO / "roles" / "runner" / "tasks")
              if (d / "rendered" / "override_acme.yaml").exists()]
    assert not inside, f"written inside the collection: {inside}"


def test_missing_helm_is_reported_as_missing_helm(inv: Path):
    text = failure(validate(inv, "-e", "runner_helm_binary=/nonexistent/helm"))
    assert "runner_helm_binary: '/nonexistent/helm' does not exist" in text
    assert "rejected" not in text


def test_helm_that_is_not_executable_is_reported_as_such(inv: Path, tmp_path: Path):
    helm = tmp_path / "helm"
    helm.write_text("#!/bin/sh\nexit 0\n")
    helm.chmod(0o644)
    text = failure(validate(inv, "-e", f"runner_helm_binary={helm}"))
    assert f"runner_helm_binary: '{helm}' exists but is not executable" in text
    assert "rejected" not in text


def test_helm_warnings_do_not_bury_the_schema_error(inv: Path):
    # a table overwritten with a number makes helm print a coalesce warning per key before its error
    data = host_vars(inv)
    data["runner_values"]["agentManager"] = {"replicaCount": "two", "service": 5}
    data["runner_values"]["toolManager"] = {"service": 6}
    write_host_vars(inv, data)
    text = failure(validate(inv))
    message = text[text.index("the chart rejected the values:"):]
    assert message.startswith("the chart rejected the values: Error: values don't meet the specifications of the schema")
    head = message.split("[helm also printed")[0]
    assert "replicaCount" in head and "coalesce.go" not in head
    assert "[helm also printed 2 warning line(s), first: coalesce.go" in message


def test_a_url_of_the_wrong_type_is_named(inv: Path):
    data = host_vars(inv)
    data["runner_remote_write_token_url"] = ["https://login.example.com/t"]
    write_host_vars(inv, data)
    text = failure(validate(inv))
    assert "runner_remote_write_token_url:" in text


def test_http_is_accepted_with_runner_allow_http(inv: Path):
    args = ["-e", "runner_remote_write_url=http://127.0.0.1:39092/api/v1/write",
            "-e", "runner_remote_write_token_url=http://127.0.0.1:39091/token"]
    assert "is plain http" in failure(validate(inv, *args))
    out = validate(inv, *args, "-e", "runner_allow_http=true")
    assert out.returncode == 0, out.stdout[-3000:]


def test_the_client_script_selects_a_password_per_vault_id(inv: Path):
    client = inv / "vault-pass-client.sh"
    assert os.stat(client).st_mode & stat.S_IXUSR
    e = env(inv, KUBIYA_VAULT_PASSWORD_INITECH="initech-own-password")
    own = subprocess.run([str(client), "--vault-id", "initech"], env=e, text=True, capture_output=True, check=True)
    shared = subprocess.run([str(client), "--vault-id", "acme"], env=e, text=True, capture_output=True, check=True)
    assert own.stdout.strip() == "initech-own-password" and shared.stdout.strip() == PASSWORD


def test_registry_certificate_without_key_passes_validation(inv: Path, tmp_path: Path):
    """The registry TLS private key is optional: a certificate alone is stored without one."""
    key, crt = tmp_path / "tls.key", tmp_path / "tls.crt"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=registry.test", "-keyout", str(key), "-out", str(crt)],
                   check=True, capture_output=True, timeout=60)
    data = host_vars(inv)
    data.update(runner_registry_tls_enabled=True, runner_registry_tls_crt=crt.read_text(),
                runner_registry_tls_key="")
    write_host_vars(inv, data)
    out = validate(inv)
    assert out.returncode == 0, out.stdout[-3000:]

    data["runner_registry_tls_key"] = "not a key"
    write_host_vars(inv, data)
    text = failure(validate(inv))
    assert "runner_registry_tls_key: is not a PEM private key (it is optional" in text


@pytest.mark.parametrize("state", ["present", "absent"])
def test_bad_dagger_namespace_is_named_in_validation_for_deploy_and_remove(inv: Path, state: str):
    """runner_dagger_namespace is checked in step 1 for removal too (it selects what removal deletes)."""
    data = host_vars(inv)
    data["runner_dagger_namespace"] = "Bad_NS"
    write_host_vars(inv, data)
    if state == "present":
        out = validate(inv)
    else:
        out = subprocess.run(["ansible-playbook", "-i", str(inv / "hosts.yml"), "kubiya.runners.remove",
                              "--limit", "acme", "-e", "runner_remove_confirm=acme"], cwd=inv.parent,
                             env=env(inv), text=True, capture_output=True, timeout=300, check=False)
    assert "runner_dagger_namespace: 'Bad_NS' must be a DNS-1123 label" in failure(out)


@pytest.mark.parametrize("value", [0, 86401])
def test_a_wait_timeout_out_of_range_is_named(inv: Path, value: int):
    """The deploy lock lasts 2 x runner_wait_timeout + 120 s: a typo in milliseconds is named,
    not a lock that outlives any run (or a module error naming an option nobody set)."""
    out = validate(inv, "-e", f"runner_wait_timeout={value}")
    assert f"runner_wait_timeout: must be 1 to 86400 seconds (a day), got {value}" in failure(out)


@pytest.mark.parametrize("value", [-1, 61])
def test_a_lock_renewal_interval_out_of_range_is_named(inv: Path, value: int):
    """A renewal interval longer than the lease's slack would let the lease run out in a phase."""
    out = validate(inv, "-e", f"runner_lock_renew_after={value}")
    assert f"runner_lock_renew_after: must be 0 to 60 seconds, got {value}" in failure(out)
