"""Microsoft Graph v1.0 (graph.microsoft.com): applications, service principals,
addPassword/removePassword. Top-level body properties are checked against the msgraph-sdk
model's field names (Application, ServicePrincipal, PasswordCredential); an unknown one is
Graph's 400 ``Request_BadRequest`` "Property 'x' does not exist on type ...".

Password policy of the stand-in's tenant (an app management policy a real tenant may set
too): a secret lives at most PASSWORD_MAX_DAYS; longer -> 400."""
from __future__ import annotations

import copy
import datetime
import re
import secrets
import uuid

from central import jwtutil

from azurestandin import validate
from azurestandin.reply import Reply, graph_error
from azurestandin.state import hash_secret

PASSWORD_MAX_DAYS = 730
BASE = "https://graph.microsoft.com/v1.0"


def _fields(model: str) -> set[str]:
    import importlib
    snake = re.sub(r"(?<!^)([A-Z])", r"_\1", model).lower()
    mod = importlib.import_module("msgraph.generated.models." + snake)
    obj = getattr(mod, model)()
    return set(obj.get_field_deserializers().keys()) | {"@odata.type"}


def _check_fields(model: str, body: dict) -> None:
    unknown = sorted(set(body) - _fields(model))
    if unknown:
        raise graph_error(400, "Request_BadRequest",
                          f"Property '{unknown[0]}' does not exist on type 'microsoft.graph.{model[0].lower() + model[1:]}'.")


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_time(s: str) -> datetime.datetime:
    s = s.replace("Z", "+00:00")
    s = re.sub(r"\.(\d{6})\d+", r".\1", s)
    t = datetime.datetime.fromisoformat(s)
    return t if t.tzinfo else t.replace(tzinfo=datetime.UTC)


def _caller(state, headers) -> dict:
    auth = headers.get("Authorization") or ""
    if not auth.startswith("Bearer "):
        raise graph_error(401, "InvalidAuthenticationToken", "Access token is empty.")
    try:
        claims = state.verify(auth[7:])
    except (jwtutil.TokenError, ValueError, KeyError, UnicodeDecodeError) as exc:
        raise graph_error(401, "InvalidAuthenticationToken", f"Access token validation failure: {exc}")
    if claims.get("aud") != "https://graph.microsoft.com":
        raise graph_error(401, "InvalidAuthenticationToken", "Access token validation failure. Invalid audience.")
    return claims


def _filter(items, flt: str):
    clauses = [c.strip() for c in re.split(r"\s+and\s+", flt)] if flt else []
    out = []
    for it in items:
        ok = True
        for c in clauses:
            m = re.match(r"^(\w+) eq '((?:[^']|'')*)'$", c)
            m2 = re.match(r"^(\w+)/any\((\w+):\s*\2 eq '([^']*)'\)$", c)
            if m:
                ok &= it.get(m.group(1)) == m.group(2).replace("''", "'")
            elif m2:
                ok &= m2.group(3) in (it.get(m2.group(1)) or [])
            else:
                raise graph_error(400, "Request_UnsupportedQuery", f"Unsupported query: {c}")
        if ok:
            out.append(it)
    return out


def new_application(body: dict) -> dict:
    app = {"id": str(uuid.uuid4()), "appId": str(uuid.uuid4()), "createdDateTime": _now(), "deletedDateTime": None,
           "displayName": None, "description": None, "notes": None, "signInAudience": "AzureADMyOrg",
           "identifierUris": [], "appRoles": [], "keyCredentials": [], "passwordCredentials": [], "tags": [],
           "requiredResourceAccess": [], "optionalClaims": None, "isFallbackPublicClient": None,
           "api": {"acceptMappedClaims": None, "knownClientApplications": [], "oauth2PermissionScopes": [],
                   "preAuthorizedApplications": [], "requestedAccessTokenVersion": None},
           "web": {"homePageUrl": None, "logoutUrl": None, "redirectUris": [], "redirectUriSettings": [],
                   "implicitGrantSettings": {"enableAccessTokenIssuance": False, "enableIdTokenIssuance": False}},
           "spa": {"redirectUris": []}, "publicClient": {"redirectUris": []},
           "info": {"logoUrl": None, "marketingUrl": None, "privacyStatementUrl": None, "supportUrl": None,
                    "termsOfServiceUrl": None}}
    _merge(app, body)
    return app


