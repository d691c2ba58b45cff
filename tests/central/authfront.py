"""Authenticating reverse proxy in front of Prometheus' write and query APIs.

Behaves like Azure Monitor's ingestion / query endpoints towards a client:

  no or non-Bearer Authorization     -> 401 (WWW-Authenticate: Bearer ...)
  bad signature, expired, wrong iss  -> 401 error="invalid_token"
  wrong audience or missing role     -> 403 error="insufficient_scope"
  anything else                      -> forwarded to Prometheus unchanged

Write:  POST /api/v1/write          needs aud=--write-audience and role Metrics.Write
Query:  /api/v1/query, query_range, series, labels, label/<n>/values, metadata,
        query_exemplars, status/buildinfo   need aud=--query-audience, role Metrics.Read
``GET /-/healthy`` is the front's own health (no auth, not forwarded).
"""
import argparse
import http.client
import logging
import os
import re
import threading
import urllib.parse

from central import httpbase, jwtutil, settings

LOG = logging.getLogger("central.authfront")

QUERY_PATHS = re.compile(r"^/api/v1/(query|query_range|series|labels|label/[^/]+/values|"
                         r"metadata|query_exemplars|status/buildinfo)$")
FORWARD_HEADERS = ("Content-Type", "Content-Encoding", "Accept", "Accept-Encoding",
                   "User-Agent", "X-Prometheus-Remote-Write-Version")
KID = re.compile(r"^[0-9a-f]{1,64}$")


class Denied(Exception):
    def __init__(self, status, error, description):
        super().__init__(description)
        self.status, self.error, self.description = status, error, description


class Authenticator:
    """Token checks, independent of HTTP."""

    def __init__(self, keys_dir, issuer, write_audience, query_audience):
        self.keys_dir, self.issuer = keys_dir, issuer
        self.rules = {"write": (write_audience, settings.WRITE_ROLE),
                      "query": (query_audience, settings.READ_ROLE)}
        self._keys, self._lock = {}, threading.Lock()

    def key(self, kid):
        if not isinstance(kid, str) or not KID.match(kid):
            return None
        with self._lock:
            if kid not in self._keys:
                path = os.path.join(self.keys_dir, kid + ".pem")
                if not os.path.exists(path):
                    return None
                with open(path, "rb") as handle:
                    self._keys[kid] = jwtutil.load_public_pem(handle.read())
            return self._keys[kid]

    def check(self, authorization, kind):
        """Return the token's claims or raise Denied."""
        if not authorization:
            raise Denied(401, "", "no bearer token: the request has no Authorization header")
        scheme, _sep, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Denied(401, "invalid_request", "Authorization scheme must be Bearer")
        try:
            claims = jwtutil.verify(token.strip(), self.key)
        except jwtutil.TokenError as exc:
            raise Denied(401, "invalid_token", str(exc))
        if claims.get("iss") != self.issuer:
            raise Denied(401, "invalid_token", "token issuer %r is not trusted" % claims.get("iss"))
        audience, role = self.rules[kind]
        if claims.get("aud") != audience:
            raise Denied(403, "insufficient_scope", "token audience %r is not valid for %s; "
                         "expected %r (scope %s/.default)"
                         % (claims.get("aud"), kind, audience, audience))
        if role not in (claims.get("roles") or []):
            raise Denied(403, "insufficient_scope", "client %s lacks role %s needed to %s"
                         % (claims.get("appid"), role, kind))
        return claims


class FrontHandler(httpbase.Handler):
    def do_GET(self):
        self._handle()

    def do_POST(self):
        self._handle()

    def do_HEAD(self):
        self._handle()

    def _handle(self):
        path = urllib.parse.urlsplit(self.path).path
        if path == "/-/healthy" and self.command in ("GET", "HEAD"):
            return self.send_json(200, {"status": "ok"})
        if path == "/api/v1/write":
            kind = "write" if self.command == "POST" else None
        elif QUERY_PATHS.match(path):
            kind = "query"
        else:
            return self.send_json(404, {"status": "error", "errorType": "not_found",
                                        "error": "path %s is not served by this front" % path})
        if kind is None:
            return self.send_json(405, {"status": "error", "errorType": "bad_data",
                                        "error": "remote write needs POST"})
        try:
            body = self.read_body()
        except ValueError as exc:
            return self.send_json(413, {"status": "error", "errorType": "bad_data",
                                        "error": str(exc)})
        try:
            claims = self.server.auth.check(self.headers.get("Authorization"), kind)
        except Denied as exc:
            LOG.info("denied %s %s: %d %s", self.command, path, exc.status, exc.description)
            challenge = 'Bearer realm="kubiya-central"'
            if exc.error:
                challenge += ', error="%s", error_description="%s"' % (
                    exc.error, exc.description.replace('"', "'"))
            return self.send_json(exc.status, {"status": "error", "errorType": "unauthorized"
                                               if exc.status == 401 else "forbidden",
                                               "error": exc.description},
                                  {"WWW-Authenticate": challenge})
        self._forward(body, claims)

    def _forward(self, body, claims):
        upstream = urllib.parse.urlsplit(self.server.upstream)
        conn = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=60)
        headers = {h: self.headers[h] for h in FORWARD_HEADERS if self.headers.get(h)}
        try:
            conn.request(self.command, self.path, body=body if body else None, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
        except OSError as exc:
            LOG.warning("upstream %s unreachable: %s", self.server.upstream, exc)
            return self.send_json(502, {"status": "error", "errorType": "unavailable",
                                        "error": "Prometheus upstream unreachable: %s" % exc})
        finally:
            conn.close()
        LOG.info("%s %s client=%s -> %d", self.command, self.path[:200], claims.get("appid"),
                 resp.status)
        self.send_response(resp.status)
        for name, value in resp.getheaders():
            if name.lower() not in ("transfer-encoding", "connection", "content-length", "date",
                                    "server"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ports = settings.ports()
    parser.add_argument("--listen", default="%s:%d" % (settings.HOST, ports["front"]))
    parser.add_argument("--upstream", default="http://%s:%d" % (settings.HOST, ports["prometheus"]))
    parser.add_argument("--keys-dir", required=True)
    parser.add_argument("--issuer", required=True, help="expected iss claim")
    parser.add_argument("--write-audience", default=settings.WRITE_AUDIENCE)
    parser.add_argument("--query-audience", default=settings.QUERY_AUDIENCE)
    args = parser.parse_args(argv)
    httpbase.setup_logging()
    auth = Authenticator(args.keys_dir, args.issuer, args.write_audience, args.query_audience)
    httpbase.serve(FrontHandler, args.listen, auth=auth, upstream=args.upstream)


if __name__ == "__main__":
    main()
