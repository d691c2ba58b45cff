"""Dashboard previews: each committed dashboard (roles/grafana/files/dashboards/*.json) drawn to
one PNG from a Prometheus, without Grafana (AGPL, not used here).

``make dashboards-preview`` (after ``make demo``) reads the committed JSON -- the same queries,
units, thresholds and value mappings Grafana gets, not a second definition -- resolves the
template variables the way Grafana does on first load (a datasource variable is the
Prometheus given; ``label_values(<selector>, <label>)`` through the series API, sorted, "All"
(its ``allValue``) for an include-all variable, the first value otherwise; textbox, constant and
custom variables their default; ``$__interval``/``$__rate_interval``/``$__range`` from the window
and the step), runs every panel's targets (``query_range`` over the window, ``query`` for
instant/table targets) and draws the panels on the dashboard's 24-column grid: timeseries as
lines with a legend, stat and gauge as the reduced (last non-null) value in the panel's unit and
threshold colour, tables as tables (merge + organize transformations, per-column unit,
thresholds and value mappings), rows as section headers. A panel without data says "No data".

Exit status: 0 when every query answered (with or without data), 1 when a query failed
(HTTP or PromQL error: the panel says "Query error" and the error is printed), 2 when the
Prometheus cannot be reached.

    python -m monitoring.preview [--prometheus-url URL] [--out DIR] [--range 30m]
                                 [--var runner=acme-runner] [--dpi 60] [dashboard ...]
"""
from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import math
import os
import re
import sys
import urllib.error
import urllib.parse
import urllib.request
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DASHBOARDS = REPO / "roles" / "grafana" / "files" / "dashboards"
OUT = REPO / "docs" / "previews"
DEFAULT_URL = "http://127.0.0.1:%s" % os.environ.get("KUBIYA_CENTRAL_PROMETHEUS_PORT", "39090")
SCRAPE_INTERVAL = 15          # Grafana's Prometheus datasource default ("15s")
DPI = 90                      # 1440 px wide: readable, about 100-200 KB a dashboard
MAX_POINTS = 240              # data points per series (Grafana: the panel's width in pixels)
ALL = "$__all"

# Grafana's named colours (packages/grafana-data/src/themes/palette, dark theme "main" shades)
NAMED_COLOURS = {
    "green": "#73BF69", "red": "#F2495C", "orange": "#FF9830", "yellow": "#FADE2A",
    "blue": "#5794F2", "purple": "#B877D9", "text": "#CCCCDC", "transparent": "#00000000",
}
# Grafana's classic palette, for series colours
PALETTE = ["#7EB26D", "#EAB839", "#6ED0E0", "#EF843C", "#E24D42", "#1F78C1", "#BA43A9",
           "#705DA0", "#508642", "#CCA300", "#447EBC", "#C15C17"]


class PrometheusUnreachable(Exception):
    pass


# ---- units: Grafana's value formats (packages/grafana-data/src/valueFormats) for the unit ids
# the dashboards use; an unknown id is a custom suffix, as in Grafana ("cores" -> "0.120 cores")
def _decimals(value: float) -> int:
    """Grafana's getDecimalsForValue: about two significant digits, none for integers."""
    if value == 0 or not math.isfinite(value):
        return 0
    log10 = math.floor(math.log10(abs(value)))
    dec = -log10 + 1
    norm = abs(value) / 10 ** -dec
    if norm > 2.25:
        dec += 1
    if value % 1 == 0:
        dec = 0
    return max(0, dec)


def _fixed(value: float) -> str:
    return "%.*f" % (_decimals(value), value)


def _scaled(value: float, factor: int, suffixes: list[str]) -> str:
    steps = 0
    while abs(value) >= factor:
        steps += 1
        value /= factor
        if steps >= len(suffixes):
            return "NA"
    return _fixed(value) + suffixes[steps]


