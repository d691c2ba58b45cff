"""Issue 10 items 3 and 6 end to end: roles/azure_prometheus run against the Azure stand-in ->
a runner deployed by roles/runner (kubiya.runners.deploy) from the role's output fragment and
vault file, unchanged -> the runner's telemetry pipeline (tests/pipeline) writes through the
data collection endpoint the role made -> kubiya.runners.metrics_delivery verifies the series
in the central Prometheus; then the Monitoring Metrics Publisher assignment is removed and the
module fails naming the 403 of the ingestion endpoint.

The stand-in plays the data collection endpoint (tests/azurestandin/ingest.py): it accepts a
write only with a token its Entra issued to a principal holding Monitoring Metrics Publisher
on the rule the URL names, and forwards accepted writes to the central Prometheus. The
collector reaches the ingestion host and login.microsoftonline.com through the stand-in's
proxy, trusting its test CA: the only change to what the chart renders besides the pod-level
ones (tests/pipeline/README.md), asserted in test_collector_runs_the_rendered_config.

One module-scoped environment: one stand-in, one role run, one deploy, one pipeline, on the
session's cluster and central side.
"""
from __future__ import annotations

import base64
import json
import secrets
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests
import yaml
from azurestandin import fixtures as azfx
from testlib import EXAMPLE_INVENTORY, REPO, deploy_example

sys.path.insert(0, str(REPO / "tests" / "pipeline"))
import pipelinelib  # noqa: E402  pylint: disable=wrong-import-position

pytestmark = [pytest.mark.azure, pytest.mark.cluster, pytest.mark.central, pytest.mark.slow]
PLAYBOOK = REPO / "playbooks" / "azure_prometheus.yml"
PUBLISHER = "3913510d-42f4-4e42-8a64-420c390055eb"
INTERVAL = 15
MAX_AGE = 60


class AzureRunner:
    """What the module fixture made: the stand-in, the role's outputs, the deployed runner's
    pipeline, and the secret as the runner's Kubernetes Secret holds it."""

    def __init__(self, standin, role_vars: dict, out: Path, deploy, read_secret):
        self.standin, self.role_vars, self.out = standin, role_vars, out
        self.deploy, self.read_secret = deploy, read_secret  # kubiya.runners.deploy; the K8s Secret's value
        self.frag = self.fragment()
        self.pipeline = None
        self.secret = ""
        self.seconds: dict[str, float] = {}

    def fragment(self) -> dict:
        return yaml.safe_load((self.out / "azure_prometheus.yml").read_text())

    def role(self, **extra) -> subprocess.CompletedProcess:
        t0 = time.monotonic()
        r = azfx.run_playbook(self.standin, PLAYBOOK, dict(self.role_vars, **extra))
        self.seconds.setdefault("role", time.monotonic() - t0)
        assert r.returncode == 0, r.stdout[-5000:] + r.stderr[-2000:]
        return r

    def passwords(self) -> list[str]:
        """Key ids of the client secrets of the customer's application, as the stand-in holds them."""
        apps = self.standin.state()["applications"].values()
        app = next(a for a in apps if a["appId"] == self.frag["runner_remote_write_client_id"])
        return [c["keyId"] for c in app["passwordCredentials"]]

    def delivery(self, checks: list[dict], **kw) -> dict:
        """kubiya.runners.metrics_delivery against the central side, with the runner's own
        remote-write destination and credentials (its token and write go through the proxy)."""
        f = self.frag
        args = self.pipeline.module_args(checks, remote_write={
            "url": f["runner_remote_write_url"], "token_url": f["runner_remote_write_token_url"],
            "client_id": f["runner_remote_write_client_id"], "client_secret": self.secret,
            "scope": f["runner_remote_write_scopes"][0], "ca_path": self.standin.info["ca"]}, **kw)
        return pipelinelib.run_delivery(args, timeout=300, env={"HTTPS_PROXY": self.standin.proxy,
                                                                "https_proxy": self.standin.proxy})

    def ingest_log(self) -> list[dict]:
        return [e for e in self.standin.log() if e["host"].endswith(".metrics.ingest.monitor.azure.com")]

    def arm(self) -> tuple[requests.Session, str]:
        d = self.standin.deployer
        s = requests.Session()
        s.trust_env, s.proxies, s.verify = False, {"https": self.standin.proxy}, self.standin.info["ca"]
        tok = s.post(f"https://login.microsoftonline.com/{d['tenant']}/oauth2/v2.0/token", timeout=30, data={
            "grant_type": "client_credentials", "client_id": d["client_id"], "client_secret": d["secret"],
            "scope": "https://management.azure.com/.default"}).json()["access_token"]
        s.headers["Authorization"] = f"Bearer {tok}"
        return s, "https://management.azure.com"


