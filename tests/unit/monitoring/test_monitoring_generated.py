"""The committed dashboards and rules are what the Python sources generate, and they are
well-formed Grafana objects (they load into grafana-foundation-sdk's models)."""
from __future__ import annotations

import json
import re

from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import alerting as am
from grafana_foundation_sdk.models import dashboard as dm

from monitoring import generate
from monitoring.common import UIDS
from monitoring.dashboards import DASHBOARDS

TITLES = {"All Runners Status", "Runner Health Overview", "agent-manager", "tool-manager",
          "Collector self-monitoring", "Costs & Scale"}


def test_generated_files_are_up_to_date(capsys):
    """Fails when a source under monitoring/ changed and `make monitoring` was not run."""
    assert generate.main(["--check"]) == 0, capsys.readouterr().err


def test_check_detects_a_stale_file(tmp_path, monkeypatch):
    """The staleness check can fail: a committed file edited by hand is reported."""
    monkeypatch.setattr(generate, "OUT", tmp_path)
    monkeypatch.setattr(generate, "REPO", tmp_path)
    assert generate.main([]) == 0
    assert generate.main(["--check"]) == 0
    victim = tmp_path / "dashboards" / "costs-and-scale.json"
    victim.write_text(victim.read_text().replace("Costs & Scale", "Costs"))
    assert generate.main(["--check"]) == 1


def test_every_dashboard_is_committed_and_loads_into_the_sdk_model(dashboards):
    assert set(dashboards) == set(DASHBOARDS)
    assert {d["title"] for d in dashboards.values()} == TITLES
    for name, data in dashboards.items():
        model = dm.Dashboard.from_json(data)
        # nothing lost or invented by a round trip through the SDK's model
        assert json.loads(json.dumps(model, cls=JSONEncoder)) == data, name


def test_grafana_alert_rule_payloads_load_into_the_sdk_model(grafana_rules, rule_file):
    alerts = [r["alert"] for r in rule_file["groups"][0]["rules"]]
    assert [r["title"] for r in grafana_rules] == alerts
    uids = [r["uid"] for r in grafana_rules]
    assert len(set(uids)) == len(uids) and all(len(u) <= 40 for u in uids)
    for data in grafana_rules:
        rule = am.Rule.from_json(data)
        assert rule.condition == "C" and [q.ref_id for q in rule.data] == ["A", "B", "C"]
        assert rule.no_data_state == "OK" and rule.for_val


def test_variables_and_links(dashboards):
    """environment (the datasource: one workspace per environment), organization and runner on
    every dashboard; links and data links only point to dashboards that exist."""
    uids = {pair[0] for pair in UIDS.values()}
    assert {d["uid"] for d in dashboards.values()} == uids
    for name, d in dashboards.items():
        variables = {v["name"]: v for v in d["templating"]["list"]}
        assert list(variables)[:3] == ["environment", "organization", "runner"], name
        assert variables["environment"]["type"] == "datasource"
        assert variables["environment"]["query"] == "prometheus"
        text = json.dumps(d)
        for uid in set(re.findall(r"/d/([a-z0-9-]+)/", text)):
            assert uid in uids, (name, uid)
    # All Runners Status links each runner's row to its Runner Health Overview
    table = next(p for p in dashboards["all-runners-status"]["panels"] if p["title"] == "Runners" and p["type"] == "table")
    url = table["fieldConfig"]["defaults"]["links"][0]["url"]
    assert url.startswith("/d/kubiya-runner-health/") and "var-runner=${__data.fields.runner}" in url
    # the costs dashboard prices samples with a variable
    costs = {v["name"] for v in dashboards["costs-and-scale"]["templating"]["list"]}
    assert "price_per_10m_samples" in costs
