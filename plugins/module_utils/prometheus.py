# -*- coding: utf-8 -*-
# Copyright: (c) 2025, Kubiya runners platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Prometheus HTTP query API client.

Works against Prometheus, Azure Monitor workspaces (query endpoint
``https://<workspace>.<region>.prometheus.monitor.azure.com``) and anything that
speaks ``/api/v1/query``. Every expression sent is first checked by
``promql.validate`` so that no query without a metric name ever leaves.
``PROMETHEUS_ARGUMENT_SPEC`` matches the ``kubiya.runners.prometheus`` doc fragment.

Requests go through ``transport`` (Ansible's ``urls.Request``, https only
unless ``allow_http``, no redirects, bodies capped at 10 MiB); 429 and 5xx are
retried with backoff (honouring ``Retry-After``) while the deadline allows.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import time

from ansible_collections.kubiya.runners.plugins.module_utils import auth as authmod
from ansible_collections.kubiya.runners.plugins.module_utils import promql, retry, transport

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
    token_validate_certs=dict(type="bool", default=True),
    token_ca_path=dict(type="path"),
    allow_http=dict(type="bool", default=False),
    timeout=dict(type="float", default=10.0),
)

# option -> validate.number() rules (times in seconds)
PROMETHEUS_NUMBERS = dict(timeout=dict(maximum=300.0))

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


def check_url(url, allow_http=False):
    """The base URL without a trailing slash; ValueError naming ``url`` otherwise."""
    return transport.check_url(url, "url", allow_http).rstrip("/")


def _api_error(body):
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):  # deeply nested JSON raises RecursionError
        return body.strip().replace("\n", " ")[:300]
    if isinstance(data, dict):
        err = data.get("error")
        if isinstance(err, dict):  # Azure style {"error": {"code":..., "message":...}}
            return "%s: %s" % (err.get("code"), err.get("message"))
        if err:
            return "%s: %s" % (data.get("errorType", "error"), err)
    return body.strip()[:300]


class PrometheusClient(object):
    def __init__(self, url, auth=None, timeout=10.0, validate_certs=True, ca_path=None,
                 allow_http=False, policy=None, sleep=time.sleep):
        self.url = check_url(url, allow_http)
        self.auth = auth or authmod.NoAuth()
        self.timeout = float(timeout)
        self.validate_certs, self.ca_path, self.allow_http = validate_certs, ca_path, allow_http
        self.policy = policy or retry.DEFAULT_POLICY
        self._sleep = sleep

    @classmethod
    def from_params(cls, params):
        return cls(params["url"], authmod.from_params(params), params.get("timeout", 10.0),
                   params.get("validate_certs", True), params.get("ca_path"),
                   bool(params.get("allow_http")))

    def _deadline(self, deadline):
        return deadline or retry.Deadline(0, self.timeout)

    def authorize(self, deadline=None):
        """Fetch a token now if the auth type needs one (raises QueryError)."""
        try:
            return self.auth.header(self._deadline(deadline))
        except authmod.AuthError as exc:
            raise QueryError("unreachable" if exc.retryable else "auth",
                             "authentication failed: %s" % exc, exc.status, exc.retryable)

    def query(self, expr, at=None, deadline=None):
        """Instant query. Returns (result_type, result list).

        ``deadline``: a retry.Deadline bounding this query and its retries
        (default: one request of ``timeout`` seconds).
        """
        promql.validate(expr)
        form = {"query": expr}
        if at is not None:
            form["time"] = "%.3f" % at
        data = self._post("/api/v1/query", form, self._deadline(deadline))
        return data.get("resultType"), data.get("result") or []

    def _send(self, url, form, header, deadline):
        """POST with retries of 429/5xx; the last Response (raises QueryError)."""
        try:
            return transport.post_form_retrying(
                url, form, deadline, self.policy, self._sleep,
                headers={"Authorization": header} if header else None,
                validate_certs=self.validate_certs, ca_path=self.ca_path,
                max_body=transport.MAX_QUERY_BODY, allow_http=self.allow_http, option="url")
        except retry.DeadlineExceeded as exc:
            raise QueryError("unreachable", "%s: %s" % (url, exc), retryable=True)
        except transport.HttpError as exc:
            raise QueryError("unreachable" if exc.retryable else "bad_response", str(exc),
                             exc.status, exc.retryable)

    def _post(self, path, form, deadline, retried=False):
        header = self.authorize(deadline)
        url = self.url + path
        resp = self._send(url, form, header, deadline)
        body = resp.text()
        if resp.status >= 400:
            detail = _api_error(body)
            if resp.status in (401, 403):
                if resp.status == 401 and self.auth.kind in ("oauth2", "azure") and not retried:
                    self.auth.invalidate()  # token expired or rotated: one fresh try
                    return self._post(path, form, deadline, retried=True)
                challenge = resp.header("WWW-Authenticate")
                msg = "authentication failed: %s answered HTTP %d (%s) to %s credentials: %s" % (
                    url, resp.status, "unauthorized" if resp.status == 401 else "forbidden",
                    self.auth.kind, detail)
                if challenge:
                    msg += " [WWW-Authenticate: %s]" % challenge
                raise QueryError("auth", msg, resp.status)
            if resp.status in (400, 422):
                raise QueryError("bad_query", "Prometheus rejected the query (HTTP %d): %s"
                                 % (resp.status, detail), resp.status)
            retryable = self.policy.retryable(resp.status)
            raise QueryError("unreachable" if retryable else "bad_response",
                             "%s answered HTTP %d: %s" % (url, resp.status, detail), resp.status,
                             retryable)
        try:
            payload = json.loads(body)
        except (ValueError, RecursionError):
            raise QueryError("bad_response", "%s did not answer JSON: %s" % (url, body[:200]))
        if not isinstance(payload, dict) or payload.get("status") != "success":
            raise QueryError("bad_response", "%s answered: %s" % (url, _api_error(body)))
        return payload.get("data") or {}
