"""charts/kubiya-runner/metrics-checks.yaml: every default check is valid for
kubiya.runners.metrics_delivery and names only labels the chart delivers."""
from __future__ import annotations

import re

import pytest
import yaml
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.kubiya.runners.plugins.module_utils import delivery, promql
from ansible_collections.kubiya.runners.plugins.modules import metrics_delivery

import chartlib

DOC = yaml.safe_load((chartlib.CHART / "metrics-checks.yaml").read_text())
LISTS = {"checks": DOC["checks"], "workflowEngine": DOC["workflowEngine"],
         **{f"collectors.{k}": v for k, v in DOC["collectors"].items()}}
ALL = [(where, c) for where, checks in LISTS.items() for c in checks]
DELIVERED_LABELS = {"organization", "runner", "namespace", "component", "pod", "container"}


def test_layout():
    assert set(DOC) == {"checks", "collectors", "workflowEngine"}
    # one list per value of telemetry.collector
    schema = chartlib.json.loads((chartlib.CHART / "values.schema.json").read_text())
    assert set(DOC["collectors"]) == set(schema["properties"]["telemetry"]["properties"]["collector"]["enum"])


@pytest.mark.parametrize("where", sorted(LISTS))
def test_every_list_passes_the_module_argument_spec(where):
    """The module's own argument validation (types, unknown keys, metric xor promql)."""
    args = {"url": "http://127.0.0.1:9", "runner": "r", "organization": "o", "checks": LISTS[where]}
    result = ArgumentSpecValidator(metrics_delivery.argument_spec(),
                                   required_if=metrics_delivery.PROMETHEUS_REQUIRED_IF).validate(args)
    assert not result.error_messages, result.error_messages


@pytest.mark.parametrize("where,check", ALL, ids=[f"{w}:{c['name']}" for w, c in ALL])
def test_every_check_builds_with_a_metric_name_in_each_selector(where, check):
    built = delivery.build_check(check, delivery.scope_matchers("r", "o"), 300)
    assert built.selectors
    for sel in built.selectors:
        parsed = promql.parse_selector(sel)
        assert parsed.metric, sel   # Azure Monitor workspaces require a metric name
        assert 'runner="r"' in sel and 'organization="o"' in sel
    assert set(check.get("required_labels", [])) <= DELIVERED_LABELS, check["name"]
    assert "max_age" not in check  # left to the caller (depends on the scrape interval)


def test_names_are_unique_per_collector():
    for collector, extra in DOC["collectors"].items():
        names = [c["name"] for c in DOC["checks"] + extra + DOC["workflowEngine"]]
        assert len(names) == len(set(names)), collector


def test_every_scraped_job_and_component_is_checked(default_docs):
    text = yaml.safe_dump(DOC)
    for job in ("kubiya-runner", "kube-state-metrics", "alloy"):
        assert f'job="{job}"' in text
    deployed = {chartlib.component(d) for d in default_docs
                if d["kind"] in ("Deployment", "StatefulSet")}
    ready = set(re.findall(r'kube_pod_status_ready\{condition="true",component="([a-z-]+)"\}',
                           yaml.safe_dump(DOC["checks"])))
    assert ready == deployed
