"""Chart documentation: generated values tables are current; required sections exist."""
from __future__ import annotations

import re
import shutil
import subprocess

import pytest

import chartlib


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed (needed by readme-generator)")
def test_values_tables_are_current():
    """tools/chart-readme.sh --check regenerates every table into a copy and diffs it."""
    proc = subprocess.run([str(chartlib.REPO / "tools" / "chart-readme.sh"), "--check"],
                          capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-4000:]


@pytest.mark.parametrize("values_file", [chartlib.CHART / "values.yaml"] +
                         [chartlib.CHARTS / s / "values.yaml" for s in chartlib.SUBCHARTS],
                         ids=lambda p: p.parent.name)
def test_every_value_has_a_param_comment(values_file):
    """Each leaf key of values.yaml is documented with `## @param` (or skipped on purpose)."""
    import yaml
    text = values_file.read_text()
    documented = set(re.findall(r"^\s*## @param (\S+)", text, re.M))
    skipped = set(re.findall(r"^\s*## @skip (\S+)", text, re.M))

    def leaves(node, prefix=""):
        if isinstance(node, dict) and node:
            for k, v in node.items():
                yield from leaves(v, f"{prefix}.{k}" if prefix else k)
        else:
            yield prefix

    for key in leaves(yaml.safe_load(text)):
        parts = key.split(".")
        covered = any(".".join(parts[:i]) in documented | skipped for i in range(1, len(parts) + 1))
        assert covered, f"{values_file}: {key} has no ## @param"


def test_readme_sections():
    readme = (chartlib.CHART / "README.md").read_text()
    for heading in ("## Compatibility", "## Permission matrix", "### Opt-in cluster rights (risk)",
                    "## NetworkPolicies", "## Upgrading", "## Parameters", "## Pod security"):
        assert heading in readme, heading
    changelog = (chartlib.CHART / "CHANGELOG.md").read_text()
    import yaml
    version = yaml.safe_load((chartlib.CHART / "Chart.yaml").read_text())["version"]
    assert f"## {version}" in changelog


def test_compatibility_table_matches_the_default_images():
    import yaml
    readme = (chartlib.CHART / "README.md").read_text()
    row = next(line for line in readme.splitlines()
               if line.startswith(f"| {yaml.safe_load((chartlib.CHART / 'Chart.yaml').read_text())['version']} |"))
    values = yaml.safe_load((chartlib.CHART / "values.yaml").read_text())
    sub = {s: yaml.safe_load((chartlib.CHARTS / s / "values.yaml").read_text()) for s in chartlib.SUBCHARTS}
    tags = [sub["agent-manager"]["image"]["tag"], sub["tool-manager"]["image"]["tag"],
            sub["tool-manager"]["sdkServer"]["image"]["tag"], sub["kubiya-operator"]["image"]["tag"],
            values["workflowEngine"]["image"]["tag"], values["dagger"]["image"]["tag"],
            values["imageUpdater"]["image"]["tag"], values["kubeStateMetrics"]["image"]["tag"],
            values["alloy"]["image"]["tag"]]
    for tag in tags:
        assert f" {tag} |" in row, tag
