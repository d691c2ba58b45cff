"""Helpers shared by the chart tests (tests/unit/chart and tests/integration/chart).

Rendering uses the pinned helm 3 (``.tools/bin/helm`` or the build cache) with
``--kube-version`` set to the pinned cluster version, so the output does not depend
on the helm binary's compiled-in default.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Iterable

import yaml

from testlib import REPO

CHARTS = REPO / "charts"
CHART = CHARTS / "kubiya-runner"
SUBCHARTS = ("agent-manager", "tool-manager", "kubiya-operator")
# the key each subchart's values take in the umbrella (Chart.yaml `alias`, since chart 2.0.0)
ALIASES = {"agent-manager": "agentManager", "tool-manager": "toolManager", "kubiya-operator": "kubiyaOperator"}
CI_VALUES = sorted((CHART / "ci").glob("*-values.yaml"))
PERMISSIONS = yaml.safe_load((CHART / "permissions.yaml").read_text())
# The hardened profile's values (ci/hardened-values.yaml has the same two keys).
HARDENED = {"global": {"daggerNamespace": "dagger-ns", "podSecurity": {"enforce": "restricted"}}}
# A tag that names one build (tools/chart-schema.py PINNED_TAG, kubiya.pinnedTagPattern).
PINNED_TAG = r"^(v?[0-9]+(\.[0-9]+){1,3}([-+_.][0-9A-Za-z][0-9A-Za-z_.-]*)?|[0-9a-f]{7,64})$"
MOVING_TAGS = ("latest", "stable", "main", "master", "edge", "nightly", "runner_v2")


def _versions() -> dict[str, str]:
    out = {}
    for line in (REPO / "tools" / "versions.env").read_text().splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            key, value = line.split("=", 1)
            out[key.strip()] = value.strip()
    return out


VERSIONS = _versions()
KUBE_VERSION = VERSIONS["KUBERNETES_VERSION"]            # e.g. v1.36.3
KUBE_MINOR = ".".join(KUBE_VERSION.lstrip("v").split(".")[:2])


def helm_bin() -> str:
    candidates = [
        REPO / ".tools" / "bin" / "helm",
        Path.home() / ".cache" / "kubiya-runners" / "bin" / f"helm-{VERSIONS['HELM_VERSION']}" / "helm",
    ]
    for c in candidates:
        if c.is_file() and os.access(c, os.X_OK):
            return str(c)
    found = shutil.which("helm")
    if found:
        return found
    raise RuntimeError("helm 3 not found: run `make setup` (tools/build.sh helm)")


def helm(*args: str, check: bool = True, env: dict | None = None,
         timeout: float = 300) -> subprocess.CompletedProcess:
    proc = subprocess.run([helm_bin(), *args], text=True, capture_output=True,
                          env=env, timeout=timeout, check=False)
    if check and proc.returncode != 0:
        raise AssertionError(f"helm {' '.join(args)} failed:\n{proc.stderr}")
    return proc


def fake_nats_creds() -> str:
    """A NATS .creds-shaped string generated now; no real credential."""
    return ("-----BEGIN NATS USER JWT-----\n" + secrets.token_urlsafe(48) +
            "\n------END NATS USER JWT------\n\n"
            "-----BEGIN USER NKEY SEED-----\nSU" + secrets.token_hex(28).upper() +
            "\n------END USER NKEY SEED------\n")


def base_values() -> dict:
    """Required values with credentials generated at test time (Secrets created by the chart)."""
    return {
        "global": {
            "runner": {"name": "test-runner", "organization": "test-org", "uuid": str(uuid.uuid4())},
            "nats": {"operatorCreds": fake_nats_creds(), "runnerCreds": fake_nats_creds()},
        },
        "telemetry": {"remoteWrite": {
            "url": "https://prometheus.example.invalid/api/v1/write",
            "oauth2": {"clientId": "test-client", "tokenUrl": "https://login.example.invalid/token",
                       "clientSecret": secrets.token_urlsafe(24)},
        }},
    }


def deep_merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def template_args(values: dict | None = None, files: Iterable[Path] = (), sets: Iterable[str] = (),
                  release: str = "rel", namespace: str = "runner-ns", chart: Path = CHART,
                  tmpdir: Path | None = None) -> list[str]:
    args = ["template", release, str(chart), "--namespace", namespace,
            "--kube-version", KUBE_VERSION]
    for f in files:
        args += ["-f", str(f)]
    if values is not None:
        import tempfile
        fd, path = tempfile.mkstemp(suffix=".yaml", dir=tmpdir)
        with os.fdopen(fd, "w") as fh:
            yaml.safe_dump(values, fh)
        args += ["-f", path]
    for s in sets:
        args += ["--set", s]
    return args


def render_text(*a, **kw) -> str:
    return helm(*template_args(*a, **kw)).stdout


def render(*a, **kw) -> list[dict]:
    return [d for d in yaml.safe_load_all(render_text(*a, **kw)) if d]


def render_fails(*a, **kw) -> str:
    """Render expecting failure; returns stderr."""
    proc = helm(*template_args(*a, **kw), check=False)
    assert proc.returncode != 0, "render unexpectedly succeeded"
    return proc.stderr


def by_kind(docs: list[dict], kind: str) -> list[dict]:
    return [d for d in docs if d["kind"] == kind]


def component(doc: dict) -> str:
    return doc["metadata"]["labels"]["app.kubernetes.io/component"]


def pod_templates(docs: list[dict]) -> list[tuple[dict, dict]]:
    """(owner document, pod spec) for every workload."""
    out = []
    for d in docs:
        kind = d["kind"]
        if kind in ("Deployment", "StatefulSet", "Job"):
            out.append((d, d["spec"]["template"]["spec"]))
        elif kind == "CronJob":
            out.append((d, d["spec"]["jobTemplate"]["spec"]["template"]["spec"]))
        elif kind == "Pod":
            out.append((d, d["spec"]))
    return out


def containers(spec: dict) -> list[dict]:
    return list(spec.get("initContainers", [])) + list(spec["containers"])


def dump(obj) -> str:
    return json.dumps(obj, indent=1, sort_keys=True)
