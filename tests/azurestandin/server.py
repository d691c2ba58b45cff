"""The stand-in's network side: a loopback HTTP CONNECT proxy that terminates TLS itself
for the Azure hosts (test CA made at start) and refuses every other host.

    python -m azurestandin.server --state-dir DIR [--port 0]

writes DIR/endpoints.json (proxy URL, CA path, tenant, subscription, the deployer's client
id; its secret in DIR/deployer.json, 0600) and DIR/keys/<kid>.pem (token signing keys, the
layout tests/central's auth front reads). Test-only admin API on the proxy itself, plain
HTTP: GET /_standin/state, GET /_standin/log, POST /_standin/delete?id=<ARM id>,
POST /_standin/ingest_upstream?url=<loopback http URL> (where accepted remote writes go).

Besides the three fixed hosts it answers for the metrics ingestion host of every data
collection endpoint (``*.<region>-1.metrics.ingest.monitor.azure.com``, ingest.py).
"""
from __future__ import annotations

import argparse
import functools
import json
import os
import signal
import ssl
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from azurestandin import arm, entra, graph, ingest, tlsca
from azurestandin.reply import Reply
from azurestandin.state import State

HOSTS = {
    "management.azure.com": arm.handle,
    "login.microsoftonline.com": entra.handle,
    "graph.microsoft.com": graph.handle,
}
# regions whose ingestion hosts the server certificate names (*.<region>-1.metrics.ingest...)
INGEST_REGIONS = ("westeurope", "northeurope", "eastus", "eastus2", "westus2", "uksouth", "germanywestcentral",
                  "swedencentral", "francecentral", "centralus")


def handler_for(host: str):
    """The handler of an Azure host the stand-in answers for, or None."""
    if host in HOSTS:
        return HOSTS[host]
    if ingest.HOST.match(host):
        return functools.partial(ingest.handle, host=host)
    return None


