"""The Azure stand-in itself, over HTTPS through its proxy (no Ansible): it refuses other
hosts, answers 404 then 200, validates bodies against the SDK models and authorizes."""
from __future__ import annotations

import uuid

import pytest
import requests

pytestmark = [pytest.mark.azure]


def _session(standin) -> requests.Session:
    s = requests.Session()
    s.trust_env = False
    s.proxies = {"https": standin.proxy}
    s.verify = standin.info["ca"]
    return s


def _token(standin, s, resource="https://management.azure.com", client=None, secret=None):
    d = standin.deployer
    r = s.post(f"https://login.microsoftonline.com/{d['tenant']}/oauth2/v2.0/token",
               data={"grant_type": "client_credentials", "client_id": client or d["client_id"],
                     "client_secret": secret or d["secret"], "scope": resource + "/.default"}, timeout=30)
    return r


def _arm(standin):
    s = _session(standin)
    tok = _token(standin, s).json()["access_token"]
    s.headers["Authorization"] = f"Bearer {tok}"
    base = f"https://management.azure.com/subscriptions/{standin.deployer['subscription_id']}"
    return s, base


def test_refuses_every_other_host(standin):
    s = _session(standin)
    with pytest.raises(requests.exceptions.ProxyError):
        s.get("https://pypi.org/simple/", timeout=10)
    refused = [e for e in standin.log() if e["method"] == "CONNECT"]
    assert refused and refused[-1]["host"] == "pypi.org" and refused[-1]["status"] == 403


def test_token_endpoint_refuses_unknown_client_and_wrong_secret(standin):
    s = _session(standin)
    assert _token(standin, s, client=str(uuid.uuid4())).status_code == 401
    bad = _token(standin, s, secret="wrong")
    assert bad.status_code == 401 and "AADSTS7000215" in bad.json()["error_description"]
    assert _token(standin, s).status_code == 200


def test_workspace_404_then_200_with_managed_group_and_default_dce_dcr(standin):
    s, base = _arm(standin)
    rg = f"{base}/resourceGroups/rg-t-staging"
    ws = f"{rg}/providers/Microsoft.Monitor/accounts/amw-t-staging?api-version=2023-04-03"
    assert s.put(rg + "?api-version=2022-09-01", json={"location": "westeurope"}).status_code == 201
    assert s.get(ws).status_code == 404
    r = s.put(ws, json={"location": "westeurope", "properties": {"publicNetworkAccess": "Enabled"}})
    assert r.status_code == 201, r.text
    got = s.get(ws).json()
    assert got["properties"]["provisioningState"] == "Succeeded"
    assert got["properties"]["metrics"]["prometheusQueryEndpoint"].endswith(".westeurope.prometheus.monitor.azure.com")
    dcr_id = got["properties"]["defaultIngestionSettings"]["dataCollectionRuleResourceId"]
    assert "/resourceGroups/MA_amw-t-staging_westeurope_managed/" in dcr_id
    dcr = s.get(f"https://management.azure.com{dcr_id}?api-version=2022-06-01").json()
    assert dcr["properties"]["immutableId"].startswith("dcr-")
    # an api-version other than the pinned one is refused as Azure does
    r = s.get(ws.replace("2023-04-03", "2021-06-03-preview"))
    assert r.status_code == 400 and r.json()["error"]["code"] == "NoRegisteredProviderFound"


def test_invalid_bodies_get_azure_error_codes_and_change_nothing(standin):
    s, base = _arm(standin)
    rg = f"{base}/resourceGroups/rg-t-staging"
    s.put(rg + "?api-version=2022-09-01", json={"location": "westeurope"})
    ws = f"{rg}/providers/Microsoft.Monitor/accounts/amw?api-version=2023-04-03"
    r = s.put(ws, json={"location": "westeurope", "properties": {"publicNetworkAcess": "Enabled"}})
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "InvalidRequestContent"
    assert "Could not find member 'publicNetworkAcess'" in r.json()["error"]["message"]
    assert s.put(ws, json={"properties": {}}).json()["error"]["code"] == "LocationRequired"
    assert s.get(ws).status_code == 404
    s.put(ws, json={"location": "westeurope"})
    dcr = f"{rg}/providers/Microsoft.Insights/dataCollectionRules/dcr?api-version=2022-06-01"
    body = {"location": "westeurope", "properties": {
        "destinations": {"monitoringAccounts": [{"name": "M1", "accountResourceId": ws.split("?", maxsplit=1)[0][len("https://management.azure.com"):]}]},
        "dataFlows": [{"streams": ["Microsoft-PrometheusMetrics"], "destinations": ["M2"]}]}}
    r = s.put(dcr, json=body)
    assert r.status_code == 400 and r.json()["error"]["code"] == "InvalidPayload", r.text
    assert "'M2' is not defined" in r.text
    body["properties"]["dataFlows"][0]["streams"] = "Microsoft-PrometheusMetrics"   # string, not list (SDK: [str])
    r = s.put(dcr, json=body)
    assert r.status_code == 400 and "expected an array" in r.json()["error"]["message"]
    body["properties"]["dataFlows"][0].update(streams=["Microsoft-PrometheusMetrics"], destinations=["M1"])
    r = s.put(dcr, json=body)
    assert r.status_code == 201, r.text
    assert r.json()["properties"]["immutableId"].startswith("dcr-")


