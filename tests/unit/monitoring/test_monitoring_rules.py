"""The alert rules: the rendered rule file passes `promtool check rules`, and its unit tests
(series fixtures per rule, evaluation times where it must not fire and where it must) pass
`promtool test rules`; a broken rule or expectation makes promtool fail."""
from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml

from monitoring import alerts, generate

PROMTOOL = shutil.which("promtool")
pytestmark = pytest.mark.skipif(PROMTOOL is None, reason="promtool (Debian package prometheus) not installed")


def _write(tmp_path, params=alerts.Params(), tests=None):
    (tmp_path / generate.RULE_FILE).write_text(generate._yaml(alerts.render_prometheus(params)))
    t = tests or alerts.render_promtool_tests(generate.RULE_FILE, params)
    (tmp_path / "test.yml").write_text(generate._yaml(t))
    return tmp_path


def _promtool(*args, cwd):
    return subprocess.run([PROMTOOL, *args], cwd=cwd, capture_output=True, text=True, timeout=120,
                          check=False)


def test_committed_rule_file_passes_promtool_check():
    res = _promtool("check", "rules", "kubiya-runners.rules.yml", cwd=generate.OUT / "rules")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "SUCCESS: %d rules found" % len(alerts.rules()) in res.stdout


@pytest.mark.slow
def test_committed_promtool_unit_tests_pass():
    res = _promtool("test", "rules", "kubiya-runners.rules.test.yml", cwd=generate.OUT / "rules")
    assert res.returncode == 0, res.stdout + res.stderr


def test_every_rule_has_a_firing_and_a_quiet_expectation():
    required = {"KubiyaRunnerComponentDown", "KubiyaRunnerPodNotReady",
                "KubiyaRunnerComponentRestarting", "KubiyaRunnerMetricsStale",
                "KubiyaCollectorRemoteWriteFailing", "KubiyaRunnerActiveSeriesHigh",
                "KubiyaRunnerSeriesVolumeIncrease", "KubiyaWorkspaceActiveSeriesHigh",
                "KubiyaWorkspaceIngestionHigh"}
    assert {r.alert for r in alerts.rules()} == required
    for r in alerts.rules():
        expects = [step[1] for c in r.cases for step in c.expect]
        assert any(expects) and any(not e for e in expects), r.alert


@pytest.mark.slow
def test_a_wrong_expectation_fails(tmp_path):
    """promtool really checks the expectations: claim the stale alert never fires."""
    t = alerts.render_promtool_tests(generate.RULE_FILE)
    case = next(c for c in t["tests"] if c["name"].startswith("KubiyaRunnerMetricsStale"))
    next(c for c in case["alert_rule_test"] if c["exp_alerts"])["exp_alerts"] = []
    t["tests"] = [case]
    res = _promtool("test", "rules", "test.yml", cwd=_write(tmp_path, tests=t))
    assert res.returncode != 0 and "KubiyaRunnerMetricsStale" in res.stdout + res.stderr


def test_a_broken_expression_fails_promtool_check(tmp_path):
    bad = alerts.render_prometheus()
    bad["groups"][0]["rules"][0]["expr"] += " >"
    (tmp_path / "bad.yml").write_text(yaml.safe_dump(bad))
    assert _promtool("check", "rules", "bad.yml", cwd=tmp_path).returncode != 0


@pytest.mark.slow
def test_thresholds_are_parameters(tmp_path):
    """A lower series threshold renders into the rule and its tests (what operators tune)."""
    p = alerts.Params(series_per_runner=300)
    rule = next(r for r in alerts.render_prometheus(p)["groups"][0]["rules"]
                if r["alert"] == "KubiyaRunnerActiveSeriesHigh")
    assert rule["expr"].endswith("> 300")
    t = alerts.render_promtool_tests(generate.RULE_FILE, p)
    t["tests"] = [c for c in t["tests"] if c["name"].startswith("KubiyaRunnerActiveSeriesHigh")]
    res = _promtool("test", "rules", "test.yml", cwd=_write(tmp_path, p, t))
    assert res.returncode == 0, res.stdout + res.stderr
