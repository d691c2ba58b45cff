"""Credentials never leave the origin they were meant for (issue 9 item 2).

kubiya.runners.metrics_delivery runs as a real module process against loopback HTTPS
servers with a CA generated at test time. Servers record every request that reaches
them, so "nothing arrived" is observed, not assumed."""
from __future__ import annotations

import pytest

from loopback import prometheus_ok, reply, token_ok
from testlib import run_module

CHECKS = [{"name": "up", "metric": "up"}]
BEARER = "Bearer s3cr3t-bearer-for-the-origin-only"
SECRET = "client-secret-for-the-token-endpoint-only"


def delivery(tmp_path, **args):
    base = {"checks": CHECKS, "deadline": 0, "timeout": 5, "runner": "r1"}
    base.update(args)
    return run_module("metrics_delivery", tmp_path, **base)


def assert_secrets_absent(run, *secrets):
    text = repr(run.result) + run.stderr
    for secret in secrets:
        assert secret not in text


# --- redirects ------------------------------------------------------------------------------
@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@pytest.mark.parametrize("target", ["other-port", "other-host", "http-downgrade"])
def test_prometheus_redirect_is_not_followed_and_the_header_stays_home(
        tmp_path, servers, pki, status, target):
    if target == "http-downgrade":
        sink = servers(prometheus_ok)
        location = "http://127.0.0.1:%d/api/v1/query" % sink.port
    else:
        sink = servers(prometheus_ok, tls=True)
        host = "localhost" if target == "other-host" else "127.0.0.1"
        location = "https://%s:%d/api/v1/query" % (host, sink.port)
    origin = servers(lambda h, s: reply(h, status, {}, headers={"Location": location}), tls=True)

    run = delivery(tmp_path, url=origin.url, ca_path=pki.ca, auth_type="bearer",
                   bearer_token=BEARER.split(" ", 1)[1], allow_http=True)

    assert len(origin.requests) == 1 and origin.requests[0].headers["Authorization"] == BEARER
    assert sink.requests == [], "the redirect was followed to %s" % location
    assert run.failed
    assert "answered HTTP %d redirecting to %s" % (status, location.rsplit("/api", 1)[0]) in run.msg
    assert "redirects are not followed" in run.msg
    assert run.elapsed < 10
    assert_secrets_absent(run, BEARER.split(" ", 1)[1])


@pytest.mark.parametrize("status", [302, 307])
def test_token_endpoint_redirect_never_carries_the_client_secret_away(
        tmp_path, servers, pki, status):
    sink = servers(token_ok, tls=True)
    idp = servers(lambda h, s: reply(h, status, {}, headers={
        "Location": "https://localhost:%d/steal" % sink.port}), tls=True)
    prom = servers(prometheus_ok, tls=True)

    run = delivery(tmp_path, url=prom.url, ca_path=pki.ca, auth_type="oauth2",
                   token_url=idp.url + "/oauth2/token", token_ca_path=pki.ca,
                   client_id="verifier", client_secret=SECRET)

    assert len(idp.requests) == 1 and SECRET.encode() in idp.requests[0].body
    assert sink.requests == [] and prom.requests == []
    assert run.failed
    assert "HTTP %d redirecting to https://localhost:%d" % (status, sink.port) in run.msg
    assert_secrets_absent(run, SECRET)


# --- schemes -------------------------------------------------------------------------------
@pytest.mark.parametrize("option,value,fragment", [
    ("url", "file:///etc/passwd", "url: 'file:///etc/passwd' is not an https:// URL"),
    ("url", "data:text/plain,hello", "scheme 'data' is not allowed"),
    ("url", "ftp://127.0.0.1/x", "scheme 'ftp' is not allowed"),
    ("url", "gopher://127.0.0.1/x", "scheme 'gopher' is not allowed"),
    ("token_url", "file:///etc/passwd", "token_url: 'file:///etc/passwd' is not an https:// URL"),
    ("token_url", "data:application/json,{\"access_token\":\"x\"}", "token_url:"),
    ("token_url", "ftp://127.0.0.1/token", "token_url:"),
    ("authority_url", "file:///etc", "authority_url: 'file:///etc' is not an https:// URL"),
    ("authority_url", "ftp://127.0.0.1", "authority_url:"),
])
def test_other_schemes_are_refused_before_any_request(
        tmp_path, servers, pki, option, value, fragment):
    prom = servers(prometheus_ok, tls=True)
    args = {"url": prom.url, "ca_path": pki.ca}
    if option == "token_url":
        args.update(auth_type="oauth2", client_id="c", client_secret=SECRET, token_url=value)
    elif option == "authority_url":
        args.update(auth_type="azure", client_id="c", client_secret=SECRET, tenant_id="t1",
                    authority_url=value)
    else:
        args["url"] = value
    run = delivery(tmp_path, **args)
    assert run.failed and fragment in run.msg, run.msg
    assert prom.requests == []
    assert "root:" not in repr(run.result)  # /etc/passwd was not read
    assert_secrets_absent(run, SECRET)


