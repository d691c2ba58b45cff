# -*- coding: utf-8 -*-
# Copyright: (c) 2025, Kubiya runners platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Credentials for HTTP APIs: basic, bearer, OAuth2 client credentials, Entra ID.

Standard library only. A provider's ``header(timeout)`` returns the value of the
Authorization header (or None); OAuth2 providers fetch and cache a token and
raise AuthError with the token endpoint's HTTP status and its ``error`` /
``error_description`` when it refuses, or a retryable AuthError when it cannot
be reached.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import json
import socket
import ssl
import time
from urllib.error import HTTPError, URLError
from urllib.parse import urlencode
from urllib.request import HTTPSHandler, Request, build_opener

AZURE_AUTHORITY = "https://login.microsoftonline.com"
AZURE_PROMETHEUS_SCOPE = "https://prometheus.monitor.azure.com/.default"
AUTH_TYPES = ("none", "basic", "bearer", "oauth2", "azure")
# Refresh a cached token this many seconds (or this fraction of its life) before expiry.
REFRESH_MARGIN = 60
REFRESH_FRACTION = 0.2


def post_form(opener, url, form, timeout, headers=None):
    """POST ``form`` urlencoded to ``url``; return the response body as text.

    An HTTP error status is raised as ``HTTPError`` with its body, already read,
    in ``exc.body`` (token endpoints and Prometheus explain errors there).
    """
    all_headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
    all_headers.update(headers or {})
    req = Request(url, data=urlencode(form).encode("utf-8"), headers=all_headers, method="POST")
    try:
        resp = opener.open(req, timeout=timeout)
    except HTTPError as exc:
        exc.body = exc.read().decode("utf-8", "replace")
        raise
    try:
        return resp.read().decode("utf-8", "replace")
    finally:
        resp.close()


class AuthError(Exception):
    """Getting a credential failed.

    ``retryable`` is False when the server refused (wrong secret, unknown client,
    bad scope): waiting will not help. ``status`` is the HTTP status or None.
    """

    def __init__(self, message, status=None, error=None, description=None, retryable=False,
                 url=None):
        super(AuthError, self).__init__(message)
        self.status, self.error, self.description = status, error, description
        self.retryable, self.url = retryable, url


def ssl_context(validate_certs=True, ca_path=None):
    if not validate_certs:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx
    return ssl.create_default_context(cafile=ca_path) if ca_path else ssl.create_default_context()


def opener(validate_certs=True, ca_path=None):
    return build_opener(HTTPSHandler(context=ssl_context(validate_certs, ca_path)))


def describe_network_error(exc, url, timeout):
    """A short human reason for an exception raised while talking to ``url``."""
    reason = getattr(exc, "reason", exc)
    if isinstance(reason, (socket.timeout, TimeoutError)) or "timed out" in str(reason):
        return "no answer from %s within %.0fs (timed out)" % (url, timeout)
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused by %s (is the service running and the port right?)" % url
    if isinstance(reason, socket.gaierror):
        return "cannot resolve the host of %s: %s" % (url, reason)
    if isinstance(reason, ssl.SSLError):
        return "TLS error talking to %s: %s (see validate_certs / ca_path)" % (url, reason)
    return "cannot reach %s: %s" % (url, reason)


def oauth_error_text(status, body):
    """(error, description) from an OAuth2 error response body (RFC 6749 5.2)."""
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    if isinstance(data, dict) and data.get("error"):
        return str(data.get("error")), str(data.get("error_description") or "").strip() or None
    text = body.strip().replace("\n", " ")[:300]
    return None, text or None


def azure_token_url(authority_url, tenant_id):
    return "%s/%s/oauth2/v2.0/token" % (authority_url.rstrip("/"), tenant_id)


class NoAuth(object):
    kind = "none"

    def header(self, timeout=None):
        return None

    def invalidate(self):
        pass


class StaticAuth(NoAuth):
    def __init__(self, kind, value):
        self.kind, self._value = kind, value

    def header(self, timeout=None):
        return self._value


def basic_auth(username, password):
    raw = ("%s:%s" % (username, password)).encode("utf-8")
    return StaticAuth("basic", "Basic " + base64.b64encode(raw).decode("ascii"))


def bearer_auth(token):
    return StaticAuth("bearer", "Bearer " + token)


class ClientCredentials(object):
    """OAuth2 client credentials grant (RFC 6749 4.4), secret sent in the form
    body (``client_secret_post``, what Entra ID and most providers accept)."""

    kind = "oauth2"

    def __init__(self, token_url, client_id, client_secret, scope=None, validate_certs=True,
                 ca_path=None, clock=time.time):
        self.token_url, self.client_id, self._secret = token_url, client_id, client_secret
        self.scope = scope
        self._opener = opener(validate_certs, ca_path)
        self._clock = clock
        self._token, self._refresh_at = None, 0.0

    def invalidate(self):
        self._token, self._refresh_at = None, 0.0

    def header(self, timeout=10):
        if self._token is None or self._clock() >= self._refresh_at:
            self._fetch(timeout)
        return "Bearer " + self._token

    def _fetch(self, timeout):
        form = {"grant_type": "client_credentials", "client_id": self.client_id,
                "client_secret": self._secret}
        if self.scope:
            form["scope"] = self.scope
        started = self._clock()
        try:
            body = post_form(self._opener, self.token_url, form, timeout)
        except HTTPError as exc:
            error, description = oauth_error_text(exc.code, exc.body)
            retryable = exc.code >= 500 or exc.code == 429
            msg = "token endpoint %s answered HTTP %d" % (self.token_url, exc.code)
            if error:
                msg += ": %s" % error
            if description:
                msg += ": %s" % description
            raise AuthError(msg, status=exc.code, error=error, description=description,
                            retryable=retryable, url=self.token_url)
        except (URLError, OSError) as exc:
            raise AuthError("cannot get a token: " + describe_network_error(
                exc, self.token_url, timeout), retryable=True, url=self.token_url)
        try:
            data = json.loads(body)
            token = data["access_token"]
            expires_in = float(data.get("expires_in", 300))
        except (ValueError, KeyError, TypeError):
            raise AuthError("token endpoint %s answered HTTP 200 without an access_token"
                            % self.token_url, status=200, url=self.token_url)
        if not isinstance(token, str) or not token:
            raise AuthError("token endpoint %s returned an empty access_token" % self.token_url,
                            status=200, url=self.token_url)
        margin = min(REFRESH_MARGIN, expires_in * REFRESH_FRACTION)
        self._token, self._refresh_at = token, started + expires_in - margin


def from_params(params):
    """Build the provider described by the module options (see doc fragment)."""
    kind = params.get("auth_type") or "none"
    if kind == "none":
        return NoAuth()
    if kind == "basic":
        return basic_auth(params["username"], params["password"])
    if kind == "bearer":
        return bearer_auth(params["bearer_token"])
    tls = dict(validate_certs=params.get("validate_certs", True), ca_path=params.get("ca_path"))
    if kind == "oauth2":
        return ClientCredentials(params["token_url"], params["client_id"],
                                 params["client_secret"], params.get("scope"), **tls)
    if kind == "azure":
        url = params.get("token_url") or azure_token_url(
            params.get("authority_url") or AZURE_AUTHORITY, params["tenant_id"])
        provider = ClientCredentials(url, params["client_id"], params["client_secret"],
                                     params.get("scope") or AZURE_PROMETHEUS_SCOPE, **tls)
        provider.kind = "azure"
        return provider
    raise ValueError("unknown auth_type %r (expected one of %s)" % (kind, ", ".join(AUTH_TYPES)))