def test_role_assignments_record_scope_and_refuse_duplicates(standin):
    s, base = _arm(standin)
    rg = f"{base}/resourceGroups/rg-t-staging"
    s.put(rg + "?api-version=2022-09-01", json={"location": "westeurope"})
    scope = rg[len("https://management.azure.com"):]
    role = f"/subscriptions/{standin.deployer['subscription_id']}/providers/Microsoft.Authorization/roleDefinitions/" \
           "3913510d-42f4-4e42-8a64-420c390055eb"
    principal = standin.deployer["verifier"]["object_id"]
    ra = f"{rg}/providers/Microsoft.Authorization/roleAssignments/{{}}?api-version=2022-04-01"
    body = {"properties": {"roleDefinitionId": role, "principalId": principal}}
    first = s.put(ra.format(uuid.uuid4()), json=body)
    assert first.status_code == 201 and first.json()["properties"]["scope"] == scope
    dup = s.put(ra.format(uuid.uuid4()), json=body)
    assert dup.status_code == 409 and dup.json()["error"]["code"] == "RoleAssignmentExists"
    ghost = s.put(ra.format(uuid.uuid4()), json={"properties": {"roleDefinitionId": role, "principalId": str(uuid.uuid4())}})
    assert ghost.status_code == 400 and ghost.json()["error"]["code"] == "PrincipalNotFound"
    bad = s.put(ra.format(uuid.uuid4()), json={"properties": {"roleDefinitionId": role}})
    assert bad.status_code == 400 and "principalId" in bad.json()["error"]["message"]
    # a principal that is not the deployer may not write
    v = standin.deployer["verifier"]
    s.headers["Authorization"] = "Bearer " + _token(standin, _session(standin), client=v["client_id"],
                                                    secret=v["secret"]).json()["access_token"]
    assert s.put(ra.format(uuid.uuid4()), json=body).json()["error"]["code"] == "AuthorizationFailed"


def test_workspace_platform_metrics_answer_in_the_sdk_shape(standin):
    """GET <workspace>/providers/Microsoft.Insights/metrics (2018-01-01): the limits the role's
    capacity report reads; a data point only where one was set, as the SDK model reads it."""
    import json
    import subprocess

    from azurestandin.fixtures import AZURE_PY

    s, base = _arm(standin)
    rg = f"{base}/resourceGroups/rg-t-staging"
    s.put(rg + "?api-version=2022-09-01", json={"location": "westeurope"})
    ws_id = f"{rg}/providers/Microsoft.Monitor/accounts/amw-t-staging"[len("https://management.azure.com"):]
    url = (f"https://management.azure.com{ws_id}/providers/Microsoft.Insights/metrics?api-version=2018-01-01"
           "&metricnames=ActiveTimeSeriesLimit,EventsPerMinuteIngestedLimit&aggregation=Maximum")
    assert s.get(url).json()["error"]["code"] == "ResourceNotFound"
    s.put(f"https://management.azure.com{ws_id}?api-version=2023-04-03", json={"location": "westeurope"})
    before = s.get(url).json()
    assert [m["name"]["value"] for m in before["value"]] == ["ActiveTimeSeriesLimit", "EventsPerMinuteIngestedLimit"]
    assert all("maximum" not in m["timeseries"][0]["data"][0] for m in before["value"])
    standin.admin(f"/_standin/workspace_metrics?id={ws_id}&ActiveTimeSeriesLimit=2000000", method="POST")
    after = s.get(url).json()
    assert after["value"][0]["timeseries"][0]["data"][0]["maximum"] == 2000000.0
    # the answer deserializes into azure-mgmt-monitor's v2018_01_01 Response model
    code = ("import json,sys; from azure.mgmt.monitor.v2018_01_01 import models as m; "
            "r = m.Response.deserialize(json.load(sys.stdin)); "
            "print(r.value[0].name.value, r.value[0].timeseries[0].data[0].maximum)")
    out = subprocess.run([str(AZURE_PY), "-c", code], input=json.dumps(after), capture_output=True, text=True,
                         check=True, timeout=120)
    assert out.stdout.split() == ["ActiveTimeSeriesLimit", "2000000.0"]
    assert s.get(url.replace("ActiveTimeSeriesLimit,", "Nope,")).json()["error"]["code"] == "BadRequest"
    assert s.get(url.replace("2018-01-01", "2024-02-01")).json()["error"]["code"] == "NoRegisteredProviderFound"


