"""roles/azure_prometheus through ansible-playbook, the real azure.azcollection modules,
against the stand-in (tests/azurestandin). Slow: every Azure module imports the whole
Azure SDK (about 4-5 min per run on the shared, loaded 2-core machine; ~1 min idle)."""
from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import pytest
import requests
import yaml
from azurestandin.fixtures import run_playbook
from testlib import REPO

pytestmark = [pytest.mark.azure, pytest.mark.slow]
PLAYBOOK = REPO / "playbooks" / "azure_prometheus.yml"


def _recap(stdout: str) -> dict:
    m = re.search(r"localhost\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", stdout)
    assert m, stdout[-3000:]
    return dict(zip(("ok", "changed", "unreachable", "failed"), map(int, m.groups())))


def _decrypt(path: Path, password: str, tmp: Path) -> dict:
    pw = tmp / "vault-pass"
    pw.write_text(password)
    pw.chmod(0o600)
    out = subprocess.run([str(REPO / ".venv" / "bin" / "ansible-vault"), "view", "--vault-password-file", str(pw),
                          str(path)], capture_output=True, text=True, check=True)
    return yaml.safe_load(out.stdout)


def _writes(standin) -> list[dict]:
    return [e for e in standin.log() if e["method"] in ("PUT", "POST", "PATCH", "DELETE")
            and e["host"] != "login.microsoftonline.com"]


