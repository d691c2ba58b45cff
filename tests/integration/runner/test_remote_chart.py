"""The runner from a remote chart: a chart repository over HTTP, ref + version.

The chart is packaged and indexed into a directory served by a local HTTP server
(a stand-in for a chart repository); the example customer is deployed with
runner_chart_ref/runner_chart_repo_url/runner_chart_version, then re-run unchanged.
A remote reference without a version is refused by validation.
"""
from __future__ import annotations

import functools
import http.server
import json
import subprocess
import threading

import pytest

from testlib import CHART_VERSION, REPO, deploy_example as deploy, recap_changed as changed

pytestmark = [pytest.mark.cluster, pytest.mark.slow]


@pytest.fixture
def chart_repo(tmp_path, cluster):
    subprocess.run(["helm", "package", str(REPO / "charts" / "kubiya-runner"), "--destination", str(tmp_path)],
                   env=cluster.env, check=True, capture_output=True, text=True)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    url = f"http://127.0.0.1:{server.server_address[1]}"
    subprocess.run(["helm", "repo", "index", str(tmp_path), "--url", url], env=cluster.env, check=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield url
    server.shutdown()


def test_deploy_from_a_chart_repository_by_version(cluster, namespace, chart_repo):
    extra = {"runner_namespace": namespace, "runner_chart_ref": "kubiya-runner", "runner_chart_repo_url": chart_repo,
             "runner_chart_version": CHART_VERSION, "runner_health_window": 2}
    first = deploy(cluster, extra)
    assert first.returncode == 0, first.stdout[-5000:]
    assert changed(first.stdout) > 0
    release = json.loads(subprocess.run(["helm", "list", "-n", namespace, "-o", "json"], env=cluster.env,
                                        capture_output=True, text=True, check=True).stdout)
    assert [(r["name"], r["chart"], r["status"]) for r in release] == [("kubiya-runner", f"kubiya-runner-{CHART_VERSION}",
                                                                        "deployed")]
    second = deploy(cluster, extra)
    assert second.returncode == 0, second.stdout[-5000:]
    assert changed(second.stdout) == 0, second.stdout[-5000:]


@pytest.mark.parametrize("ref,repo", [("oci://registry.example.com/charts/kubiya-runner", ""),
                                      ("kubiya-runner", "https://charts.example.com")])
def test_remote_chart_without_version_is_refused_before_the_cluster(cluster, ref, repo):
    out = deploy(cluster, {"runner_chart_ref": ref, "runner_chart_repo_url": repo}, "--tags", "validate")
    assert out.returncode != 0
    assert f"runner_chart_version: is empty; a version is required for the remote chart '{ref}'" in out.stdout
