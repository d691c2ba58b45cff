"""Loopback HTTP(S) servers that record what reaches them and a test PKI generated at test
time. Used by the unit tests that run real module processes against them
(tests/unit/plugins/modules/test_metrics_delivery_*.py, .../module_utils/test_kube_retry.py);
the module runner itself is testlib.run_module."""
from __future__ import annotations

import json
import ssl
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable


# --- test PKI ---------------------------------------------------------------------------
@dataclass
class Pki:
    """A CA with a server certificate for 127.0.0.1/localhost, and a self-signed
    certificate nobody trusts. Keys are throwaway, generated per test session."""
    ca: str
    cert: str
    key: str
    untrusted_cert: str
    untrusted_key: str


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


def make_pki(d: Path) -> Pki:
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _openssl("req", "-x509", *ec, "-days", "1", "-subj", "/CN=kubiya-runners test CA",
             "-keyout", str(d / "ca.key"), "-out", str(d / "ca.crt"))
    _openssl("req", *ec, "-subj", "/CN=127.0.0.1", "-keyout", str(d / "srv.key"),
             "-out", str(d / "srv.csr"))
    (d / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    _openssl("x509", "-req", "-in", str(d / "srv.csr"), "-CA", str(d / "ca.crt"),
             "-CAkey", str(d / "ca.key"), "-CAcreateserial", "-days", "1",
             "-extfile", str(d / "ext.cnf"), "-out", str(d / "srv.crt"))
    _openssl("req", "-x509", *ec, "-days", "1", "-subj", "/CN=127.0.0.1",
             "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
             "-keyout", str(d / "self.key"), "-out", str(d / "self.crt"))
    return Pki(str(d / "ca.crt"), str(d / "srv.crt"), str(d / "srv.key"),
               str(d / "self.crt"), str(d / "self.key"))


# --- recording servers ------------------------------------------------------------------
@dataclass
class Seen:
    method: str
    path: str
    headers: dict
    body: bytes
    at: float


@dataclass
class Server:
    """A loopback server. ``behave(handler, seen)`` answers each request;
    ``requests`` lists what arrived (handshakes that failed never arrive)."""
    behave: Callable
    tls: tuple | None = None
    requests: list = field(default_factory=list)
    handshake_errors: list = field(default_factory=list)

    def __post_init__(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _any(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                seen = Seen(self.command, self.path, dict(self.headers.items()), body,
                            time.monotonic())
                server.requests.append(seen)
                try:
                    server.behave(self, seen)
                except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
                    pass

            do_GET = do_POST = do_PUT = _any

        class Httpd(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                server.handshake_errors.append(sys.exc_info()[1])

        self.httpd = Httpd(("127.0.0.1", 0), Handler)
        if self.tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*self.tls)
            self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True,
                                                do_handshake_on_connect=False)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    @property
    def url(self) -> str:
        return "%s://127.0.0.1:%d" % ("https" if self.tls else "http", self.port)

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def reply(handler, status, payload=None, headers=None, raw: bytes | None = None):
    body = raw if raw is not None else json.dumps(payload if payload is not None else {}).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(body)))
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.write(body)
    handler.wfile.flush()


def prometheus_ok(handler, seen, now=None):
    """An instant-query answer: one fresh series, whatever the query."""
    ts = now or time.time()
    reply(handler, 200, {"status": "success", "data": {"resultType": "vector", "result": [
        {"metric": {"__name__": "up", "runner": "r1"}, "value": [ts, str(ts)]}]}})


def token_ok(handler, seen):
    reply(handler, 200, {"access_token": "tok-%d" % len(seen.body), "token_type": "Bearer",
                         "expires_in": 3600})