def test_ingestion_endpoint_needs_the_publisher_role_on_that_rule(standin):
    """The DCE's metrics ingestion host: 401 for a token of another audience, 403 for a
    principal without Monitoring Metrics Publisher on the rule (also with it on another rule),
    404 for an unknown rule; accepted writes reach the upstream unchanged."""
    import http.server
    import json
    import threading

    got = []

    class Upstream(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            got.append((self.path, self.headers.get("Content-Encoding"), self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    up = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
    threading.Thread(target=up.serve_forever, daemon=True).start()
    try:
        standin.admin(f"/_standin/ingest_upstream?url=http://127.0.0.1:{up.server_address[1]}/api/v1/write", method="POST")
        s, base = _arm(standin)
        rg = f"{base}/resourceGroups/rg-t-staging"
        s.put(rg + "?api-version=2022-09-01", json={"location": "westeurope"})
        ws = f"{rg}/providers/Microsoft.Monitor/accounts/amw-t-staging"
        s.put(ws + "?api-version=2023-04-03", json={"location": "westeurope"})
        dce = s.put(f"{rg}/providers/Microsoft.Insights/dataCollectionEndpoints/dce-t-staging?api-version=2022-06-01",
                    json={"location": "westeurope", "properties": {}}).json()
        rules = {}
        for name in ("a", "b"):
            rules[name] = s.put(f"{rg}/providers/Microsoft.Insights/dataCollectionRules/dcr-{name}?api-version=2022-06-01",
                                json={"location": "westeurope", "properties": {
                                    "dataCollectionEndpointId": dce["id"],
                                    "destinations": {"monitoringAccounts": [{"name": "M1", "accountResourceId": ws[len("https://management.azure.com"):]}]},
                                    "dataFlows": [{"streams": ["Microsoft-PrometheusMetrics"], "destinations": ["M1"]}]}}).json()
            assert "immutableId" in rules[name]["properties"], rules[name]
        writer = standin.admin("/_standin/seed_app?name=writer", method="POST")
        role = f"/subscriptions/{standin.deployer['subscription_id']}/providers/Microsoft.Authorization/roleDefinitions/" \
               "3913510d-42f4-4e42-8a64-420c390055eb"
        r = s.put(f"https://management.azure.com{rules['b']['id']}/providers/Microsoft.Authorization/roleAssignments/"
                  f"{uuid.uuid4()}?api-version=2022-04-01",
                  json={"properties": {"roleDefinitionId": role, "principalId": writer["object_id"]}})
        assert r.status_code == 201, r.text

        w = _session(standin)
        ingest = dce["properties"]["metricsIngestion"]["endpoint"]

        def write(rule, resource="https://monitor.azure.com"):
            tok = _token(standin, w, resource, writer["client_id"], writer["secret"]).json()["access_token"]
            return w.post(f"{ingest}/dataCollectionRules/{rules[rule]['properties']['immutableId']}/streams/"
                          "Microsoft-PrometheusMetrics/api/v1/write?api-version=2023-04-24", data=b"\x00",
                          headers={"Authorization": f"Bearer {tok}", "Content-Encoding": "snappy",
                                   "Content-Type": "application/x-protobuf"}, timeout=30)

        denied = write("a")
        assert denied.status_code == 403 and denied.json()["error"]["code"] == "OperationFailed", denied.text
        assert rules["a"]["properties"]["immutableId"] in denied.json()["error"]["message"]
        assert write("b", "https://management.azure.com").status_code == 401
        ok = write("b")
        assert ok.status_code == 204, ok.text
        assert got == [("/api/v1/write", "snappy", b"\x00")]
        # which secret each token was taken with (rotation tests): the writer's only key, no secret
        tokens = standin.admin("/_standin/tokens")
        assert {t["appId"] for t in tokens} == {writer["client_id"]} and len({t["keyId"] for t in tokens}) == 1
        assert writer["secret"] not in json.dumps(tokens)
        rules["b"]["properties"]["immutableId"] = "dcr-" + "0" * 32
        assert write("b").status_code == 404
    finally:
        up.shutdown()