class AzureHandler(BaseHTTPRequestHandler):
    """Serves one TLS connection for one Azure host (HTTP/1.1 keep-alive)."""

    protocol_version = "HTTP/1.1"
    azure_host = ""

    def log_message(self, format, *args):
        pass

    def _serve(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        host = (self.headers.get("Host") or "").split(":")[0].lower()
        url = urllib.parse.urlsplit(self.path)
        state: State = self.server.state
        handler = handler_for(self.azure_host)
        entry = {"host": self.azure_host, "method": self.command, "path": url.path, "query": url.query,
                 "body": raw.decode("utf-8", "replace") if raw and self.azure_host in HOSTS
                 and self.azure_host != "login.microsoftonline.com" else None}
        if host and host != self.azure_host:
            status, body, headers = 421, {"error": {"code": "MisdirectedRequest", "message": host}}, {}
        else:
            try:
                handler(state, self.command, url.path, urllib.parse.parse_qs(url.query),
                        self.headers, raw)
                status, body, headers = 500, {"error": {"code": "InternalError", "message": "no reply"}}, {}
            except Reply as r:
                status, body, headers = r.status, r.body, r.headers
            except Exception as exc:  # noqa: BLE001 - a stand-in bug must be visible, never a hang
                import traceback
                traceback.print_exc()
                status, body, headers = 500, {"error": {"code": "StandInBug", "message": repr(exc)}}, {}
        entry["status"] = status
        if status >= 400 and isinstance(body, dict):
            entry["error"] = body
        state.log(entry)
        if isinstance(body, (dict, list)):
            data = json.dumps(body).encode()
            headers.setdefault("Content-Type", "application/json; charset=utf-8")
        elif isinstance(body, str):
            data = body.encode()
        else:
            data = body or b""
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("x-ms-request-id", state.new_guid())
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_PUT = do_POST = do_PATCH = do_DELETE = do_HEAD = _serve


class ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):
        pass

    def do_CONNECT(self):
        host, _sep, port = self.path.rpartition(":")
        host = host.lower()
        if handler_for(host) is None or port != "443":
            self.server.state.log({"host": host, "method": "CONNECT", "path": self.path, "status": 403,
                                   "error": "refused: not an Azure host the stand-in answers for"})
            self.send_response(403, "stand-in refuses hosts other than " + ", ".join(sorted(HOSTS)))
            self.send_header("Content-Length", "0")
            self.end_headers()
            self.close_connection = True
            return
        self.send_response(200, "Connection established")
        self.end_headers()
        self.wfile.flush()
        try:
            tls = self.server.ssl_ctx.wrap_socket(self.connection, server_side=True)
        except (ssl.SSLError, OSError):
            self.close_connection = True
            return
        handler = type("H", (AzureHandler,), {"azure_host": host})
        try:
            handler(tls, self.client_address, self.server)
        except (ConnectionError, ssl.SSLError, OSError):
            pass
        finally:
            try:
                tls.close()
            except OSError:
                pass
        self.close_connection = True

    def finish(self):
        try:
            super().finish()
        except (OSError, ValueError):
            pass

    def _plain(self):
        url = urllib.parse.urlsplit(self.path)
        state: State = self.server.state
        if url.netloc and url.hostname not in ("127.0.0.1", "localhost", None):
            state.log({"host": url.hostname, "method": self.command, "path": url.path, "status": 403,
                       "error": "refused: plain HTTP proxying"})
            return self._json(403, {"error": "the stand-in proxies nothing: " + str(url.hostname)})
        q = urllib.parse.parse_qs(url.query)
        if url.path == "/_standin/state":
            return self._json(200, state.snapshot())
        if url.path == "/_standin/log":
            return self._json(200, state.requests())
        if url.path == "/_standin/tokens":  # t, appId, keyId of every token issued to a principal
            with state.lock:
                return self._json(200, list(state.tokens))
        if url.path == "/_standin/seed_app" and self.command == "POST":
            # object_id=: the principal gets that id (a fresh stand-in with another's identities)
            return self._json(200, graph.seed_principal(state, q.get("name", [""])[0], q.get("object_id", [""])[0]))
        if url.path == "/_standin/workspace_metrics" and self.command == "POST":
            # ?id=<workspace id>&ActiveTimeSeriesLimit=2000000&...: the values GET .../metrics reports
            with state.lock:
                rid = q.get("id", [""])[0].lower()
                if rid not in state.resources:
                    return self._json(404, {"error": "no such resource"})
                vals = state.workspace_metrics.setdefault(rid, {})
                vals.update({k: float(v[0]) for k, v in q.items() if k in arm.WORKSPACE_METRICS})
                return self._json(200, vals)
        if url.path == "/_standin/ingest_upstream" and self.command == "POST":
            target = urllib.parse.urlsplit(q.get("url", [""])[0])
            if target.scheme != "http" or not (target.hostname or "").startswith("127."):
                return self._json(400, {"error": "url must be http://127.x.y.z:port/path (a loopback upstream)"})
            state.ingest_upstream = target.geturl()
            return self._json(200, {"ingest_upstream": state.ingest_upstream})
        if url.path == "/_standin/delete" and self.command == "POST":
            ok = state.arm_delete(q.get("id", [""])[0])
            return self._json(200 if ok else 404, {"deleted": ok})
        return self._json(404, {"error": "unknown admin path"})

    def _json(self, status, body):
        data = json.dumps(body, indent=1, sort_keys=True).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = _plain


def build(state_dir: Path, port: int = 0) -> ThreadingHTTPServer:
    state_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(state_dir, 0o700)
    ingest_hosts = [f"*.{r}-1.metrics.ingest.monitor.azure.com" for r in INGEST_REGIONS]
    paths = tlsca.make(state_dir / "tls", sorted(HOSTS) + ingest_hosts)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(paths["cert"], paths["key"])
    server = ThreadingHTTPServer(("127.0.0.1", port), ProxyHandler)
    server.daemon_threads = True
    server.ssl_ctx = ctx
    server.state = State(state_dir)
    # identities that exist before the role runs: the verifier (metrics_delivery) and Grafana
    seeded = {n: graph.seed_principal(server.state, f"kubiya {n}") for n in ("verifier", "grafana")}
    deployer = json.loads((state_dir / "deployer.json").read_text())
    deployer.update(seeded)
    (state_dir / "deployer.json").write_text(json.dumps(deployer))
    proxy = f"http://127.0.0.1:{server.server_address[1]}"
    info = server.state.describe()
    info.update({"proxy": proxy, "ca": str(paths["ca"]), "pid": os.getpid()})
    (state_dir / "endpoints.json").write_text(json.dumps(info, indent=1, sort_keys=True))
    return server


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    ap.add_argument("--state-dir", required=True, type=Path)
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args(argv)
    server = build(args.state_dir, args.port)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    print(json.dumps({"proxy": f"http://127.0.0.1:{server.server_address[1]}"}), flush=True)
    server.serve_forever(poll_interval=0.2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
