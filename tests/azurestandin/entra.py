"""Microsoft Entra ID (login.microsoftonline.com): authority discovery and the OAuth2
client-credentials token endpoint. Issues tokens only to the deployer and to service
principals whose application holds an unexpired password the stand-in handed out."""
from __future__ import annotations

import base64
import time
import urllib.parse
import uuid

from azurestandin.reply import Reply

RESOURCES = ("https://management.azure.com", "https://graph.microsoft.com", "https://monitor.azure.com",
             "https://prometheus.monitor.azure.com", "https://management.core.windows.net")
BASE = "https://login.microsoftonline.com"


def _oauth_error(status, error, code, text):
    return Reply(status, {"error": error, "error_description": f"AADSTS{code}: {text}",
                          "error_codes": [code], "timestamp": time.strftime("%Y-%m-%d %H:%M:%SZ"),
                          "trace_id": str(uuid.uuid4()), "correlation_id": str(uuid.uuid4())})


def openid_configuration(tenant: str, v2: bool) -> dict:
    suffix = "/v2.0" if v2 else ""
    return {
        "token_endpoint": f"{BASE}/{tenant}/oauth2{suffix}/token",
        "authorization_endpoint": f"{BASE}/{tenant}/oauth2{suffix}/authorize",
        "device_authorization_endpoint": f"{BASE}/{tenant}/oauth2{suffix}/devicecode",
        "issuer": f"https://login.microsoftonline.com/{tenant}/v2.0" if v2 else f"https://sts.windows.net/{tenant}/",
        "jwks_uri": f"{BASE}/{tenant}/discovery{suffix}/keys",
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "tenant_region_scope": "EU", "cloud_instance_name": "microsoftonline.com",
    }


def handle(state, method, path, query, headers, raw):
    parts = [p for p in path.split("/") if p]
    if method == "GET" and parts[-2:] == ["discovery", "instance"]:
        raise Reply(200, {"tenant_discovery_endpoint":
                          f"{BASE}/{parts[0]}/v2.0/.well-known/openid-configuration",
                          "api-version": "1.1",
                          "metadata": [{"preferred_network": "login.microsoftonline.com",
                                        "preferred_cache": "login.windows.net",
                                        "aliases": ["login.microsoftonline.com", "login.windows.net",
                                                    "login.microsoft.com", "sts.windows.net"]}]})
    if method == "GET" and parts[-2:] == [".well-known", "openid-configuration"]:
        tenant = parts[0]
        if tenant not in (state.tenant, "common", "organizations"):
            raise _oauth_error(400, "invalid_tenant", 90002, f"Tenant '{tenant}' not found.")
        raise Reply(200, openid_configuration(state.tenant if tenant != "common" else tenant, "v2.0" in parts))
    if method == "POST" and parts[-1:] == ["token"] and len(parts) >= 3:
        tenant = parts[0]
        if tenant != state.tenant:
            raise _oauth_error(400, "invalid_request", 90002, f"Tenant '{tenant}' not found.")
        form = {k: v[-1] for k, v in urllib.parse.parse_qs(raw.decode()).items()}
        if form.get("grant_type") != "client_credentials":
            raise _oauth_error(400, "unsupported_grant_type", 70003, "The app requested an unsupported grant type.")
        client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        auth = headers.get("Authorization") or ""
        if auth.startswith("Basic "):
            client_id, _sep, secret = base64.b64decode(auth[6:]).decode().partition(":")
            client_id, secret = urllib.parse.unquote(client_id), urllib.parse.unquote(secret)
        scope = form.get("scope") or (form.get("resource", "") + "/.default" if form.get("resource") else "")
        resource = scope.split()[0].removesuffix("/.default").rstrip("/") if scope else ""
        if resource not in RESOURCES:
            raise _oauth_error(400, "invalid_scope", 70011, f"The provided value for scope '{scope}' is not valid.")
        principal = state.principal_for(client_id, secret)
        if principal is None:
            raise _oauth_error(401, "invalid_client", 7000215,
                               "Invalid client secret provided (or unknown application or expired secret).")
        now = int(time.time())
        ttl = 3599
        if principal.get("keyId"):  # which client secret was used: rotation tests read it
            with state.lock:
                state.tokens.append({"t": round(time.time(), 3), "appId": client_id, "keyId": principal["keyId"],
                                     "aud": resource})
        token = state.sign({"aud": resource, "iss": f"https://sts.windows.net/{state.tenant}/",
                            "iat": now, "nbf": now, "exp": now + ttl, "appid": client_id,
                            "oid": principal["id"], "sub": principal["id"], "tid": state.tenant,
                            "idtyp": "app", "ver": "1.0"})
        raise Reply(200, {"token_type": "Bearer", "expires_in": ttl, "ext_expires_in": ttl,
                          "access_token": token})
    raise _oauth_error(404, "invalid_request", 900561, f"The endpoint {method} {path} is not served here.")
