"""A kubeconfig exec credential plugin that hangs cannot hold a module past its timeout
(plugins/module_utils/kube.py): loading the kubeconfig runs the plugin, and so does every
refresh of an expiring token before a request. Both are cut by the request timeout / the
module's deadline. The plugins here are real processes started by the kubernetes library."""
from __future__ import annotations

import stat
import time

import pytest
import yaml

from ansible_collections.kubiya.runners.plugins.module_utils import kube, retry
from loopback import reply

# A plugin "hangs" for HANG seconds, far longer than the 1.5 s request timeout. The module gives
# up on it; the abandoned call still holds the kubernetes library's locks in this test process
# until the plugin ends, so each test waits for that before the next one builds a client.
HANG = 6


def wait_for(path, limit=HANG + 10):
    ends = time.monotonic() + limit
    while not path.exists() and time.monotonic() < ends:
        time.sleep(0.2)


pytestmark = pytest.mark.skipif(not kube.HAS_K8S, reason="needs the kubernetes library")


def kubeconfig_with_exec(path, server, command, args=()):
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "c", "cluster": {"server": server}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
        "users": [{"name": "u", "user": {"exec": {"apiVersion": "client.authentication.k8s.io/v1",
                                                  "command": command, "args": list(args),
                                                  "interactiveMode": "Never"}}}]}))
    return path


def test_loading_a_kubeconfig_whose_exec_plugin_hangs_stops_at_the_request_timeout(tmp_path):
    config = kubeconfig_with_exec(tmp_path / "kubeconfig", "https://127.0.0.1:1", "sh",
                                  ["-c", f"sleep {HANG}; touch {tmp_path}/ended"])
    started = time.monotonic()
    with pytest.raises(kube.K8sError):
        kube.KubeClient.from_params({"kubeconfig": str(config), "request_timeout": 1.5}, environ={})
    took = time.monotonic() - started
    wait_for(tmp_path / "ended")
    assert took < HANG - 1, "the client waited for the hanging plugin (%.1fs)" % took


def test_a_token_refresh_that_hangs_is_cut_by_the_deadline(tmp_path, servers):
    """The plugin answers once with a token that expires at once; its second run (the refresh
    before the request) hangs."""
    plugin = tmp_path / "plugin.sh"
    plugin.write_text(
        "#!/bin/sh\n"
        f"if [ -e {tmp_path}/ran ]; then sleep {HANG}; touch {tmp_path}/ended; exit 1; fi\n"
        f"touch {tmp_path}/ran\n"
        'printf \'{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential",'
        '"status":{"token":"t1","expirationTimestamp":"2000-01-01T00:00:00Z"}}\'\n')
    plugin.chmod(plugin.stat().st_mode | stat.S_IXUSR)
    srv = servers(lambda handler, seen: reply(handler, 200, {"kind": "APIVersions", "versions": ["v1"]}), tls=False)
    config = kubeconfig_with_exec(tmp_path / "kubeconfig", srv.url, str(plugin))
    started = time.monotonic()
    with pytest.raises(kube.K8sError, match="cannot reach the API server|within|deadline") as failed:
        client = kube.KubeClient.from_params({"kubeconfig": str(config), "request_timeout": 1.5},
                                             deadline=retry.Deadline(3, 1.5), environ={})
        client.get("/api/v1/serviceaccounts")
    took = time.monotonic() - started
    wait_for(tmp_path / "ended")
    assert took < HANG - 1, "the refresh waited for the hanging plugin (%.1fs): %s" % (took, failed.value)
    assert (tmp_path / "ran").exists()
