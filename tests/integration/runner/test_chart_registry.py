"""The runner from a real OCI registry: signed chart, TLS, htpasswd, install by version.

tests/registry/up.sh starts Debian's docker-registry (CNCF distribution) on loopback with a
test CA and generated credentials; the chart is packaged with provenance (a GPG key made
here), pushed with helm push, and the example customer is deployed from
oci://127.0.0.1:<port>/charts/kubiya-runner by version with runner_chart_verify. A missing
version, wrong credentials, a registry that is down and a keyring that did not sign the
chart each stop the play in validation, naming the variable, with nothing created in the
namespace (no release, no Secret, no Lease).
"""
from __future__ import annotations

import json
import subprocess
import time

import pytest

from registry.chartregistry import Registry, free_port
from testlib import CHART_VERSION, REPO, deploy_example as deploy, recap_changed as changed

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

REF = "charts/kubiya-runner"


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    reg = Registry.start(tmp_path_factory.mktemp("registry"))
    archive = reg.package(REPO / "charts" / "kubiya-runner", tmp_path_factory.mktemp("dist"))
    reg.login()
    reg.push(archive)
    yield reg
    reg.stop()


def oci_vars(reg: Registry, namespace: str, **over) -> dict:
    creds = reg.credentials
    return {"runner_namespace": namespace, "runner_chart_ref": f"oci://{reg.host}/{REF}",
            "runner_chart_version": CHART_VERSION, "runner_chart_verify": True, "runner_chart_keyring": reg.pubring,
            "runner_chart_ca_file": reg.ca_file, "runner_chart_registry_username": creds["username"],
            "runner_chart_registry_password": creds["password"], "runner_health_window": 2, **over}


def namespace_is_untouched(cluster, namespace: str) -> None:
    objs = cluster.kubectl("get", "secrets,leases,deployments", "-n", namespace, "-o", "name").stdout.split()
    assert objs == [], objs


def test_deploy_from_oci_registry_by_version_with_provenance(cluster, namespace, registry):
    extra = oci_vars(registry, namespace)
    start = time.monotonic()
    first = deploy(cluster, extra)
    print(f"install from registry {time.monotonic() - start:.1f}s")
    assert first.returncode == 0, first.stdout[-5000:]
    assert changed(first.stdout) > 0
    assert "Fetch chart oci://" in first.stdout
    release = json.loads(subprocess.run(["helm", "list", "-n", namespace, "-o", "json"], env=cluster.env,
                                        capture_output=True, text=True, check=True).stdout)
    assert [(r["name"], r["chart"], r["status"]) for r in release] == [("kubiya-runner", f"kubiya-runner-{CHART_VERSION}",
                                                                        "deployed")]
    # the password never reaches the log, and no login is left behind on the controller
    assert extra["runner_chart_registry_password"] not in first.stdout + first.stderr
    start = time.monotonic()
    second = deploy(cluster, extra)
    print(f"re-run {time.monotonic() - start:.1f}s")
    assert second.returncode == 0, second.stdout[-5000:]
    assert changed(second.stdout) == 0, second.stdout[-5000:]


@pytest.mark.parametrize("case,expected", [
    ("missing_version", "runner_chart_version: oci://{host}/charts/kubiya-runner version 9.9.9 is not in the registry"),
    ("wrong_password", "runner_chart_registry_username/runner_chart_registry_password: the chart registry of "
                       "'oci://{host}/charts/kubiya-runner' refused the credentials"),
    ("registry_down", "runner_chart_ref: the chart registry of 'oci://{host}/charts/kubiya-runner' cannot be reached"),
    ("other_keyring", "runner_chart_verify: the provenance of oci://{host}/charts/kubiya-runner version "
                      f"{CHART_VERSION} does not verify against runner_chart_keyring"),
])
def test_registry_failure_stops_before_the_cluster_changes(cluster, namespace, registry, tmp_path, case, expected):
    extra = oci_vars(registry, namespace)
    host = registry.host
    if case == "missing_version":
        extra["runner_chart_version"] = "9.9.9"
    elif case == "wrong_password":
        extra["runner_chart_registry_password"] = "not-the-password"
    elif case == "registry_down":
        host = f"127.0.0.1:{free_port()}"     # nothing listens there
        extra["runner_chart_ref"] = f"oci://{host}/{REF}"
    else:
        other = Registry(tmp_path / "other", registry.port)
        subprocess.run([str(REPO / "tests" / "registry" / "signing-key.sh")],
                       env=dict(other.env, KUBIYA_SIGNING_NAME="someone else"), check=True, capture_output=True)
        extra["runner_chart_keyring"] = other.pubring
    out = deploy(cluster, extra)
    assert out.returncode != 0
    assert "nothing was changed" in out.stdout, out.stdout[-4000:]
    assert expected.format(host=host) in out.stdout, out.stdout[-4000:]
    assert "not-the-password" not in out.stdout + out.stderr
    namespace_is_untouched(cluster, namespace)


def test_verify_without_a_remote_chart_or_keyring_is_refused_in_validation(cluster, registry):
    local = deploy(cluster, {"runner_chart_verify": True}, "--tags", "validate")
    assert local.returncode != 0
    assert "runner_chart_verify: a local chart" in local.stdout and "has no provenance to verify" in local.stdout
    nokey = deploy(cluster, oci_vars(registry, "unused", runner_chart_keyring="/nonexistent/pubring.gpg"),
                   "--tags", "validate")
    assert nokey.returncode != 0
    assert "runner_chart_keyring: '/nonexistent/pubring.gpg' is not a file" in nokey.stdout