@pytest.mark.parametrize("option", ["url", "token_url", "authority_url"])
def test_http_without_the_opt_in_is_refused_and_nothing_is_sent(tmp_path, servers, option):
    prom = servers(prometheus_ok)
    idp = servers(token_ok)
    args = {"url": prom.url, "auth_type": "bearer", "bearer_token": "b-token"}
    if option == "token_url":
        args = {"url": "https://127.0.0.1:9", "auth_type": "oauth2", "client_id": "c",
                "client_secret": SECRET, "token_url": idp.url + "/token"}
    elif option == "authority_url":
        args = {"url": "https://127.0.0.1:9", "auth_type": "azure", "client_id": "c",
                "client_secret": SECRET, "tenant_id": "t1", "authority_url": idp.url}
    run = delivery(tmp_path, **args)
    assert run.failed
    assert run.msg.startswith("%s: 'http://127.0.0.1:" % option), run.msg
    assert "allow_http" in run.msg
    assert prom.requests == [] and idp.requests == []


def test_http_with_the_opt_in_works_for_loopback_tests(tmp_path, servers):
    prom = servers(prometheus_ok)
    idp = servers(token_ok)
    run = delivery(tmp_path, url=prom.url, auth_type="oauth2", client_id="c", client_secret=SECRET,
                   token_url=idp.url + "/token", allow_http=True)
    assert not run.failed, run.msg
    assert len(idp.requests) == 1 and len(prom.requests) == 1
    assert prom.requests[0].headers["Authorization"].startswith("Bearer tok-")


def test_credentials_in_the_url_are_refused(tmp_path, servers, pki):
    prom = servers(prometheus_ok, tls=True)
    run = delivery(tmp_path, url=prom.url.replace("https://", "https://u:pw@"), ca_path=pki.ca)
    assert run.failed and "url:" in run.msg and "carries credentials" in run.msg
    assert "pw" not in run.msg and prom.requests == []


# --- TLS of the token endpoint is its own ----------------------------------------------------
def test_prometheus_verification_off_does_not_turn_it_off_for_the_token_endpoint(tmp_path, servers):
    prom = servers(prometheus_ok, tls=True, trusted=False)   # self-signed Prometheus
    idp = servers(token_ok, tls=True, trusted=False)         # self-signed token endpoint

    run = delivery(tmp_path, url=prom.url, validate_certs=False, auth_type="azure",
                   authority_url=idp.url, tenant_id="t1", client_id="c", client_secret=SECRET)

    assert run.failed
    assert "TLS error" in run.msg and "token_validate_certs" in run.msg, run.msg
    assert idp.requests == [], "the client secret was posted over unverified TLS"
    assert prom.requests == []
    assert_secrets_absent(run, SECRET)


def test_token_endpoint_verification_can_be_configured_separately(tmp_path, servers, pki):
    prom = servers(prometheus_ok, tls=True, trusted=False)   # self-signed Prometheus, not verified
    idp = servers(token_ok, tls=True)                        # token endpoint signed by the test CA
    run = delivery(tmp_path, url=prom.url, validate_certs=False, auth_type="azure",
                   authority_url=idp.url, tenant_id="t1", client_id="c", client_secret=SECRET,
                   token_ca_path=pki.ca)
    assert not run.failed, run.msg
    assert len(idp.requests) == 1 and idp.requests[0].path == "/t1/oauth2/v2.0/token"
    assert len(prom.requests) == 1


def test_prometheus_ca_path_is_not_trusted_for_the_token_endpoint(tmp_path, servers, pki):
    prom = servers(prometheus_ok, tls=True)
    idp = servers(token_ok, tls=True)                        # signed by the test CA, given only as ca_path
    run = delivery(tmp_path, url=prom.url, ca_path=pki.ca, auth_type="oauth2",
                   token_url=idp.url + "/token", client_id="c", client_secret=SECRET)
    assert run.failed and "TLS error" in run.msg
    assert idp.requests == []


@pytest.mark.parametrize("tenant", ["evil.example/x?", "../../steal", "t1#", "a b"])
def test_tenant_id_cannot_reshape_the_token_url(tmp_path, tenant):
    run = delivery(tmp_path, url="https://127.0.0.1:9", auth_type="azure", tenant_id=tenant,
                   client_id="c", client_secret=SECRET)
    assert run.failed and run.msg.startswith("tenant_id:"), run.msg


@pytest.mark.parametrize("option", ["url", "token_url", "authority_url"])
def test_allow_http_sends_nothing_to_a_host_that_is_not_loopback(tmp_path, servers, option):
    # issue 9: allow_http is for loopback tests. http://0.0.0.0:<port> is not a loopback
    # address but reaches this machine's listener on Linux: before the fix the client
    # secret (or the bearer token) went there in clear text.
    prom = servers(prometheus_ok)
    idp = servers(token_ok)
    args = {"url": "http://0.0.0.0:%d" % prom.port, "auth_type": "bearer", "bearer_token": "b-token"}
    if option == "token_url":
        args = {"url": prom.url, "auth_type": "oauth2", "client_id": "c",
                "client_secret": SECRET, "token_url": "http://0.0.0.0:%d/token" % idp.port}
    elif option == "authority_url":
        args = {"url": prom.url, "auth_type": "azure", "client_id": "c",
                "client_secret": SECRET, "tenant_id": "t1", "authority_url": "http://0.0.0.0:%d" % idp.port}
    run = delivery(tmp_path, allow_http=True, **args)
    assert run.failed
    assert run.msg.startswith("%s: 'http://0.0.0.0:" % option), run.msg
    assert "non-loopback host '0.0.0.0'" in run.msg and "allow_http: true permits http:// only to" in run.msg
    assert prom.requests == [] and idp.requests == []
    assert_secrets_absent(run, SECRET, "b-token")
