"""The authenticating front: Azure-like 401/403, and forwarding when allowed."""
import json
import secrets
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from central import client, jwtutil, settings

pytestmark = pytest.mark.central


def call(url, token=None, data=None, method=None):
    headers = {"Authorization": "Bearer " + token} if token else {}
    req = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read().decode(), resp.headers
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(), exc.headers


def query_url(central, promql="up"):
    return central.front_url + "/api/v1/query?" + urllib.parse.urlencode({"query": promql})


def test_query_with_valid_token_is_forwarded(central):
    status, body, _headers = call(query_url(central), central.token("verifier"))
    assert status == 200, body
    assert json.loads(body)["status"] == "success"


def test_missing_token_is_401_with_bearer_challenge(central):
    status, body, headers = call(query_url(central))
    assert status == 401
    assert headers["WWW-Authenticate"].startswith("Bearer")
    assert "no bearer token" in json.loads(body)["error"]


def test_wrong_scheme_is_401(central):
    req = urllib.request.Request(query_url(central), headers={"Authorization": "Basic eDp5"})
    with pytest.raises(urllib.error.HTTPError) as exc:
        urllib.request.urlopen(req, timeout=10)
    assert exc.value.code == 401


def test_garbage_token_is_401_invalid_token(central):
    status, _body, headers = call(query_url(central), "not.a.jwt")
    assert status == 401
    assert 'error="invalid_token"' in headers["WWW-Authenticate"]


def test_expired_token_is_401(central):
    token = central.token("verifier", ttl=1)
    assert call(query_url(central), token)[0] == 200
    time.sleep(2.2)
    status, body, headers = call(query_url(central), token)
    assert status == 401
    assert "expired" in json.loads(body)["error"]
    assert 'error="invalid_token"' in headers["WWW-Authenticate"]


def test_token_from_a_foreign_key_is_401(central):
    claims = {"aud": settings.QUERY_AUDIENCE, "iss": central.issuer, "exp": time.time() + 300,
              "roles": [settings.READ_ROLE], "appid": "forger"}
    forged = jwtutil.sign(jwtutil.new_key(), secrets.token_hex(8), claims)
    status, body, _headers = call(query_url(central), forged)
    assert status == 401
    assert "unknown key" in json.loads(body)["error"]


def test_write_audience_token_cannot_query_403(central):
    status, body, headers = call(query_url(central), central.token("collector"))
    assert status == 403
    assert "audience" in json.loads(body)["error"]
    assert 'error="insufficient_scope"' in headers["WWW-Authenticate"]


def test_query_audience_token_cannot_write_403(central):
    data = b"irrelevant"
    status, body, _headers = call(central.remote_write_url, central.token("verifier"), data, "POST")
    assert status == 403
    assert "audience" in json.loads(body)["error"]


def test_right_audience_without_role_is_403(central):
    token = central.token("verifier", scope=settings.WRITE_SCOPE)
    status, body, _headers = call(central.remote_write_url, token, b"x", "POST")
    assert status == 403
    assert settings.WRITE_ROLE in json.loads(body)["error"]


def test_write_with_collector_token_lands_in_prometheus(central):
    name = "kubiya_front_test_%s" % secrets.token_hex(4)
    status = central.push([({"__name__": name, "runner": "front"}, [(client.now_ms(), 7)])])
    assert status == 204
    result = central.query(name)
    assert [r["value"][1] for r in result] == ["7"]


def test_unlisted_paths_are_not_forwarded(central):
    url = central.front_url + "/api/v1/admin/tsdb/delete_series?match[]=up"
    status = call(url, central.token("verifier"), b"", "POST")[0]
    assert status == 404


def test_write_needs_post(central):
    assert call(central.remote_write_url, central.token("collector"))[0] == 405


def test_query_endpoints_other_than_query(central):
    token = central.token("verifier")
    for path in ("/api/v1/labels", "/api/v1/series?match[]=up",
                 "/api/v1/query_range?query=up&start=1&end=2&step=1"):
        assert call(central.front_url + path, token)[0] == 200, path
