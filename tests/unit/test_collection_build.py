"""`make build` and `make package-chart` ship what git tracks and nothing local.

The work tree of a developer who ran `make demo` holds local state: `.pipeline/` (the
demo's remote-write client secret, its extra-vars file, ServiceAccount tokens),
`.cluster/` (the cluster's PKI), rendered override files, editor leftovers inside
shipped directories. The test leaves such untracked junk in the tree (unique names,
removed afterwards), builds, and fails on any file in the tarball or chart package
that git does not track.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import tarfile
import uuid
from pathlib import Path

import pytest
import yaml

from testlib import REPO, base_env

SHIPPED = ("plugins/modules/", "plugins/filter/", "roles/", "playbooks/", "charts/kubiya-runner/Chart.yaml",
           "meta/runtime.yml")
EXCLUDED = (".venv/", ".tools/", ".build/", ".cluster/", ".central/", ".pipeline/", ".git/", "tests/", "dist/",
            ".ci/", "scripts/", "tools/", "rendered/", "monitoring/")
# junk a developer's tree holds after make demo / validate runs; paths relative to REPO
JUNK = (".pipeline/{tag}-deploy-vars.yml", ".cluster/{tag}-pki.key", "rendered/{tag}/override_acme.yaml",
        "roles/runner/tasks/{tag}.yml.orig", "plugins/modules/{tag}_scratch.py",
        "charts/kubiya-runner/{tag}-secret-values.yaml", "inventories/example/host_vars/acme/{tag}.swp")


def tracked() -> set[str]:
    out = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True)
    return {p for p in out.stdout.decode().split("\0") if p}


@pytest.fixture
def junk():
    """Untracked files in the work tree; only what this fixture created is removed again."""
    tag = f"ops-junk-{uuid.uuid4().hex[:8]}"
    created_files, created_dirs = [], []
    for pattern in JUNK:
        path = REPO / pattern.format(tag=tag)
        parent = path.parent
        missing = []
        while not parent.exists():
            missing.append(parent)
            parent = parent.parent
        path.parent.mkdir(parents=True, exist_ok=True)
        created_dirs.extend(reversed(missing))
        path.write_text("client_secret: NOT-A-REAL-SECRET-" + tag + "\n")
        created_files.append(path)
    yield tag
    for path in created_files:
        path.unlink(missing_ok=True)
    for directory in reversed(created_dirs):
        shutil.rmtree(directory, ignore_errors=True)


def make(target: str, dist: Path) -> subprocess.CompletedProcess:
    env = base_env()
    env.pop("MAKEFLAGS", None)
    return subprocess.run(["make", "--no-print-directory", target, f"DIST={dist}"], cwd=REPO, env=env, text=True,
                          capture_output=True, timeout=600, check=False)


def test_tarball_holds_only_tracked_files_even_with_local_state_around(tmp_path, junk):
    out = make("build", tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    meta = yaml.safe_load((REPO / "galaxy.yml").read_text())
    tarball = tmp_path / f"{meta['namespace']}-{meta['name']}-{meta['version']}.tar.gz"
    assert tarball.exists(), out.stdout
    with tarfile.open(tarball) as tar:
        files = [m.name for m in tar.getmembers() if not m.isdir()]
    names = set(files)
    for wanted in SHIPPED:
        assert any(n.startswith(wanted) or n == wanted for n in names), f"{wanted} missing from tarball"
    known = tracked()
    untracked = sorted(n for n in names - {"MANIFEST.json", "FILES.json"} if n not in known)
    # besides the tracked files: only the charts' dependency archives, built from tracked charts
    # (tools/chart-deps.sh in the build's copy) so the shipped umbrella installs as it is
    built = [n for n in untracked if re.fullmatch(r"charts/[a-z-]+/charts/[a-z-]+-[0-9.]+\.tgz", n)
             and f"charts/{n.split('/')[3].rsplit('-', 1)[0]}/Chart.yaml" in known]
    assert "charts/kubiya-runner/charts/agent-manager-1.0.0.tgz" in built
    untracked = [n for n in untracked if n not in built]
    assert not untracked, f"files git does not track are in the tarball: {untracked[:10]}"
    assert not [n for n in names if junk in n]
    leaked = [n for n in names if n.startswith(EXCLUDED) or "__pycache__" in n or n == "ansible.cfg"]
    assert not leaked, f"local, test or dev-tool files in the tarball: {leaked[:10]}"
    # the chart's own templates/tests (helm test hooks) ship
    assert "charts/kubiya-runner/templates/tests/test-health.yaml" in names
    assert "MANIFEST.json" in names and "FILES.json" in names


@pytest.mark.skipif(shutil.which("helm", path=base_env()["PATH"]) is None, reason="helm not installed (make setup)")
def test_chart_package_holds_only_tracked_files(tmp_path, junk):
    out = make("package-chart", tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    packages = list(tmp_path.glob("kubiya-runner-*.tgz"))
    assert len(packages) == 1, os.listdir(tmp_path)
    with tarfile.open(packages[0]) as tar:
        files = [m.name for m in tar.getmembers() if not m.isdir()]
    assert "kubiya-runner/Chart.yaml" in files
    known = tracked()

    def source(f: str) -> str:
        """The tracked file a packaged one comes from: a dependency's file is in its own chart
        (kubiya-runner/charts/agent-manager/charts/kubiya-common/x -> charts/kubiya-common/x)."""
        parts = f.split("/")
        while len(parts) > 2 and parts[1] == "charts":
            parts = parts[2:]
        return "charts/" + "/".join(parts)
    untracked = sorted(f for f in files if source(f) not in known)
    assert not untracked, f"files git does not track are in the chart package: {untracked[:10]}"
    assert "kubiya-runner/charts/agent-manager/templates/deployment.yaml" in files
    assert not [f for f in files if junk in f]