@pytest.fixture(scope="module")
def azure_runner(cluster, central, tmp_path_factory):
    if not azfx.azure_venv_ready():
        pytest.fail(f"{azfx.AZURE_VENV} is missing: run `make azure-venv` (azure.azcollection's requirements)")
    work = tmp_path_factory.mktemp("azure-e2e")
    standin = azfx.start(work / "standin")
    namespace = f"t-azure-e2e-{uuid.uuid4().hex[:6]}"
    ar = None
    try:
        # accepted writes go to the central Prometheus (its remote-write receiver)
        up = standin.admin(f"/_standin/ingest_upstream?url={central.prometheus_url}/api/v1/write", method="POST")
        assert up.get("ingest_upstream"), up
        password = secrets.token_urlsafe(16)
        role_vars = {"azure_prometheus_environment": "staging", "azure_prometheus_customers": ["acme"],
                     "azure_prometheus_output_dir": str(work / "out"), "azure_prometheus_vault_password": password,
                     "azure_prometheus_reader_object_ids": [standin.deployer["verifier"]["object_id"]]}
        out = work / "out" / "acme"
        pwfile = work / "azure-vault-pass"
        pwfile.write_text(password)
        pwfile.chmod(0o600)
        common = yaml.safe_load((EXAMPLE_INVENTORY / "group_vars" / "kubiya_runners" / "main.yml").read_text())[
            "runner_values_common"]
        common = dict(common, telemetry={"collector": "prometheus-agent", "scrapeInterval": f"{INTERVAL}s"})

        def deploy() -> subprocess.CompletedProcess:
            """roles/runner from the fragment and the vault file as the role wrote them; the extra
            vars only place the runner on this cluster and pick the collector that runs here."""
            t0 = time.monotonic()
            dep = deploy_example(cluster, {"runner_namespace": namespace, "runner_values_common": common,
                                           "runner_health_window": 2},
                                 "-e", f"@{out / 'azure_prometheus.yml'}", "-e", f"@{out / 'vault_azure_prometheus.yml'}",
                                 "--vault-id", f"azure@{pwfile}")
            ar.seconds.setdefault("deploy", time.monotonic() - t0)
            assert dep.returncode == 0, dep.stdout[-6000:] + dep.stderr[-2000:]
            return dep

        def read_secret() -> str:
            """The client secret as the runner's Kubernetes Secret holds it (what the pod mounts)."""
            values = json.loads(subprocess.run(
                [pipelinelib.helm_bin(), "get", "values", "kubiya-runner", "-n", namespace, "-o", "json"],
                env=cluster.env, capture_output=True, text=True, check=True).stdout)
            name = values["telemetry"]["remoteWrite"]["oauth2"]["existingSecret"]
            data = json.loads(cluster.kubectl("get", "secret", name, "-n", namespace, "-o", "json").stdout)["data"]
            return base64.b64decode(data["client-secret"]).decode()

        r = azfx.run_playbook(standin, PLAYBOOK, role_vars)
        assert r.returncode == 0, r.stdout[-5000:] + r.stderr[-2000:]
        ar = AzureRunner(standin, role_vars, out, deploy, read_secret)
        cluster.kubectl("create", "namespace", namespace)
        deploy()
        ar.secret = read_secret()
        pipeline = pipelinelib.Pipeline(cluster.env, namespace, central, work / "pipeline", release="kubiya-runner",
                                        runner="acme-runner", organization="acme")
        ar.pipeline = pipeline
        pipeline.egress = {"proxy_url": standin.proxy, "ca_file": standin.info["ca"]}
        pipeline.attach()
        pipeline.start_kube_state_metrics()
        pipeline.start_standins()
        pipeline.start_agent(client_secret=ar.secret)
        yield ar
    finally:
        if ar is not None and ar.pipeline is not None:
            ar.pipeline.close()
        standin.stop()
        cluster.kubectl("delete", "namespace", namespace, "--wait=false", check=False)


