"""The Alloy configuration of every ci/ values file parses with Alloy's own parser.

tools/alloycheck (Go, built by `make setup` into .tools/bin) parses with
github.com/grafana/alloy/syntax v0.1.0 -- the module Alloy itself uses; Alloy cannot be built
here -- and checks that every block is a configuration block or a component of
tools/alloycheck/components.txt (the Alloy release the chart pins), that each component has a
unique label, and that every reference to a component's export names a declared component.
Attribute names and types are not checked (their schemas are in Alloy's component packages).
"""
from __future__ import annotations

import subprocess

import pytest

import chartlib
from testlib import REPO

ALLOYCHECK = REPO / ".tools" / "bin" / "alloycheck"
COMPONENTS = REPO / "tools" / "alloycheck" / "components.txt"


def alloycheck(tmp_path, text: str, name: str = "config.alloy") -> subprocess.CompletedProcess:
    assert ALLOYCHECK.exists(), f"{ALLOYCHECK} missing: run make setup"
    path = tmp_path / name
    path.write_text(text)
    return subprocess.run([str(ALLOYCHECK), "-components", str(COMPONENTS), str(path)],
                          text=True, capture_output=True, timeout=60, check=False)


def alloy_configs(docs) -> list[str]:
    return [c["data"]["config.alloy"] for c in chartlib.by_kind(docs, "ConfigMap") if "config.alloy" in c.get("data", {})]


@pytest.mark.parametrize("values_file", chartlib.CI_VALUES, ids=lambda p: p.name)
def test_every_ci_values_file_renders_an_alloy_config_that_alloy_parses(values_file, ci_docs, tmp_path):
    configs = alloy_configs(ci_docs[values_file.name])
    for i, text in enumerate(configs):
        out = alloycheck(tmp_path, text, f"{values_file.stem}-{i}.alloy")
        assert out.returncode == 0, out.stdout + out.stderr


def test_the_default_values_render_one_alloy_config(default_docs):
    assert len(alloy_configs(default_docs)) == 1


@pytest.mark.parametrize("broken,says", [
    ('prometheus.scrap "x" {\n  targets = []\n  forward_to = []\n}\n', '"prometheus.scrap" is not an Alloy component'),
    ('prometheus.scrape "x" {\n  targets = discovery.relabel.missing.output\n  forward_to = []\n}\n',
     "discovery.relabel.missing.output refers to a component that is not declared"),
    ('prometheus.scrape {\n  targets = []\n}\n', "component prometheus.scrape has no label"),
    ('prometheus.scrape "x" {\n  targets = [\n}\n', "expected"),
    ('prometheus.relabel "a" {\n  forward_to = []\n}\nprometheus.relabel "a" {\n  forward_to = []\n}\n', "declared twice"),
])
def test_a_broken_config_is_refused_with_its_line(tmp_path, broken, says):
    out = alloycheck(tmp_path, broken)
    assert out.returncode == 1
    assert says in out.stdout + out.stderr
    assert "config.alloy:" in out.stdout + out.stderr  # file and line named


def test_environment_functions_are_not_mistaken_for_components(tmp_path):
    ok = 'logging {\n  level = sys.env("LEVEL")\n}\nprometheus.exporter.self "a" { }\n'
    assert alloycheck(tmp_path, ok).returncode == 0
