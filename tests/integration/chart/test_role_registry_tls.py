"""roles/runner/tasks/secrets.yml on the local control plane: the registry certificate alone
is stored without a private key; switching between "certificate only" and "certificate and
key" replaces the Secret (its type cannot change in place); nothing secret is printed."""
from __future__ import annotations

import base64
import json
import subprocess
import sys

import pytest

from testlib import REPO, ensure_collection_on_path

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

PLAY = """
- name: Registry TLS Secret only
  hosts: localhost
  gather_facts: false
  connection: local
  tasks:
    - name: Secrets step of the runner role
      ansible.builtin.include_role:
        name: kubiya.runners.runner
        tasks_from: secrets.yml
"""


@pytest.fixture(scope="module")
def pem(tmp_path_factory):
    d = tmp_path_factory.mktemp("registry-tls")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=registry.test", "-keyout", str(d / "tls.key"), "-out", str(d / "tls.crt")],
                   check=True, capture_output=True, timeout=60)
    return (d / "tls.crt").read_text(), (d / "tls.key").read_text()


def run_secrets(cluster, tmp_path, namespace, crt, key):
    ensure_collection_on_path()
    play = tmp_path / "play.yml"
    play.write_text(PLAY)
    extra = tmp_path / "extra.json"
    extra.write_text(json.dumps({
        "runner_namespace": namespace, "runner_release": "rel", "runner_customer": "chart-test",
        "__runner_ns_existed": True, "runner_nats_existing_secret": "nats",
        "runner_telemetry_enabled": False, "runner_registry_tls_enabled": True,
        "runner_registry_tls_crt": crt, "runner_registry_tls_key": key,
        "ansible_python_interpreter": sys.executable}))
    extra.chmod(0o600)
    env = dict(cluster.env, ANSIBLE_FORCE_COLOR="0")
    out = subprocess.run(["ansible-playbook", "-i", "localhost,", str(play), "-e", f"@{extra}"],
                         cwd=REPO, env=env, text=True, capture_output=True, timeout=300, check=False)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    for material in (crt, key):
        if material:
            body = material.splitlines()[1]
            assert body not in out.stdout and body not in out.stderr  # no_log
    return out


def secret(cluster, namespace):
    return json.loads(cluster.kubectl("get", "secret", "rel-registry-tls", "-n", namespace, "-o", "json").stdout)


def test_certificate_alone_then_with_key_then_alone_again(cluster, namespace, tmp_path, pem):
    crt, key = pem
    run_secrets(cluster, tmp_path, namespace, crt, "")
    s = secret(cluster, namespace)
    assert s["type"] == "Opaque" and set(s["data"]) == {"tls.crt"}
    assert base64.b64decode(s["data"]["tls.crt"]).decode() == crt
    again = run_secrets(cluster, tmp_path, namespace, crt, "")
    assert "changed=0" in again.stdout  # idempotent

    run_secrets(cluster, tmp_path, namespace, crt, key)
    s = secret(cluster, namespace)
    assert s["type"] == "kubernetes.io/tls" and set(s["data"]) == {"tls.crt", "tls.key"}

    run_secrets(cluster, tmp_path, namespace, crt, "")
    s = secret(cluster, namespace)
    assert s["type"] == "Opaque" and set(s["data"]) == {"tls.crt"}  # the key is gone
    assert s["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "kubiya.runners"
