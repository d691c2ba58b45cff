"""Fixtures of the pipeline tests: one runner release with its telemetry pipeline running
(see pipelinelib.py). ``cluster``, ``central`` and ``namespace`` come from tests/conftest.py."""
from __future__ import annotations

import uuid

import pytest

import pipelinelib


@pytest.fixture(scope="module")
def pipeline_namespace(cluster):
    """A fresh namespace for the tests of one module (the pipeline is started once for them);
    deleted afterwards like the ``namespace`` fixture."""
    name = f"t-pipeline-{uuid.uuid4().hex[:6]}"
    cluster.kubectl("create", "namespace", name)
    yield name
    cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture(scope="module")
def pipeline(cluster, central, pipeline_namespace, tmp_path_factory):
    """The chart installed with the Prometheus-agent collector at a 15 s interval, kube-state-
    metrics, stand-ins and the collector running; every process stopped at the end."""
    p = pipelinelib.Pipeline(cluster.env, pipeline_namespace, central,
                             tmp_path_factory.mktemp("pipeline"), scrape_interval="15s")
    try:
        p.start()
        yield p
    finally:
        p.close()
