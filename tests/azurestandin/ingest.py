"""A data collection endpoint's metrics ingestion host (``<dce>-<h>.<region>-1.metrics.ingest.
monitor.azure.com``): Prometheus remote write into a data collection rule, authorized the way
Azure Monitor does it, and forwarded to the central Prometheus of the telemetry tests.

    POST /dataCollectionRules/<DCR immutableId>/streams/Microsoft-PrometheusMetrics/api/v1/write
         ?api-version=2023-04-24

accepted only when
- the host is the metrics ingestion endpoint of an existing DCE and the DCR with that
  immutableId names that DCE (``dataCollectionEndpointId``), else 404;
- the bearer token was signed by this stand-in's Entra, for ``https://monitor.azure.com``,
  else 401;
- the token's principal (``oid``) holds Monitoring Metrics Publisher on that DCR (or on its
  resource group or the subscription), else 403 -- Azure's answer to a principal without it.

Accepted bodies go unchanged (with their Content-Type/-Encoding and remote-write version
headers) to the upstream set by ``POST /_standin/ingest_upstream?url=http://127.x...`` (the
central Prometheus' ``/api/v1/write``); its status and body come back to the writer.
"""
from __future__ import annotations

import http.client
import re
import urllib.parse

from central import jwtutil

from azurestandin.reply import Reply

HOST = re.compile(r"^[a-z0-9-]+\.[a-z0-9]+-1\.metrics\.ingest\.monitor\.azure\.com$")
PATH = re.compile(r"^/dataCollectionRules/([^/]+)/streams/Microsoft-PrometheusMetrics/api/v1/write$")
API_VERSION = "2023-04-24"       # = roles/azure_prometheus vars: __azure_prometheus_api_versions.ingestion
AUDIENCE = "https://monitor.azure.com"
PUBLISHER = "3913510d-42f4-4e42-8a64-420c390055eb"  # Monitoring Metrics Publisher
FORWARD = ("Content-Type", "Content-Encoding", "X-Prometheus-Remote-Write-Version", "User-Agent")


def _error(status: int, code: str, message: str, headers: dict | None = None) -> Reply:
    return Reply(status, {"error": {"code": code, "message": message}}, headers or {})


def _dcr_for(state, host: str, immutable_id: str) -> dict:
    for res in state.resources.values():
        if (res.get("type") == "Microsoft.Insights/dataCollectionRules"
                and res["properties"].get("immutableId", "").lower() == immutable_id.lower()):
            dce = state.resources.get((res["properties"].get("dataCollectionEndpointId") or "").lower()) or {}
            endpoint = (dce.get("properties") or {}).get("metricsIngestion", {}).get("endpoint", "")
            if urllib.parse.urlsplit(endpoint).hostname == host:
                return res
    raise _error(404, "NotFound", f"Data collection rule with immutable Id '{immutable_id}' not found "
                 f"behind the data collection endpoint {host}.")


def publishers(state, dcr_id: str) -> set[str]:
    """Principal ids holding Monitoring Metrics Publisher at the DCR's scope or above it."""
    dcr = dcr_id.lower()
    out = set()
    for ra in state.resources.values():
        if ra.get("type") != "Microsoft.Authorization/roleAssignments":
            continue
        p = ra["properties"]
        scope = p["scope"].lower().rstrip("/")
        if p["roleDefinitionId"].rstrip("/").split("/")[-1].lower() == PUBLISHER and (
                dcr == scope or dcr.startswith(scope + "/")):
            out.add(p["principalId"])
    return out


def handle(state, method, path, query, headers, raw, host=""):
    if method != "POST":
        raise _error(405, "MethodNotAllowed", f"{method} is not allowed; remote write is POST.")
    m = PATH.match(path)
    if not m:
        raise _error(404, "NotFound", f"The path '{path}' is not an ingestion path.")
    api = (query.get("api-version") or [""])[-1]
    if api != API_VERSION:
        raise _error(400, "InvalidApiVersion", f"The api-version '{api}' is not supported; use {API_VERSION}.")
    auth = headers.get("Authorization") or ""
    if not auth.startswith("Bearer "):
        raise _error(401, "InvalidToken", "The request has no bearer token.",
                     {"WWW-Authenticate": 'Bearer authorization_uri="https://login.microsoftonline.com"'})
    try:
        claims = state.verify(auth[7:])
    except (jwtutil.TokenError, ValueError, KeyError, UnicodeDecodeError) as exc:
        raise _error(401, "InvalidToken", f"The access token is invalid: {exc}")
    if claims.get("iss") != f"https://sts.windows.net/{state.tenant}/" or claims.get("aud") != AUDIENCE:
        raise _error(401, "InvalidToken", f"The access token was issued for '{claims.get('aud')}' by "
                     f"'{claims.get('iss')}'; ingestion needs audience {AUDIENCE} of this tenant.")
    with state.lock:
        dcr = _dcr_for(state, host, m.group(1))
        allowed = claims.get("oid") in publishers(state, dcr["id"])
        upstream = state.ingest_upstream
    if not allowed:
        raise _error(403, "OperationFailed",
                     "The authentication token provided does not have access to ingest data for the data "
                     f"collection rule with immutable Id '{m.group(1)}': principal {claims.get('oid')} (app "
                     f"{claims.get('appid')}) does not hold Monitoring Metrics Publisher ({PUBLISHER}) on {dcr['id']}.")
    if not upstream:
        raise _error(503, "ServiceUnavailable", "the stand-in has no ingestion upstream (POST /_standin/ingest_upstream)")
    u = urllib.parse.urlsplit(upstream)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    try:
        conn.request("POST", u.path, body=raw, headers={h: headers[h] for h in FORWARD if headers.get(h)})
        resp = conn.getresponse()
        body = resp.read()
        ctype = resp.getheader("Content-Type")
    except OSError as exc:
        raise _error(503, "ServiceUnavailable", f"ingestion upstream unreachable: {exc}")
    finally:
        conn.close()
    raise Reply(resp.status, body, {"Content-Type": ctype} if ctype else {})
