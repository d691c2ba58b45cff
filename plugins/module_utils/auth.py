# -*- coding: utf-8 -*-
# Copyright: (c) 2025, Kubiya runners platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Credentials for HTTP APIs: basic, bearer, OAuth2 client credentials, Entra ID.

A provider's ``header(deadline)`` returns the value of the Authorization header
(or None); OAuth2 providers fetch and cache a token and raise AuthError with the
token endpoint's HTTP status and its ``error`` / ``error_description`` when it
refuses, or a retryable AuthError when it cannot be reached.

Token requests go through ``transport`` (Ansible's ``urls.Request``): https
only unless ``allow_http``, no redirects followed (the client secret is only
ever posted to the configured token endpoint), TLS verified with the token
endpoint's own ``token_validate_certs`` / ``token_ca_path`` (never with
Prometheus' settings), answers capped at 1 MiB, 429/5xx retried within the
deadline.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import json
import math
import re
import time

from ansible_collections.kubiya.runners.plugins.module_utils import retry, transport

AZURE_AUTHORITY = "https://login.microsoftonline.com"
AZURE_PROMETHEUS_SCOPE = "https://prometheus.monitor.azure.com/.default"
AUTH_TYPES = ("none", "basic", "bearer", "oauth2", "azure")
# Refresh a cached token this many seconds (or this fraction of its life) before expiry.
REFRESH_MARGIN = 60
REFRESH_FRACTION = 0.2
# A tenant is a GUID or a verified domain name; nothing that could change the URL.
TENANT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]{0,252}\Z")


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


describe_network_error = transport.describe_network_error


