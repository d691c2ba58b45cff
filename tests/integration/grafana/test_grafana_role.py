"""roles/grafana run unmodified through ansible-playbook against the local Grafana API
stand-in (tests/grafana_standin/standin.py: validates every payload against
grafana-foundation-sdk's models, answers with Grafana's status codes). Grafana itself (AGPL)
is not run: what Grafana does beyond the stand-in's checks is not proven here."""
from __future__ import annotations

import json
import secrets
import subprocess
import sys
import time
import urllib.request

import pytest
import yaml

from testlib import REPO, base_env, ensure_collection_on_path

STANDIN = REPO / "tests" / "grafana_standin" / "standin.py"
N_DASHBOARDS = len(list((REPO / "roles" / "grafana" / "files" / "dashboards").glob("*.json")))
N_RULES = len(json.loads((REPO / "roles" / "grafana" / "files" / "alerting" / "alert-rules.json").read_text()))


@pytest.fixture
def grafana(tmp_path):
    token = secrets.token_hex(16)
    port_file = tmp_path / "port"
    proc = subprocess.Popen([sys.executable, str(STANDIN), "--token", token, "--port-file", str(port_file)],
                            stdout=subprocess.DEVNULL, stderr=open(tmp_path / "standin.log", "w"))
    try:
        deadline = time.time() + 30
        while not (port_file.exists() and port_file.read_text()):
            assert proc.poll() is None and time.time() < deadline, (tmp_path / "standin.log").read_text()
            time.sleep(0.1)
        yield {"url": "http://127.0.0.1:%s" % port_file.read_text(), "token": token, "dir": tmp_path}
    finally:
        proc.terminate()
        proc.wait(10)


def _calls(g) -> list[dict]:
    with urllib.request.urlopen(g["url"] + "/_standin/calls", timeout=5) as r:  # noqa: S310 (loopback)
        return json.load(r)


def _api(g, method, path, body=None):
    req = urllib.request.Request(g["url"] + path, method=method, data=json.dumps(body).encode() if body else None,
                                 headers={"Authorization": "Bearer " + g["token"], "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:  # noqa: S310 (loopback)
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)


def play(g, *args, **vars_):
    ensure_collection_on_path()
    extra = {"grafana_url": g["url"], "grafana_token": g["token"], "grafana_allow_http": True,
             "grafana_environment": "staging", "grafana_datasource_url": "https://prom.example.invalid",
             "grafana_datasource_auth": "bearer", "grafana_datasource_bearer_token": "t-" + secrets.token_hex(8),
             "ansible_python_interpreter": sys.executable, **vars_}
    (g["dir"] / "vars.yml").write_text(yaml.safe_dump(extra))
    (g["dir"] / "play.yml").write_text(yaml.safe_dump([{
        "name": "Grafana", "hosts": "localhost", "gather_facts": False,
        "roles": [{"role": "kubiya.runners.grafana"}]}]))
    return subprocess.run(["ansible-playbook", "-i", "localhost,", "-c", "local", str(g["dir"] / "play.yml"),
                           "-e", "@" + str(g["dir"] / "vars.yml"), *args],
                          env=base_env(ANSIBLE_STDOUT_CALLBACK="default"), capture_output=True, text=True,
                          timeout=300, cwd=g["dir"], check=False)


def _recap(out: str) -> dict:
    line = next(l for l in out.splitlines() if l.startswith("localhost"))
    return {k: int(v) for k, v in (p.split("=") for p in line.split()[2:])}


@pytest.mark.slow
def test_refuses_plain_http_to_a_remote_grafana_before_any_call(grafana):
    res = play(grafana, grafana_url="http://grafana.example.com")
    assert res.returncode != 0
    assert "grafana_url must be an https:// URL" in res.stdout
    assert _calls(grafana) == []


@pytest.mark.slow
def test_incomplete_datasource_credentials_are_named(grafana):
    res = play(grafana, grafana_datasource_auth="azure")
    assert res.returncode != 0
    assert "grafana_datasource_azure_client_secret" in res.stdout
    assert _calls(grafana) == []


def test_standin_refuses_what_grafana_refuses(grafana):
    """The stand-in itself: 401, 404, 409 on a uid clash, 412 on a stale version, 400 on a
    dashboard the SDK model does not accept."""
    g = grafana
    req = urllib.request.Request(g["url"] + "/api/folders/x")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, timeout=5)  # noqa: S310
    assert e.value.code == 401
    assert _api(g, "GET", "/api/folders/nope")[0] == 404
    assert _api(g, "POST", "/api/folders", {"uid": "f", "title": "F"})[0] == 200
    assert _api(g, "POST", "/api/folders", {"uid": "f", "title": "F"})[0] == 409
    dash = json.loads((REPO / "roles" / "grafana" / "files" / "dashboards" / "agent-manager.json").read_text())
    assert _api(g, "POST", "/api/dashboards/db", {"dashboard": dash, "folderUid": "f"})[0] == 200
    assert _api(g, "POST", "/api/dashboards/db", {"dashboard": {**dash, "version": 7}, "folderUid": "f"})[0] == 412
    status, body = _api(g, "POST", "/api/dashboards/db", {"dashboard": {**dash, "panelz": []}, "folderUid": "f"})
    assert status == 400 and "panelz" in body["message"]
    status, body = _api(g, "POST", "/api/dashboards/db", {"dashboard": {**dash, "panels": "x", "version": 1},
                                                          "folderUid": "f"})
    assert status == 400 and "SDK model" in body["message"]


