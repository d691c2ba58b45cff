"""Request bodies checked against the Azure SDK models of the api-version the request
names (the msrest ``_attribute_map``/``_validation`` the SDK itself serializes with):

- unknown property anywhere (flattened ``properties.x`` keys included) -> 400
  ``InvalidRequestContent`` with ARM's "Could not find member" text;
- a value of the wrong JSON type -> 400 ``InvalidRequestContent``;
- a required property missing (``_validation``) -> 400 (DCE/DCR: ``InvalidPayload``, as the
  Microsoft.Insights provider answers; others ``InvalidRequestContent``/``LocationRequired``).

Models used: azure-mgmt-monitor (v2022_06_01 DataCollectionEndpointResource,
DataCollectionRuleResource), azure-mgmt-authorization (v2020_04_01_preview and v2022_04_01
RoleAssignmentCreateParameters), azure-mgmt-resource (v2022_09_01 ResourceGroup). The SDK
has no model for Microsoft.Monitor/accounts 2023-04-03: ACCOUNT_SCHEMA below transcribes the
REST spec (specification/monitor/resource-manager/Microsoft.Monitor, AzureMonitorWorkspace).
"""
from __future__ import annotations

import importlib
import json

from azurestandin.reply import arm_error

MODELS = {
    ("microsoft.insights/datacollectionendpoints", "2022-06-01"):
        ("azure.mgmt.monitor.v2022_06_01.models", "DataCollectionEndpointResource"),
    ("microsoft.insights/datacollectionrules", "2022-06-01"):
        ("azure.mgmt.monitor.v2022_06_01.models", "DataCollectionRuleResource"),
    ("microsoft.authorization/roleassignments", "2020-04-01-preview"):
        ("azure.mgmt.authorization.v2020_04_01_preview.models", "RoleAssignmentCreateParameters"),
    ("microsoft.authorization/roleassignments", "2022-04-01"):
        ("azure.mgmt.authorization.v2022_04_01.models", "RoleAssignmentCreateParameters"),
    ("microsoft.resources/resourcegroups", "2022-09-01"):
        ("azure.mgmt.resource.resources.v2022_09_01.models", "ResourceGroup"),
}

# Microsoft.Monitor/accounts 2023-04-03 (AzureMonitorWorkspaceResource), same shape as an
# msrest _attribute_map: key path -> type; required keys; read-only keys (accepted, ignored).
ACCOUNT_SCHEMA = {
    "map": {"id": "str", "name": "str", "type": "str", "etag": "str", "systemData": "object",
            "location": "str", "tags": "{str}",
            "properties.accountId": "str", "properties.metrics": "object", "properties.provisioningState": "str",
            "properties.defaultIngestionSettings": "object", "properties.privateEndpointConnections": "[object]",
            "properties.publicNetworkAccess": "str"},
    "required": ["location"],
    "enums": {"properties.publicNetworkAccess": {"Enabled", "Disabled"}},
}


def json_body(raw: bytes):
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise arm_error(400, "InvalidRequestContent",
                        f"The request content was invalid and could not be deserialized: '{exc}'.")
    if not isinstance(body, dict):
        raise arm_error(400, "InvalidRequestContent", "The request content was invalid: expected a JSON object.")
    return body


def _attr_map(cls) -> dict[str, str]:
    return {v["key"].replace("\\.", "."): v["type"] for v in cls._attribute_map.values()}


_PRIMITIVE = {"str": str, "int": int, "float": (int, float), "bool": bool, "iso-8601": str, "duration": str,
              "object": object, "long": int}


def _walk(mod, amap: dict, obj, path: str, problems: list[str], typename: str):
    if not isinstance(obj, dict):
        problems.append(f"'{path or '$'}': expected an object of type '{typename}'")
        return
    for k, v in obj.items():
        here = f"{path}.{k}" if path else k
        if k in amap:
            _check(mod, amap[k], v, here, problems)
            continue
        nested = {p[len(k) + 1:]: t for p, t in amap.items() if p.startswith(k + ".")}
        if nested:
            if v is not None:
                _walk(mod, nested, v, here, problems, typename)
            continue
        problems.append(f"Could not find member '{k}' on object of type '{typename}'. Path '{here}'")


def _check(mod, t: str, v, path: str, problems: list[str]):
    if v is None:
        return
    if t.startswith("[") and t.endswith("]"):
        if not isinstance(v, list):
            problems.append(f"'{path}': expected an array ({t})")
            return
        for i, item in enumerate(v):
            _check(mod, t[1:-1], item, f"{path}[{i}]", problems)
        return
    if t.startswith("{") and t.endswith("}"):
        if not isinstance(v, dict):
            problems.append(f"'{path}': expected an object ({t})")
            return
        for k, item in v.items():
            _check(mod, t[1:-1], item, f"{path}.{k}", problems)
        return
    if t in _PRIMITIVE:
        py = _PRIMITIVE[t]
        if py is not object and (not isinstance(v, py) or (py is int and isinstance(v, bool))):
            problems.append(f"'{path}': expected {t}, got {type(v).__name__} {json.dumps(v)[:40]}")
        return
    cls = getattr(mod, t, None) if mod else None
    if cls is None or not hasattr(cls, "_attribute_map"):
        return  # an enum name or a type the stand-in does not model: accept
    _walk(mod, _attr_map(cls), v, path, problems, t)


