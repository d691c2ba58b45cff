# -*- coding: utf-8 -*-
# Copyright: (c) 2025, Kubiya runners platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""An empty remote-write request sent with the runner's own credentials.

Missing data only says that nothing arrives; the write endpoint says why. ``probe`` gets a
client-credentials token the way the runner's collector does (token URL, client id and
secret, scope) and POSTs an empty Prometheus remote-write request (a WriteRequest with no
series: snappy block ``0x00``) to the remote-write URL. 401/403 from the token endpoint or
the write endpoint means the runner cannot deliver, whatever the checks find; any other
answer means the credentials are accepted (an endpoint may still answer 400 to an empty
request). Same transport rules as the queries: https only unless ``allow_http`` (loopback),
no redirects, TLS always verified (``ca_path`` adds a CA bundle).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from ansible_collections.kubiya.runners.plugins.module_utils import auth as authmod
from ansible_collections.kubiya.runners.plugins.module_utils import retry, transport

# the scope Azure's data collection endpoints accept for ingestion
DEFAULT_SCOPE = "https://monitor.azure.com/.default"
EMPTY_WRITE_REQUEST = b"\x00"  # snappy block of zero bytes = a WriteRequest without series
HEADERS = {"Content-Type": "application/x-protobuf", "Content-Encoding": "snappy",
           "X-Prometheus-Remote-Write-Version": "0.1.0"}

REMOTE_WRITE_SPEC = dict(
    url=dict(type="str", required=True),
    token_url=dict(type="str", required=True, no_log=False),  # a URL, not a secret
    client_id=dict(type="str", required=True),
    client_secret=dict(type="str", required=True, no_log=True),
    scope=dict(type="str", default=DEFAULT_SCOPE),
    ca_path=dict(type="path"),
)


def _detail(body):
    text = body.strip().replace("\n", " ")
    try:
        data = json.loads(text)
        err = data.get("error") if isinstance(data, dict) else None
        if isinstance(err, dict):
            return "%s: %s" % (err.get("code"), err.get("message"))
        if err:
            return str(err)
    except (ValueError, RecursionError):
        pass
    return text[:300]


def check(params, allow_http=False):
    """ValueError naming the option for a URL that cannot be used; nothing is sent."""
    transport.check_url(params["url"], "remote_write.url", allow_http)
    transport.check_url(params["token_url"], "remote_write.token_url", allow_http)


def probe(params, timeout=10.0, allow_http=False):
    """dict(url, status, refused, reason): ``refused`` is True when the token endpoint or the
    write endpoint refused the runner's credentials (401/403, or an OAuth2 error)."""
    url = transport.check_url(params["url"], "remote_write.url", allow_http)
    where = url.split("?", 1)[0]
    out = dict(url=where, status=None, refused=False, reason="")
    creds = authmod.ClientCredentials(params["token_url"], params["client_id"], params["client_secret"],
                                      params.get("scope") or DEFAULT_SCOPE, ca_path=params.get("ca_path"),
                                      allow_http=allow_http, timeout=timeout, option="remote_write.token_url")
    try:
        header = creds.header(retry.Deadline(0, timeout))
    except authmod.AuthError as exc:
        out.update(status=exc.status, refused=not exc.retryable,
                   reason="remote write: the runner's credentials (client %s) get no token: %s"
                   % (params["client_id"], exc))
        return out
    headers = dict(HEADERS, Authorization=header)
    try:
        resp = transport.send("POST", url, data=EMPTY_WRITE_REQUEST, headers=headers, timeout=timeout,
                              ca_path=params.get("ca_path"), max_body=transport.MAX_TOKEN_BODY,
                              allow_http=allow_http, option="remote_write.url")
    except transport.HttpError as exc:
        out.update(status=exc.status, reason="remote write: %s" % exc)
        return out
    out["status"] = resp.status
    if resp.status in (401, 403):
        out.update(refused=True, reason="remote write refused: %s answered HTTP %d (%s) to the runner's "
                   "credentials (client %s): %s" % (where, resp.status,
                                                    "unauthorized" if resp.status == 401 else "forbidden",
                                                    params["client_id"], _detail(resp.text())))
    elif resp.status >= 400:
        out["reason"] = "remote write: %s answered HTTP %d to an empty request: %s" % (
            where, resp.status, _detail(resp.text()))
    return out