def _seconds(value: float) -> str:
    a = abs(value)
    if a < 1:
        return _fixed(value * 1000) + " ms"
    for limit, div, name in ((60, 1, "s"), (3600, 60, "min"), (86400, 3600, "hour"),
                             (604800, 86400, "day"), (31536000, 604800, "week")):
        if a < limit:
            return _fixed(value / div) + " " + name
    return _fixed(value / 31536000) + " year"


SHORT = ["", " K", " Mil", " Bil", " Tri", " Quadr", " Quint", " Sext", " Sept"]
COUNT = ["", "K", "M", "B", "T"]
UNITS = {
    "none": _fixed,
    "short": lambda v: _scaled(v, 1000, SHORT),
    "percent": lambda v: _fixed(v) + "%",
    "percentunit": lambda v: _fixed(v * 100) + "%",
    "bytes": lambda v: _scaled(v, 1024, [" B", " KiB", " MiB", " GiB", " TiB", " PiB", " EiB"]),
    "decbytes": lambda v: _scaled(v, 1000, [" B", " kB", " MB", " GB", " TB", " PB", " EB"]),
    "s": _seconds,
    "ms": lambda v: _seconds(v / 1000),
    "reqps": lambda v: _scaled(v, 1000, COUNT) + " req/s",
    "cps": lambda v: _scaled(v, 1000, COUNT) + " c/s",
    "ops": lambda v: _scaled(v, 1000, COUNT) + " ops/s",
    "currencyUSD": lambda v: ("-$" if v < 0 else "$") + _scaled(abs(v), 1000, COUNT),
}


