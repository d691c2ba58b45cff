"""writeprobe: the empty remote write with the runner's credentials, against a loopback
server playing the token endpoint and the write endpoint."""
from __future__ import annotations

import http.server
import json
import threading
import urllib.parse

import pytest

from ansible_collections.kubiya.runners.plugins.module_utils import writeprobe


@pytest.fixture
def server():
    seen, answers = [], {"token": (200, {"access_token": "tok", "expires_in": 300}), "write": (204, None)}

    class H(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            kind = "token" if self.path.endswith("/token") else "write"
            seen.append((kind, self.path, dict(self.headers), body))
            status, payload = answers[kind]
            data = json.dumps(payload).encode() if payload is not None else b""
            self.send_response(status)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{srv.server_address[1]}"
    yield base, seen, answers
    srv.shutdown()


def params(base):
    return {"url": f"{base}/dataCollectionRules/dcr-1/streams/Microsoft-PrometheusMetrics/api/v1/write?api-version=2023-04-24",
            "token_url": f"{base}/tenant/oauth2/v2.0/token", "client_id": "app-1", "client_secret": "s3cret",
            "scope": writeprobe.DEFAULT_SCOPE, "ca_path": None}


def test_accepted_write_sends_an_empty_request_with_the_runners_token(server):
    base, seen, _answers = server
    out = writeprobe.probe(params(base), timeout=5, allow_http=True)
    assert out == {"url": params(base)["url"].split("?", maxsplit=1)[0], "status": 204, "refused": False, "reason": ""}
    (_k, _p, _h, form), (kind, path, headers, body) = seen
    assert urllib.parse.parse_qs(form.decode())["scope"] == ["https://monitor.azure.com/.default"]
    assert kind == "write" and path.endswith("?api-version=2023-04-24") and body == b"\x00"
    assert headers["Authorization"] == "Bearer tok" and headers["Content-Encoding"] == "snappy"


def test_403_is_refused_naming_the_status_client_and_azure_error(server):
    base, _seen, answers = server
    answers["write"] = (403, {"error": {"code": "OperationFailed", "message": "no access to dcr-1"}})
    out = writeprobe.probe(params(base), timeout=5, allow_http=True)
    assert out["refused"] and out["status"] == 403
    assert out["reason"] == (f"remote write refused: {params(base)['url'].split('?', maxsplit=1)[0]} answered HTTP 403 (forbidden) "
                             "to the runner's credentials (client app-1): OperationFailed: no access to dcr-1")
    assert "s3cret" not in out["reason"]


def test_token_refused_is_refused(server):
    base, seen, answers = server
    answers["token"] = (401, {"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret"})
    out = writeprobe.probe(params(base), timeout=5, allow_http=True)
    assert out["refused"] and out["status"] == 401 and "AADSTS7000215" in out["reason"]
    assert [entry[0] for entry in seen] == ["token"]  # nothing written without a token


def test_other_errors_are_reported_not_refused(server):
    base, _seen, answers = server
    answers["write"] = (400, {"error": {"code": "BadRequest", "message": "empty"}})
    out = writeprobe.probe(params(base), timeout=5, allow_http=True)
    assert not out["refused"] and out["status"] == 400 and "BadRequest: empty" in out["reason"]


def test_http_urls_are_refused_without_allow_http():
    with pytest.raises(ValueError, match="remote_write.url"):
        writeprobe.check(params("http://127.0.0.1:1"))