@pytest.mark.slow
def test_molecule_scenario_grafana():
    """extensions/molecule/grafana: prepare (stand-in) -> converge -> idempotence -> verify -> destroy."""
    env = base_env(ANSIBLE_FORCE_COLOR="0", NO_COLOR="1")
    res = subprocess.run(["molecule", "test", "-s", "grafana"], cwd=REPO, env=env, text=True,
                         capture_output=True, timeout=1500, check=False)
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-6000:]
    assert "idempotence: Executed: Successful" in out.replace("➜", ">").replace("> idempotence", "idempotence"), out[-3000:]


# ---- contact points and the notification policy (issue 11, item 5)

def _alerting_vars(hook_secret: str, mail: str = "oncall@example.invalid") -> dict:
    return {"grafana_contact_points": [
        {"name": "oncall", "type": "webhook", "url": "https://hooks.example.invalid/kubiya",
         "authorization_scheme": "Bearer", "authorization_credentials": hook_secret},
        {"name": "team-mail", "type": "email", "addresses": [mail, "ops@example.invalid"]},
    ], "grafana_notification_receiver": "team-mail", "grafana_notification_critical_receiver": "oncall"}


@pytest.mark.slow
def test_check_mode_then_converge_then_idempotent(grafana):
    """Datasource, folder, dashboards, alert rules, contact points and the environment's route
    in the policy tree: check mode writes nothing, a run writes each once, a second run nothing,
    a UI edit or a changed address rewrites exactly that object; another team's route and
    contact point are kept; no secret and no token in the output (-v included). One run
    sequence for everything: each ansible-playbook run costs tens of seconds here."""
    g = grafana
    secret = "hook-" + secrets.token_hex(12)
    # another team's route and contact point, already in Grafana, must survive the role
    assert _api(g, "POST", "/api/v1/provisioning/contact-points", {
        "uid": "other", "name": "other-team", "type": "email", "settings": {"addresses": "o@example.invalid"}})[0] == 202
    foreign = {"receiver": "other-team", "object_matchers": [["team", "=", "other"]]}
    assert _api(g, "PUT", "/api/v1/provisioning/policies", {
        "receiver": "grafana-default-email", "group_by": ["grafana_folder", "alertname"], "routes": [foreign]})[0] == 202
    n = len(_calls(g))

    check = play(g, "--check", **_alerting_vars(secret))
    assert check.returncode == 0, check.stdout[-3000:] + check.stderr[-2000:]
    assert _recap(check.stdout)["changed"] >= 1
    assert "contact points ['kr-staging-oncall', 'kr-staging-team-mail'], notification policy ['policies']" in check.stdout
    assert {c["method"] for c in _calls(g)[n:]} == {"GET"}, "check mode wrote something"

    n = len(_calls(g))
    first = play(g, "-v", **_alerting_vars(secret))
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-2000:]
    writes = [(c["method"], c["path"], c["status"]) for c in _calls(g)[n:] if c["method"] != "GET"]
    assert all(status in (200, 201, 202) for _m, _p, status in writes), writes
    assert len(writes) == 1 + 1 + N_DASHBOARDS + N_RULES + 2 + 1, writes
    assert writes[-3:] == [("POST", "/api/v1/provisioning/contact-points", 202)] * 2 + [
        ("PUT", "/api/v1/provisioning/policies", 202)], writes
    cps = {c["uid"]: c for c in _api(g, "GET", "/api/v1/provisioning/contact-points")[1]}
    hook = cps["kr-staging-oncall"]
    assert hook["name"] == "kubiya-runners-staging-oncall" and hook["provenance"] == ""
    assert hook["settings"]["authorization_credentials"] == "[REDACTED]"
    assert cps["kr-staging-team-mail"]["settings"]["addresses"] == "oncall@example.invalid;ops@example.invalid"
    tree = _api(g, "GET", "/api/v1/provisioning/policies")[1]
    assert tree["receiver"] == "grafana-default-email" and tree["provenance"] == ""
    assert tree["routes"][1] == foreign, "another team's route was changed"
    ours = tree["routes"][0]
    assert ours["receiver"] == "kubiya-runners-staging-team-mail"
    assert ours["object_matchers"] == [["team", "=", "kubiya-runners"],
                                       ["grafana_folder", "=", "Kubiya runners (staging)"]]
    assert ours["routes"] == [{"receiver": "kubiya-runners-staging-oncall",
                               "object_matchers": [["severity", "=", "critical"]]}]
    # every rule the role provisions carries the labels the route matches
    rules = json.loads((REPO / "roles" / "grafana" / "files" / "alerting" / "alert-rules.json").read_text())
    assert {r["labels"]["team"] for r in rules} == {"kubiya-runners"}
    assert {r["labels"]["severity"] for r in rules} == {"critical", "warning"}

    n = len(_calls(g))
    second = play(g, **_alerting_vars(secret))
    assert second.returncode == 0, second.stdout[-3000:]
    assert _recap(second.stdout)["changed"] == 0, second.stdout[-3000:]
    assert {c["method"] for c in _calls(g)[n:]} == {"GET"}

    # someone edits a dashboard in the UI and one address changes: the next run puts back
    # exactly that dashboard and updates that contact point by uid; the tree is not rewritten
    cur = _api(g, "GET", "/api/dashboards/uid/kubiya-costs")[1]
    saved = _api(g, "POST", "/api/dashboards/db", {
        "dashboard": {**cur["dashboard"], "title": "edited"}, "folderUid": "kubiya-runners-staging"})
    assert saved[0] == 200
    n = len(_calls(g))
    third = play(g, **_alerting_vars(secret, mail="pager@example.invalid"))
    assert third.returncode == 0, third.stdout[-3000:]
    assert [(c["method"], c["path"]) for c in _calls(g)[n:] if c["method"] != "GET"] == [
        ("POST", "/api/dashboards/db"), ("PUT", "/api/v1/provisioning/contact-points/kr-staging-team-mail")]
    assert _api(g, "GET", "/api/dashboards/uid/kubiya-costs")[1]["dashboard"]["title"] == "Costs & Scale"
    for out in (check, first, second, third):
        assert secret not in out.stdout + out.stderr
        assert g["token"] not in out.stdout + out.stderr


