"""Shared bits of the two small HTTP services: JSON replies, logging, serving."""
import json
import logging
import signal
import sys
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOG = logging.getLogger("central")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "kubiya-central/1"

    def log_message(self, fmt, *args):  # route http.server's access log to logging
        LOG.info("%s %s", self.address_string(), fmt % args)

    def read_body(self, limit=64 * 1024 * 1024):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks, total = [], 0
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                total += size
                if total > limit:
                    raise ValueError("request body too large")
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        if length > limit:
            raise ValueError("request body too large")
        return self.rfile.read(length) if length else b""

    def send_json(self, status, payload, headers=None):
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


def serve(handler_cls, listen, **attrs):
    """Serve until SIGTERM/SIGINT. ``attrs`` are set on the server (handlers read them)."""
    host, _sep, port = listen.rpartition(":")
    server = ThreadingHTTPServer((host, int(port)), handler_cls)
    server.daemon_threads = True
    for name, value in attrs.items():
        setattr(server, name, value)

    def stop(signum, frame):
        LOG.info("signal %d, stopping", signum)
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    LOG.info("listening on http://%s", listen)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def setup_logging():
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")


def probe(url, timeout=2.0):
    """True if ``url`` answers 2xx (used by up.sh: ``python -m central.httpbase URL``)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return 200 <= resp.status < 300
    except (urllib.error.URLError, OSError, ValueError):
        return False


if __name__ == "__main__":
    sys.exit(0 if probe(sys.argv[1]) else 1)
