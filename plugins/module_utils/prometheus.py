# -*- coding: utf-8 -*-
# Copyright: (c) 2025, Kubiya runners platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Prometheus HTTP query API client (standard library only).

Works against Prometheus, Azure Monitor workspaces (query endpoint
``https://<workspace>.<region>.prometheus.monitor.azure.com``) and anything that
speaks ``/api/v1/query``. Every expression sent is first checked by
``promql.validate`` so that no query without a metric name ever leaves.
``PROMETHEUS_ARGUMENT_SPEC`` matches the ``kubiya.runners.prometheus`` doc fragment.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
from urllib.error import HTTPError, URLError
from urllib.parse import urlsplit

from ansible_collections.kubiya.runners.plugins.module_utils import auth as authmod
from ansible_collections.kubiya.runners.plugins.module_utils import promql

PROMETHEUS_ARGUMENT_SPEC = dict(
    url=dict(type="str", required=True, aliases=["prometheus_url"]),
    auth_type=dict(type="str", default="none", choices=list(authmod.AUTH_TYPES)),
    username=dict(type="str"),
    password=dict(type="str", no_log=True),
    bearer_token=dict(type="str", no_log=True),
    client_id=dict(type="str"),
    client_secret=dict(type="str", no_log=True),
    token_url=dict(type="str", no_log=False),  # a URL, not a secret
    tenant_id=dict(type="str"),
    authority_url=dict(type="str", default=authmod.AZURE_AUTHORITY),
    scope=dict(type="str"),
    validate_certs=dict(type="bool", default=True),
    ca_path=dict(type="path"),
    timeout=dict(type="float", default=10.0),
)

PROMETHEUS_REQUIRED_IF = [
    ("auth_type", "basic", ["username", "password"]),
    ("auth_type", "bearer", ["bearer_token"]),
    ("auth_type", "oauth2", ["client_id", "client_secret", "token_url"]),
    ("auth_type", "azure", ["client_id", "client_secret", "tenant_id"]),
]


class QueryError(Exception):
    """A query failed.

    ``kind``: ``auth`` (credentials refused), ``unreachable`` (connection
    refused, timeout, DNS, TLS, 5xx), ``bad_query`` (Prometheus rejected the
    expression) or ``bad_response``. ``retryable`` says whether waiting may help.
    """

    def __init__(self, kind, message, status=None, retryable=False):
        super(QueryError, self).__init__(message)
        self.kind, self.status, self.retryable = kind, status, retryable


def check_url(url):
    parts = urlsplit(url or "")
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("url %r is not an http(s) URL such as "
                         "https://<workspace>.<region>.prometheus.monitor.azure.com" % (url,))
    return url.rstrip("/")


def _api_error(body):
    try:
        data = json.loads(body)
    except ValueError:
        return body.strip().replace("\n", " ")[:300]
    if isinstance(data, dict):
        err = data.get("error")
        if isinstance(err, dict):  # Azure style {"error": {"code":..., "message":...}}
            return "%s: %s" % (err.get("code"), err.get("message"))
        if err:
            return "%s: %s" % (data.get("errorType", "error"), err)
    return body.strip()[:300]


class PrometheusClient(object):
    def __init__(self, url, auth=None, timeout=10.0, validate_certs=True, ca_path=None):
        self.url = check_url(url)
        self.auth = auth or authmod.NoAuth()
        self.timeout = float(timeout)
        self._opener = authmod.opener(validate_certs, ca_path)

    @classmethod
    def from_params(cls, params):
        return cls(params["url"], authmod.from_params(params), params.get("timeout", 10.0),
                   params.get("validate_certs", True), params.get("ca_path"))

    def authorize(self, timeout=None):
        """Fetch a token now if the auth type needs one (raises QueryError)."""
        try:
            return self.auth.header(timeout or self.timeout)
        except authmod.AuthError as exc:
            raise QueryError("unreachable" if exc.retryable else "auth",
                             "authentication failed: %s" % exc, exc.status, exc.retryable)

    def query(self, expr, at=None, timeout=None):
        """Instant query. Returns (result_type, result list)."""
        promql.validate(expr)
        form = {"query": expr}
        if at is not None:
            form["time"] = "%.3f" % at
        data = self._post("/api/v1/query", form, timeout or self.timeout)
        return data.get("resultType"), data.get("result") or []

    def _post(self, path, form, timeout, retried=False):
        header = self.authorize(timeout)
        url = self.url + path
        try:
            body = authmod.post_form(self._opener, url, form, timeout,
                                     headers={"Authorization": header} if header else None)
        except HTTPError as exc:
            detail = _api_error(exc.body)
            if exc.code in (401, 403):
                if exc.code == 401 and self.auth.kind in ("oauth2", "azure") and not retried:
                    self.auth.invalidate()  # token expired or rotated: one fresh try
                    return self._post(path, form, timeout, retried=True)
                challenge = exc.headers.get("WWW-Authenticate") if exc.headers else None
                msg = "authentication failed: %s answered HTTP %d (%s) to %s credentials: %s" % (
                    url, exc.code, "unauthorized" if exc.code == 401 else "forbidden",
                    self.auth.kind, detail)
                if challenge:
                    msg += " [WWW-Authenticate: %s]" % challenge
                raise QueryError("auth", msg, exc.code)
            if exc.code in (400, 422):
                raise QueryError("bad_query", "Prometheus rejected the query (HTTP %d): %s"
                                 % (exc.code, detail), exc.code)
            retryable = exc.code >= 500 or exc.code == 429
            raise QueryError("unreachable" if retryable else "bad_response",
                             "%s answered HTTP %d: %s" % (url, exc.code, detail), exc.code,
                             retryable)
        except (URLError, OSError) as exc:
            raise QueryError("unreachable", authmod.describe_network_error(exc, url, timeout),
                             retryable=True)
        try:
            payload = json.loads(body)
        except ValueError:
            raise QueryError("bad_response", "%s did not answer JSON: %s" % (url, body[:200]))
        if not isinstance(payload, dict) or payload.get("status") != "success":
            raise QueryError("bad_response", "%s answered: %s" % (url, _api_error(body)))
        return payload.get("data") or {}
