"""Every container image the runner chart deploys, machine-readable (make images).

Renders the chart with `helm template` and its default values (plus placeholder required
values: generated NATS-creds-shaped text and example.invalid URLs, never a real credential)
and collects the image of every container, init container and helm test hook
(`default: true`, with the components using it); then adds every other image block of the
chart's values.yaml files (optional components, `default: false`). Each image is listed
once with registry, repository, tag, digest (when pinned) and the values keys that set it.

    tools/release/images.py [--chart DIR] [--json dist/images.json] [--txt dist/images.txt]
                            [--set key=value ...]

The .txt has one reference per line (registry/repository:tag[@digest]) for a mirroring
loop (skopeo copy, crane copy, oras cp); point the chart at the mirror with
global.imageRegistry (tests/unit/chart/test_images.py proves no rendered image escapes it).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
KUBE_VERSION = "1.36.3"
REF = re.compile(r"^(?:(?P<registry>[^/]+\.[^/]+|[^/]+:\d+|localhost)/)?(?P<repository>[^:@]+)"
                 r"(?::(?P<tag>[^@]+))?(?:@(?P<digest>sha256:[0-9a-f]{64}))?$")


def placeholder_values() -> dict:
    def creds() -> str:
        return ("-----BEGIN NATS USER JWT-----\n" + secrets.token_urlsafe(48) + "\n------END NATS USER JWT------\n\n"
                "-----BEGIN USER NKEY SEED-----\nSU" + secrets.token_hex(28).upper() + "\n------END USER NKEY SEED------\n")
    return {
        "global": {"runner": {"name": "images", "organization": "images", "uuid": str(uuid.uuid4())},
                   "nats": {"operatorCreds": creds(), "runnerCreds": creds()}},
        "telemetry": {"remoteWrite": {
            "url": "https://prometheus.example.invalid/api/v1/write",
            "oauth2": {"clientId": "images", "tokenUrl": "https://login.example.invalid/token",
                       "clientSecret": secrets.token_urlsafe(24)}}},
    }


def helm_bin() -> str:
    local = REPO / ".tools" / "bin" / "helm"
    return str(local) if local.exists() else "helm"


def render(chart: Path, files: list[Path], sets: list[str]) -> list[dict]:
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as fh:
        yaml.safe_dump(placeholder_values(), fh)
        fh.flush()
        args = [helm_bin(), "template", "images", str(chart), "--namespace", "images",
                "--kube-version", KUBE_VERSION, "-f", fh.name]
        for f in files:
            args += ["-f", str(f)]
        for s in sets:
            args += ["--set", s]
        proc = subprocess.run(args, text=True, capture_output=True, check=False)
    if proc.returncode != 0:
        sys.exit(f"helm template {chart} {' '.join(map(str, files))} failed:\n{proc.stderr}")
    return [d for d in yaml.safe_load_all(proc.stdout) if d]


def pod_specs(docs: list[dict]):
    for d in docs:
        kind, spec = d.get("kind"), d.get("spec") or {}
        if kind in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"):
            yield d, spec["template"]["spec"]
        elif kind == "CronJob":
            yield d, spec["jobTemplate"]["spec"]["template"]["spec"]
        elif kind == "Pod":
            yield d, spec


def images_of(docs: list[dict]) -> dict[str, set[str]]:
    """image reference -> components using it."""
    out: dict[str, set[str]] = {}
    for owner, spec in pod_specs(docs):
        comp = owner["metadata"].get("labels", {}).get("app.kubernetes.io/component", owner["metadata"]["name"])
        for c in [*spec.get("initContainers", []), *spec.get("containers", []), *spec.get("ephemeralContainers", [])]:
            out.setdefault(c["image"], set()).add(comp)
    return out


def parse(ref: str) -> dict:
    m = REF.match(ref)
    if not m:
        sys.exit(f"cannot parse image reference {ref!r}")
    return {"registry": m["registry"] or "docker.io", "repository": m["repository"], "tag": m["tag"] or "",
            "digest": m["digest"] or ""}


def image_blocks(node, path=""):
    """Every `{registry, repository, tag[, digest]}` block of a values tree: (values path, reference)."""
    if isinstance(node, dict):
        parts = ("registry", "repository", "tag")
        if all(isinstance(node.get(k), str) for k in parts):
            ref = f"{node['registry']}/{node['repository']}:{node['tag']}"
            if node.get("digest"):
                ref += f"@{node['digest']}"
            yield path, ref
        for key, value in node.items():
            yield from image_blocks(value, f"{path}.{key}" if path else key)


def collect(chart: Path, sets: list[str]) -> dict:
    """Rendered with the default values (`default: true`), plus every other image block of the
    chart's values.yaml files (optional components: image-updater, workflow-engine, the
    prometheus-agent collector, ...) -- independent of the keys that switch them on."""
    rendered = images_of(render(chart, [], sets))
    keys: dict[str, set[str]] = {}
    files = [("", chart / "values.yaml")]
    for dep in yaml.safe_load((chart / "Chart.yaml").read_text()).get("dependencies") or []:
        repo = str(dep.get("repository") or "")   # file:// dependencies: charts/<name>, by alias
        if repo.startswith("file://") and (chart / repo[len("file://"):] / "values.yaml").is_file():
            files.append((str(dep.get("alias") or dep["name"]) + ".", chart / repo[len("file://"):] / "values.yaml"))
    for prefix, values in files:
        for path, ref in image_blocks(yaml.safe_load(values.read_text()) or {}):
            keys.setdefault(ref, set()).add(prefix + path)
    images = []
    for ref in sorted(set(rendered) | set(keys)):
        images.append(dict(image=ref, **parse(ref), default=ref in rendered,
                           components=sorted(rendered.get(ref, ())), values=sorted(keys.get(ref, ()))))
    meta = yaml.safe_load((chart / "Chart.yaml").read_text())
    return {"chart": meta["name"], "version": meta["version"], "appVersion": str(meta.get("appVersion", "")),
            "images": images}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    ap.add_argument("--chart", type=Path, default=REPO / "charts" / "kubiya-runner")
    ap.add_argument("--json", type=Path, help="write the list as JSON here (default: stdout)")
    ap.add_argument("--txt", type=Path, help="also write one image reference per line here")
    ap.add_argument("--set", action="append", default=[], help="helm --set passed to every render")
    args = ap.parse_args(argv)
    data = collect(args.chart, args.set)
    text = json.dumps(data, indent=2) + "\n"
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text)
    else:
        sys.stdout.write(text)
    if args.txt:
        args.txt.parent.mkdir(parents=True, exist_ok=True)
        args.txt.write_text("".join(i["image"] + "\n" for i in data["images"]))
    return 0


if __name__ == "__main__":
    os.umask(0o022)
    sys.exit(main())
