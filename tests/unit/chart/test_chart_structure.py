"""Chart layout: each chart its own directory under charts/, dependencies by version with a
committed Chart.lock, archives built by tools/chart-deps.sh and never committed; the umbrella
installs offline from a clean copy and from its package."""
from __future__ import annotations

import os
import shutil
import subprocess
import tarfile

import yaml

import chartlib
from testlib import REPO

LIBRARY = "kubiya-common"


def _chart(name):
    return yaml.safe_load((chartlib.CHARTS / name / "Chart.yaml").read_text())


def test_each_chart_is_its_own_directory_with_dependencies_by_version():
    umbrella = _chart("kubiya-runner")
    deps = {d["name"]: d for d in umbrella["dependencies"]}
    assert set(deps) == {LIBRARY, *chartlib.SUBCHARTS}
    for name, dep in deps.items():
        assert dep["repository"] == f"file://../{name}"
        assert _chart(name)["name"] == name and _chart(name)["version"] == dep["version"]
        assert dep.get("alias") == chartlib.ALIASES.get(name)   # camelCase values keys
    assert _chart(LIBRARY)["type"] == "library"
    for sub in chartlib.SUBCHARTS:
        (lib,) = _chart(sub)["dependencies"]
        assert lib == {"name": LIBRARY, "version": _chart(LIBRARY)["version"],
                       "repository": f"file://../{LIBRARY}"}


def test_chart_lock_is_committed_and_agrees_with_chart_yaml():
    tracked = set(subprocess.run(["git", "ls-files", "charts"], cwd=REPO, capture_output=True,
                                 text=True, check=True).stdout.split())
    for chart in ("kubiya-runner", *chartlib.SUBCHARTS):
        lock = yaml.safe_load((chartlib.CHARTS / chart / "Chart.lock").read_text())
        assert f"charts/{chart}/Chart.lock" in tracked
        assert [(d["name"], d["version"], d["repository"]) for d in lock["dependencies"]] == \
            [(d["name"], d["version"], d["repository"]) for d in _chart(chart)["dependencies"]]
    # no chart is committed twice: no copies, no archives under any charts/<chart>/charts/
    assert not [f for f in tracked if f.count("/charts/") or f.endswith(".tgz")], \
        "committed dependency copies: " + ", ".join(f for f in tracked if "/charts/" in f)


def test_dependency_archives_are_built_in_dependency_order(tmp_path):
    """tools/chart-deps.sh on a fresh copy: the umbrella's agent-manager archive carries its
    own kubiya-common (built first), and a Chart.yaml out of step with its lock fails."""
    charts = tmp_path / "charts"
    for name in ("kubiya-runner", LIBRARY, *chartlib.SUBCHARTS):
        shutil.copytree(chartlib.CHARTS / name, charts / name, ignore=shutil.ignore_patterns("charts"))
    env = dict(os.environ, HELM=chartlib.helm_bin(), HELM_CACHE_HOME=str(tmp_path / "cache"),
               HELM_CONFIG_HOME=str(tmp_path / "config"), HELM_DATA_HOME=str(tmp_path / "data"))
    subprocess.run(["bash", str(REPO / "tools" / "chart-deps.sh"), str(charts)], check=True,
                   env=env, capture_output=True, text=True)
    built = sorted(p.name for p in (charts / "kubiya-runner" / "charts").iterdir())
    assert built == sorted(f"{n}-1.0.0.tgz" for n in (LIBRARY, *chartlib.SUBCHARTS))
    with tarfile.open(charts / "kubiya-runner" / "charts" / "agent-manager-1.0.0.tgz") as tgz:
        assert "agent-manager/charts/kubiya-common/templates/_helpers.tpl" in tgz.getnames()
    text = (charts / "agent-manager" / "Chart.yaml").read_text()
    text = text.replace("version: 1.0.0\n    repository", "version: 1.0.1\n    repository")
    (charts / "agent-manager" / "Chart.yaml").write_text(text)
    proc = subprocess.run(["bash", str(REPO / "tools" / "chart-deps.sh"), str(charts)], env=env,
                          capture_output=True, text=True, check=False)
    assert proc.returncode != 0, proc.stderr
    assert f"helm dependency build {charts}/agent-manager failed" in proc.stderr
    assert "Chart.lock) is out of sync" in proc.stderr


def test_installs_from_a_clean_copy_and_a_package_offline(tmp_path, values):
    """No repository, no network: copy the umbrella with its built archives, render, package."""
    copy = tmp_path / "kubiya-runner"
    shutil.copytree(chartlib.CHART, copy)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "HELM_CACHE_HOME": str(tmp_path / "cache"),
           "HELM_CONFIG_HOME": str(tmp_path / "config"), "HELM_DATA_HOME": str(tmp_path / "data"),
           "HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9"}
    args = chartlib.template_args(values, chart=copy, tmpdir=tmp_path)
    out = chartlib.helm(*args, env=env).stdout
    assert "kind: StatefulSet" in out
    chartlib.helm("package", str(copy), "-d", str(tmp_path), env=env)
    tgz = tmp_path / ("kubiya-runner-%s.tgz" % _chart("kubiya-runner")["version"])
    assert tgz.exists()
    args = chartlib.template_args(values, chart=tgz, tmpdir=tmp_path)
    assert chartlib.helm(*args, env=env).stdout == out


def test_old_subchart_keys_are_refused_naming_the_new_ones(values):
    """Chart 2.0.0 renamed agent-manager/tool-manager/kubiya-operator to camelCase: helm
    refuses the old key by name (the role's check adds the new name, test_runner_checks.py)."""
    for old in chartlib.SUBCHARTS:
        err = chartlib.render_fails(dict(values, **{old: {"replicaCount": 2}}))
        assert old in err, err


def test_subcharts_lint_on_their_own():
    sets = ["--set", "global.runner.name=r", "--set", "global.runner.organization=o",
            "--set", "global.runner.uuid=00000000-0000-4000-8000-000000000000"]
    for sub in chartlib.SUBCHARTS:
        proc = chartlib.helm("lint", "--strict", str(chartlib.CHARTS / sub),
                             "--kube-version", chartlib.KUBE_VERSION, *sets, check=False)
        assert proc.returncode == 0, proc.stdout + proc.stderr


def test_built_archives_hold_what_the_chart_directories_hold():
    """The umbrella renders its components from charts/kubiya-runner/charts/*.tgz: after an
    edit of a component chart those are stale until tools/chart-deps.sh rebuilds them (the
    test session does so at its start, tests/conftest.py; the role refuses stale archives,
    tests/unit/plugins/filter/test_runner_rules.py). Templates and values, both directions."""
    from ansible_collections.kubiya.runners.plugins.filter import runner_checks
    assert (chartlib.CHART / "charts").is_dir(), "charts/kubiya-runner/charts/ is missing: run make setup"
    assert runner_checks.missing_dependency_errors(str(chartlib.CHART)) == []
