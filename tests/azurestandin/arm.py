"""Azure Resource Manager (management.azure.com), stateful, for what roles/azure_prometheus
uses: resource groups, Microsoft.Monitor/accounts, Microsoft.Insights data collection
endpoints and rules, Microsoft.Authorization role assignments and (built-in) definitions.

Bodies are validated against the Azure SDK models of the api-version the request names
(validate.py); invalid ones get ARM's 400 envelope and nothing changes.
"""
from __future__ import annotations

import copy
import hashlib
import re
import time
import uuid

from central import jwtutil

from azurestandin import validate
from azurestandin.reply import Reply, arm_error

# One table: the api-versions this stand-in answers, per resource type (lower case). The
# role pins what it sends in roles/azure_prometheus/vars/main.yml; the dedicated modules'
# SDK clients fix the others (azure_rm_common: resource groups 2022-09-01, data collection
# 2022-06-01, authorization 2020-04-01-preview; role assignments also 2022-04-01).
API_VERSIONS = {
    "microsoft.resources/resourcegroups": {"2022-09-01"},
    "microsoft.monitor/accounts": {"2023-04-03"},
    "microsoft.insights/datacollectionendpoints": {"2022-06-01"},
    "microsoft.insights/datacollectionrules": {"2022-06-01"},
    "microsoft.authorization/roleassignments": {"2020-04-01-preview", "2022-04-01"},
    "microsoft.authorization/roledefinitions": {"2020-04-01-preview", "2022-04-01", "2018-01-01-preview"},
    "subscriptions": {"2022-09-01", "2022-12-01", "2021-01-01", "2016-06-01"},
    "microsoft.insights/metrics": {"2018-01-01"},
}

# Platform metrics of a Microsoft.Monitor/accounts workspace the stand-in answers (GET
# <workspace id>/providers/Microsoft.Insights/metrics, azure-mgmt-monitor v2018_01_01
# Response shape). The limits have a data point only where a test set one
# (POST /_standin/workspace_metrics): a real new workspace may report none either.
WORKSPACE_METRICS = ("ActiveTimeSeriesLimit", "EventsPerMinuteIngestedLimit", "ActiveTimeSeries",
                     "EventsPerMinuteIngested", "ActiveTimeSeriesPercentUtilization",
                     "EventsPerMinuteIngestedPercentUtilization")
METRICS_SEGMENT = "/providers/microsoft.insights/metrics"

BUILTIN_ROLES = {
    "3913510d-42f4-4e42-8a64-420c390055eb": "Monitoring Metrics Publisher",
    "b0d8363b-8ddd-447d-831f-62ca05bff136": "Monitoring Data Reader",
    "43d0d8ad-25c7-4714-9337-8ba259a9fe05": "Monitoring Reader",
    "acdd72a7-3385-48ef-bd42-f606fba81ae7": "Reader",
    "8e3af657-a8ff-443c-a75c-2fe8c4bcb635": "Owner",
}

GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
RA_SEGMENT = "/providers/microsoft.authorization/roleassignments"
RD_SEGMENT = "/providers/microsoft.authorization/roledefinitions"


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.0000000Z", time.gmtime())


def _hex(*parts: str, n: int = 32) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:n]