def _merge(obj: dict, body: dict) -> None:
    for k, v in body.items():
        if k in ("id", "appId", "passwordCredentials", "createdDateTime", "@odata.type"):
            continue
        if isinstance(v, dict) and isinstance(obj.get(k), dict):
            merged = copy.deepcopy(obj[k])
            merged.update({kk: vv for kk, vv in v.items() if kk != "@odata.type"})
            obj[k] = merged
        else:
            obj[k] = v


def handle(state, method, path, query, headers, raw):
    claims = _caller(state, headers)
    parts = [p for p in path.split("/") if p]
    if not parts or parts[0] != "v1.0":
        raise graph_error(400, "BadRequest", f"Invalid version: {parts[0] if parts else ''}")
    parts = parts[1:]
    if method in ("POST", "PATCH", "DELETE") and claims.get("oid") != state.deployer_sp_id:
        raise graph_error(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
    body = validate.json_body(raw) if raw else {}
    flt = (query.get("$filter") or [""])[-1]
    with state.lock:
        if parts[:1] == ["applications"]:
            return _applications(state, method, parts[1:], flt, body)
        if parts[:1] == ["servicePrincipals"]:
            return _service_principals(state, method, parts[1:], flt, body)
    raise graph_error(400, "BadRequest", f"Resource not found for the segment '{parts[0] if parts else ''}'.")


def _application(state, oid: str) -> dict:
    m = re.match(r"^\(appId='([^']+)'\)$", oid) or re.match(r"^applications\(appId='([^']+)'\)$", oid)
    if m:
        for a in state.applications.values():
            if a["appId"] == m.group(1):
                return a
    app = state.applications.get(oid)
    if app is None:
        raise graph_error(404, "Request_ResourceNotFound",
                          f"Resource '{oid}' does not exist or one of its queried reference-property objects are not present.")
    return app


def _applications(state, method, rest, flt, body):
    if not rest:
        if method == "GET":
            raise Reply(200, {"@odata.context": f"{BASE}/$metadata#applications",
                              "value": copy.deepcopy(_filter(state.applications.values(), flt))})
        if method == "POST":
            _check_fields("Application", body)
            if not body.get("displayName"):
                raise graph_error(400, "Request_BadRequest",
                                  "Property 'displayName' is required (null or empty value not allowed).")
            app = new_application(body)
            state.applications[app["id"]] = app
            raise Reply(201, copy.deepcopy(app))
    else:
        app = _application(state, rest[0])
        if len(rest) == 1:
            if method == "GET":
                raise Reply(200, copy.deepcopy(app))
            if method == "PATCH":
                _check_fields("Application", body)
                _merge(app, body)
                raise Reply(204, b"")
            if method == "DELETE":
                state.applications.pop(app["id"])
                for k in [k for k, v in state.secrets.items() if v[0] == app["appId"]]:
                    state.secrets.pop(k)
                raise Reply(204, b"")
        if rest[1:] == ["addPassword"] and method == "POST":
            if set(body) - {"passwordCredential"}:
                raise graph_error(400, "Request_BadRequest", f"Property '{min(set(body) - {'passwordCredential'})}' "
                                  "does not exist on type 'microsoft.graph.addPasswordRequestBody'.")
            pc = body.get("passwordCredential") or {}
            _check_fields("PasswordCredential", pc)
            start = _parse_time(pc["startDateTime"]) if pc.get("startDateTime") else datetime.datetime.now(datetime.UTC)
            end = _parse_time(pc["endDateTime"]) if pc.get("endDateTime") else start + datetime.timedelta(days=730)
            if end <= start:
                raise graph_error(400, "InvalidKeyEndDate", "Key credential end date is invalid.")
            if end - start > datetime.timedelta(days=PASSWORD_MAX_DAYS):
                raise graph_error(400, "CredentialInvalidLifetimeAsPerAppPolicy",
                                  f"Credential lifetime exceeds the max value allowed as per assigned policy "
                                  f"({PASSWORD_MAX_DAYS} days).")
            secret = secrets.token_urlsafe(30)
            cred = {"keyId": str(uuid.uuid4()), "displayName": pc.get("displayName"), "customKeyIdentifier": None,
                    "hint": secret[:3], "startDateTime": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "endDateTime": end.strftime("%Y-%m-%dT%H:%M:%SZ"), "secretText": None}
            app["passwordCredentials"].append(cred)
            state.secrets[cred["keyId"]] = (app["appId"], hash_secret(secret), cred["endDateTime"])
            raise Reply(200, {"@odata.context": f"{BASE}/$metadata#microsoft.graph.passwordCredential",
                              **cred, "secretText": secret})
        if rest[1:] == ["removePassword"] and method == "POST":
            key = str(body.get("keyId") or "")
            if not any(c["keyId"] == key for c in app["passwordCredentials"]):
                raise graph_error(400, "CannotDeleteOrUpdateNonExistentKey",
                                  f"No password credential found with keyId {key}.")
            app["passwordCredentials"] = [c for c in app["passwordCredentials"] if c["keyId"] != key]
            state.secrets.pop(key, None)
            raise Reply(204, b"")
    raise graph_error(405, "Request_BadRequest", f"{method} not supported here")


def _service_principals(state, method, rest, flt, body):
    if not rest:
        if method == "GET":
            raise Reply(200, {"@odata.context": f"{BASE}/$metadata#servicePrincipals",
                              "value": copy.deepcopy(_filter(state.service_principals.values(), flt))})
        if method == "POST":
            _check_fields("ServicePrincipal", body)
            app_id = body.get("appId")
            app = next((a for a in state.applications.values() if a["appId"] == app_id), None)
            if app is None:
                raise graph_error(400, "Request_BadRequest",
                                  f"The appId '{app_id}' of the service principal does not reference a valid application object.")
            if any(sp["appId"] == app_id for sp in state.service_principals.values()):
                raise graph_error(409, "Request_MultipleObjectsWithSameKeyValue",
                                  "The service principal cannot be created, updated, or restored because the service "
                                  "principal name is already in use.")
            sp = {"id": str(uuid.uuid4()), "appId": app_id, "displayName": app["displayName"],
                  "accountEnabled": True, "appRoleAssignmentRequired": False, "servicePrincipalType": "Application",
                  "servicePrincipalNames": [app_id], "appRoles": [], "oauth2PermissionScopes": [], "tags": [],
                  "notes": None, "keyCredentials": [], "passwordCredentials": [], "appOwnerOrganizationId": state.tenant,
                  "signInAudience": app["signInAudience"], "alternativeNames": []}
            _merge(sp, body)
            state.service_principals[sp["id"]] = sp
            raise Reply(201, copy.deepcopy(sp))
    else:
        sp = state.service_principals.get(rest[0])
        if sp is None:
            raise graph_error(404, "Request_ResourceNotFound", f"Resource '{rest[0]}' does not exist.")
        if method == "GET" and len(rest) == 1:
            raise Reply(200, copy.deepcopy(sp))
        if method == "PATCH" and len(rest) == 1:
            _check_fields("ServicePrincipal", body)
            _merge(sp, body)
            raise Reply(204, b"")
        if method == "DELETE" and len(rest) == 1:
            state.service_principals.pop(sp["id"])
            raise Reply(204, b"")
    raise graph_error(405, "Request_BadRequest", f"{method} not supported here")


def seed_principal(state, display_name: str, object_id: str = "") -> dict:
    """An application + service principal + secret that exist before the role runs (the
    verifier, Grafana): returns client_id, object_id (of the principal) and secret."""
    with state.lock:
        app = new_application({"displayName": display_name})
        state.applications[app["id"]] = app
        sp = {"id": object_id or str(uuid.uuid4()), "appId": app["appId"], "displayName": display_name,
              "accountEnabled": True,
              "servicePrincipalType": "Application", "appRoles": [], "tags": [], "notes": None,
              "appRoleAssignmentRequired": False, "keyCredentials": [], "passwordCredentials": [],
              "servicePrincipalNames": [app["appId"]], "appOwnerOrganizationId": state.tenant,
              "signInAudience": "AzureADMyOrg", "alternativeNames": [], "oauth2PermissionScopes": []}
        state.service_principals[sp["id"]] = sp
        secret = secrets.token_urlsafe(30)
        end = (datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
        cred = {"keyId": str(uuid.uuid4()), "displayName": "seed", "customKeyIdentifier": None, "hint": secret[:3],
                "startDateTime": _now(), "endDateTime": end, "secretText": None}
        app["passwordCredentials"].append(cred)
        state.secrets[cred["keyId"]] = (app["appId"], hash_secret(secret), end)
        return {"client_id": app["appId"], "object_id": sp["id"], "secret": secret}
