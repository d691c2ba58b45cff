"""Pure parts of auth.py and prometheus.py: providers from options, error texts."""
import base64
import socket
import ssl
from urllib.error import URLError

import pytest

from ansible_collections.kubiya.runners.plugins.module_utils import auth, prometheus


def params(**kw):
    base = {"auth_type": "none", "validate_certs": True, "ca_path": None,
            "authority_url": auth.AZURE_AUTHORITY, "scope": None, "token_url": None}
    base.update(kw)
    return base


def test_none_sends_nothing():
    assert auth.from_params(params()).header() is None


def test_basic_header():
    value = auth.from_params(params(auth_type="basic", username="u", password="p:w")).header()
    assert value == "Basic " + base64.b64encode(b"u:p:w").decode()


def test_bearer_header():
    assert auth.from_params(params(auth_type="bearer", bearer_token="t0k")).header() == \
        "Bearer t0k"


def test_azure_defaults_to_entra_token_url_and_prometheus_scope():
    p = auth.from_params(params(auth_type="azure", tenant_id="tid", client_id="c",
                                client_secret="s"))
    assert p.kind == "azure"
    assert p.token_url == "https://login.microsoftonline.com/tid/oauth2/v2.0/token"
    assert p.scope == "https://prometheus.monitor.azure.com/.default"


def test_azure_authority_override_and_scope():
    p = auth.from_params(params(auth_type="azure", tenant_id="tid", client_id="c",
                                client_secret="s", authority_url="http://127.0.0.1:1/",
                                scope="api://x/.default", allow_http=True))
    assert p.token_url == "http://127.0.0.1:1/tid/oauth2/v2.0/token"
    assert p.scope == "api://x/.default"


def test_oauth2_uses_token_url_and_optional_scope():
    p = auth.from_params(params(auth_type="oauth2", token_url="https://idp/t", client_id="c",
                                client_secret="s"))
    assert (p.kind, p.token_url, p.scope) == ("oauth2", "https://idp/t", None)


def test_unknown_auth_type():
    with pytest.raises(ValueError, match="unknown auth_type"):
        auth.from_params(params(auth_type="kerberos"))


@pytest.mark.parametrize("body,expected", [
    ('{"error": "invalid_client", "error_description": "AADSTS7000215: bad"}',
     ("invalid_client", "AADSTS7000215: bad")),
    ('{"error": "invalid_scope"}', ("invalid_scope", None)),
    ("<html>Bad Gateway</html>", (None, "<html>Bad Gateway</html>")),
    ("", (None, None)),
])
def test_oauth_error_text(body, expected):
    assert auth.oauth_error_text(400, body) == expected


@pytest.mark.parametrize("exc,fragment", [
    (URLError(ConnectionRefusedError(111, "refused")), "connection refused by http://h"),
    (URLError(socket.timeout("timed out")), "no complete answer from http://h within 3.0s"),
    (TimeoutError("timed out"), "no complete answer from http://h within 3.0s"),
    (URLError(socket.gaierror(-2, "Name or service not known")), "cannot resolve the host"),
    (URLError(ssl.SSLError(1, "CERTIFICATE_VERIFY_FAILED")), "TLS error"),
])
def test_network_errors_are_described(exc, fragment):
    assert fragment in auth.describe_network_error(exc, "http://h", 3)


@pytest.mark.parametrize("url,fragment", [
    ("", "url: is empty"),
    ("prometheus:9090", "is not an https:// URL"),
    ("ftp://x", "scheme 'ftp' is not allowed"),
    ("http://", "uses http://"),
    ("https://", "has no host"),
    ("https://user:pw@h", "carries credentials"),
    ("https://h:99999", "invalid port"),
])
def test_bad_urls_refused(url, fragment):
    with pytest.raises(ValueError, match=fragment):
        prometheus.check_url(url)


def test_http_url_needs_the_opt_in():
    assert prometheus.check_url("http://127.0.0.1:9/", allow_http=True) == "http://127.0.0.1:9"


def test_url_trailing_slash_dropped():
    assert prometheus.check_url("https://p.example/") == "https://p.example"


@pytest.mark.parametrize("body,text", [
    ('{"status":"error","errorType":"bad_data","error":"parse error"}', "bad_data: parse error"),
    ('{"error":{"code":"InvalidAuthenticationToken","message":"expired"}}',
     "InvalidAuthenticationToken: expired"),
    ("plain\ntext", "plain text"),
])
def test_api_error_texts(body, text):
    assert prometheus._api_error(body) == text


def test_query_refuses_nameless_promql_before_sending():
    client = prometheus.PrometheusClient("https://127.0.0.1:9")  # nothing listens on port 9
    with pytest.raises(ValueError, match="has no metric name"):
        client.query('{job="x"}')


def test_argument_spec_marks_every_secret_no_log():
    secrets = {k for k, v in prometheus.PROMETHEUS_ARGUMENT_SPEC.items() if v.get("no_log")}
    assert secrets == {"password", "bearer_token", "client_secret"}