def test_collector_runs_the_rendered_config_with_the_fragment_unchanged(azure_runner):
    """What runs is what the chart renders from the fragment: the fragment's URL, token URL,
    client id and scope byte for byte; changed only where the pod gets its API access and
    mounted secret (as in tests/pipeline) and its network egress (proxy + trusted CA)."""
    p, frag = azure_runner.pipeline, azure_runner.frag
    dummy, rendered, run = p.agent_config(client_secret=azure_runner.secret)
    rw = rendered["remote_write"][0]
    assert rw["url"] == frag["runner_remote_write_url"]
    assert "/dataCollectionRules/dcr-" in rw["url"] and rw["url"].endswith(
        "/streams/Microsoft-PrometheusMetrics/api/v1/write?api-version=2023-04-24")
    assert rw["oauth2"]["token_url"] == frag["runner_remote_write_token_url"]
    assert rw["oauth2"]["client_id"] == frag["runner_remote_write_client_id"]
    assert rw["oauth2"]["scopes"] == frag["runner_remote_write_scopes"] == ["https://monitor.azure.com/.default"]
    for job in run["scrape_configs"]:
        for sd in job["kubernetes_sd_configs"]:
            assert sd.pop("api_server").startswith("https://127.")
            assert sd.pop("authorization")["credentials_file"].endswith("/sa/alloy/token")
            assert sd.pop("tls_config")["ca_file"].endswith("/sa/alloy/ca.crt")
    got = run["remote_write"][0]
    for block in (got, got["oauth2"]):
        assert block.pop("proxy_url") == azure_runner.standin.proxy
        assert block.pop("tls_config") == {"ca_file": azure_runner.standin.info["ca"]}
    got["oauth2"]["client_secret_file"] = rw["oauth2"]["client_secret_file"]
    assert run == rendered
    # the secret the collector uses is the one of the Kubernetes Secret, never in the fragment
    assert azure_runner.secret not in (azure_runner.out / "azure_prometheus.yml").read_text()


@pytest.mark.timeout(420)
def test_metrics_delivered_through_the_dcr_and_verified(azure_runner):
    p = azure_runner.pipeline
    p.wait_delivered(timeout=180)
    checks = pipelinelib.load_checks("prometheus-agent")
    t0 = time.monotonic()
    res = azure_runner.delivery(checks, max_age=MAX_AGE, deadline=90, poll_interval=5)
    report = "\n".join(res["result"].get("report", [])) or res["stdout"][-3000:] + res["stderr"][-2000:]
    assert res["rc"] == 0 and res["status"] == "SUCCESS", report
    assert all(c["status"] == "ok" for c in res["result"]["checks"]), report
    assert res["result"]["remote_write"]["status"] == 204 and not res["result"]["remote_write"]["refused"], report
    # the collector's writes went through the ingestion host the role's DCE names, accepted
    host = azure_runner.frag["runner_remote_write_url"].split("/")[2]
    accepted = [e for e in azure_runner.ingest_log() if e["host"] == host and e["status"] == 204]
    assert len(accepted) >= 3, azure_runner.ingest_log()[-5:]
    print(report, f"\nrole run {azure_runner.seconds.get('role', 0):.0f}s (fixture's not counted), "
          f"deploy {azure_runner.seconds['deploy']:.0f}s, metrics_delivery {time.monotonic() - t0:.0f}s")