def oauth_error_text(status, body):
    """(error, description) from an OAuth2 error response body (RFC 6749 5.2)."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):  # deeply nested JSON raises RecursionError
        data = None
    if isinstance(data, dict) and data.get("error"):
        return str(data.get("error")), str(data.get("error_description") or "").strip() or None
    text = body.strip().replace("\n", " ")[:300]
    return None, text or None


def azure_token_url(authority_url, tenant_id):
    return "%s/%s/oauth2/v2.0/token" % (authority_url.rstrip("/"), tenant_id)


class NoAuth(object):
    kind = "none"

    def header(self, deadline=None):
        return None

    def invalidate(self):
        pass


class StaticAuth(NoAuth):
    def __init__(self, kind, value):
        self.kind, self._value = kind, value

    def header(self, deadline=None):
        return self._value


def basic_auth(username, password):
    raw = ("%s:%s" % (username, password)).encode("utf-8")
    return StaticAuth("basic", "Basic " + base64.b64encode(raw).decode("ascii"))


def bearer_auth(token):
    return StaticAuth("bearer", "Bearer " + token)


class ClientCredentials(object):
    """OAuth2 client credentials grant (RFC 6749 4.4), secret sent in the form
    body (``client_secret_post``, what Entra ID and most providers accept).

    ``validate_certs`` / ``ca_path`` are the token endpoint's own TLS settings.
    The URL is checked (https unless ``allow_http``) when the provider is built.
    """

    kind = "oauth2"

    def __init__(self, token_url, client_id, client_secret, scope=None, validate_certs=True,
                 ca_path=None, clock=time.time, allow_http=False, timeout=10.0,
                 option="token_url", policy=None, sleep=time.sleep):
        self.token_url = transport.check_url(token_url, option, allow_http)
        self.client_id, self._secret = client_id, client_secret
        self.scope = scope
        self.validate_certs, self.ca_path = validate_certs, ca_path
        self.allow_http, self.option, self.timeout = allow_http, option, float(timeout)
        self.policy = policy or retry.DEFAULT_POLICY
        self._clock, self._sleep = clock, sleep
        self._token, self._refresh_at = None, 0.0

    def invalidate(self):
        self._token, self._refresh_at = None, 0.0

    def header(self, deadline=None):
        """``Bearer <token>``, fetched within ``deadline`` (a retry.Deadline;
        default: one request of ``timeout`` seconds)."""
        if self._token is None or self._clock() >= self._refresh_at:
            self._fetch(deadline or retry.Deadline(0, self.timeout))
        return "Bearer " + self._token

    def _post(self, form, deadline):
        try:
            return transport.post_form_retrying(self.token_url, form, deadline, self.policy,
                                                self._sleep, validate_certs=self.validate_certs,
                                                ca_path=self.ca_path,
                                                max_body=transport.MAX_TOKEN_BODY,
                                                allow_http=self.allow_http, option=self.option)
        except retry.DeadlineExceeded as exc:
            raise AuthError("cannot get a token from %s: %s" % (self.token_url, exc),
                            retryable=True, url=self.token_url)
        except transport.HttpError as exc:
            hint = ""
            if exc.kind == "tls":
                hint = " (the token endpoint is verified with token_validate_certs / " \
                       "token_ca_path, independently of validate_certs)"
            raise AuthError("cannot get a token: %s%s" % (exc, hint),
                            status=exc.status, retryable=exc.retryable, url=self.token_url)

    def _fetch(self, deadline):
        form = {"grant_type": "client_credentials", "client_id": self.client_id,
                "client_secret": self._secret}
        if self.scope:
            form["scope"] = self.scope
        started = self._clock()
        resp = self._post(form, deadline)
        body = resp.text()
        if resp.status >= 400:
            error, description = oauth_error_text(resp.status, body)
            retryable = self.policy.retryable(resp.status)
            msg = "token endpoint %s answered HTTP %d" % (self.token_url, resp.status)
            if error:
                msg += ": %s" % error
            if description:
                msg += ": %s" % description
            raise AuthError(msg, status=resp.status, error=error, description=description,
                            retryable=retryable, url=self.token_url)
        try:
            data = json.loads(body)
            token = data["access_token"]
            expires_in = float(data.get("expires_in", 300))
        except (ValueError, KeyError, TypeError, RecursionError):
            raise AuthError("token endpoint %s answered HTTP %d without an access_token"
                            % (self.token_url, resp.status), status=resp.status,
                            url=self.token_url)
        if not isinstance(token, str) or not token:
            raise AuthError("token endpoint %s returned an empty access_token" % self.token_url,
                            status=resp.status, url=self.token_url)
        if not math.isfinite(expires_in) or expires_in <= 0 or expires_in > 86400 * 366:
            expires_in = 300.0  # NaN, negative or absurd: do not trust it for long
        margin = min(REFRESH_MARGIN, expires_in * REFRESH_FRACTION)
        self._token, self._refresh_at = token, started + expires_in - margin


def from_params(params):
    """Build the provider described by the module options (see doc fragment).

    Raises ValueError naming the option for a token URL or tenant that cannot be
    used; nothing is sent.
    """
    kind = params.get("auth_type") or "none"
    if kind == "none":
        return NoAuth()
    if kind == "basic":
        return basic_auth(params["username"], params["password"])
    if kind == "bearer":
        return bearer_auth(params["bearer_token"])
    tls = dict(validate_certs=params.get("token_validate_certs", True) is not False,
               ca_path=params.get("token_ca_path"), allow_http=bool(params.get("allow_http")),
               timeout=params.get("timeout") or 10.0)
    if kind == "oauth2":
        return ClientCredentials(params["token_url"], params["client_id"],
                                 params["client_secret"], params.get("scope"), **tls)
    if kind == "azure":
        if params.get("token_url"):
            url, option = params["token_url"], "token_url"
        else:
            authority = transport.check_url(params.get("authority_url") or AZURE_AUTHORITY,
                                            "authority_url", tls["allow_http"])
            tenant = params.get("tenant_id")
            if not isinstance(tenant, str) or not TENANT_ID.match(tenant):
                raise ValueError("tenant_id: %r is not a tenant ID (a GUID or a domain name)"
                                 % (tenant,))
            url, option = azure_token_url(authority, tenant), "authority_url"
        provider = ClientCredentials(url, params["client_id"], params["client_secret"],
                                     params.get("scope") or AZURE_PROMETHEUS_SCOPE,
                                     option=option, **tls)
        provider.kind = "azure"
        return provider
    raise ValueError("unknown auth_type %r (expected one of %s)" % (kind, ", ".join(AUTH_TYPES)))
