"""kubiya.runners.grafana_stale: which Grafana objects the grafana role must write."""
from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.kubiya.runners.plugins.filter.grafana_plan import grafana_stale

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