def test_first_run_creates_everything_second_changes_nothing(standin, role_vars, tmp_path):
    role_vars["azure_prometheus_customers"] = ["acme"]
    # trap 1: an application with the customer's display name exists already (made by hand,
    # or a run that died after creating it): the role must adopt it, not create a second
    seeded = standin.admin("/_standin/seed_app?name=kubiya-staging-runner-acme", method="POST")
    t0 = time.monotonic()
    first = run_playbook(standin, PLAYBOOK, role_vars)
    t_first = time.monotonic() - t0
    assert first.returncode == 0, first.stdout[-5000:] + first.stderr[-2000:]
    st = standin.state()
    res = st["resources"]
    types = sorted(r["type"] for r in res.values())
    assert types.count("Microsoft.Monitor/accounts") == 1
    assert types.count("Microsoft.Insights/dataCollectionEndpoints") == 2    # ours + the workspace's default
    assert types.count("Microsoft.Insights/dataCollectionRules") == 2
    assert any(r["name"] == "MA_amw-kubiya-staging_westeurope_managed" for r in res.values())
    ws = next(r for r in res.values() if r["type"] == "Microsoft.Monitor/accounts")
    assert ws["tags"] == {"team": "platform", "environment": "staging", "managed-by": "kubiya.runners"}
    dcr = next(r for r in res.values() if r["name"] == "dcr-kubiya-staging-acme")
    flows = [{"streams": ["Microsoft-PrometheusMetrics"], "destinations": ["MonitoringAccount1"]}]
    assert dcr["properties"]["dataFlows"] == flows
    assert dcr["properties"]["destinations"]["monitoringAccounts"][0]["accountResourceId"].lower() == ws["id"].lower()
    # capacity (item 5): the new workspace reports no limit -> Azure's defaults, 432 series per runner
    assert ("Capacity of amw-kubiya-staging: 2314 runners fit (2314 by active series 1000000 from default, "
            "2314 by events per minute 1000000 from default) at 432 series and 432 samples per minute per runner"
            ) in " ".join(first.stdout.split()), first.stdout[-3000:]
    apps = [a for a in st["applications"].values() if a["displayName"] == "kubiya-staging-runner-acme"]
    assert len(apps) == 1 and apps[0]["appId"] == seeded["client_id"], "a duplicate application was created"
    sp = next(p for p in st["servicePrincipals"].values() if p["appId"] == apps[0]["appId"])
    ras = [r["properties"] for r in res.values() if r["type"] == "Microsoft.Authorization/roleAssignments"]
    publisher = [r for r in ras if r["roleDefinitionId"].endswith("3913510d-42f4-4e42-8a64-420c390055eb")]
    assert [(r["principalId"], r["scope"]) for r in publisher] == [(sp["id"], dcr["id"])]
    readers = {r["principalId"] for r in ras if r["roleDefinitionId"].endswith("b0d8363b-8ddd-447d-831f-62ca05bff136")
               and r["scope"] == ws["id"]}
    assert readers == set(role_vars["azure_prometheus_reader_object_ids"])

    out = Path(role_vars["azure_prometheus_output_dir"]) / "acme"
    frag = yaml.safe_load((out / "azure_prometheus.yml").read_text())
    dce = next(r for r in res.values() if r["name"] == "dce-kubiya-staging")
    assert frag["runner_remote_write_url"] == (
        f"{dce['properties']['metricsIngestion']['endpoint']}/dataCollectionRules/{dcr['properties']['immutableId']}"
        "/streams/Microsoft-PrometheusMetrics/api/v1/write?api-version=2023-04-24")
    assert frag["runner_remote_write_client_id"] == apps[0]["appId"]
    assert frag["runner_remote_write_token_url"] == \
        f"https://login.microsoftonline.com/{standin.deployer['tenant']}/oauth2/v2.0/token"
    assert frag["runner_remote_write_scopes"] == ["https://monitor.azure.com/.default"]
    assert frag["runner_remote_write_client_secret"] == "{{ vault_runner_remote_write_client_secret }}"
    assert frag["azure_prometheus_query_endpoint"] == ws["properties"]["metrics"]["prometheusQueryEndpoint"]
    # every runner_* key is an option of kubiya.runners.runner with the type it declares
    runner_opts = yaml.safe_load((REPO / "roles" / "runner" / "meta" / "argument_specs.yml").read_text())[
        "argument_specs"]["main"]["options"]
    types = {"str": str, "list": list}
    for key, value in frag.items():
        if key.startswith("runner_"):
            assert key in runner_opts, f"{key} is not an option of roles/runner"
            assert isinstance(value, types[runner_opts[key].get("type", "str")]), key
    vault_file = out / "vault_azure_prometheus.yml"
    assert vault_file.read_text().startswith("$ANSIBLE_VAULT;1.")
    assert oct(vault_file.stat().st_mode & 0o777) == "0o600"
    secret = _decrypt(vault_file, role_vars["azure_prometheus_vault_password"], tmp_path)[
        "vault_runner_remote_write_client_secret"]
    assert len(secret) > 20
    for text in (first.stdout, first.stderr, (out / "azure_prometheus.yml").read_text()):
        assert secret not in text
    # the secret works at the token endpoint for the ingestion scope, as Alloy will use it
    s = requests.Session()
    s.trust_env, s.proxies, s.verify = False, {"https": standin.proxy}, standin.info["ca"]
    tok = s.post(frag["runner_remote_write_token_url"], timeout=30, data={
        "grant_type": "client_credentials", "client_id": frag["runner_remote_write_client_id"],
        "client_secret": secret, "scope": frag["runner_remote_write_scopes"][0]})
    assert tok.status_code == 200, tok.text
    # bounded lifetime: the default 180 days
    st_after_first = standin.state()
    pw = [c for a in st_after_first["applications"].values() if a["appId"] == apps[0]["appId"]
          for c in a["passwordCredentials"] if c["keyId"] == frag["azure_prometheus_secret_key_id"]]
    assert len(pw) == 1 and pw[0]["endDateTime"][:4] in ("2027", "2028", "2029", "2030")

    writes_before = len(_writes(standin))
    t0 = time.monotonic()
    second = run_playbook(standin, PLAYBOOK, role_vars)
    t_second = time.monotonic() - t0
    assert second.returncode == 0, second.stdout[-5000:]
    assert _recap(second.stdout)["changed"] == 0, second.stdout[-6000:]
    assert _writes(standin)[writes_before:] == [], "the second run wrote to Azure"
    st2 = standin.state()
    assert st2["resources"].keys() == st["resources"].keys()
    # trap 2: no second secret on a re-run
    app2 = next(a for a in st2["applications"].values() if a["appId"] == apps[0]["appId"])
    app1 = next(a for a in st_after_first["applications"].values() if a["appId"] == apps[0]["appId"])
    assert [c["keyId"] for c in app2["passwordCredentials"]] == [c["keyId"] for c in app1["passwordCredentials"]]
    assert yaml.safe_load((out / "azure_prometheus.yml").read_text()) == frag

    # whole-role check mode after a real run: nothing to do, nothing written (Azure or disk)
    files = {f: (f.stat().st_mtime_ns, f.read_bytes()) for f in out.iterdir()}
    writes_before = len(_writes(standin))
    t0 = time.monotonic()
    check = run_playbook(standin, PLAYBOOK, role_vars, "--check")
    t_check = time.monotonic() - t0
    assert check.returncode == 0, check.stdout[-5000:] + check.stderr[-2000:]
    assert _recap(check.stdout)["changed"] == 0, check.stdout[-6000:]
    assert "Check mode: nothing to create or change beyond the tasks above." in check.stdout, check.stdout[-3000:]
    assert _writes(standin)[writes_before:] == [], "check mode wrote to Azure"
    assert {f: (f.stat().st_mtime_ns, f.read_bytes()) for f in out.iterdir()} == files
    print(f"\nfirst run {t_first:.0f} s, second run (changed=0) {t_second:.0f} s, --check after them {t_check:.0f} s")


