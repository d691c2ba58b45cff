"""Unit tests for plugins/module_utils/kube.py (kubernetes.core's client under sa_permissions and
runner_health), against a small real HTTP server in this process: headers, paging, errors,
kubeconfig loading, https-only."""
from __future__ import annotations

import json
import time
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from ansible_collections.kubiya.runners.plugins.module_utils import kube
from ansible_collections.kubiya.runners.plugins.module_utils.kube import K8sError, KubeClient

TOKEN = "test-token-not-a-secret"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like the API server
    seen: list = []

    def log_message(self, *args):  # keep pytest output clean
        pass

    def _send(self, status, doc):
        raw = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def do_GET(self):
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        if url.path in kube.DISCOVERY_PATHS:  # the dynamic client's discovery
            return self._send(200, {"kind": "APIGroupList", "groups": [], "versions": ["v1"]})
        Handler.seen.append(("GET", self.path, self.headers.get("Authorization")))
        if self.headers.get("Authorization") != "Bearer " + TOKEN:
            return self._send(401, {"kind": "Status", "message": "Unauthorized"})
        if url.path == "/api/v1/namespaces/ns/serviceaccounts":
            page = query.get("continue", ["0"])[0]
            items = {"0": ["a", "b"], "1": ["c"]}[page]
            meta = {"continue": "1"} if page == "0" else {}
            return self._send(200, {"kind": "ServiceAccountList", "metadata": meta,
                                    "items": [{"metadata": {"name": n}} for n in items],
                                    "echo": query.get("labelSelector", [""])[0]})
        return self._send(404, {"kind": "Status", "message": 'serviceaccounts "x" not found'})

    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        body = json.loads(self.rfile.read(length))
        Handler.seen.append(("POST", self.path, self.headers.get("Content-Type")))
        body["status"] = {"allowed": body["spec"]["resourceAttributes"]["verb"] == "get"}
        return self._send(201, body)


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield "http://127.0.0.1:%d" % httpd.server_address[1]
    httpd.shutdown()


def test_bearer_token_paging_and_label_selector(server):
    client = KubeClient.from_params({"host": server, "api_key": TOKEN}, environ={})
    Handler.seen.clear()
    items = client.list_items("/api/v1/namespaces/ns/serviceaccounts", label_selector="app=x")
    assert [i["metadata"]["name"] for i in items] == ["a", "b", "c"]
    assert len(Handler.seen) == 2 and all(s[2] == "Bearer " + TOKEN for s in Handler.seen)
    assert "labelSelector=app%3Dx" in Handler.seen[0][1] and "continue=1" in Handler.seen[1][1]
    client.close()


def test_post_sends_json_and_returns_the_answer(server):
    client = KubeClient.from_params({"host": server, "api_key": TOKEN}, environ={})
    answer = client.create("/apis/authorization.k8s.io/v1/subjectaccessreviews",
                           {"spec": {"resourceAttributes": {"verb": "get"}}}, retry=True)
    assert answer["status"]["allowed"] is True
    assert Handler.seen[-1] == ("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", "application/json")


def test_api_errors_carry_status_and_message(server):
    client = KubeClient.from_params({"host": server, "api_key": TOKEN}, environ={})
    with pytest.raises(K8sError) as err:
        client.get("/api/v1/namespaces/ns/serviceaccounts/x")
    assert err.value.status == 404 and 'serviceaccounts "x" not found' in err.value.msg
    bad = KubeClient.from_params({"host": server, "api_key": "wrong"}, environ={})
    with pytest.raises(K8sError) as err:
        bad.get("/api/v1/namespaces/ns/serviceaccounts")
    assert err.value.status == 401


def test_unreachable_server_is_a_clear_error():
    with pytest.raises(K8sError) as err:
        KubeClient.from_params({"host": "http://127.0.0.1:9", "api_key": TOKEN, "request_timeout": 2},
                               environ={})
    assert err.value.status is None and "cannot reach the API server http://127.0.0.1:9" in err.value.msg


def test_kubeconfig_dict_and_environment_fallback(server):
    kubeconfig = {
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "k", "cluster": {"server": server}}],
        "users": [{"name": "u", "user": {"token": TOKEN}}],
        "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u"}}],
    }
    client = KubeClient.from_params({"kubeconfig": kubeconfig}, environ={})
    assert len(client.list_items("/api/v1/namespaces/ns/serviceaccounts")) == 3
    # K8S_AUTH_* variables fill options that are not given, as in kubernetes.core
    env = {"K8S_AUTH_HOST": server, "K8S_AUTH_API_KEY": TOKEN, "K8S_AUTH_VERIFY_SSL": "no"}
    auth = kube.auth_params({}, environ=env)
    assert (auth["host"], auth["api_key"], auth["validate_certs"]) == (server, TOKEN, False)
    client = KubeClient.from_params({}, environ=env)
    assert client.get("/api/v1/namespaces/ns/serviceaccounts", {"continue": "1"})["items"][0]["metadata"]["name"] == "c"


