"""kubiya.runners.grafana_stale, grafana_contact_points(_stale), grafana_policy_tree: which
Grafana objects the grafana role must write."""
from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.kubiya.runners.plugins.filter.grafana_plan import (
    grafana_contact_points, grafana_contact_points_stale, grafana_policy_tree, grafana_stale)

DASH = {"uid": "d1", "title": "T", "panels": [{"type": "stat"}]}


def _read(status, item, json=None):
    return {"status": status, "item": item, "json": json or {}}


def test_missing_objects_are_written():
    assert grafana_stale([_read(404, DASH, {"message": "Dashboard not found"})], section="dashboard") == ["d1"]


def test_fields_grafana_adds_are_not_compared():
    current = {"dashboard": {**DASH, "id": 7, "version": 3}, "meta": {"folderUid": "f"}}
    assert grafana_stale([_read(200, DASH, current)], section="dashboard", folder="f") == []


def test_a_changed_field_or_another_folder_is_written():
    edited = {"dashboard": {**DASH, "title": "edited", "version": 4}, "meta": {"folderUid": "f"}}
    moved = {"dashboard": {**DASH, "uid": "d2"}, "meta": {"folderUid": "other"}}
    results = [_read(200, DASH, edited), _read(200, {**DASH, "uid": "d2"}, moved)]
    assert grafana_stale(results, section="dashboard", folder="f") == ["d1", "d2"]


def test_nested_difference_counts():
    current = {**DASH, "panels": [{"type": "table"}]}
    assert grafana_stale([_read(200, DASH, current)]) == ["d1"]


@pytest.mark.parametrize("bad", [{"results": []}, [_read(500, DASH)]])
def test_bad_input_is_named(bad):
    with pytest.raises(AnsibleFilterError, match="grafana_stale"):
        grafana_stale(bad)


# ---- contact points and the notification policy tree

HOOK = {"name": "oncall", "type": "webhook", "url": "https://h.example.invalid", "password": "pw", "username": "u"}


def test_contact_point_payloads_are_named_per_environment():
    out = grafana_contact_points([HOOK, {"name": "mail", "type": "email", "addresses": ["a@x", "b@x"]}], "production")
    assert out["problems"] == []
    hook, mail = out["payloads"]
    assert hook == {"uid": "kr-production-oncall", "name": "kubiya-runners-production-oncall", "type": "webhook",
                    "settings": {"url": "https://h.example.invalid", "httpMethod": "POST", "username": "u",
                                 "password": "pw"}, "disableResolveMessage": False}
    assert mail["settings"] == {"addresses": "a@x;b@x", "singleEmail": False}
    assert len(hook["uid"]) <= 40 and len("kr-production-" + "x" * 20) <= 40


@pytest.mark.parametrize("cps, receivers, problem", [
    ([{**HOOK, "type": "slack"}], (), "grafana_contact_points[0] (oncall).type must be one of webhook, email"),
    ([{**HOOK, "url": ""}], (), "grafana_contact_points[0] (oncall): type webhook needs url"),
    ([{**HOOK, "url": "ftp://x"}], (), "url must be an http(s):// URL"),
    ([{**HOOK, "username": ""}], (), "username and password go together"),
    ([{**HOOK, "authorization_credentials": "t"}], (), "not both"),
    ([{"name": "m", "type": "email", "addresses": []}], (), "type email needs addresses"),
    ([{**HOOK, "name": "Has Spaces"}], (), "grafana_contact_points[0].name must match"),
    ([HOOK, HOOK], (), "name given twice"),
    ([HOOK], [("grafana_notification_receiver", "ghost")], "grafana_notification_receiver=ghost is not the name"),
])
def test_contact_point_problems_name_the_variable_not_the_secret(cps, receivers, problem):
    out = grafana_contact_points(cps, "staging", receivers)
    assert any(problem in p for p in out["problems"]), out["problems"]
    assert all("'pw'" not in p and '"pw"' not in p for p in out["problems"])


def test_contact_points_stale_compares_secrets_as_grafana_answers_them():
    (payload,) = grafana_contact_points([HOOK], "staging")["payloads"]
    held = {**payload, "settings": {**payload["settings"], "password": "[REDACTED]"}, "provenance": ""}
    assert grafana_contact_points_stale([held], [payload]) == []
    assert grafana_contact_points_stale([], [payload]) == ["kr-staging-oncall"]
    moved = {**held, "settings": {**held["settings"], "url": "https://other.example.invalid"}}
    assert grafana_contact_points_stale([moved], [payload]) == ["kr-staging-oncall"]
    no_secret = {**held, "settings": {k: v for k, v in held["settings"].items() if k != "password"}}
    assert grafana_contact_points_stale([no_secret], [payload]) == ["kr-staging-oncall"]
    with pytest.raises(AnsibleFilterError, match="grafana_contact_points_stale"):
        grafana_contact_points_stale({"message": "x"}, [payload])


ROOT = {"receiver": "grafana-default-email", "group_by": ["grafana_folder", "alertname"], "provenance": "api"}
FOREIGN = {"receiver": "other", "object_matchers": [["team", "=", "other"]]}


def test_policy_tree_puts_the_environment_route_first_and_keeps_the_rest():
    out = grafana_policy_tree({**ROOT, "routes": [FOREIGN]}, "Kubiya runners (staging)", "r-staging", "r-crit")
    assert out["changed"]
    tree = out["tree"]
    assert "provenance" not in tree and tree["receiver"] == "grafana-default-email"
    assert tree["routes"][1] == FOREIGN
    ours = tree["routes"][0]
    assert ours["object_matchers"] == [["team", "=", "kubiya-runners"], ["grafana_folder", "=", "Kubiya runners (staging)"]]
    assert ours["routes"] == [{"receiver": "r-crit", "object_matchers": [["severity", "=", "critical"]]}]
    # held as computed (Grafana adds provenance): unchanged
    again = grafana_policy_tree({**tree, "provenance": ""}, "Kubiya runners (staging)", "r-staging", "r-crit")
    assert again == {"tree": tree, "changed": False}
    # production's route is added beside staging's, not over it
    prod = grafana_policy_tree(tree, "Kubiya runners (production)", "r-prod")["tree"]
    assert [r["receiver"] for r in prod["routes"]] == ["r-prod", "r-staging", "other"]
    # a changed receiver replaces the route in place
    moved = grafana_policy_tree(prod, "Kubiya runners (staging)", "r-new")["tree"]
    assert [r["receiver"] for r in moved["routes"]] == ["r-prod", "r-new", "other"]
    assert "routes" not in moved["routes"][1]


@pytest.mark.parametrize("current, kwargs, match", [
    ({}, {}, "no root receiver"),
    (ROOT, {"group_wait": "soon"}, "grafana_notification_group_wait"),
])
def test_policy_tree_bad_input_is_named(current, kwargs, match):
    with pytest.raises(AnsibleFilterError, match=match):
        grafana_policy_tree(current, "F", "r", **kwargs)
