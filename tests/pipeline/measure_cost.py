"""Cost of one runner's telemetry, measured in one run (issue 6, item 6).

Installs the chart with DEFAULT values (60 s interval; collector = Prometheus agent, the
stand-in for Alloy here) into a fresh namespace of the running test cluster, runs the
pipeline (pipelinelib.py) until every target has been scraped and delivered, then reads
from the central Prometheus:

- active series per runner (series with a sample in the last 5 min carrying the runner's
  runner/organization labels), per job;
- samples per minute per runner: count_over_time over the last 2 min / 2 and the
  collector's own rate(prometheus_remote_storage_samples_total) (with --rate; waits ~3 min);

and compares kube-state-metrics as the chart runs it (namespace + allow-list) with
kube-state-metrics' defaults (all default collectors, no allow-list, same namespace,
cluster-admin rights as an upstream install's ClusterRole grants), each scraped once
directly.

    KUBECONFIG=/path/to/kubeconfig .venv/bin/python tests/pipeline/measure_cost.py [--rate] [--json]

Needs the local cluster running (pod IPs in 127.1.0.0/16). The central side is started
when it is not running (and then stopped again). Everything it starts is stopped and the
namespace deleted at the end.
"""
from __future__ import annotations

import argparse
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent), str(HERE.parent.parent / ".build" / "collections")]

import pipelinelib  # noqa: E402
from central import settings  # noqa: E402
from central.fixtures import Central  # noqa: E402

TARGET_SERIES = 1500