def format_value(value: float | None, unit: str | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "No data"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    fn = UNITS.get(unit or "none")
    if fn is None:                      # Grafana: an unknown unit id is a custom suffix
        return _fixed(value) + " " + unit
    return fn(value)


def colour(name: str) -> str:
    return NAMED_COLOURS.get(name, name)


def threshold_colour(value: float | None, thresholds: dict | None) -> str | None:
    """The colour of the highest step at or below ``value`` (the base step's value is null)."""
    if value is None or not thresholds:
        return None
    chosen = None
    for step in thresholds.get("steps", []):
        if step.get("value") is None or value >= step["value"]:
            chosen = step["color"]
    return colour(chosen) if chosen else None


def map_value(value: float | None, mappings: list[dict] | None) -> tuple[str | None, str | None]:
    """Grafana value mappings (value and range): (text, colour) or (None, None)."""
    if value is None:
        return None, None
    for m in mappings or []:
        if m.get("type") == "value":
            for key, res in m.get("options", {}).items():
                try:
                    if float(key) == value:
                        return res.get("text"), res.get("color") and colour(res["color"])
                except ValueError:
                    continue
        elif m.get("type") == "range":
            o = m.get("options", {})
            lo, hi = o.get("from"), o.get("to")
            if (lo is None or value >= lo) and (hi is None or value <= hi):
                res = o.get("result", {})
                return res.get("text"), res.get("color") and colour(res["color"])
    return None, None


# ---- Prometheus HTTP API
class Prometheus:
    def __init__(self, url: str, timeout: float = 30):
        self.url, self.timeout = url.rstrip("/"), timeout

    def get(self, path: str, **params) -> object:
        query = urllib.parse.urlencode([(k, x) for k, v in params.items()
                                        for x in (v if isinstance(v, list) else [v])])
        req = urllib.request.Request("%s%s?%s" % (self.url, path, query))
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as r:  # noqa: S310 (operator-given URL)
                body = json.load(r)
        except urllib.error.HTTPError as exc:
            try:
                body = json.load(exc)
            except ValueError:
                raise QueryError("HTTP %d from %s" % (exc.code, path)) from exc
        except (urllib.error.URLError, OSError) as exc:
            raise PrometheusUnreachable("%s: %s" % (self.url, exc)) from exc
        if body.get("status") != "success":
            raise QueryError("%s: %s" % (body.get("errorType", "error"), body.get("error", body)))
        return body["data"]


class QueryError(Exception):
    pass


# ---- template variables
def _regex_escape(value: str) -> str:
    """Grafana's prometheusSpecialRegexEscape: doubled backslashes, the text is a PromQL string."""
    return re.sub(r"([\\^$.|?*+()\[\]{}])", r"\\\\\1", value)


@dataclasses.dataclass
class Value:
    values: list[str]
    all_value: str | None = None
    regex: bool = False          # a multi-value or include-all variable: regex-escaped in queries

    def text(self, fmt: str | None = None) -> str:
        """The variable in a query, as Grafana's Prometheus datasource interpolates it."""
        if self.values == [ALL]:
            return self.all_value if self.all_value is not None else ".*"
        if fmt == "raw" or not self.regex:
            return ",".join(self.values) if fmt == "raw" else self.values[0]
        escaped = [_regex_escape(v) for v in self.values]
        return escaped[0] if len(escaped) == 1 else "(" + "|".join(escaped) + ")"


VARIABLE = re.compile(r"\$\{(\w+)(?::(\w+))?\}|\[\[(\w+)(?::(\w+))?\]\]|\$(\w+)")


@dataclasses.dataclass
class Variables:
    """Resolved variables by name; ``substitute`` puts them into a query."""
    values: dict[str, Value]

    def substitute(self, text: str) -> str:
        def one(m: re.Match) -> str:
            name = m.group(1) or m.group(3) or m.group(5)
            if name not in self.values:
                return m.group(0)
            return self.values[name].text(m.group(2) or m.group(4))
        return VARIABLE.sub(one, text)

    def display(self) -> str:
        return "  ".join("%s=%s" % (k, "All" if v.values == [ALL] else ",".join(v.values))
                         for k, v in self.values.items() if not k.startswith("__"))


LABEL_VALUES = re.compile(r"^\s*label_values\((?:(?P<selector>.+),\s*)?(?P<label>\w+)\s*\)\s*$", re.S)


def _duration(seconds: float) -> str:
    seconds = max(1, int(round(seconds)))
    for div, unit in ((86400, "d"), (3600, "h"), (60, "m")):
        if seconds % div == 0:
            return "%d%s" % (seconds // div, unit)
    return "%ds" % seconds


def resolve_variables(dashboard: dict, prom: Prometheus, start: float, end: float, step: float,
                      overrides: dict[str, str] | None = None, datasource: str = "local") -> Variables:
    """Resolve the dashboard's variables in order, as Grafana does on first load."""
    overrides = overrides or {}
    interval = _duration(step)
    resolved = Variables({
        "__interval": Value([interval]), "__interval_ms": Value([str(int(step * 1000))]),
        "__rate_interval": Value([_duration(max(step + SCRAPE_INTERVAL, 4 * SCRAPE_INTERVAL))]),
        "__range": Value([_duration(end - start)]), "__range_s": Value([str(int(end - start))]),
    })
    for v in dashboard.get("templating", {}).get("list", []):
        name, kind = v["name"], v.get("type")
        all_value = v.get("allValue")
        if name in overrides:
            given = overrides[name]
            vals = [ALL] if given in ("All", ALL) else given.split(",")
        elif kind == "datasource":
            vals = [datasource]
        elif kind == "query":
            q = v["query"]["query"] if isinstance(v.get("query"), dict) else v.get("query", "")
            m = LABEL_VALUES.match(q)
            if not m:
                raise QueryError("variable $%s: only label_values(...) is supported, got %r" % (name, q))
            label = m.group("label")
            selector = resolved.substitute(m.group("selector") or "{%s=~\".+\"}" % label)
            series = prom.get("/api/v1/series", **{"match[]": selector, "start": "%.3f" % start,
                                                   "end": "%.3f" % end})
            options = sorted({s[label] for s in series if label in s},
                             reverse=v.get("sort") in (2, 4, 6))
            if v.get("includeAll"):
                vals = [ALL]
            elif options:
                vals = [options[0]]
            else:
                vals = [""]
        elif kind in ("textbox", "constant"):
            cur = (v.get("current") or {}).get("value")
            vals = [cur if isinstance(cur, str) and cur else str(v.get("query", ""))]
        elif kind in ("custom", "interval"):
            cur = (v.get("current") or {}).get("value")
            opts = [o.strip() for o in str(v.get("query", "")).split(",") if o.strip()]
            if kind == "interval" and (cur == "$__auto" or v.get("auto")) and not cur:
                cur = interval
            vals = [cur] if isinstance(cur, str) and cur else (cur if isinstance(cur, list) else opts[:1])
            if v.get("includeAll") and not cur:
                vals = [ALL]
        else:
            vals = [str((v.get("current") or {}).get("value", ""))]
        resolved.values[name] = Value(vals, all_value, bool(v.get("multi") or v.get("includeAll")))
    return resolved


# ---- queries
@dataclasses.dataclass
class Series:
    labels: dict[str, str]
    times: list[float]
    values: list[float]


@dataclasses.dataclass
class TargetResult:
    ref: str
    expr: str             # as sent (variables substituted)
    series: list[Series]
    error: str | None = None


@dataclasses.dataclass
class Cell:
    """One panel as drawn: its type, title and what its targets returned."""
    panel_id: int | None
    type: str
    title: str
    targets: list[TargetResult]

    @property
    def has_data(self) -> bool:
        return any(t.series for t in self.targets)

    @property
    def error(self) -> str | None:
        return next((t.error for t in self.targets if t.error), None)


def _legend(fmt: str | None, labels: dict[str, str]) -> str:
    if fmt and fmt != "__auto":
        return re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: labels.get(m.group(1), ""), fmt)
    name = labels.get("__name__", "")
    rest = ", ".join('%s="%s"' % (k, v) for k, v in sorted(labels.items()) if k != "__name__")
    return name + ("{%s}" % rest if rest else "") if (name or rest) else "Value"


def run_target(prom: Prometheus, target: dict, variables: Variables, start: float, end: float,
               step: float) -> TargetResult:
    expr = variables.substitute(target["expr"])
    ref = target.get("refId", "A")
    try:
        if target.get("instant") or target.get("format") == "table":
            data = prom.get("/api/v1/query", query=expr, time="%.3f" % end)
            rows = [Series(r["metric"], [float(r["value"][0])], [float(r["value"][1])])
                    for r in data["result"]] if data["resultType"] == "vector" else \
                [Series({}, [float(data["result"][0])], [float(data["result"][1])])]
        else:
            data = prom.get("/api/v1/query_range", query=expr, start="%.3f" % start,
                            end="%.3f" % end, step="%g" % step)
            rows = [Series(r["metric"], [float(pair[0]) for pair in r["values"]],
                           [float(pair[1]) for pair in r["values"]]) for r in data["result"]]
    except QueryError as exc:
        return TargetResult(ref, expr, [], str(exc))
    return TargetResult(ref, expr, rows)


def _panels(dashboard: dict) -> list[dict]:
    out = []
    for p in dashboard.get("panels", []):
        out.append(p)
        out.extend(p.get("panels", []))      # collapsed rows keep their panels inside
    return out


# ---- drawing
BG, PANEL_BG, FG, MUTED, GRID = "#111217", "#181b1f", "#ccccdc", "#8e8e8e", "#2c3235"


def _last(values: list[float]) -> float | None:
    for v in reversed(values):
        if not math.isnan(v):
            return v
    return None


def _no_data(ax, text: str = "No data", col: str = MUTED) -> None:
    ax.text(0.5, 0.45, text, ha="center", va="center", color=col, fontsize=11, transform=ax.transAxes)


def _draw_timeseries(ax, panel: dict, cell: Cell, unit: str | None) -> None:
    from matplotlib.lines import Line2D
    from matplotlib.ticker import FuncFormatter
    targets = {t.get("refId", "A"): t for t in panel.get("targets", [])}
    n = 0
    for res in cell.targets:
        for s in res.series:
            times = [dt.datetime.fromtimestamp(t, dt.timezone.utc) for t in s.times]
            ax.plot(times, s.values, lw=1.2, color=PALETTE[n % len(PALETTE)],
                    label=_legend(targets.get(res.ref, {}).get("legendFormat"), s.labels)[:48])
            n += 1
    if not n:
        ax.set_xticks([])
        ax.set_yticks([])
        return
    low, high = ax.get_ylim()
    steps = (panel.get("fieldConfig", {}).get("defaults", {}).get("thresholds") or {}).get("steps", [])
    for st in steps[1:]:                 # threshold lines inside the data's range only
        if st.get("value") is not None and low <= st["value"] <= high:
            ax.axhline(st["value"], color=colour(st["color"]), lw=0.8, ls="--", alpha=0.8)
    ax.set_ylim(low, high)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: format_value(v, unit)))
    import matplotlib.dates as mdates
    locator = mdates.AutoDateLocator(maxticks=6, tz=dt.timezone.utc)
    ax.xaxis.set_major_locator(locator)   # seconds shown only where minutes would repeat
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, tz=dt.timezone.utc,
                                                             show_offset=False))
    ax.tick_params(colors=MUTED, labelsize=6.5, length=2)
    ax.grid(color=GRID, lw=0.5)
    handles, labels = ax.get_legend_handles_labels()
    if n > 8:                          # keep the lines readable: at most 8 legend entries
        handles, labels = handles[:7], labels[:7] + ["+%d more" % (n - 7)]
        handles.append(Line2D([], [], lw=0))
    ax.legend(handles, labels, loc="upper left", fontsize=6, frameon=False,
              ncol=2 if len(labels) > 4 else 1, labelcolor=FG, handlelength=1.2, borderaxespad=0.2)