def test_api_path():
    assert kube.api_path("v1", "pods", "ns", "p") == "/api/v1/namespaces/ns/pods/p"
    assert kube.api_path("apps/v1", "deployments") == "/apis/apps/v1/deployments"


# --- credentials never go out unencrypted (issue 9, item 2) ---------------------------------
def _kubeconfig(server_url):
    return {
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "k", "cluster": {"server": server_url}}],
        "users": [{"name": "u", "user": {"token": TOKEN}}],
        "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u"}}],
    }


@pytest.mark.parametrize("scheme", ["htps", "tcp", "ftp", "HTTPX"])
@pytest.mark.parametrize("source", ["host", "K8S_AUTH_HOST", "kubeconfig"])
def test_a_scheme_other_than_https_is_refused_before_the_token_is_sent(server, scheme, source):
    # the plain-http listener is there: before the fix a typo such as htps:// reached it
    # with "Authorization: Bearer <token>" in clear text
    host = server.replace("http://", scheme + "://")
    params, env = {"api_key": TOKEN}, {}
    if source == "host":
        params["host"] = host
    elif source == "K8S_AUTH_HOST":
        env["K8S_AUTH_HOST"] = host
    else:
        params = {"kubeconfig": _kubeconfig(host)}
    Handler.seen.clear()
    with pytest.raises(K8sError) as err:
        client = KubeClient.from_params(params, environ=env)
        client.get("/api/v1/namespaces/ns/serviceaccounts")
    assert Handler.seen == []
    assert repr(host) in err.value.msg and "not https" in err.value.msg, err.value.msg
    assert "unencrypted" in err.value.msg


@pytest.mark.parametrize("host", ["http://10.0.0.1:6443", "http://kube.example.com",
                                  "http://127.0.0.1.nip.io:8080", "http://[::2]:80"])
def test_plain_http_is_refused_for_a_non_loopback_host(host):
    with pytest.raises(K8sError) as err:
        KubeClient.from_params({"host": host, "api_key": TOKEN}, environ={})
    assert repr(host) in err.value.msg and "only for a loopback host" in err.value.msg, err.value.msg
    with pytest.raises(K8sError):
        kube.check_host(host)


@pytest.mark.parametrize("host", ["http://127.0.0.1:9", "http://127.3.4.5:9", "http://localhost:9",
                                  "http://[::1]:9", "HTTP://LOCALHOST:9", "https://kube.example.com",
                                  "kube.example.com:6443"])
def test_https_and_loopback_http_are_accepted(host):
    assert kube.check_host(host).scheme.lower() in ("http", "https")


# --- clear errors naming the input; the time budget holds while loading credentials -----------
def test_a_missing_kubeconfig_or_context_is_named(tmp_path, server):
    with pytest.raises(K8sError) as err:
        KubeClient.from_params({"kubeconfig": str(tmp_path / "nope")}, environ={})
    assert "option kubeconfig" in err.value.msg and "No configuration found" in err.value.msg, err.value.msg
    Handler.seen.clear()
    with pytest.raises(K8sError) as err:
        KubeClient.from_params({"kubeconfig": _kubeconfig(server), "context": "staging"}, environ={})
    assert "context 'staging'" in err.value.msg and "Expected object with name staging" in err.value.msg
    assert Handler.seen == []


def test_a_hanging_exec_credential_plugin_is_cut_at_the_deadline(tmp_path, server):
    """An exec plugin (aws eks get-token, gke-gcloud-auth-plugin ...) that hangs must not hold the
    module: loading the kubeconfig runs within the request timeout."""
    plugin = tmp_path / "hang.sh"
    plugin.write_text("#!/bin/sh\nsleep 30\n")
    plugin.chmod(0o755)
    kubeconfig = _kubeconfig(server)
    kubeconfig["users"] = [{"name": "u", "user": {"exec": {
        "apiVersion": "client.authentication.k8s.io/v1beta1", "command": str(plugin),
        "interactiveMode": "Never"}}}]
    started = time.monotonic()
    with pytest.raises(K8sError) as err:
        KubeClient.from_params({"kubeconfig": kubeconfig, "request_timeout": 1.5}, environ={})
    assert time.monotonic() - started < 1.5 + 1.0, err.value.msg
    assert "no complete answer within" in err.value.msg


def test_without_a_deadline_each_call_gets_its_own_time(server):
    """sa_permissions makes hundreds of reviews: building the client must not start a budget
    that later calls run out of (only runner_health passes a module-wide deadline)."""
    client = KubeClient.from_params({"host": server, "api_key": TOKEN, "request_timeout": 1}, environ={})
    assert client.deadline is None
    time.sleep(2.2)  # more than request timeout + retry time of the building step
    assert len(client.list_items("/api/v1/namespaces/ns/serviceaccounts")) == 3
