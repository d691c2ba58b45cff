"""Local OAuth2 client-credentials token endpoint shaped like Microsoft Entra ID.

  POST /<tenant>/oauth2/v2.0/token   (Azure layout; also /oauth2/token for the
                                      configured tenant)
  GET  /-/healthy

Issues short-lived RS256 JWTs. The signing key is generated at start; its public
half is written to ``<keys-dir>/<kid>.pem`` for the auth front. Errors are OAuth2
JSON (RFC 6749 section 5.2) with Entra-style descriptions, e.g. a wrong secret
is HTTP 401 ``invalid_client`` "AADSTS7000215: Invalid client secret provided.".

Local extension for tests: form field ``ttl`` (seconds, 1..--ttl) shortens the
lifetime of one token so expiry can be tested without waiting minutes.
"""
import argparse
import base64
import hmac
import logging
import os
import secrets
import time
import urllib.parse
import uuid

from central import httpbase, jwtutil, settings

LOG = logging.getLogger("central.tokend")


class OAuthError(Exception):
    def __init__(self, status, error, description, code=None):
        super().__init__(description)
        self.status, self.error, self.description, self.code = status, error, description, code


class TokenHandler(httpbase.Handler):
    def do_GET(self):
        if self.path == "/-/healthy":
            return self.send_json(200, {"status": "ok"})
        if self._tenant_from_path() is not None:
            return self._error(OAuthError(405, "invalid_request",
                                          "AADSTS900561: The endpoint only accepts POST requests."))
        return self.send_json(404, {"error": "not_found", "error_description": "no such path"})

    def do_POST(self):
        tenant = self._tenant_from_path()
        if tenant is None:
            return self.send_json(404, {"error": "not_found", "error_description": "no such path"})
        try:
            body = self.read_body(limit=64 * 1024)
            self.send_json(200, self.server.issuer.issue(tenant, self.headers, body),
                           {"Cache-Control": "no-store", "Pragma": "no-cache"})
        except OAuthError as exc:
            self._error(exc)

    def _tenant_from_path(self):
        path = urllib.parse.urlsplit(self.path).path
        if path == "/oauth2/token":
            return self.server.issuer.tenant_id
        parts = path.strip("/").split("/")
        if len(parts) == 4 and parts[1:] == ["oauth2", "v2.0", "token"]:
            return parts[0]
        return None

    def _error(self, exc):
        LOG.info("token request refused: %s %s", exc.error, exc.description)
        payload = {"error": exc.error, "error_description": exc.description,
                   "error_codes": [exc.code] if exc.code else [],
                   "timestamp": time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime()),
                   "trace_id": str(uuid.uuid4())}
        headers = {"Cache-Control": "no-store"}
        if exc.status == 401:
            headers["WWW-Authenticate"] = 'Basic realm="token"'
        self.send_json(exc.status, payload, headers)


