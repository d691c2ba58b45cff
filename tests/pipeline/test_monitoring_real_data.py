"""Issue 11 item 4: every dashboard query and every alert rule, on the real pipeline.

The chart's pipeline runs as in test_pipeline.py (kube-state-metrics, stand-in apps, the
Prometheus agent-mode collector remote-writing over OAuth2 to the central Prometheus). Then:

* every dashboard query (Grafana variables set to this runner) and every template variable
  runs against the central Prometheus: each parses and each returns data, except the queries
  monitoring.common.OPTIONAL_DATA names with the reason (Alloy-only probes, "no pod is not
  Ready", a day of history);
* the rendered rule file is loaded into a rule evaluator: a Debian Prometheus with no scrape
  target that reads the central Prometheus through remote read (read_recent) and evaluates the
  rules every 5 s. A healthy runner fires nothing; lowering the series threshold fires
  KubiyaRunnerActiveSeriesHigh; agent-manager scaled to zero fires KubiyaRunnerComponentDown;
  the collector killed fires KubiyaRunnerMetricsStale. Rule ``for`` durations are cut to 10 s
  here (their timing is proven by the promtool unit tests); stale_after is 60 s, the pipeline's
  15 s interval x 2 + 30 s.
"""
from __future__ import annotations

import json
import shutil
import signal
import socket
import sys
import time
import urllib.request

import pytest
import yaml

import pipelinelib
from central import client
from testlib import REPO

if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from monitoring import alerts, common, generate, lint  # noqa: E402

pytestmark = [pytest.mark.cluster, pytest.mark.central, pytest.mark.slow]
DASHBOARDS = generate.OUT / "dashboards"
RULER = shutil.which("prometheus") or "/usr/bin/prometheus"
TIMES: dict[str, float] = {}


def _params(**kw) -> alerts.Params:
    return alerts.Params(stale_after=60, **kw)


def _rule_file(params: alerts.Params) -> str:
    rendered = alerts.render_prometheus(params)
    for r in rendered["groups"][0]["rules"]:
        r["for"] = "10s"
    rendered["groups"][0]["interval"] = "5s"
    return yaml.safe_dump(rendered)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Ruler:
    """A rule evaluator over the central Prometheus (remote read), by PID."""

    def __init__(self, procs, workdir, central_url: str):
        self.procs, self.dir, self.port = procs, workdir / "ruler", _free_port()
        self.dir.mkdir(exist_ok=True)
        (self.dir / "prometheus.yml").write_text(yaml.safe_dump({
            "global": {"evaluation_interval": "5s"},
            "rule_files": [str(self.dir / "rules.yml")],
            "remote_read": [{"url": central_url.rstrip("/") + "/api/v1/read", "read_recent": True}]}))

    def start(self, params: alerts.Params) -> None:
        (self.dir / "rules.yml").write_text(_rule_file(params))
        self.procs.start("ruler", [RULER, "--config.file=%s" % (self.dir / "prometheus.yml"),
                                   "--storage.tsdb.path=%s" % (self.dir / "data"),
                                   "--web.listen-address=127.0.0.1:%d" % self.port,
                                   "--web.enable-lifecycle"])
        pipelinelib.wait_for(lambda: pipelinelib.http_get(self.url("/-/ready"))[0] == 200, 60,
                             "rule evaluator ready")

    def reload(self, params: alerts.Params) -> None:
        (self.dir / "rules.yml").write_text(_rule_file(params))
        req = urllib.request.Request(self.url("/-/reload"), method="POST")
        with urllib.request.urlopen(req, timeout=10) as r:  # noqa: S310 (loopback)
            assert r.status == 200

    def url(self, path: str) -> str:
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def firing(self, runner: str) -> set[str]:
        """Alerts firing for this runner, and workspace-wide ones (no runner label)."""
        with urllib.request.urlopen(self.url("/api/v1/alerts"), timeout=10) as r:  # noqa: S310
            data = json.load(r)["data"]["alerts"]
        return {a["labels"]["alertname"] for a in data if a["state"] == "firing"
                and a["labels"].get("runner", runner) == runner}

    def rule_health(self) -> dict[str, str]:
        with urllib.request.urlopen(self.url("/api/v1/rules"), timeout=10) as r:  # noqa: S310
            groups = json.load(r)["data"]["groups"]
        return {r["name"]: r["health"] + (": " + r.get("lastError", "") if r.get("lastError") else "")
                for g in groups for r in g["rules"]}


@pytest.fixture(scope="module")
def ruler(pipeline):
    r = Ruler(pipeline.procs, pipeline.workdir, pipeline.central.prometheus_url)
    r.start(_params())
    yield r
    pipeline.procs.stop("ruler")


def _wait_firing(ruler, pipeline, alert: str, since: float, timeout: float) -> float:
    pipelinelib.wait_for(lambda: alert in ruler.firing(pipeline.runner), timeout,
                         "%s firing (rules: %s)" % (alert, ruler.rule_health()), 2)
    return time.time() - since