@pytest.mark.slow
@pytest.mark.parametrize("bad, named", [
    ({"name": "oncall", "type": "slack", "url": "https://hooks.example.invalid"}, "grafana_contact_points"),
    ({"name": "oncall", "type": "webhook"}, "grafana_contact_points[0] (oncall): type webhook needs url"),
], ids=["unknown-type", "webhook-without-url"])
def test_bad_contact_point_stops_before_any_call(grafana, bad, named):
    secret = "pw-" + secrets.token_hex(12)
    res = play(grafana, "-v", grafana_contact_points=[{**bad, "username": "u", "password": secret}],
               grafana_notification_receiver="oncall")
    assert res.returncode != 0
    assert named in res.stdout, res.stdout[-3000:]
    assert _calls(grafana) == [], "a call was made before the input was refused"
    assert secret not in res.stdout + res.stderr


@pytest.mark.slow
def test_unknown_receiver_is_named(grafana):
    res = play(grafana, grafana_contact_points=[{"name": "a", "type": "email", "addresses": ["a@example.invalid"]}],
               grafana_notification_receiver="b")
    assert res.returncode != 0
    assert "grafana_notification_receiver=b is not the name of an entry of grafana_contact_points" in res.stdout
    assert _calls(grafana) == []


def test_standin_contact_points_and_policy_as_grafana(grafana):
    """The stand-in itself: 400 on an unknown type or missing settings, 404 on PUT of an
    unknown uid, secrets redacted on GET and kept when sent back redacted, the policy tree
    replaced as one document and refused when it names a missing receiver."""
    g = grafana
    cp = "/api/v1/provisioning/contact-points"
    hook = {"uid": "h1", "name": "hook", "type": "webhook",
            "settings": {"url": "https://h.example.invalid", "username": "u", "password": "s3cret"}}
    status, body = _api(g, "POST", cp, {**hook, "type": "carrier-pigeon"})
    assert status == 400 and "ContactPoint.type: 'carrier-pigeon' is not one of" in body["message"]
    status, body = _api(g, "POST", cp, {**hook, "settings": {"username": "u"}})
    assert status == 400 and "url" in body["message"]
    status, body = _api(g, "POST", cp, {**hook, "settingz": {}})
    assert status == 400 and "settingz" in body["message"]
    assert _api(g, "POST", cp, {"uid": "m1", "name": "mail", "type": "email", "settings": {"addresses": " ; "}})[0] == 400
    assert _api(g, "PUT", cp + "/nope", hook)[0] == 404
    assert _api(g, "POST", cp, hook)[0] == 202
    assert _api(g, "POST", cp, hook)[0] == 409
    listed = {c["uid"]: c for c in _api(g, "GET", cp)[1]}
    assert listed["h1"]["settings"]["password"] == "[REDACTED]"
    assert _api(g, "PUT", cp + "/h1", listed["h1"])[0] == 202        # redacted secret sent back: kept
    redacted_unset = {**hook, "settings": {"url": "https://h.example.invalid", "authorization_credentials": "[REDACTED]"}}
    assert _api(g, "PUT", cp + "/h1", redacted_unset)[0] == 400      # nothing stored to keep
    both = {**hook, "settings": {**hook["settings"], "authorization_credentials": "t"}}
    assert _api(g, "PUT", cp + "/h1", both)[0] == 400
    pol = "/api/v1/provisioning/policies"
    assert _api(g, "GET", pol)[1]["receiver"] == "grafana-default-email"
    status, body = _api(g, "PUT", pol, {"receiver": "grafana-default-email", "routes": [{"receiver": "ghost"}]})
    assert status == 400 and "ghost" in body["message"]
    assert _api(g, "PUT", pol, {"receiver": "hook", "routez": []})[0] == 400
    assert _api(g, "PUT", pol, {"receiver": "hook", "object_matchers": [["a", "=", "b"]]})[0] == 400
    assert _api(g, "PUT", pol, {"receiver": "hook", "routes": [{"receiver": "hook", "object_matchers": [["a", "==", "b"]]}]})[0] == 400
    assert _api(g, "PUT", pol, {"receiver": "hook", "group_wait": "soon"})[0] == 400
    assert _api(g, "PUT", pol, {"receiver": "hook", "routes": [{"receiver": "grafana-default-email"}]})[0] == 202
    assert _api(g, "GET", pol)[1] == {"receiver": "hook", "routes": [{"receiver": "grafana-default-email"}],
                                      "provenance": "api"}