def _draw_stat(fig, ax, panel: dict, cell: Cell, unit: str | None, gauge: bool) -> None:
    from matplotlib.patches import Rectangle, Wedge
    defaults = panel.get("fieldConfig", {}).get("defaults", {})
    values = [(_last(s.values), s) for r in cell.targets for s in r.series]
    values = [(v, s) for v, s in values if v is not None]
    if not values:
        return
    v, s = values[0]
    col = threshold_colour(v, defaults.get("thresholds")) or NAMED_COLOURS["green"]
    text = format_value(v, unit) + (" (+%d more)" % (len(values) - 1) if len(values) > 1 else "")
    if gauge:
        lo = defaults.get("min") if defaults.get("min") is not None else 0
        hi = defaults.get("max") if defaults.get("max") is not None else max(v, 1) * 1.0
        frac = 0 if hi == lo else min(1, max(0, (v - lo) / (hi - lo)))
        ax.set_xlim(-1.3, 1.3)
        ax.set_ylim(-0.5, 1.25)
        ax.set_aspect("equal", adjustable="box")
        ax.add_patch(Wedge((0, 0), 1, 0, 180, width=0.22, color=GRID))
        ax.add_patch(Wedge((0, 0), 1, 180 - 180 * frac, 180, width=0.22, color=col))
        steps = (defaults.get("thresholds") or {}).get("steps", [])
        for i, st in enumerate(steps):        # the threshold band outside the arc
            a = lo if st.get("value") is None else st["value"]
            b = steps[i + 1]["value"] if i + 1 < len(steps) else hi
            fa, fb = [min(1, max(0, (x - lo) / (hi - lo))) if hi != lo else 0 for x in (a, b)]
            ax.add_patch(Wedge((0, 0), 1.08, 180 - 180 * fb, 180 - 180 * fa, width=0.05,
                               color=colour(st["color"])))
        ax.text(0, 0.12, text, ha="center", va="center", color=col, fontsize=15, weight="bold")
        return
    ax.add_patch(Rectangle((0, 0), 1, 1, transform=ax.transAxes, color=col, zorder=0))
    if (panel.get("options") or {}).get("graphMode", "area") != "none" and len(s.values) > 1:
        lo, hi = min(s.values), max(s.values)
        ys = [0.05 + 0.3 * ((y - lo) / (hi - lo) if hi > lo else 0.5) for y in s.values]
        xs = [i / (len(ys) - 1) for i in range(len(ys))]
        ax.fill_between(xs, 0, ys, color="white", alpha=0.18, transform=ax.transAxes, lw=0)
    ax.text(0.5, 0.5, text, ha="center", va="center", color="white", fontsize=17, weight="bold",
            transform=ax.transAxes)


