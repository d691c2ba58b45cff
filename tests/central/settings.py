"""Ports, audiences, roles and the generated credentials of the local central side.

Ports are fixed (override with environment variables) and bound to 127.0.0.1:

  KUBIYA_CENTRAL_PROMETHEUS_PORT  39090  Prometheus itself, NO auth (debugging only)
  KUBIYA_CENTRAL_TOKEN_PORT       39091  OAuth2 client-credentials token endpoint
  KUBIYA_CENTRAL_FRONT_PORT       39092  authenticating front for write + query APIs

Credentials are generated once per central side (``up.sh``) into
``<state>/credentials.json`` (mode 0600); they are never in the repository.
"""
import json
import os
import secrets
import uuid

from testlib import REPO  # tests/ is on sys.path: pytest's conftest, lib.sh's PYTHONPATH

HOST = "127.0.0.1"

# Audiences as Azure issues them: a token for scope "<resource>/.default" has aud "<resource>".
WRITE_AUDIENCE = "https://monitor.azure.com"            # DCE / remote-write ingestion
QUERY_AUDIENCE = "https://prometheus.monitor.azure.com"  # Azure Monitor workspace query API
WRITE_SCOPE = WRITE_AUDIENCE + "/.default"
QUERY_SCOPE = QUERY_AUDIENCE + "/.default"
WRITE_ROLE = "Metrics.Write"
READ_ROLE = "Metrics.Read"


def state_dir():
    return os.environ.get("KUBIYA_CENTRAL_DIR") or os.path.join(REPO, ".central")


def ports():
    env = os.environ.get
    return {
        "prometheus": int(env("KUBIYA_CENTRAL_PROMETHEUS_PORT", "39090")),
        "token": int(env("KUBIYA_CENTRAL_TOKEN_PORT", "39091")),
        "front": int(env("KUBIYA_CENTRAL_FRONT_PORT", "39092")),
    }


def endpoints(tenant_id):
    p = ports()
    token_base = "http://%s:%d" % (HOST, p["token"])
    return {
        "prometheus_url": "http://%s:%d" % (HOST, p["prometheus"]),
        "front_url": "http://%s:%d" % (HOST, p["front"]),
        "remote_write_url": "http://%s:%d/api/v1/write" % (HOST, p["front"]),
        # Azure layout: <authority>/<tenant>/oauth2/v2.0/token
        "authority_url": token_base,
        "token_url": "%s/%s/oauth2/v2.0/token" % (token_base, tenant_id),
        "issuer": "%s/%s/v2.0" % (token_base, tenant_id),
        "tenant_id": tenant_id,
        "write_scope": WRITE_SCOPE,
        "query_scope": QUERY_SCOPE,
    }


def generate_credentials():
    """Fresh tenant and two clients: the collector may only write, the verifier only read."""
    def client(roles):
        return {"client_id": str(uuid.uuid4()), "client_secret": secrets.token_urlsafe(32),
                "roles": roles}
    return {"tenant_id": str(uuid.uuid4()),
            "clients": {"collector": client([WRITE_ROLE]), "verifier": client([READ_ROLE])}}


def write_private_json(path, data):
    fd = os.open(path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(data, handle, indent=2)
    os.chmod(path + ".tmp", 0o600)
    os.replace(path + ".tmp", path)


def load_json(path):
    with open(path) as handle:
        return json.load(handle)


def main(argv):
    """``python -m central.settings init STATE_DIR``: credentials (if absent) + endpoints.json."""
    if len(argv) != 2 or argv[0] != "init":
        raise SystemExit("usage: python -m central.settings init STATE_DIR")
    state = argv[1]
    creds_path = os.path.join(state, "credentials.json")
    if not os.path.exists(creds_path):
        write_private_json(creds_path, generate_credentials())
    creds = load_json(creds_path)
    with open(os.path.join(state, "endpoints.json"), "w") as handle:
        json.dump(endpoints(creds["tenant_id"]), handle, indent=2)
    return 0


if __name__ == "__main__":
    import sys
    sys.exit(main(sys.argv[1:]))