def test_standin_types_payloads_by_the_sdk_models(grafana):
    """Item 6: alert rules, contact points and the policy tree are checked value by value
    against grafana-foundation-sdk's model type hints (tests/grafana_standin/sdk_schema.py):
    the models alone load a number where a string belongs."""
    g = grafana
    assert _api(g, "POST", "/api/folders", {"uid": "kubiya-runners-staging", "title": "F"})[0] == 200
    assert _api(g, "POST", "/api/datasources", {"uid": "kubiya-runners-staging", "name": "p", "type": "prometheus",
                                                "access": "proxy", "url": "https://p.example.invalid"})[0] == 200
    rules = json.loads((REPO / "roles" / "grafana" / "files" / "alerting" / "alert-rules.json").read_text()
                       .replace("__KUBIYA_DATASOURCE_UID__", "kubiya-runners-staging")
                       .replace("__KUBIYA_FOLDER_UID__", "kubiya-runners-staging"))
    rule = rules[0]
    for bad, named in (({"for": 300}, "Rule.for: expected a string"),
                       ({"noDataState": "Okay"}, "Rule.noDataState: 'Okay' is not one of"),
                       ({"orgID": "1"}, "Rule.orgID: expected an integer"),
                       ({"data": [{**rule["data"][0], "relativeTimeRange": {"from": "1h", "to": 0}}] + rule["data"][1:]},
                        "Rule.data[0].relativeTimeRange.from: expected an integer")):
        status, body = _api(g, "POST", "/api/v1/provisioning/alert-rules", {**rule, **bad})
        assert status == 400 and named in body["message"], (bad, body)
    assert _api(g, "POST", "/api/v1/provisioning/alert-rules", rule)[0] == 201
    status, body = _api(g, "POST", "/api/v1/provisioning/contact-points", {
        "uid": "c", "name": 3, "type": "email", "settings": {"addresses": "a@example.invalid"}})
    assert status == 400 and "ContactPoint.name: expected a string" in body["message"]
    status, body = _api(g, "PUT", "/api/v1/provisioning/policies", {
        "receiver": "grafana-default-email", "routes": [{"receiver": "grafana-default-email", "group_by": "runner"}]})
    assert status == 400 and "NotificationPolicy.routes[0].group_by: expected a list" in body["message"]