def table_rows(panel: dict, cell: Cell) -> tuple[list[str], list[list[object]]]:
    """Grafana's merge (join on the label set) and organize (exclude, rename) transformations;
    without merge the targets' frames are still shown in one table (a frame picker in Grafana)."""
    multi = len(cell.targets) > 1
    rows: dict[tuple, dict[str, object]] = {}
    label_cols: list[str] = []
    value_cols: list[str] = []
    for res in cell.targets:
        col = "Value #%s" % res.ref if multi else "Value"
        value_cols.append(col)
        for s in res.series:
            labels = {k: v for k, v in s.labels.items() if k != "__name__"}
            for k in labels:
                if k not in label_cols:
                    label_cols.append(k)
            row = rows.setdefault(tuple(sorted(labels.items())), dict(labels))
            row[col] = _last(s.values)
    columns = label_cols + value_cols
    for tr in panel.get("transformations", []):
        if tr.get("id") == "organize":
            opts = tr.get("options", {})
            columns = [c for c in columns if not opts.get("excludeByName", {}).get(c)]
            renames = opts.get("renameByName", {})
            rows = {k: {renames.get(c, c): v for c, v in r.items()} for k, r in rows.items()}
            columns = [renames.get(c, c) for c in columns]
    return columns, [[rows[key].get(c) for c in columns] for key in sorted(rows)]


