"""playbooks/azure_export.yml (issue 10 item 8): what exists for an environment, read through
the real azure.azcollection modules, written as kubiya.runners.azure_prometheus variables with
no secret; applied to a FRESH stand-in it makes the same resources.

Slow (two role runs, two exports: ~10 min on the shared, loaded 2-core machine)."""
from __future__ import annotations

import json
import secrets
import pytest
import yaml
from azurestandin import fixtures as azfx
from azurestandin.fixtures import run_playbook
from testlib import REPO

pytestmark = [pytest.mark.azure, pytest.mark.slow]
ROLE = REPO / "playbooks" / "azure_prometheus.yml"
EXPORT = REPO / "playbooks" / "azure_export.yml"
# what Azure (and the stand-in) generates: differs between two creations of the same thing
GENERATED = {"etag", "immutableId", "accountId", "internalId", "prometheusQueryEndpoint", "endpoint", "createdOn",
             "updatedOn", "createdBy", "updatedBy"}


def _strip(obj):
    if isinstance(obj, dict):
        return {k: _strip(v) for k, v in obj.items() if k not in GENERATED}
    if isinstance(obj, list):
        return [_strip(v) for v in obj]
    return obj


def _normalized(snapshot: dict, subscription: str, app_prefix: str) -> dict:
    """The stand-in's recorded state minus generated ids and timestamps: ARM resources by
    (subscription-free) id, role assignments by (scope, role, principal's display name), the
    applications the role made with their principal and number of secrets."""
    sp_name = {sp["id"]: sp["displayName"] for sp in snapshot["servicePrincipals"].values()}
    text = json.dumps(snapshot["resources"]).replace(subscription, "SUB")
    out = {}
    for rid, res in json.loads(text).items():
        if res["type"] == "Microsoft.Authorization/roleAssignments":
            p = res["properties"]
            key = ("ra", p["scope"].lower(), p["roleDefinitionId"].split("/")[-1], sp_name.get(p["principalId"], "?"))
            out[" ".join(key)] = {"principalType": p["principalType"]}
        else:
            out[rid] = _strip(res)
    for app in snapshot["applications"].values():
        if app["displayName"].startswith(app_prefix):
            sps = [sp["displayName"] for sp in snapshot["servicePrincipals"].values() if sp["appId"] == app["appId"]]
            out["app " + app["displayName"]] = {"signInAudience": app["signInAudience"], "servicePrincipals": sps,
                                                "secrets": len(app["passwordCredentials"])}
    return out


def _writes(standin) -> list[dict]:
    return [e for e in standin.log() if e["method"] in ("PUT", "POST", "PATCH", "DELETE")
            and e["host"] != "login.microsoftonline.com"]


@pytest.mark.timeout(2400)
def test_export_applied_to_a_fresh_standin_makes_identical_resources(standin, role_vars, tmp_path):
    first = run_playbook(standin, ROLE, role_vars)
    assert first.returncode == 0, first.stdout[-5000:]

    path = tmp_path / "export" / "staging.yml"
    path.parent.mkdir()
    writes = len(_writes(standin))
    exp = run_playbook(standin, EXPORT, {"azure_export_environment": "staging", "azure_export_path": str(path)})
    assert exp.returncode == 0, exp.stdout[-5000:]
    assert _writes(standin)[writes:] == [], "the export wrote to Azure"
    text = path.read_text()
    exported = yaml.safe_load(text)
    assert exported == {
        "azure_prometheus_environment": "staging",
        "azure_prometheus_location": "westeurope",
        "azure_prometheus_resource_group": "rg-kubiya-staging-monitoring",
        "azure_prometheus_workspace": "amw-kubiya-staging",
        "azure_prometheus_dce": "dce-kubiya-staging",
        "azure_prometheus_dcr_prefix": "dcr-kubiya-staging",
        "azure_prometheus_app_prefix": "kubiya-staging-runner",
        "azure_prometheus_customers": ["acme", "globex"],
        "azure_prometheus_tags": {"team": "platform"},
        "azure_prometheus_reader_object_ids": sorted(role_vars["azure_prometheus_reader_object_ids"]),
    }
    # no secret of any kind: not the deployer's, not a client secret, not the vault password
    for secret in (standin.deployer["secret"], role_vars["azure_prometheus_vault_password"],
                   standin.deployer["verifier"]["secret"]):
        assert secret not in text and secret not in exp.stdout
    assert "secret" not in text.lower().replace("no secret", "")

    # an existing export is not replaced without azure_export_overwrite, before any request
    before = len(standin.log())
    again = run_playbook(standin, EXPORT, {"azure_export_environment": "staging", "azure_export_path": str(path)})
    assert again.returncode != 0
    assert f"azure_export_path: {path} exists; set azure_export_overwrite=true to replace it" in again.stdout
    assert len(standin.log()) == before and path.read_text() == text

    # a FRESH stand-in (new subscription, tenant, ids) with the same reader identities
    fresh = azfx.start(tmp_path / "fresh")
    try:
        for name, who in (("kubiya verifier", "verifier"), ("kubiya grafana", "grafana")):
            fresh.admin(f"/_standin/seed_app?name={name.replace(' ', '%20')}"
                        f"&object_id={standin.deployer[who]['object_id']}", method="POST")
        out2 = tmp_path / "out-fresh"
        pw = secrets.token_urlsafe(16)
        applied = run_playbook(fresh, ROLE, {"azure_prometheus_output_dir": str(out2),
                                             "azure_prometheus_vault_password": pw}, "-e", f"@{path}")
        assert applied.returncode == 0, applied.stdout[-5000:]
        a = _normalized(standin.state(), standin.deployer["subscription_id"], "kubiya-staging-runner")
        b = _normalized(fresh.state(), fresh.deployer["subscription_id"], "kubiya-staging-runner")
        assert a.keys() == b.keys(), sorted(set(a) ^ set(b))
        for k in a:
            assert a[k] == b[k], k
        assert len([k for k in a if k.startswith("ra ")]) == 4       # 2 publishers + 2 readers
        assert len([k for k in a if k.startswith("app ")]) == 2
    finally:
        fresh.stop()