def count_series(text: str) -> int:
    return sum(1 for line in text.splitlines() if line and not line.startswith("#"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scrape_ksm_once(p: pipelinelib.Pipeline, args: list[str], kubeconfig: str, name: str) -> int:
    port, tport = free_port(), free_port()
    p.procs.start(name, [pipelinelib.ksm_bin(), *args, "--host=127.0.0.1", f"--port={port}",
                         "--telemetry-host=127.0.0.1", f"--telemetry-port={tport}",
                         f"--kubeconfig={kubeconfig}"])
    try:
        pipelinelib.wait_for(lambda: pipelinelib.http_get(f"http://127.0.0.1:{port}/metrics")[0] == 200,
                             60, f"{name} serving")
        time.sleep(3)  # informers synced (they list before serving, this is a margin)
        return count_series(pipelinelib.http_get(f"http://127.0.0.1:{port}/metrics", timeout=30)[1])
    finally:
        p.procs.stop(name)


def scalar(p: pipelinelib.Pipeline, q: str) -> float:
    r = p.query(q)
    return float(r[0]["value"][1]) if r else 0.0


def measure(p: pipelinelib.Pipeline, admin_kubeconfig: str, rate: bool = False) -> dict:
    """Figures of a started pipeline ``p`` (default values)."""
    p.wait_delivered(timeout=240)
    interval = 60
    time.sleep(interval + 10)  # one more full round: every target's series delivered
    sel = p.selector()
    by_job = {r["metric"].get("job", "?"): int(float(r["value"][1]))
              for r in p.query(f"count by (job) ({{{sel}}})")}
    out = {"runner": p.runner, "namespace": p.namespace, "scrape_interval": p.scrape_interval,
           "pods": len(p.pods), "series_by_job": by_job, "active_series": sum(by_job.values())}
    # kube-state-metrics at the source: as the chart runs it vs its defaults
    ksm_kc = str(p.workdir / "sa" / "kube-state-metrics" / "kubeconfig")
    chart_args = [a for a in p.ksm_args() if not a.startswith(("--port=", "--telemetry-port="))]
    out["ksm_chart_series"] = scrape_ksm_once(p, chart_args, ksm_kc, "ksm-chart-once")
    out["ksm_default_series"] = scrape_ksm_once(p, [f"--namespaces={p.namespace}"], admin_kubeconfig,
                                                "ksm-default-once")
    out["ksm_delivered_series"] = by_job.get("kube-state-metrics", 0)
    out["active_series_with_default_ksm"] = (out["active_series"] - out["ksm_delivered_series"]
                                             + out["ksm_default_series"])
    out["samples_per_minute_at_interval"] = round(out["active_series"] * 60 / interval)
    if rate:
        time.sleep(2 * interval)  # >= 2 samples of every series and of the collector's counter
        # count_over_time drops the metric name: per name, or series of two metrics collide
        names = [r["metric"]["__name__"] for r in p.query(f"count by (__name__) ({{{sel}}})")]
        out["samples_per_minute_count_over_time"] = round(sum(
            scalar(p, f"sum(count_over_time({n}{{{sel}}}[2m]))") for n in names) / 2)
        out["samples_per_minute_collector_rate"] = round(
            scalar(p, f"sum(rate(prometheus_remote_storage_samples_total{{{sel}}}[2m])) * 60"))
    out["target_series"] = TARGET_SERIES
    out["ratio_ksm_default_vs_chart"] = round(out["ksm_default_series"] / max(out["ksm_chart_series"], 1), 2)
    out["ratio_total_default_ksm_vs_chart"] = round(
        out["active_series_with_default_ksm"] / max(out["active_series"], 1), 2)
    return out


def render(fig: dict) -> str:
    rows = [
        ("runner pods", fig["pods"]),
        ("scrape interval", fig["scrape_interval"]),
        ("active series delivered per runner", f"{fig['active_series']} (target <= {fig['target_series']})"),
        ("  by job", ", ".join(f"{k} {v}" for k, v in sorted(fig["series_by_job"].items()))),
        ("samples/min per runner (series x 60 s / interval)", fig["samples_per_minute_at_interval"]),
    ]
    if "samples_per_minute_count_over_time" in fig:
        rows += [("samples/min measured (count_over_time 2m)", fig["samples_per_minute_count_over_time"]),
                 ("samples/min measured (collector remote-storage rate)", fig["samples_per_minute_collector_rate"])]
    rows += [
        ("kube-state-metrics as the chart runs it (series at source)", fig["ksm_chart_series"]),
        ("kube-state-metrics defaults, same namespace (series at source)", fig["ksm_default_series"]),
        ("  ratio default / chart", fig["ratio_ksm_default_vs_chart"]),
        ("runner total if KSM ran with defaults", fig["active_series_with_default_ksm"]),
        ("  ratio", fig["ratio_total_default_ksm_vs_chart"]),
    ]
    w = max(len(r[0]) for r in rows)
    return "\n".join(f"{k.ljust(w)}  {v}" for k, v in rows)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    ap.add_argument("--rate", action="store_true", help="also measure samples/min (waits ~2 min more)")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    a = ap.parse_args(argv)
    kubeconfig = os.environ.get("KUBECONFIG") or str(pipelinelib.REPO / ".cluster" / "kubeconfig")
    env = dict(os.environ, KUBECONFIG=kubeconfig,
               PATH=os.pathsep.join([str(pipelinelib.REPO / ".tools" / "bin"), os.environ.get("PATH", "")]))
    state_dir = settings.state_dir()
    pids = Path(state_dir) / "pids"
    started_central = not (pids.is_dir() and any(pids.iterdir()))
    central_env = dict(os.environ, KUBIYA_CENTRAL_DIR=state_dir, KUBIYA_CENTRAL_PYTHON=sys.executable)
    central_scripts = pipelinelib.REPO / "tests" / "central"
    if started_central:  # like the `central` fixture: start it, stop it again at the end
        subprocess.run([str(central_scripts / "up.sh")], env=central_env, check=True,
                       capture_output=True, timeout=120)
    central = Central(state_dir)
    ns = f"cost-{secrets.token_hex(3)}"
    subprocess.run(["kubectl", "create", "namespace", ns], env=env, check=True, capture_output=True)
    p = pipelinelib.Pipeline(env, ns, central, Path(tempfile.mkdtemp(prefix="kubiya-cost-")))
    try:
        p.start()
        fig = measure(p, kubeconfig, rate=a.rate)
    finally:
        p.close()
        subprocess.run(["kubectl", "delete", "namespace", ns, "--wait=false"], env=env,
                       capture_output=True, check=False)
        if started_central:
            subprocess.run([str(central_scripts / "down.sh")], env=central_env,
                           capture_output=True, timeout=120, check=False)
    print(json.dumps(fig, indent=1) if a.json else render(fig))
    return 0 if fig["active_series"] <= TARGET_SERIES else 1


if __name__ == "__main__":
    sys.exit(main())