RETIRE = [{"name": "retire client secrets by key id", "hosts": "localhost", "gather_facts": False, "tasks": [
    {"name": "Delete one client secret of the application by its key id (never all: key_id is set)",
     "azure.azcollection.azure_rm_adpassword": {"app_id": "{{ app_id }}", "key_id": "{{ key_id }}", "state": "absent"}}]}]


@pytest.mark.timeout(900)
def test_secret_rotation_without_a_delivery_gap(azure_runner, tmp_path):
    """Issue 10 item 4: the role adds a new secret (the old one stays valid), the runner's
    Kubernetes Secret is updated by kubiya.runners.deploy, the mounted file changes as the
    kubelet changes it, the collector takes its next token with the new secret, delivery is
    verified with it, the old secret is deleted by its key id; measured on the central
    Prometheus: the largest gap between two samples of the runner's collector series."""
    ar, p = azure_runner, azure_runner.pipeline
    p.wait_delivered(timeout=120)
    started = time.time()
    old_key, old_secret = ar.frag["azure_prometheus_secret_key_id"], ar.secret
    assert ar.passwords() == [old_key]
    # 1. a new secret: renew every secret ending within 200 days (the old one ends in 180)
    ar.role(azure_prometheus_secret_lifetime_days=365, azure_prometheus_secret_renew_days=200)
    ar.frag = ar.fragment()
    new_key = ar.frag["azure_prometheus_secret_key_id"]
    assert new_key != old_key and sorted(ar.passwords()) == sorted([old_key, new_key])
    # 2. the runner's Kubernetes Secret, through the runner role
    ar.deploy()
    new_secret = ar.read_secret()
    assert new_secret != old_secret
    # 3. the kubelet updates the mounted file; the collector re-reads it on its next request
    swapped = time.time()
    p.write_client_secret(new_secret)
    ar.secret = new_secret

    def tokens_with(key):
        return [t for t in ar.standin.admin("/_standin/tokens") if t["keyId"] == key and t["t"] > swapped]
    pipelinelib.wait_for(lambda: tokens_with(new_key), 3 * INTERVAL + 30, "a token taken with the new secret")
    checks = [c for c in pipelinelib.load_checks("prometheus-agent")
              if c["name"] in ("collector self-scraped", "agent-manager scraped", "dagger pod ready")]
    res = ar.delivery(checks, max_age=MAX_AGE, deadline=60, poll_interval=5)
    assert res["rc"] == 0 and res["result"]["remote_write"]["status"] == 204, res["result"].get("report")
    # 4. the old secret, by its key id only
    retire = tmp_path / "retire.yml"
    retire.write_text(yaml.safe_dump(RETIRE))
    r = azfx.run_playbook(ar.standin, retire, {"app_id": ar.frag["runner_remote_write_client_id"], "key_id": old_key})
    assert r.returncode == 0, r.stdout[-4000:]
    retired = time.time()
    assert ar.passwords() == [new_key]
    s = requests.Session()
    s.trust_env, s.proxies, s.verify = False, {"https": ar.standin.proxy}, ar.standin.info["ca"]
    old = s.post(ar.frag["runner_remote_write_token_url"], timeout=30, data={
        "grant_type": "client_credentials", "client_id": ar.frag["runner_remote_write_client_id"],
        "client_secret": old_secret, "scope": "https://monitor.azure.com/.default"})
    assert old.status_code == 401 and "AADSTS7000215" in old.text
    # delivery goes on after the deletion: fresh samples, verified with the new secret
    pipelinelib.wait_for(lambda: float((p.query(f'max(timestamp(up{{{p.selector()},job="alloy"}}))') or
                                        [{"value": [0, "0"]}])[0]["value"][1]) > retired + 1,
                         2 * INTERVAL + 30, "a sample scraped after the old secret was deleted")
    res = ar.delivery(checks, max_age=MAX_AGE, deadline=30, poll_interval=5)
    assert res["rc"] == 0, res["result"].get("report")
    ended = time.time()
    # the measurement: consecutive samples of every collector series of the runner
    window = int(ended - started) + 2 * INTERVAL
    series = p.central.query(f'up{{{p.selector()}}}[{window}s]', at=ended)
    assert series, "no samples in the rotation window"
    gaps = []
    for sr in series:
        ts = [float(t) for t, _v in sr["values"] if started - INTERVAL <= float(t) <= ended]
        gaps += [b - a for a, b in zip(ts, ts[1:])]
    max_gap = max(gaps)
    print(f"rotation {ended - started:.0f}s (role run {ar.seconds.get('role', 0):.0f}s), {len(series)} series, "
          f"max gap between samples {max_gap:.1f}s (scrape interval {INTERVAL}s, bound {2 * INTERVAL}s); "
          f"token with the new secret {tokens_with(new_key)[0]['t'] - swapped:.1f}s after the file changed")
    assert max_gap <= 2 * INTERVAL, max_gap


