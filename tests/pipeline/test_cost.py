"""Cost figure (issue 6, item 6): active series delivered per runner with DEFAULT values
(60 s interval) stay within the target, measured on the real pipeline (measure_cost.py)."""
from __future__ import annotations

import pytest

import measure_cost
import pipelinelib

pytestmark = [pytest.mark.cluster, pytest.mark.central, pytest.mark.slow]


@pytest.mark.timeout(600)
def test_active_series_per_runner_within_target(cluster, central, namespace, tmp_path):
    p = pipelinelib.Pipeline(cluster.env, namespace, central, tmp_path / "pipeline")
    assert p.scrape_interval == "60s"  # the chart default
    try:
        p.start()
        fig = measure_cost.measure(p, str(cluster.kubeconfig))
    finally:
        p.close()
    print("\n" + measure_cost.render(fig))
    assert set(fig["series_by_job"]) == {"kubiya-runner", "kube-state-metrics", "alloy"}
    assert fig["active_series"] <= measure_cost.TARGET_SERIES, fig
    # the allow-list is what keeps kube-state-metrics small
    assert fig["ksm_default_series"] > fig["ksm_chart_series"], fig