def _caller(state, headers) -> dict:
    auth = headers.get("Authorization") or ""
    if not auth.startswith("Bearer "):
        raise arm_error(401, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing.")
    try:
        claims = state.verify(auth[7:])
    except (jwtutil.TokenError, ValueError, KeyError, UnicodeDecodeError) as exc:
        raise arm_error(401, "InvalidAuthenticationToken", f"The access token is invalid: {exc}")
    if claims.get("aud") not in ("https://management.azure.com", "https://management.core.windows.net"):
        raise arm_error(401, "InvalidAuthenticationTokenAudience",
                        f"The access token has been obtained for wrong audience or resource '{claims.get('aud')}'.")
    return claims


def handle(state, method, path, query, headers, raw):
    claims = _caller(state, headers)
    api = (query.get("api-version") or [""])[-1]
    if not api:
        raise arm_error(400, "MissingApiVersionParameter",
                        "The api-version query parameter (?api-version=) is required for all requests.")
    p = path.rstrip("/")
    low = p.lower()
    m = re.match(r"^/subscriptions/([^/]+)", low)
    if not m:
        raise arm_error(404, "InvalidResourceType", f"The path '{path}' is not served by the stand-in.")
    if m.group(1) != state.subscription:
        raise arm_error(404, "SubscriptionNotFound", f"The subscription '{m.group(1)}' could not be found.")
    if method in ("PUT", "PATCH", "DELETE", "POST") and claims.get("oid") != state.deployer_sp_id:
        raise arm_error(403, "AuthorizationFailed",
                        f"The client '{claims.get('oid')}' does not have authorization to perform action "
                        f"'{method}' over scope '{path}'.")
    body = validate.json_body(raw) if method in ("PUT", "PATCH", "POST") and raw else None
    with state.lock:
        if RA_SEGMENT in low:
            return _role_assignments(state, method, p, api, query, body)
        if RD_SEGMENT in low:
            return _role_definitions(state, method, p, api, query)
        if low.endswith(METRICS_SEGMENT):
            return _metrics(state, method, p[:-len(METRICS_SEGMENT)], api, query)
        if low == f"/subscriptions/{state.subscription}":
            _api(api, "subscriptions")
            raise Reply(200, {"id": p, "subscriptionId": state.subscription, "tenantId": state.tenant,
                              "displayName": "stand-in", "state": "Enabled"})
        if low == f"/subscriptions/{state.subscription}/resourcegroups" and method == "GET":
            _api(api, "microsoft.resources/resourcegroups")
            raise Reply(200, {"value": [copy.deepcopy(r) for r in state.resources.values()
                                        if r.get("type") == "Microsoft.Resources/resourceGroups"]})
        m = re.match(r"^/subscriptions/[^/]+/resourcegroups/([^/]+)(/.*)?$", low)
        if not m:
            raise arm_error(404, "InvalidResourceType", f"The path '{path}' is not served by the stand-in.")
        rest = m.group(2) or ""
        rg_id = p[:len(p) - len(rest)] if rest else p
        if not rest:
            return _resource_group(state, method, rg_id, api, body)
        if rest == "/resources":
            _api(api, "microsoft.resources/resourcegroups")
            _need_rg(state, rg_id)
            items = [r for k, r in state.resources.items() if k.startswith(rg_id.lower() + "/providers/")
                     and RA_SEGMENT not in k]
            raise Reply(200, {"value": copy.deepcopy(items)})
        m = re.match(r"^/providers/([^/]+)/([^/]+)/([^/]+)$", p[len(rg_id):])
        if not m:
            raise arm_error(404, "InvalidResourceType", f"The path '{path}' is not served by the stand-in.")
        rtype = f"{m.group(1)}/{m.group(2)}"
        return _resource(state, method, p, rg_id, rtype, m.group(3), api, body)


def _api(api: str, rtype: str) -> None:
    allowed = API_VERSIONS.get(rtype.lower())
    if allowed is None:
        raise arm_error(400, "NoRegisteredProviderFound",
                        f"No registered resource provider found for resource type '{rtype}' (stand-in).")
    if api not in allowed:
        raise arm_error(400, "NoRegisteredProviderFound",
                        f"No registered resource provider found for location and API version '{api}' and type "
                        f"'{rtype}'. The supported api-versions are '{', '.join(sorted(allowed))}'.")


def _need_rg(state, rg_id: str) -> dict:
    rg = state.resources.get(rg_id.lower())
    if rg is None:
        raise arm_error(404, "ResourceGroupNotFound", f"Resource group '{rg_id.split('/')[-1]}' could not be found.")
    return rg


def _resource_group(state, method, rg_id, api, body):
    _api(api, "microsoft.resources/resourcegroups")
    key = rg_id.lower()
    name = rg_id.split("/")[-1]
    existing = state.resources.get(key)
    if method in ("GET", "HEAD"):
        if existing is None:
            if method == "HEAD":
                raise Reply(404, b"")
            _need_rg(state, rg_id)
        raise Reply(204 if method == "HEAD" else 200, b"" if method == "HEAD" else copy.deepcopy(existing))
    if method == "DELETE":
        if existing is None:
            raise Reply(204, b"")
        for k in [k for k in state.resources if k == key or k.startswith(key + "/")]:
            state.resources.pop(k)
        raise Reply(200, b"")
    if method in ("PUT", "PATCH"):
        validate.resource_group(body or {}, creating=existing is None and method == "PUT")
        if existing is None and method == "PATCH":
            _need_rg(state, rg_id)
        res = existing or {"id": rg_id, "name": name, "type": "Microsoft.Resources/resourceGroups",
                           "properties": {"provisioningState": "Succeeded"}}
        if method == "PUT" and existing is not None and body.get("location", "").lower() != res["location"]:
            raise arm_error(409, "InvalidResourceGroupLocation",
                            f"Invalid resource group location '{body.get('location')}'. The Resource group "
                            f"already exists in location '{res['location']}'.")
        res["location"] = (body.get("location") or res.get("location", "")).lower()
        if "tags" in body or method == "PUT":
            res["tags"] = body.get("tags") or {}
        if "managedBy" in body:
            res["managedBy"] = body["managedBy"]
        state.resources[key] = res
        raise Reply(201 if existing is None else 200, copy.deepcopy(res))
    raise arm_error(405, "MethodNotAllowed", method)


def _resource(state, method, rid, rg_id, rtype, name, api, body):
    _api(api, rtype)
    key = rid.lower()
    existing = state.resources.get(key)
    if method == "GET":
        _need_rg(state, rg_id)
        if existing is None:
            raise arm_error(404, "ResourceNotFound",
                            f"The Resource '{rtype}/{name}' under resource group '{rg_id.split('/')[-1]}' was not found.")
        raise Reply(200, copy.deepcopy(existing))
    if method == "DELETE":
        if existing is None:
            raise Reply(204, b"")
        state.resources.pop(key)
        for k in [k for k in state.resources if k.startswith(key + "/")]:
            state.resources.pop(k)
        if rtype.lower() == "microsoft.monitor/accounts":
            managed = existing["properties"]["defaultIngestionSettings"]["dataCollectionRuleResourceId"]
            mrg = managed.split("/providers/")[0].lower()
            for k in [k for k in state.resources if k == mrg or k.startswith(mrg + "/")]:
                state.resources.pop(k)
        raise Reply(200, b"")
    if method not in ("PUT", "PATCH"):
        raise arm_error(405, "MethodNotAllowed", method)
    rg = _need_rg(state, rg_id)
    if rg.get("managedBy") and existing is None and method == "PUT":
        raise arm_error(409, "ResourceGroupManagedByMismatch",
                        f"The resource group '{rg['name']}' is managed by '{rg['managedBy']}'.")
    body = body or {}
    if method == "PATCH":
        if existing is None:
            raise arm_error(404, "ResourceNotFound", f"The Resource '{rtype}/{name}' was not found.")
        validate.patch(rtype, body)
        merged = copy.deepcopy(existing)
        if "tags" in body:
            merged["tags"] = body["tags"]
        state.resources[key] = merged
        raise Reply(200, copy.deepcopy(merged))
    validate.resource(rtype, api, body)
    rtl = rtype.lower()
    if rtl == "microsoft.monitor/accounts":
        res = _account(state, rid, name, body, existing)
    elif rtl == "microsoft.insights/datacollectionendpoints":
        res = _dce(rid, name, body, existing)
    elif rtl == "microsoft.insights/datacollectionrules":
        _dcr_semantics(state, body)
        res = _dcr(rid, name, body, existing)
    else:
        raise arm_error(400, "InvalidResourceType", f"The resource type '{rtype}' is not served by the stand-in.")
    state.resources[key] = res
    raise Reply(201 if existing is None else 200, copy.deepcopy(res))


def _base(rid, name, rtype, body, existing):
    res = {"id": rid, "name": name, "type": rtype, "location": body["location"].lower().replace(" ", ""),
           "tags": body.get("tags") or {}}
    if existing and existing["location"] != res["location"]:
        raise arm_error(400, "InvalidResourceLocation",
                        f"The resource '{name}' already exists in location '{existing['location']}'. A resource "
                        f"with the same name cannot be created in location '{res['location']}'.")
    res["etag"] = '"' + _hex(rid, str(time.time()), n=16) + '"'
    return res


def _account(state, rid, name, body, existing):
    res = _base(rid, name, "Microsoft.Monitor/accounts", body, existing)
    loc = res["location"]
    sub = state.subscription
    props = dict(body.get("properties") or {})
    if existing:
        keep = existing["properties"]
    else:
        mrg_name = f"MA_{name}_{loc}_managed"
        mrg_id = f"/subscriptions/{sub}/resourceGroups/{mrg_name}"
        state.resources[mrg_id.lower()] = {"id": mrg_id, "name": mrg_name, "type": "Microsoft.Resources/resourceGroups",
                                           "location": loc, "managedBy": rid, "tags": {},
                                           "properties": {"provisioningState": "Succeeded"}}
        dce_id = f"{mrg_id}/providers/Microsoft.Insights/dataCollectionEndpoints/{name}"
        dcr_id = f"{mrg_id}/providers/Microsoft.Insights/dataCollectionRules/{name}"
        state.resources[dce_id.lower()] = _dce(dce_id, name, {"location": loc, "properties": {}}, None)
        state.resources[dce_id.lower()]["properties"]["description"] = "Default DCE created for Monitoring Account"
        dcr = _dcr(dcr_id, name, {"location": loc, "properties": {
            "dataCollectionEndpointId": dce_id,
            "dataSources": {},
            "destinations": {"monitoringAccounts": [{"accountResourceId": rid, "name": "MonitoringAccount1"}]},
            "dataFlows": [{"streams": ["Microsoft-PrometheusMetrics"], "destinations": ["MonitoringAccount1"]}],
            "description": "Default DCR created for Monitoring Account"}}, None)
        state.resources[dcr_id.lower()] = dcr
        keep = {"accountId": str(uuid.uuid4()),
                "metrics": {"prometheusQueryEndpoint":
                            f"https://{name.lower()}-{_hex(rid, n=4)}.{loc}.prometheus.monitor.azure.com",
                            "internalId": f"mac_{uuid.uuid4()}"},
                "defaultIngestionSettings": {"dataCollectionRuleResourceId": dcr_id,
                                             "dataCollectionEndpointResourceId": dce_id}}
    res["properties"] = {**keep, "provisioningState": "Succeeded",
                         "publicNetworkAccess": props.get("publicNetworkAccess", "Enabled")}
    return res


def _dce(rid, name, body, existing):
    res = _base(rid, name, "Microsoft.Insights/dataCollectionEndpoints", body, existing)
    if body.get("kind"):
        res["kind"] = body["kind"]
    props = copy.deepcopy(body.get("properties") or {})
    loc, h = res["location"], _hex(rid, n=4)
    old = (existing or {}).get("properties", {})
    props.setdefault("networkAcls", {"publicNetworkAccess": "Enabled"})
    props.update({
        "immutableId": old.get("immutableId") or f"dce-{_hex('dce', rid)}",
        "configurationAccess": {"endpoint": f"https://{name.lower()}-{h}.{loc}-1.handler.control.monitor.azure.com"},
        "logsIngestion": {"endpoint": f"https://{name.lower()}-{h}.{loc}-1.ingest.monitor.azure.com"},
        "metricsIngestion": {"endpoint": f"https://{name.lower()}-{h}.{loc}-1.metrics.ingest.monitor.azure.com"},
        "provisioningState": "Succeeded"})
    res["properties"] = props
    return res


def _dcr(rid, name, body, existing):
    res = _base(rid, name, "Microsoft.Insights/dataCollectionRules", body, existing)
    if body.get("kind"):
        res["kind"] = body["kind"]
    props = copy.deepcopy(body.get("properties") or {})
    old = (existing or {}).get("properties", {})
    props.update({"immutableId": old.get("immutableId") or f"dcr-{_hex('dcr', rid)}",
                  "provisioningState": "Succeeded"})
    res["properties"] = props
    return res


def _dcr_semantics(state, body):
    """What Azure checks beyond the schema: destinations named by the data flows exist,
    monitoring accounts and the endpoint exist, Prometheus streams go to monitoringAccounts."""
    props = body.get("properties") or {}
    dests = props.get("destinations") or {}
    names = {}
    for kind, items in dests.items():
        for d in items if isinstance(items, list) else []:
            names[d.get("name")] = kind
    details = []
    for i, flow in enumerate(props.get("dataFlows") or []):
        for d in flow.get("destinations") or []:
            if d not in names:
                details.append({"code": "InvalidDataFlow",
                                "target": f"properties.dataFlows[{i}]",
                                "message": f"Data flow destination '{d}' is not defined in 'destinations'."})
            elif "Microsoft-PrometheusMetrics" in (flow.get("streams") or []) and names[d] != "monitoringAccounts":
                details.append({"code": "InvalidDataFlow", "target": f"properties.dataFlows[{i}]",
                                "message": "Stream 'Microsoft-PrometheusMetrics' can only be sent to a "
                                           "'monitoringAccounts' destination."})
    for i, acc in enumerate(dests.get("monitoringAccounts") or []):
        rid = (acc.get("accountResourceId") or "").lower()
        if rid not in state.resources:
            details.append({"code": "InvalidDestination",
                            "target": f"properties.destinations.monitoringAccounts[{i}].accountResourceId",
                            "message": f"Monitoring account '{acc.get('accountResourceId')}' does not exist."})
    dce = props.get("dataCollectionEndpointId")
    if dce and dce.lower() not in state.resources:
        details.append({"code": "InvalidDataCollectionEndpoint", "target": "properties.dataCollectionEndpointId",
                        "message": f"Data collection endpoint '{dce}' does not exist."})
    if details:
        raise arm_error(400, "InvalidPayload", "Data collection rule is invalid", details)


# ---- role assignments ------------------------------------------------------------------
def _split_ra(p: str):
    i = p.lower().index(RA_SEGMENT)
    return p[:i], p[i + len(RA_SEGMENT):].strip("/")


def _metrics(state, method, rid, api, query):
    """GET <resource>/providers/Microsoft.Insights/metrics?metricnames=a,b&aggregation=Maximum."""
    _api(api, "microsoft.insights/metrics")
    if method != "GET":
        raise arm_error(405, "MethodNotAllowed", method)
    res = state.resources.get(rid.lower())
    if res is None or res.get("type") != "Microsoft.Monitor/accounts":
        raise arm_error(404, "ResourceNotFound", f"The resource '{rid}' was not found (stand-in: workspaces only).")
    names = [n for n in ",".join(query.get("metricnames") or []).split(",") if n]
    unknown = [n for n in names if n not in WORKSPACE_METRICS]
    if not names or unknown:
        raise arm_error(400, "BadRequest", f"Failed to find metric configuration for provider: Microsoft.Monitor, "
                        f"resource Type: accounts, metric: {', '.join(unknown) or '(none)'}, Valid metrics: "
                        f"{', '.join(WORKSPACE_METRICS)}")
    aggregation = ((query.get("aggregation") or ["Average"])[-1] or "Average").lower()
    stated = state.workspace_metrics.get(rid.lower(), {})
    value = []
    for n in names:
        data = [{"timeStamp": time.strftime("%Y-%m-%dT%H:%M:00Z", time.gmtime())}]
        if n in stated:
            data[0][aggregation] = float(stated[n])
        value.append({"id": f"{rid}/providers/Microsoft.Insights/metrics/{n}", "type": "Microsoft.Insights/metrics",
                      "name": {"value": n, "localizedValue": n}, "displayDescription": n, "unit": "Count",
                      "timeseries": [{"metadatavalues": [], "data": data}], "errorCode": "Success"})
    raise Reply(200, {"cost": 0, "timespan": "2026-01-01T00:00:00Z/2026-01-01T01:00:00Z", "interval": "PT1M",
                      "value": value, "namespace": "Microsoft.Monitor/accounts", "resourceregion": res["location"]})


def _scope_exists(state, scope: str) -> bool:
    s = scope.lower().rstrip("/")
    return s == f"/subscriptions/{state.subscription}" or s in state.resources


def _role_assignments(state, method, p, api, query, body):
    _api(api, "microsoft.authorization/roleassignments")
    scope, name = _split_ra(p)
    all_ra = {k: v for k, v in state.resources.items() if v.get("type") == "Microsoft.Authorization/roleAssignments"}
    if not name:
        if method != "GET":
            raise arm_error(405, "MethodNotAllowed", method)
        flt = (query.get("$filter") or [""])[-1]
        sl = scope.lower().rstrip("/")
        out = []
        for ra in all_ra.values():
            rs = ra["properties"]["scope"].lower()
            above_or_at = sl == rs or sl.startswith(rs + "/")
            below = rs.startswith(sl + "/")
            m = re.search(r"principalId eq '([^']+)'", flt) or re.search(r"assignedTo\('([^']+)'\)", flt)
            if m and ra["properties"]["principalId"] != m.group(1):
                continue
            if above_or_at or (not flt and below):
                out.append(copy.deepcopy(ra))
        raise Reply(200, {"value": out})
    rid = f"{scope}/providers/Microsoft.Authorization/roleAssignments/{name}"
    key = rid.lower()
    existing = state.resources.get(key)
    if method == "GET":
        if existing is None:
            raise arm_error(404, "RoleAssignmentNotFound", f"The role assignment '{name}' is not found.")
        raise Reply(200, copy.deepcopy(existing))
    if method == "DELETE":
        if existing is None:
            raise Reply(204, b"")
        state.resources.pop(key)
        raise Reply(200, copy.deepcopy(existing))
    if method != "PUT":
        raise arm_error(405, "MethodNotAllowed", method)
    if not GUID.match(name):
        raise arm_error(400, "InvalidRoleAssignmentId",
                        f"The role assignment ID '{name}' is not valid. The role assignment ID must be a GUID.")
    validate.role_assignment(api, body or {})
    props = body["properties"]
    role_guid = props["roleDefinitionId"].rstrip("/").split("/")[-1].lower()
    if role_guid not in BUILTIN_ROLES:
        raise arm_error(400, "RoleDefinitionDoesNotExist",
                        f"The specified role definition with ID '{role_guid}' does not exist.")
    if not state.principal_exists(props["principalId"]):
        raise arm_error(400, "PrincipalNotFound",
                        f"Principal {props['principalId'].replace('-', '')} does not exist in the directory "
                        f"{state.tenant}.")
    if not _scope_exists(state, scope):
        raise arm_error(404, "ResourceNotFound", f"The scope '{scope}' does not exist.")
    for ra in all_ra.values():
        rp = ra["properties"]
        if (ra["id"].lower() != key and rp["scope"].lower() == scope.lower().rstrip("/")
                and rp["principalId"] == props["principalId"] and rp["roleDefinitionId"].split("/")[-1].lower() == role_guid):
            raise arm_error(409, "RoleAssignmentExists", "The role assignment already exists.")
    if existing is not None:
        ep = existing["properties"]
        if ep["principalId"] != props["principalId"] or ep["roleDefinitionId"].split("/")[-1].lower() != role_guid:
            raise arm_error(400, "RoleAssignmentUpdateNotPermitted",
                            "Tenant ID, application ID, principal ID, and scope are not allowed to be updated.")
        raise Reply(201, copy.deepcopy(existing))
    ra = {"id": rid, "type": "Microsoft.Authorization/roleAssignments", "name": name,
          "properties": {"roleDefinitionId": f"/subscriptions/{state.subscription}/providers/Microsoft.Authorization/"
                                             f"roleDefinitions/{role_guid}",
                         "principalId": props["principalId"], "principalType": props.get("principalType")
                         or "ServicePrincipal", "scope": scope.rstrip("/"), "condition": None,
                         "conditionVersion": None, "createdOn": _now(), "updatedOn": _now(),
                         "createdBy": state.deployer_sp_id, "updatedBy": state.deployer_sp_id,
                         "delegatedManagedIdentityResourceId": None, "description": props.get("description")}}
    state.resources[key] = ra
    raise Reply(201, copy.deepcopy(ra))


def _role_definitions(state, method, p, api, query):
    _api(api, "microsoft.authorization/roledefinitions")
    i = p.lower().index(RD_SEGMENT)
    guid = p[i + len(RD_SEGMENT):].strip("/").lower()

    def rd(g):
        return {"id": f"/subscriptions/{state.subscription}/providers/Microsoft.Authorization/roleDefinitions/{g}",
                "name": g, "type": "Microsoft.Authorization/roleDefinitions",
                "properties": {"roleName": BUILTIN_ROLES[g], "type": "BuiltInRole", "description": BUILTIN_ROLES[g],
                               "assignableScopes": ["/"], "permissions": []}}
    if method != "GET":
        raise arm_error(405, "MethodNotAllowed", method)
    if not guid:
        flt = (query.get("$filter") or [""])[-1]
        m = re.search(r"roleName eq '([^']+)'", flt)
        raise Reply(200, {"value": [rd(g) for g, n in BUILTIN_ROLES.items() if not m or n == m.group(1)]})
    if guid not in BUILTIN_ROLES:
        raise arm_error(404, "RoleDefinitionDoesNotExist", f"The role definition '{guid}' could not be found.")
    raise Reply(200, rd(guid))