def test_check_mode_on_an_empty_subscription_writes_nothing_and_names_what_it_would_create(standin, role_vars):
    """--check of the whole role against a fresh stand-in: only reads (and token requests),
    reports changed, and names what it could not show (the Entra modules and azure_rm_resource
    have no check mode; ids, immutableId and secrets exist only after a real run)."""
    seeded = standin.state()
    r = run_playbook(standin, PLAYBOOK, role_vars, "--check")
    assert r.returncode == 0, r.stdout[-5000:] + r.stderr[-2000:]
    assert _recap(r.stdout)["changed"] > 0, r.stdout[-3000:]
    log = standin.log()
    assert log, "the check run asked the stand-in nothing"
    assert {e["method"] for e in log if e["host"] != "login.microsoftonline.com"} <= {"GET", "HEAD"}, \
        [e for e in log if e["method"] not in ("GET", "HEAD")]
    assert {(e["method"], e["path"].rsplit("/", 1)[-1]) for e in log if e["host"] == "login.microsoftonline.com"} \
        <= {("GET", "openid-configuration"), ("GET", "instance"), ("POST", "token")}
    assert standin.state() == seeded, "check mode changed the stand-in's state"
    msg = " ".join(r.stdout.split())
    assert "Check mode: a real run would also create or change (not shown by the tasks above): " in msg, r.stdout[-3000:]
    out = role_vars["azure_prometheus_output_dir"]
    for thing in ("resource group rg-kubiya-staging-monitoring", "workspace amw-kubiya-staging",
                  "data collection endpoint dce-kubiya-staging", "data collection rule dcr-kubiya-staging-acme",
                  "application kubiya-staging-runner-globex and its service principal",
                  f"client secret of kubiya-staging-runner-acme and {out}/acme/vault_azure_prometheus.yml",
                  "Monitoring Metrics Publisher on dcr-kubiya-staging-globex", f"{out}/globex/azure_prometheus.yml",
                  "Monitoring Data Reader on the workspace for 2 identities"):
        assert thing in msg, (thing, msg[-3000:])
    assert not Path(out).exists(), "check mode wrote outputs"


def test_production_refuses_staging_named_resources_before_any_request(standin, role_vars):
    role_vars.update(azure_prometheus_environment="production",
                     azure_prometheus_resource_group="rg-kubiya-staging-monitoring",
                     azure_prometheus_customers=["acme", "Bad_Name"])
    r = run_playbook(standin, PLAYBOOK, role_vars)
    assert r.returncode != 0
    assert "Invalid input for environment production; nothing was changed." in r.stdout
    assert ("azure_prometheus_resource_group: 'rg-kubiya-staging-monitoring' is named for staging ('staging'); "
            "a production run never touches it") in r.stdout
    assert "azure_prometheus_customers: 'Bad_Name' is not a customer name" in r.stdout
    assert standin.log() == [], "the role talked to Azure before its input was valid"


def test_staging_refuses_production_named_workspace(standin, role_vars):
    role_vars["azure_prometheus_workspace"] = "amw-kubiya-prod"
    r = run_playbook(standin, PLAYBOOK, role_vars)
    assert r.returncode != 0
    assert "azure_prometheus_workspace: 'amw-kubiya-prod' is named for production ('prod')" in r.stdout
    assert standin.log() == []


def test_duplicate_applications_stop_the_run_naming_them(standin, role_vars):
    role_vars["azure_prometheus_customers"] = ["acme"]
    a = standin.admin("/_standin/seed_app?name=kubiya-staging-runner-acme", method="POST")
    b = standin.admin("/_standin/seed_app?name=kubiya-staging-runner-acme", method="POST")
    r = run_playbook(standin, PLAYBOOK, role_vars)
    assert r.returncode != 0
    assert "kubiya-staging-runner-acme: 2 Entra applications carry this display name" in r.stdout
    assert a["client_id"] in r.stdout and b["client_id"] in r.stdout
    assert _writes(standin) == []


