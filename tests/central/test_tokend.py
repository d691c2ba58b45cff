"""The token endpoint, over HTTP, as a client sees it."""
import base64
import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from central import jwtutil, settings

pytestmark = pytest.mark.central


def post(url, form, headers=None, content_type="application/x-www-form-urlencoded"):
    hdrs = {"Content-Type": content_type}
    hdrs.update(headers or {})
    req = urllib.request.Request(url, data=urllib.parse.urlencode(form).encode(), headers=hdrs,
                                 method="POST")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read()), resp.headers
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read()), exc.headers


def form(c, scope=settings.QUERY_SCOPE, **extra):
    data = {"grant_type": "client_credentials", "client_id": c.client_id,
            "client_secret": c.client_secret, "scope": scope}
    data.update(extra)
    return data


def key_lookup(central):
    def lookup(kid):
        path = os.path.join(central.state_dir, "keys", "%s.pem" % kid)
        if not os.path.exists(path):
            return None
        with open(path, "rb") as handle:
            return jwtutil.load_public_pem(handle.read())
    return lookup


def test_issues_short_lived_signed_token_for_the_scope_resource(central):
    status, body, headers = post(central.token_url, form(central.verifier))
    assert status == 200, body
    assert body["token_type"] == "Bearer"
    assert 0 < body["expires_in"] <= 3600
    assert headers["Cache-Control"] == "no-store"
    claims = jwtutil.verify(body["access_token"], key_lookup(central))
    assert claims["aud"] == settings.QUERY_AUDIENCE
    assert claims["appid"] == central.verifier.client_id
    assert claims["iss"] == central.issuer
    assert claims["roles"] == [settings.READ_ROLE]
    assert abs(claims["exp"] - time.time() - body["expires_in"]) < 5


def test_client_secret_basic_is_accepted(central):
    raw = "%s:%s" % (urllib.parse.quote_plus(central.collector.client_id),
                     urllib.parse.quote_plus(central.collector.client_secret))
    basic = {"Authorization": "Basic " + base64.b64encode(raw.encode()).decode()}
    status, body, _headers = post(central.token_url, {"grant_type": "client_credentials",
                                                      "scope": settings.WRITE_SCOPE}, basic)
    assert status == 200, body
    assert jwtutil.verify(body["access_token"], key_lookup(central))["aud"] == \
        settings.WRITE_AUDIENCE


def test_generic_oauth2_path_serves_the_same_tenant(central):
    url = central.authority_url + "/oauth2/token"
    status, body, _headers = post(url, form(central.verifier))
    assert status == 200, body


def test_wrong_secret_is_401_invalid_client(central):
    bad = form(central.verifier, client_secret="not-the-secret")
    status, body, headers = post(central.token_url, bad)
    assert status == 401
    assert body["error"] == "invalid_client"
    assert "AADSTS7000215" in body["error_description"]
    assert "WWW-Authenticate" in headers


def test_unknown_client_is_unauthorized_client(central):
    status, body, _headers = post(central.token_url, form(central.verifier, client_id="nobody"))
    assert (status, body["error"]) == (400, "unauthorized_client")
    assert "nobody" in body["error_description"]


@pytest.mark.parametrize("change,error", [
    ({"scope": ""}, "invalid_request"),
    ({"scope": "https://management.azure.com/.default"}, "invalid_scope"),
    ({"scope": "https://prometheus.monitor.azure.com/read"}, "invalid_scope"),
    ({"grant_type": "password"}, "unsupported_grant_type"),
    ({"grant_type": ""}, "invalid_request"),
    ({"client_secret": ""}, "invalid_client"),
])
def test_bad_requests_get_oauth2_errors(central, change, error):
    status, body, _headers = post(central.token_url, form(central.verifier, **change))
    assert status in (400, 401)
    assert body["error"] == error, body
    assert body["error_description"]


def test_unknown_tenant(central):
    url = central.token_url.replace(central.tenant_id, "00000000-0000-0000-0000-000000000000")
    status, body, _headers = post(url, form(central.verifier))
    assert (status, body["error"]) == (400, "invalid_request")
    assert "AADSTS90002" in body["error_description"]


def test_form_encoding_required(central):
    status, body, _headers = post(central.token_url, form(central.verifier),
                                  content_type="application/json")
    assert (status, body["error"]) == (400, "invalid_request")


def test_get_is_refused(central):
    with pytest.raises(urllib.error.HTTPError) as exc:
        urllib.request.urlopen(central.token_url, timeout=10)
    assert exc.value.code == 405


def test_ttl_extension_shortens_the_token(central):
    status, body, _headers = post(central.token_url, form(central.verifier, ttl="2"))
    assert status == 200
    assert body["expires_in"] == 2
