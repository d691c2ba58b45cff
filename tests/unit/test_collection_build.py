"""`ansible-galaxy collection build` ships the collection and nothing local."""
from __future__ import annotations

import subprocess
import tarfile

import yaml

from testlib import REPO, base_env

SHIPPED = ("plugins/modules/", "roles/", "playbooks/", "charts/kubiya-runner/Chart.yaml", "meta/runtime.yml")
EXCLUDED = (".venv/", ".tools/", ".build/", ".cluster/", ".central/", ".git/", "tests/", "dist/", ".ci/")


def test_tarball_holds_the_collection_and_none_of_the_local_state(tmp_path):
    out = subprocess.run(["ansible-galaxy", "collection", "build", "--force", "--output-path", str(tmp_path)],
                         cwd=REPO, env=base_env(), text=True, capture_output=True, check=False)
    assert out.returncode == 0, out.stderr
    meta = yaml.safe_load((REPO / "galaxy.yml").read_text())
    tarball = tmp_path / f"{meta['namespace']}-{meta['name']}-{meta['version']}.tar.gz"
    assert tarball.exists(), out.stdout
    with tarfile.open(tarball) as tar:
        names = tar.getnames()
    for wanted in SHIPPED:
        assert any(n == wanted.rstrip("/") or n.startswith(wanted) for n in names), f"{wanted} missing from tarball"
    # top-level local/test paths; the chart's own templates/tests (helm test hooks) must ship
    leaked = [n for n in names if n.startswith(EXCLUDED) or "__pycache__" in n or "/.git/" in n]
    assert not leaked, f"local or test files in the tarball: {leaked[:10]}"
    assert "charts/kubiya-runner/templates/tests/test-health.yaml" in names
    assert "MANIFEST.json" in names and "FILES.json" in names
