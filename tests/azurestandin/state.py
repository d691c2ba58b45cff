"""The stand-in's memory: ARM resources, Graph objects, the token signer, a request log.

One lock around everything: the role's requests are few and sequential.
"""
from __future__ import annotations

import copy
import hashlib
import json
import secrets
import threading
import time
import uuid
from pathlib import Path

from central import jwtutil


class State:
    def __init__(self, state_dir: Path):
        self.dir = state_dir
        self.lock = threading.RLock()
        self.tenant = str(uuid.uuid4())
        self.subscription = str(uuid.uuid4())
        self.resources: dict[str, dict] = {}      # lower-case ARM id -> resource as GET returns it
        self.applications: dict[str, dict] = {}   # object id -> Graph application
        self.service_principals: dict[str, dict] = {}
        self.secrets: dict[str, tuple[str, str, str]] = {}  # keyId -> (appId, sha256(secret), endDateTime)
        self.workspace_metrics: dict[str, dict[str, float]] = {}  # lower-case workspace id -> metric -> value
        self.ingest_upstream: str | None = None  # where accepted remote writes go (ingest.py)
        self.tokens: list[dict] = []  # tokens issued to service principals: t, appId, keyId (no secret)
        self._log: list[dict] = []
        self.key = jwtutil.new_key()
        self.kid = secrets.token_hex(8)
        (state_dir / "keys").mkdir(exist_ok=True)
        (state_dir / "keys" / f"{self.kid}.pem").write_bytes(jwtutil.public_pem(self.key))
        # The deployer: the principal the role runs as (Owner on the subscription).
        self.deployer_app_id = str(uuid.uuid4())
        self.deployer_sp_id = str(uuid.uuid4())
        self.deployer_secret = secrets.token_urlsafe(32)
        deployer = state_dir / "deployer.json"
        deployer.touch(mode=0o600)
        deployer.write_text(json.dumps({"client_id": self.deployer_app_id, "secret": self.deployer_secret,
                                        "tenant": self.tenant, "subscription_id": self.subscription}))

    # ---- helpers --------------------------------------------------------------------
    @staticmethod
    def new_guid() -> str:
        return str(uuid.uuid4())

    def describe(self) -> dict:
        return {"tenant": self.tenant, "subscription_id": self.subscription,
                "deployer_client_id": self.deployer_app_id, "deployer_object_id": self.deployer_sp_id,
                "issuer": f"https://login.microsoftonline.com/{self.tenant}/v2.0", "kid": self.kid,
                "keys_dir": str(self.dir / "keys")}

    def log(self, entry: dict) -> None:
        with self.lock:
            entry["t"] = round(time.time(), 3)
            self._log.append(entry)

    def requests(self) -> list[dict]:
        with self.lock:
            return copy.deepcopy(self._log)

    def snapshot(self) -> dict:
        with self.lock:
            return copy.deepcopy({"resources": self.resources, "applications": self.applications,
                                  "servicePrincipals": self.service_principals,
                                  "passwords": {k: {"appId": v[0], "endDateTime": v[2]}
                                                for k, v in self.secrets.items()}})

    def arm_delete(self, rid: str) -> bool:
        with self.lock:
            return self.resources.pop(rid.lower(), None) is not None

    # ---- principals -------------------------------------------------------------------
    def principal_for(self, client_id: str, secret: str) -> dict | None:
        """The service principal a client authenticates as, or None (wrong id/secret/expired)."""
        with self.lock:
            if client_id == self.deployer_app_id:
                if secrets.compare_digest(secret, self.deployer_secret):
                    return {"appId": client_id, "id": self.deployer_sp_id}
                return None
            digest = hashlib.sha256(secret.encode()).hexdigest()
            now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            for key_id, (app_id, hashed, end) in self.secrets.items():
                if app_id == client_id and secrets.compare_digest(hashed, digest) and end > now:
                    for sp in self.service_principals.values():
                        if sp["appId"] == client_id:
                            return {"appId": client_id, "id": sp["id"], "keyId": key_id}
            return None

    def principal_exists(self, object_id: str) -> bool:
        with self.lock:
            return object_id == self.deployer_sp_id or object_id in self.service_principals

    def sign(self, claims: dict) -> str:
        return jwtutil.sign(self.key, self.kid, claims)

    def verify(self, token: str) -> dict:
        return jwtutil.verify(token, lambda kid: self.key.public_key() if kid == self.kid else None)

    def env_for_modules(self) -> dict:
        return {"AZURE_CLIENT_ID": self.deployer_app_id, "AZURE_SECRET": self.deployer_secret,
                "AZURE_TENANT": self.tenant, "AZURE_SUBSCRIPTION_ID": self.subscription}


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()
