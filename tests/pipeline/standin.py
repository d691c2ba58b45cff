"""Stand-in for a runner application container (agent-manager, tool-manager, ...).

The kwok nodes run no containers, so the real apps cannot serve their endpoints here.
This process binds the pod's loopback address and container port and serves what the
collector and the probes read: ``/metrics`` (Prometheus text format: a build-info gauge,
an up-time counter, a small request histogram and process metrics, about the size of a
small Go/Python service's default registry) and the health path (200). It is NOT the
application: its series count is an assumption, not a measurement of the real apps.

    python standin.py --listen 127.1.0.7:8080 --component agent-manager --health /healthz
"""
import argparse
import http.server
import socketserver
import time

STARTED = time.time()
BUCKETS = ("0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf")


def metrics(component, requests):
    up = time.time() - STARTED
    out = [
        "# HELP kubiya_standin_build_info Stand-in for the %s container (no real app runs on kwok)." % component,
        "# TYPE kubiya_standin_build_info gauge",
        'kubiya_standin_build_info{app="%s",version="standin"} 1' % component,
        "# TYPE process_start_time_seconds gauge",
        "process_start_time_seconds %.3f" % STARTED,
        "# TYPE process_cpu_seconds_total counter",
        "process_cpu_seconds_total %.3f" % time.process_time(),
        "# TYPE process_resident_memory_bytes gauge",
        "process_resident_memory_bytes 31457280",
        "# TYPE process_open_fds gauge",
        "process_open_fds 12",
        "# TYPE http_requests_total counter",
    ]
    for code in ("200", "500"):
        out.append('http_requests_total{code="%s",handler="/api"} %d' % (code, requests if code == "200" else 0))
    out.append("# TYPE http_request_duration_seconds histogram")
    for b in BUCKETS:
        out.append('http_request_duration_seconds_bucket{handler="/api",le="%s"} %d' % (b, requests))
    out.append('http_request_duration_seconds_sum{handler="/api"} %.3f' % (requests * 0.01))
    out.append('http_request_duration_seconds_count{handler="/api"} %d' % requests)
    out.append("# TYPE kubiya_standin_uptime_seconds_total counter")
    out.append("kubiya_standin_uptime_seconds_total %.3f" % up)
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", required=True, help="IP:port (a pod's loopback address)")
    ap.add_argument("--component", required=True)
    ap.add_argument("--health", action="append", default=[], help="health path(s) answering 200")
    ap.add_argument("--no-metrics", action="store_true", help="health endpoints only")
    a = ap.parse_args()
    host, port = a.listen.rsplit(":", 1)
    if not host.startswith("127."):
        raise SystemExit("standin: refusing to bind a non-loopback address %s" % host)
    state = {"requests": 0}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            path = self.path.split("?", 1)[0]
            if path == "/metrics" and not a.no_metrics:
                body, ctype = metrics(a.component, state["requests"]).encode(), "text/plain; version=0.0.4"
            elif path in a.health:
                body, ctype = b"ok\n", "text/plain"
            else:
                self.send_error(404)
                return
            state["requests"] += 1
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
        daemon_threads = True
        allow_reuse_address = True

    Server((host, int(port)), Handler).serve_forever()


if __name__ == "__main__":
    main()