class Issuer:
    """The token logic, independent of HTTP (unit-testable)."""

    def __init__(self, credentials, issuer_base, keys_dir, ttl, audiences):
        self.tenant_id = credentials["tenant_id"]
        self.clients = {c["client_id"]: c for c in credentials["clients"].values()}
        self.issuer_base = issuer_base.rstrip("/")
        self.ttl = ttl
        self.audiences = set(audiences)
        self.key = jwtutil.new_key()
        self.kid = secrets.token_hex(8)
        os.makedirs(keys_dir, exist_ok=True)
        path = os.path.join(keys_dir, self.kid + ".pem")
        with open(path + ".tmp", "wb") as handle:
            handle.write(jwtutil.public_pem(self.key))
        os.replace(path + ".tmp", path)

    def issue(self, tenant, headers, body):
        if tenant != self.tenant_id:
            raise OAuthError(400, "invalid_request",
                             "AADSTS90002: Tenant '%s' not found." % tenant, 90002)
        ctype = (headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if ctype != "application/x-www-form-urlencoded":
            raise OAuthError(400, "invalid_request",
                             "AADSTS900144: The request body must be "
                             "application/x-www-form-urlencoded.", 900144)
        form = {k: v[0] for k, v in urllib.parse.parse_qs(body.decode("utf-8", "replace"),
                                                          keep_blank_values=True).items()}
        grant = form.get("grant_type")
        if not grant:
            raise OAuthError(400, "invalid_request", "AADSTS900144: The request body must "
                             "contain the following parameter: 'grant_type'.", 900144)
        if grant != "client_credentials":
            raise OAuthError(400, "unsupported_grant_type",
                             "AADSTS70003: The app requested an unsupported grant type '%s'."
                             % grant, 70003)
        client_id, secret = self._client_auth(headers, form)
        client = self.clients.get(client_id)
        if client is None:
            raise OAuthError(400, "unauthorized_client",
                             "AADSTS700016: Application with identifier '%s' was not found in "
                             "the directory '%s'." % (client_id, tenant), 700016)
        if not hmac.compare_digest(secret.encode(), client["client_secret"].encode()):
            raise OAuthError(401, "invalid_client", "AADSTS7000215: Invalid client secret "
                             "provided. Ensure the secret being sent in the request is the "
                             "client secret value, not the client secret ID, for a secret "
                             "added to app '%s'." % client_id, 7000215)
        audience = self._audience(form.get("scope"))
        ttl = self.ttl
        if form.get("ttl"):
            try:
                ttl = max(1, min(self.ttl, int(form["ttl"])))
            except ValueError:
                raise OAuthError(400, "invalid_request", "ttl must be an integer")
        now = int(time.time())
        claims = {"aud": audience, "iss": "%s/%s/v2.0" % (self.issuer_base, tenant),
                  "iat": now, "nbf": now, "exp": now + ttl, "sub": client_id,
                  "azp": client_id, "appid": client_id, "tid": tenant,
                  "roles": list(client.get("roles", [])), "jti": str(uuid.uuid4())}
        LOG.info("issued token client=%s aud=%s ttl=%d", client_id, audience, ttl)
        return {"token_type": "Bearer", "expires_in": ttl, "ext_expires_in": ttl,
                "access_token": jwtutil.sign(self.key, self.kid, claims)}

    @staticmethod
    def _client_auth(headers, form):
        auth = headers.get("Authorization") or ""
        if auth[:6].lower() == "basic ":
            try:
                raw = base64.b64decode(auth[6:].strip()).decode("utf-8")
                user, _sep, password = raw.partition(":")
                return urllib.parse.unquote_plus(user), urllib.parse.unquote_plus(password)
            except (ValueError, UnicodeDecodeError):
                raise OAuthError(401, "invalid_client", "malformed Basic authorization header")
        client_id = form.get("client_id")
        if not client_id:
            raise OAuthError(400, "invalid_request", "AADSTS900144: The request body must "
                             "contain the following parameter: 'client_id'.", 900144)
        if not form.get("client_secret"):
            raise OAuthError(401, "invalid_client", "AADSTS7000218: The request body must "
                             "contain the following parameter: 'client_assertion' or "
                             "'client_secret'.", 7000218)
        return client_id, form["client_secret"]

    def _audience(self, scope):
        if not scope:
            raise OAuthError(400, "invalid_request", "AADSTS900144: The request body must "
                             "contain the following parameter: 'scope'.", 900144)
        scopes = scope.split()
        if len(scopes) != 1 or not scopes[0].endswith("/.default"):
            raise OAuthError(400, "invalid_scope", "AADSTS1002012: The provided value for "
                             "scope %s is not valid. Client credential flows must have a scope "
                             "value with /.default suffixed to the resource identifier."
                             % scope, 1002012)
        audience = scopes[0][:-len("/.default")]
        if audience not in self.audiences:
            raise OAuthError(400, "invalid_scope", "AADSTS500011: The resource principal named "
                             "%s was not found in the tenant." % audience, 500011)
        return audience


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", default="%s:%d" % (settings.HOST, settings.ports()["token"]))
    parser.add_argument("--credentials", required=True, help="credentials.json (0600)")
    parser.add_argument("--keys-dir", required=True, help="where public keys are written")
    parser.add_argument("--ttl", type=int, default=300, help="token lifetime, seconds")
    parser.add_argument("--audience", action="append",
                        default=None, help="resource a scope may name (repeatable)")
    args = parser.parse_args(argv)
    httpbase.setup_logging()
    audiences = args.audience or [settings.WRITE_AUDIENCE, settings.QUERY_AUDIENCE]
    issuer = Issuer(settings.load_json(args.credentials), "http://" + args.listen,
                    args.keys_dir, args.ttl, audiences)
    LOG.info("signing key kid=%s", issuer.kid)
    httpbase.serve(TokenHandler, args.listen, issuer=issuer)


if __name__ == "__main__":
    main()