def _draw_table(ax, panel: dict, cell: Cell, unit: str | None) -> None:
    columns, rows = table_rows(panel, cell)
    if not rows:
        return
    fc = panel.get("fieldConfig", {})
    props: dict[str, dict] = {}
    for o in fc.get("overrides", []):
        if o.get("matcher", {}).get("id") == "byName":
            props.setdefault(o["matcher"]["options"], {}).update(
                {p["id"]: p.get("value") for p in o.get("properties", [])})
    ax.axis("off")
    rows = rows[:14]
    text, colours, fgs = [], [], []
    for row in rows:
        t, c, f = [], [], []
        for col, val in zip(columns, row):
            p = props.get(col, {})
            bg, fg = PANEL_BG, FG
            if isinstance(val, float):
                mapped, mcol = map_value(val, p.get("mappings", fc.get("defaults", {}).get("mappings")))
                shown = mapped if mapped is not None else format_value(val, p.get("unit", unit))
                tcol = mcol or threshold_colour(val, p.get("thresholds", fc.get("defaults", {}).get("thresholds")))
                mode = (p.get("custom.cellOptions") or {}).get("type")
                if mode == "color-background" and tcol:
                    bg, fg = tcol, "white"
                elif mode == "color-text" and tcol:
                    fg = tcol
            else:
                shown = "" if val is None else str(val)
            t.append(shown)
            c.append(bg)
            f.append(fg)
        text.append(t)
        colours.append(c)
        fgs.append(f)
    table = ax.table(cellText=text, colLabels=columns, cellColours=colours, loc="upper center",
                     colColours=[GRID] * len(columns), cellLoc="left", colLoc="left")
    table.auto_set_font_size(False)
    table.set_fontsize(6.5)
    table.scale(1, 1.25)
    for (r, c), tc in table.get_celld().items():
        tc.set_edgecolor(BG)
        tc.get_text().set_color(FG if r == 0 else fgs[r - 1][c])