@pytest.mark.timeout(300)
def test_without_the_publisher_role_delivery_fails_with_a_403_the_module_names(azure_runner):
    p, frag = azure_runner.pipeline, azure_runner.frag
    p.wait_delivered(timeout=120)
    s, base = azure_runner.arm()
    dcr_id = frag["azure_prometheus_dcr_id"]
    ras = s.get(f"{base}{dcr_id}/providers/Microsoft.Authorization/roleAssignments?api-version=2022-04-01",
                timeout=30).json()["value"]
    publisher = [r for r in ras if r["properties"]["roleDefinitionId"].endswith(PUBLISHER)
                 and r["properties"]["scope"].lower() == dcr_id.lower()]
    assert len(publisher) == 1, ras
    gone = s.delete(f"{base}{publisher[0]['id']}?api-version=2022-04-01", timeout=30)
    assert gone.status_code == 200, gone.text
    removed = time.time()

    # the collector's next writes are refused: 403, and no sample written after the removal arrives
    pipelinelib.wait_for(lambda: any(e["status"] == 403 and e["t"] > removed for e in azure_runner.ingest_log()),
                         3 * INTERVAL + 30, "a remote write refused with 403 after the removal")
    checks = [c for c in pipelinelib.load_checks("prometheus-agent")
              if c["name"] in ("collector self-scraped", "agent-manager scraped")]
    res = azure_runner.delivery(checks, max_age=MAX_AGE, deadline=0)
    msg = res["result"].get("msg", "")
    assert res["rc"] != 0 and res["status"] == "FAILED", res["stdout"][-3000:]
    immutable_id = frag["runner_remote_write_url"].split("/dataCollectionRules/")[1].split("/")[0]
    assert "remote write refused" in msg and "answered HTTP 403 (forbidden)" in msg, msg
    assert f"client {frag['runner_remote_write_client_id']}" in msg and immutable_id in msg, msg
    assert res["result"]["remote_write"]["status"] == 403 and res["result"]["remote_write"]["refused"]
    assert azure_runner.secret not in res["stdout"] + res["stderr"]
    time.sleep(INTERVAL + 5)
    newest = p.query(f'max(timestamp(up{{{p.selector()},job="alloy"}}))')
    assert newest and float(newest[0]["value"][1]) < removed + 2, (newest, removed)
    assert p.procs.alive("collector")  # it keeps running and retrying; only delivery stops
    print(msg)
    p.stop_agent(signal.SIGTERM)