def _required(cls, body: dict) -> list[str]:
    """Required properties (msrest _validation) missing from the body."""
    missing = []
    for attr, rules in getattr(cls, "_validation", {}).items():
        if rules.get("required") and not rules.get("readonly"):
            key = cls._attribute_map[attr]["key"].replace("\\.", ".")
            cur = body
            for part in key.split("."):
                cur = cur.get(part) if isinstance(cur, dict) else None
            if cur is None:
                missing.append(key)
    return missing


def _deep_required(mod, cls, body, path="") -> list[str]:
    """Required properties missing, recursively through nested models present in the body."""
    out = [f"{path}{k}" for k in _required(cls, body)]
    for meta in cls._attribute_map.values():
        key = meta["key"].replace("\\.", ".")
        cur = body
        for part in key.split("."):
            cur = cur.get(part) if isinstance(cur, dict) else None
        t = meta["type"]
        inner = t.strip("[]{}")
        sub = getattr(mod, inner, None)
        if cur is None or sub is None or not hasattr(sub, "_attribute_map"):
            continue
        if t.startswith("["):
            for i, item in enumerate(cur if isinstance(cur, list) else []):
                if isinstance(item, dict):
                    out += _deep_required(mod, sub, item, f"{path}{key}[{i}].")
        elif isinstance(cur, dict) and not t.startswith("{"):
            out += _deep_required(mod, sub, cur, f"{path}{key}.")
    return out


def problems_for(rtype: str, api: str, body: dict) -> tuple[list[str], list[str]]:
    """(schema problems, missing required properties) for a PUT body."""
    rtype = rtype.lower()
    if rtype == "microsoft.monitor/accounts":
        problems: list[str] = []
        _walk(None, ACCOUNT_SCHEMA["map"], body, "", problems, "AzureMonitorWorkspaceResource")
        for key, allowed in ACCOUNT_SCHEMA["enums"].items():
            cur = body
            for part in key.split("."):
                cur = cur.get(part) if isinstance(cur, dict) else None
            if cur is not None and cur not in allowed:
                problems.append(f"'{key}': '{cur}' is not one of {sorted(allowed)}")
        missing = [k for k in ACCOUNT_SCHEMA["required"] if body.get(k) in (None, "")]
        return problems, missing
    module, name = MODELS[(rtype, api)]
    mod = importlib.import_module(module)
    cls = getattr(mod, name)
    problems = []
    _walk(mod, _attr_map(cls), body, "", problems, name)
    return problems, _deep_required(mod, cls, body)


def resource(rtype: str, api: str, body: dict) -> None:
    problems, missing = problems_for(rtype, api, body)
    insights = rtype.lower().startswith("microsoft.insights/")
    if problems:
        raise arm_error(400, "InvalidRequestContent",
                        "The request content was invalid and could not be deserialized: " + "; ".join(problems))
    if missing == ["location"] and not insights:
        raise arm_error(400, "LocationRequired", "The location property is required for this definition.")
    if missing:
        code = "InvalidPayload" if insights else "InvalidRequestContent"
        raise arm_error(400, code, "Required properties are missing: " + ", ".join(missing),
                        [{"code": "MissingRequiredProperty", "target": m, "message": f"'{m}' is required."}
                         for m in missing])


def patch(rtype: str, body: dict) -> None:
    extra = sorted(set(body) - {"tags", "kind", "identity"})
    if extra:
        raise arm_error(400, "InvalidRequestContent",
                        f"Could not find member '{extra[0]}' on object of type 'ResourceForUpdate'.")


def resource_group(body: dict, creating: bool) -> None:
    if creating:
        resource("microsoft.resources/resourcegroups", "2022-09-01", body)
    problems, _missing = problems_for("microsoft.resources/resourcegroups", "2022-09-01", body)
    if problems:
        raise arm_error(400, "InvalidRequestContent",
                        "The request content was invalid and could not be deserialized: " + "; ".join(problems))


def role_assignment(api: str, body: dict) -> None:
    problems, missing = problems_for("microsoft.authorization/roleassignments", api, body)
    if problems or missing:
        raise arm_error(400, "InvalidRequestContent",
                        "The request content was invalid and could not be deserialized: "
                        + "; ".join(problems + [f"Required property '{m}' not found in JSON." for m in missing]))