def _values(pipeline) -> dict[str, str]:
    return {"organization": pipeline.organization, "runner": pipeline.runner}


@pytest.mark.timeout(400)
def test_every_dashboard_query_returns_data_on_a_healthy_runner(pipeline):
    pipeline.wait_delivered(timeout=150)
    time.sleep(45)   # three more scrapes: rate() windows hold enough samples
    prom = pipeline.central.prometheus_url
    generate.artefacts()   # building the dashboards fills common.OPTIONAL_DATA
    results, missing = {}, []
    for path in sorted(DASHBOARDS.glob("*.json")):
        for q in lint.dashboard_queries(json.loads(path.read_text())):
            expr = lint.substitute(q.expr, _values(pipeline))
            if q.kind == "variable":   # label_values(<selector>, <label>) = the label's values
                m = lint.LABEL_VALUES.match(expr)
                expr = "count by (%s) (%s)" % (m.group("label"), m.group("selector"))
            assert not lint.errors(q), (q.source, lint.errors(q))
            got = client.query(prom, expr)
            results[q.source + " :: " + q.expr] = len(got)
            if not got and q.expr not in common.OPTIONAL_DATA:
                missing.append("%s: %s" % (q.source, expr))
            if q.kind == "variable" and "runner)" in q.expr:
                assert pipeline.runner in {r["metric"]["runner"] for r in got}
    with_data = sum(1 for n in results.values() if n)
    print("\n%d queries, %d returned data, %d optional without data"
          % (len(results), with_data, len(results) - with_data))
    assert not missing, "\n".join(missing)
    assert with_data >= len(results) - len(common.OPTIONAL_DATA)


@pytest.mark.timeout(300)
def test_healthy_runner_fires_nothing_and_every_rule_evaluates(pipeline, ruler):
    pipeline.wait_delivered(timeout=150)
    time.sleep(30)   # several evaluations (5 s) past the 10 s `for`
    health = ruler.rule_health()
    assert set(health) == {r.alert for r in alerts.rules()}
    assert all(h == "ok" for h in health.values()), health
    assert ruler.firing(pipeline.runner) == set()
    # every rule expression names its metric and is evaluated on real series: the ones that
    # select this runner's data return it when the comparison is dropped
    for r in alerts.render_prometheus()["groups"][0]["rules"]:
        assert not lint.selector_errors(r["expr"]), r["alert"]


@pytest.mark.timeout(200)
def test_series_threshold_lowered_fires_the_volume_alert(pipeline, ruler):
    start = time.time()
    ruler.reload(_params(series_per_runner=100))
    TIMES["KubiyaRunnerActiveSeriesHigh"] = _wait_firing(
        ruler, pipeline, "KubiyaRunnerActiveSeriesHigh", start, 120)
    ruler.reload(_params())
    pipelinelib.wait_for(lambda: "KubiyaRunnerActiveSeriesHigh" not in ruler.firing(pipeline.runner),
                         60, "the volume alert resolved at the default threshold", 2)


@pytest.mark.timeout(300)
def test_component_scaled_to_zero_fires_component_down(pipeline, ruler):
    deployment = next(d["metadata"]["name"] for d in pipeline.manifest if d["kind"] == "Deployment"
                      and d["metadata"]["labels"].get("app.kubernetes.io/component") == "agent-manager")
    start = time.time()
    pipeline.kubectl("scale", "deployment", deployment, "-n", pipeline.namespace, "--replicas=0")
    try:
        TIMES["KubiyaRunnerComponentDown"] = _wait_firing(
            ruler, pipeline, "KubiyaRunnerComponentDown", start, 200)
        with urllib.request.urlopen(ruler.url("/api/v1/alerts"), timeout=10) as r:  # noqa: S310
            down = [a["labels"] for a in json.load(r)["data"]["alerts"]
                    if a["labels"]["alertname"] == "KubiyaRunnerComponentDown" and a["state"] == "firing"
                    and a["labels"].get("runner") == pipeline.runner]
        assert {a["component"] for a in down} == {"agent-manager"}, down
        assert down[0]["organization"] == pipeline.organization
        assert down[0]["namespace"] == pipeline.namespace
    finally:
        pipeline.kubectl("scale", "deployment", deployment, "-n", pipeline.namespace, "--replicas=1")


@pytest.mark.timeout(300)
def test_collector_stopped_fires_metrics_stale(pipeline, ruler):
    """Last: the collector is killed (SIGKILL) and not restarted."""
    assert "KubiyaRunnerMetricsStale" not in ruler.firing(pipeline.runner)
    start = time.time()
    pipeline.stop_agent(signal.SIGKILL)
    TIMES["KubiyaRunnerMetricsStale"] = _wait_firing(
        ruler, pipeline, "KubiyaRunnerMetricsStale", start, 200)
    # 60 s stale_after + up to one 15 s interval + a 1 m subquery step + 10 s for + evaluation
    assert TIMES["KubiyaRunnerMetricsStale"] <= 60 + 15 + 60 + 10 + 30, TIMES
    print("\ntimes to fire: %s" % {k: round(v) for k, v in TIMES.items()})
