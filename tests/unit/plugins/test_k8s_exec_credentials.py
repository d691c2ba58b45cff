"""A kubeconfig exec credential plugin that hangs cannot hold a module past its timeout
(plugins/module_utils/k8s_client.py): loading the kubeconfig runs the plugin, and so does
every refresh of an expiring token before a request."""
from __future__ import annotations

import time

import pytest
import yaml

from ansible_collections.kubiya.runners.plugins.module_utils import k8s_client, retry


def hanging_kubeconfig(path, seconds=60):
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
        "users": [{"name": "u", "user": {"exec": {"apiVersion": "client.authentication.k8s.io/v1",
                                                  "command": "sleep", "args": [str(seconds)],
                                                  "interactiveMode": "Never"}}}]}))
    return path


@pytest.mark.skipif(not k8s_client.HAS_KUBERNETES, reason="needs the kubernetes library")
def test_loading_a_kubeconfig_whose_exec_plugin_hangs_stops_at_the_request_timeout(tmp_path):
    started = time.monotonic()
    with pytest.raises(k8s_client.K8sError, match="exec plugin"):
        k8s_client.K8sClient.from_params({"kubeconfig": str(hanging_kubeconfig(tmp_path / "kubeconfig")),
                                          "request_timeout": 1.5}, environ={})
    assert time.monotonic() - started < 6


class SlowRefresh:
    """A client configuration whose token refresh (an exec plugin) never finishes in time."""

    def get_api_key_with_prefix(self, *_args, **_kwargs):
        time.sleep(30)
        return "Bearer late"


def test_a_token_refresh_that_hangs_is_cut_by_the_deadline():
    client = k8s_client.K8sClient("https://127.0.0.1:1", configuration=SlowRefresh(), timeout=1.0)
    client.deadline = retry.Deadline(0.5, 1.0)
    started = time.monotonic()
    with pytest.raises(k8s_client.K8sError, match="exec plugin"):
        client.request("GET", "/api")
    assert time.monotonic() - started < 4