def render_dashboard(dashboard: dict, prom: Prometheus, out: Path | None, *, end: float,
                     window: float, overrides: dict[str, str] | None = None, dpi: int = DPI,
                     source: str = "") -> list[Cell]:
    """Query every panel and draw the dashboard into ``out`` (skipped when None). One Cell per
    panel of the JSON (rows included), in the JSON's order."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    start = end - window
    step = max(SCRAPE_INTERVAL, math.ceil(window / MAX_POINTS))
    variables = resolve_variables(dashboard, prom, start, end, step, overrides)
    panels = _panels(dashboard)
    cells: list[Cell] = []
    for p in panels:
        results = [run_target(prom, t, variables, start, end, step)
                   for t in p.get("targets", []) if "expr" in t and not t.get("hide")]
        cells.append(Cell(p.get("id"), p.get("type", ""), p.get("title", ""), results))
    if out is None:
        return cells

    grid_h = max((p["gridPos"]["y"] + p["gridPos"]["h"] for p in panels if "gridPos" in p), default=1)
    width, unit_h, header = 16.0, 0.32, 0.75           # inches: Grafana's 30 px row on a 1500 px page
    height = grid_h * unit_h + header
    fig = plt.figure(figsize=(width, height), facecolor=BG)
    fig.text(0.01, 1 - 0.28 / height, "Preview rendered from %s / %s definitions \u2014 not Grafana"
             % (dashboard.get("uid"), dashboard.get("title")), color=FG, fontsize=14, weight="bold",
             va="center")
    fig.text(0.01, 1 - 0.58 / height, "%s  \u00b7  %s \u2013 %s UTC  \u00b7  %s  \u00b7  %s"
             % (source or "roles/grafana/files/dashboards", _utc(start), _utc(end), prom.url,
                variables.display()), color=MUTED, fontsize=8, va="center")
    pad_x, pad_y = 0.004, 0.06 / height
    for p, cell in zip(panels, cells):
        g = p.get("gridPos", {"x": 0, "y": 0, "w": 24, "h": 8})
        left, w = g["x"] / 24 + pad_x, g["w"] / 24 - 2 * pad_x
        top = 1 - (header + g["y"] * unit_h) / height
        h = g["h"] * unit_h / height - 2 * pad_y
        bottom = top - pad_y - h
        if p.get("type") == "row":
            fig.text(left, bottom + h / 2, p.get("title", ""), color=FG, fontsize=10, weight="bold",
                     va="center")
            continue
        frame = fig.add_axes([left, bottom, w, h], facecolor=PANEL_BG)
        frame.set_xticks([])
        frame.set_yticks([])
        for spine in frame.spines.values():
            spine.set_color(GRID)
        title_h = min(0.3 / (g["h"] * unit_h), 0.35)
        frame.text(0.01, 1 - title_h / 2, p.get("title", ""), color=FG, fontsize=8, weight="bold",
                   va="center", transform=frame.transAxes)
        unit = p.get("fieldConfig", {}).get("defaults", {}).get("unit")
        inner = [left + 0.004, bottom + h * 0.04, w - 0.008, h * (1 - title_h - 0.05)]
        if p.get("type") == "timeseries" and cell.has_data:
            inner = [left + 0.045 * (24 / max(g["w"], 6)) * 0.25 + 0.02, bottom + h * 0.12,
                     w - 0.03 - 0.045 * (24 / max(g["w"], 6)) * 0.25, h * (1 - title_h - 0.15)]
        ax = fig.add_axes(inner, facecolor=PANEL_BG)
        for spine in ax.spines.values():
            spine.set_visible(p.get("type") == "timeseries" and cell.has_data)
            spine.set_color(GRID)
        if p.get("type") not in ("timeseries", "gauge"):
            ax.set_xticks([])
            ax.set_yticks([])
        if cell.error:
            ax.axis("off")
            _no_data(frame, "Query error", NAMED_COLOURS["red"])
        elif not cell.has_data:
            ax.axis("off")
            _no_data(frame)
        elif p.get("type") == "timeseries":
            _draw_timeseries(ax, p, cell, unit)
        elif p.get("type") in ("stat", "gauge"):
            if p.get("type") == "gauge":
                ax.axis("off")
            _draw_stat(fig, ax, p, cell, unit, gauge=p.get("type") == "gauge")
        elif p.get("type") == "table":
            _draw_table(ax, p, cell, unit)
        else:
            ax.axis("off")
            _no_data(frame, "panel type %s not previewed" % p.get("type"))
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=dpi, facecolor=BG, metadata={"Software": None})
    plt.close(fig)
    return cells


def _utc(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).strftime("%Y-%m-%d %H:%M")


def _seconds_of(text: str) -> float:
    m = re.fullmatch(r"(\d+)([smhd])", text)
    if not m:
        raise argparse.ArgumentTypeError("a duration like 30m, 1h, 900s: %r" % text)
    return int(m.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]


def main(argv: list[str] | None = None, dashboards_dir: Path = DASHBOARDS) -> int:
    # matplotlib warns when it has no tick interval for a panel's time span and uses 30 s ticks
    warnings.filterwarnings("ignore", message="AutoDateLocator was unable")
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    ap.add_argument("--prometheus-url", default=os.environ.get("PROMETHEUS_URL") or DEFAULT_URL)
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--range", dest="window", type=_seconds_of, default="30m",
                    help="the window before now that is queried (default 30m)")
    ap.add_argument("--end", type=float, default=None, help="end of the window, Unix seconds (default now)")
    ap.add_argument("--var", action="append", default=[], metavar="NAME=VALUE",
                    help="set a variable instead of its Grafana default (comma-separated: several)")
    ap.add_argument("--dpi", type=int, default=DPI)
    ap.add_argument("dashboard", nargs="*", help="file stems (default: every committed dashboard)")
    args = ap.parse_args(argv)
    overrides = dict(v.split("=", 1) for v in args.var)
    prom = Prometheus(args.prometheus_url)
    end = args.end or dt.datetime.now(dt.timezone.utc).timestamp()
    paths = sorted(dashboards_dir.glob("*.json"))
    if args.dashboard:
        paths = [p for p in paths if p.stem in args.dashboard]
    failed = False
    for path in paths:
        dashboard = json.loads(path.read_text())
        out = args.out / (path.stem + ".png")
        try:
            cells = render_dashboard(dashboard, prom, out, end=end, window=args.window,
                                     overrides=overrides, dpi=args.dpi,
                                     source=str(path.relative_to(REPO)) if path.is_relative_to(REPO) else path.name)
        except PrometheusUnreachable as exc:
            print("preview: cannot reach the Prometheus (make demo first, or set PROMETHEUS_URL): %s" % exc,
                  file=sys.stderr)
            return 2
        except QueryError as exc:
            print("preview: %s: %s" % (path.stem, exc), file=sys.stderr)
            failed = True
            continue
        panels = [c for c in cells if c.type != "row"]
        with_data = sum(1 for c in panels if c.has_data)
        errors = [c for c in panels if c.error]
        print("%-28s %2d panels: %2d with data, %2d no data, %d query errors (+%d rows) -> %s"
              % (path.stem, len(panels), with_data, len(panels) - with_data, len(errors),
                 len(cells) - len(panels), out))
        for c in panels:
            if c.error:
                print("  query error in %r: %s" % (c.title, c.error), file=sys.stderr)
            elif not c.has_data:
                print("  no data: %s" % c.title)
        failed = failed or bool(errors)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
