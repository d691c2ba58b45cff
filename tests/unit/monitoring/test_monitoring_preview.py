"""monitoring/preview.py (make dashboards-preview) against a tiny local HTTP server answering
the Prometheus HTTP API.

The server is a stand-in for the API's shape only (series, query, query_range answers and
error bodies); what the queries return on real data is proven by
tests/pipeline/test_monitoring_real_data.py against the real central Prometheus.
"""
from __future__ import annotations

import json
import re
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from monitoring import preview

from testlib import REPO

FILES = REPO / "roles" / "grafana" / "files"

END = 1_800_000_000.0
RUNNERS = [{"__name__": "kube_pod_status_ready", "organization": "acme", "runner": "zeta-runner"},
           {"__name__": "kube_pod_status_ready", "organization": "acme", "runner": "acme-runner"},
           {"__name__": "kube_pod_status_ready", "organization": "beta", "runner": "beta-runner"}]


class FakePrometheus:
    """Answers /api/v1/series, /query and /query_range; records every request. ``empty``:
    expressions containing one of these strings return no series; ``broken``: a 400 with a
    PromQL error body, as Prometheus answers a bad query."""

    def __init__(self, empty=(), broken=()):
        self.requests: list[tuple[str, dict[str, list[str]]]] = []
        self.empty, self.broken = empty, broken
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                url = urllib.parse.urlsplit(self.path)
                params = urllib.parse.parse_qs(url.query)
                fake.requests.append((url.path, params))
                code, body = fake.answer(url.path, params)
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answer(self, path, params):
        if path == "/api/v1/series":
            sel = params["match[]"][0]
            org = re.search(r'organization=~"([^"]*)"', sel)
            return 200, {"status": "success", "data": [
                r for r in RUNNERS if not org or re.fullmatch(org.group(1), r["organization"])]}
        expr = params["query"][0]
        if any(b in expr for b in self.broken):
            return 400, {"status": "error", "errorType": "bad_data", "error": "parse error in %s" % expr}
        if any(e in expr for e in self.empty):
            return 200, {"status": "success", "data": {"resultType": "matrix" if path.endswith("range")
                                                       else "vector", "result": []}}
        metric = {"organization": "acme", "runner": "acme-runner", "component": "agent-manager",
                  "code": "200", "pod": "p-1", "job": "alloy"}
        if path == "/api/v1/query":
            return 200, {"status": "success", "data": {"resultType": "vector", "result": [
                {"metric": metric, "value": [float(params["time"][0]), "0.5"]}]}}
        start, end, step = (float(params[k][0]) for k in ("start", "end", "step"))
        n = int((end - start) // step) + 1
        return 200, {"status": "success", "data": {"resultType": "matrix", "result": [
            {"metric": metric, "values": [[start + i * step, str(0.25 + i / n)] for i in range(n)]}]}}

    def queries(self):
        return [p["query"][0] for path, p in self.requests if "query" in p]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake():
    f = FakePrometheus()
    yield f
    f.close()


def _render(fake, name, tmp_path=None, **kw):
    dashboard = json.loads((FILES / "dashboards" / ("%s.json" % name)).read_text())
    out = tmp_path / ("%s.png" % name) if tmp_path else None
    return preview.render_dashboard(dashboard, preview.Prometheus(fake.url), out, end=END,
                                    window=1800, **kw)


def test_every_panel_of_every_committed_dashboard_gets_a_cell_and_a_png(fake, tmp_path, dashboards):
    assert preview.main(["--prometheus-url", fake.url, "--out", str(tmp_path), "--end", str(END), "--dpi", "30"]) == 0
    for name, data in dashboards.items():
        png = tmp_path / ("%s.png" % name)
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
        cells = _render(fake, name)
        expected = [(p.get("id"), p.get("title")) for p in data["panels"]]
        assert [(c.panel_id, c.title) for c in cells] == expected, name
        assert all(c.has_data for c in cells if c.type != "row"), name


def test_variables_are_resolved_the_way_grafana_does_on_first_load(fake):
    _render(fake, "agent-manager")
    series = [p["match[]"][0] for path, p in fake.requests if path == "/api/v1/series"]
    # $organization (include all) is its allValue inside the runner variable's selector
    assert series == ["kube_pod_status_ready", 'kube_pod_status_ready{organization=~".*"}']
    queries = fake.queries()
    assert queries and not [q for q in queries if "$" in q]
    # agent-manager's runner variable is single-valued: the first runner, sorted ascending
    assert all('runner=~"acme-runner"' in q for q in queries), queries
    # 30 min / 240 points -> 15 s step; $__rate_interval = max(step + 15 s, 4 x 15 s) = 1 m
    assert any("[1m]" in q for q in queries) and not [q for q in queries if "__rate_interval" in q]
    ranges = [p for path, p in fake.requests if path == "/api/v1/query_range"]
    assert {p["step"][0] for p in ranges} == {"15"}
    assert {float(p["end"][0]) - float(p["start"][0]) for p in ranges} == {1800}


def test_textbox_variables_take_their_default_and_overrides_win(fake):
    _render(fake, "costs-and-scale", overrides={"runner": "beta-runner,acme-runner", "organization": "All"})
    cost = [q for q in fake.queries() if "43200" in q]
    assert cost and all(re.search(r"\* 0\.16\)?$", q) for q in cost), cost   # $price_per_10m_samples
    assert any(q.endswith("/ 1000000") for q in fake.queries())     # $series_limit default
    assert all('runner=~"(beta-runner|acme-runner)"' in q for q in fake.queries())
    assert all('organization=~".*"' in q for q in fake.queries())


@pytest.mark.parametrize(("unit", "value", "text"), [
    ("short", 1234, "1.23 K"), ("short", 3, "3"), ("short", 0.5, "0.500"),
    ("percentunit", 0.0512, "5.12%"), ("percent", 42, "42%"),
    ("bytes", 1.5 * 1024 * 1024, "1.50 MiB"), ("s", 0.25, "250 ms"), ("s", 42, "42 s"),
    ("s", 90, "1.50 min"), ("reqps", 1.5, "1.50 req/s"), ("cps", 2500, "2.50K c/s"),
    ("currencyUSD", 12.3, "$12.3"), ("currencyUSD", 2500, "$2.50K"),
    ("cores", 0.012, "0.0120 cores"), (None, 7, "7"), ("short", None, "No data"),
])
def test_units_are_formatted_as_grafana_does(unit, value, text):
    assert preview.format_value(value, unit) == text


def test_every_unit_the_dashboards_use_is_implemented(dashboards):
    units = {p.get("fieldConfig", {}).get("defaults", {}).get("unit") for d in dashboards.values()
             for p in d["panels"]} - {None}
    units |= {pr["value"] for d in dashboards.values() for p in d["panels"]
              for o in p.get("fieldConfig", {}).get("overrides", []) for pr in o["properties"]
              if pr["id"] == "unit"}
    custom = {"cores"}   # not a Grafana unit id: Grafana shows it as a suffix, and so does the preview
    assert units - custom <= set(preview.UNITS), units - set(preview.UNITS)


def test_threshold_colours_and_value_mappings():
    steps = {"mode": "absolute", "steps": [{"color": "green", "value": None},
                                           {"color": "orange", "value": 1}, {"color": "red", "value": 5}]}
    assert preview.threshold_colour(0, steps) == preview.NAMED_COLOURS["green"]
    assert preview.threshold_colour(1, steps) == preview.NAMED_COLOURS["orange"]
    assert preview.threshold_colour(7, steps) == preview.NAMED_COLOURS["red"]
    assert preview.threshold_colour(None, steps) is None
    mappings = [{"type": "value", "options": {"0": {"color": "green", "text": "OK"}}},
                {"type": "range", "options": {"from": 1, "to": 1e12, "result": {"color": "red", "text": "DEGRADED"}}}]
    assert preview.map_value(0.0, mappings) == ("OK", preview.NAMED_COLOURS["green"])
    assert preview.map_value(3.0, mappings) == ("DEGRADED", preview.NAMED_COLOURS["red"])


def test_table_merges_targets_and_applies_organize(fake, dashboards):
    cells = _render(fake, "all-runners-status")
    panel = next(p for p in dashboards["all-runners-status"]["panels"] if p["type"] == "table")
    cell = next(c for c in cells if c.type == "table")
    columns, rows = preview.table_rows(panel, cell)
    assert columns[-6:] == ["State (pods not Ready)", "Ready pods", "Restarts 1h", "Collector up",
                            "Newest sample age (s)", "Active series"]
    assert len(rows) == 1 and rows[0][-1] == 0.5


def test_no_data_is_counted_and_a_query_error_exits_non_zero(tmp_path, capsys):
    fake = FakePrometheus(empty=("probe_success",))
    try:
        assert preview.main(["--prometheus-url", fake.url, "--out", str(tmp_path), "--end", str(END),
                             "--dpi", "30", "agent-manager"]) == 0
        out = capsys.readouterr().out
        assert re.search(r"agent-manager +9 panels:  8 with data,  1 no data, 0 query errors", out), out
        assert "no data: Health probe /healthz" in out
    finally:
        fake.close()
    fake = FakePrometheus(broken=("http_requests_total",))
    try:
        assert preview.main(["--prometheus-url", fake.url, "--out", str(tmp_path), "--end", str(END),
                             "--dpi", "30", "agent-manager"]) == 1
        err = capsys.readouterr().err
        assert "query error in 'Requests by status code': bad_data: parse error" in err
    finally:
        fake.close()


def test_an_unreachable_prometheus_exits_2(tmp_path, capsys):
    fake = FakePrometheus()
    url = fake.url
    fake.close()
    assert preview.main(["--prometheus-url", url, "--out", str(tmp_path), "agent-manager"]) == 2
    assert "cannot reach the Prometheus" in capsys.readouterr().err


def test_readme_shows_a_committed_preview_of_every_dashboard():
    """Each committed dashboard has its PNG in docs/previews (a real PNG, drawn by make
    dashboards-preview) and the README shows it: a new dashboard without a preview fails."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    stems = sorted(p.stem for p in (FILES / "dashboards").glob("*.json"))
    assert stems
    for stem in stems:
        png = REPO / "docs" / "previews" / (stem + ".png")
        assert png.is_file(), "no preview for dashboard %s: run make demo, then make dashboards-preview" % stem
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", png
        assert "](docs/previews/%s.png)" % stem in readme, "README does not show %s" % png.name
    extra = {p.stem for p in (REPO / "docs" / "previews").glob("*.png")} - set(stems)
    assert not extra, "previews of dashboards that no longer exist: %s" % sorted(extra)