def test_invalid_body_is_refused_with_azure_error_naming_the_member(standin, tmp_path):
    """A typo in a body the role sends through azure_rm_resource: Azure's 400 reaches the operator."""
    pb = tmp_path / "bad.yml"
    pb.write_text(yaml.safe_dump([{"name": "bad body", "hosts": "localhost", "gather_facts": False, "tasks": [
        {"name": "Resource group", "azure.azcollection.azure_rm_resourcegroup": {"name": "rg-x-staging", "location": "westeurope"}},
        {"name": "Workspace with a typo", "azure.azcollection.azure_rm_resource": {
            "resource_group": "rg-x-staging", "provider": "Monitor", "resource_type": "accounts",
            "resource_name": "amw-x-staging", "api_version": "2023-04-03",
            "body": {"location": "westeurope", "properties": {"publicNetworkAcess": "Enabled"}}}}]}]))
    r = run_playbook(standin, pb, {})
    assert r.returncode != 0
    assert "InvalidRequestContent" in r.stdout, r.stdout[-3000:]
    assert "Could not find member" in r.stdout and "publicNetworkAcess" in r.stdout, r.stdout[-3000:]
    assert not any(e["type"] == "Microsoft.Monitor/accounts" for e in standin.state()["resources"].values())


@pytest.mark.parametrize("extra,says", [
    ({"azure_prometheus_series_per_runner": -432}, "azure_prometheus_series_per_runner: -432 is less than 1"),
    # the argument spec (type int) refuses it first, naming the variable
    ({"azure_prometheus_series_per_runner": "nan"}, "argument 'azure_prometheus_series_per_runner' is of type str"),
    ({"azure_prometheus_series_per_runner": 10 ** 13}, "azure_prometheus_series_per_runner: 10000000000000 is larger"),
    ({"azure_prometheus_limits": {"active_series": 0}}, "azure_prometheus_limits.active_series: 0 is less than 1"),
])
def test_bad_capacity_input_stops_before_any_request(standin, role_vars, extra, says):
    role_vars.update(extra)
    r = run_playbook(standin, PLAYBOOK, role_vars)
    assert r.returncode != 0
    assert says in r.stdout, r.stdout[-3000:]
    assert standin.log() == [], "the role talked to Azure before its input was valid"


def test_capacity_tasks_run_in_check_mode_and_read_the_workspace_limits(standin, tmp_path):
    """The role's capacity tasks only read: in --check they report from the workspace's
    platform metrics (set on the stand-in) and write nothing."""
    sub = standin.deployer["subscription_id"]
    s = requests.Session()
    s.trust_env, s.proxies, s.verify = False, {"https": standin.proxy}, standin.info["ca"]
    d = standin.deployer
    tok = s.post(f"https://login.microsoftonline.com/{d['tenant']}/oauth2/v2.0/token", timeout=30, data={
        "grant_type": "client_credentials", "client_id": d["client_id"], "client_secret": d["secret"],
        "scope": "https://management.azure.com/.default"}).json()["access_token"]
    s.headers["Authorization"] = f"Bearer {tok}"
    rg = f"/subscriptions/{sub}/resourceGroups/rg-kubiya-staging-monitoring"
    ws = f"{rg}/providers/Microsoft.Monitor/accounts/amw-kubiya-staging"
    assert s.put(f"https://management.azure.com{rg}?api-version=2022-09-01", json={"location": "westeurope"}).ok
    assert s.put(f"https://management.azure.com{ws}?api-version=2023-04-03", json={"location": "westeurope"}).ok
    standin.admin(f"/_standin/workspace_metrics?id={ws}&ActiveTimeSeriesLimit=2000000"
                  "&EventsPerMinuteIngestedLimit=500000", method="POST")
    pb = tmp_path / "capacity.yml"
    pb.write_text(yaml.safe_dump([{"name": "capacity only", "hosts": "localhost", "gather_facts": False,
                                   "vars": {"__azp_ws": {"id": ws}, "__azp_customers": [{}]},
                                   "tasks": [{"name": "Capacity", "ansible.builtin.include_role": {
                                       "name": "kubiya.runners.azure_prometheus", "tasks_from": "capacity.yml"}}]}]))
    writes = len(_writes(standin))
    r = run_playbook(standin, pb, {"azure_prometheus_environment": "staging", "azure_prometheus_customers": ["acme"],
                                   "azure_prometheus_output_dir": str(tmp_path)}, "--check")
    assert r.returncode == 0, r.stdout[-4000:]
    assert _recap(r.stdout)["changed"] == 0
    assert _writes(standin)[writes:] == []
    assert ("1157 runners fit (4629 by active series 2000000 from workspace metric ActiveTimeSeriesLimit, "
            "1157 by events per minute 500000 from workspace metric EventsPerMinuteIngestedLimit)"
            ) in " ".join(r.stdout.split()), r.stdout[-3000:]
