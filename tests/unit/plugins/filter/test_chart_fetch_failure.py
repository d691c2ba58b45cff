"""runner_chart_fetch_failure: helm's own messages (helm v3.22 against docker-registry 2.8,
recorded from tests/registry) name the variable an operator has to fix."""
from __future__ import annotations

import pytest

from ansible_collections.kubiya.runners.plugins.filter import runner_checks as rc

REF = "oci://127.0.0.1:39500/charts/kubiya-runner"


@pytest.mark.parametrize("stderr,starts", [
    ('Error: failed to perform "FetchReference" on source: 127.0.0.1:39500/charts/kubiya-runner:9.9.9: not found',
     "runner_chart_version: oci://127.0.0.1:39500/charts/kubiya-runner version 9.9.9 is not in the registry"),
    ('Error: authenticating to "127.0.0.1:39500": GET "https://127.0.0.1:39500/v2/": response status code 401: '
     'unauthorized: authentication required', "runner_chart_registry_username/runner_chart_registry_password:"),
    ('Error: failed to perform "FetchReference" on source: GET "https://127.0.0.1:39500/v2/charts/kubiya-runner/'
     'manifests/9.9.9": basic credential not found', "runner_chart_registry_username/runner_chart_registry_password:"),
    ('Error: failed to perform "FetchReference" on source: Get "https://127.0.0.1:39509/v2/charts/kubiya-runner/'
     'manifests/9.9.9": dial tcp 127.0.0.1:39509: connect: connection refused', "runner_chart_ref: the chart registry"),
    ('Error: failed to perform "FetchReference" on source: Get "https://127.0.0.1:39500/v2/": tls: failed to verify '
     'certificate: x509: certificate signed by unknown authority', "runner_chart_ca_file:"),
    ("Error: openpgp: signature made by unknown entity", "runner_chart_verify: the provenance of"),
    ("Error: something new", "runner_chart_ref: oci://127.0.0.1:39500/charts/kubiya-runner version 9.9.9 could not"),
])
def test_each_failure_names_the_variable(stderr, starts):
    msg = rc.chart_fetch_failure({"rc": 1, "stderr": stderr}, REF, "9.9.9")
    assert msg.startswith(starts), msg
    assert stderr.split("Error: ", 1)[1][:40] in msg      # helm's own words are kept


@pytest.mark.parametrize("digest", ["4013a1f0" + "0" * 56, "c0ffee403" + "0" * 55])
def test_what_helm_printed_before_its_error_is_not_the_reason(digest):
    """`helm pull --verify` prints the pulled digest before its error; a digest holding "401" or
    "403" once made a provenance failure read as refused credentials (seen in a CI run)."""
    stderr = ("Pulled: 127.0.0.1:39500/charts/kubiya-runner:1.0.0\nDigest: sha256:%s\n"
              "Error: openpgp: signature made by unknown entity" % digest)
    msg = rc.chart_fetch_failure({"rc": 1, "stderr": stderr}, REF, "1.0.0")
    assert msg.startswith("runner_chart_verify: the provenance of"), msg


def test_login_module_failure_shape():
    # kubernetes.core.helm_registry_auth fails with msg + stderr and no rc
    result = {"msg": "Failure when executing Helm command. Exited 1.", "stderr": "Error: login attempt failed: 401"}
    assert rc.chart_fetch_failure(result, REF, "1.0.0").startswith("runner_chart_registry_username/")


def test_registered_filter():
    assert rc.FilterModule().filters()["runner_chart_fetch_failure"] is rc.chart_fetch_failure
