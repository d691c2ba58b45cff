"""Chart structure: file:// subcharts committed unpacked, offline install, library copies in sync."""
from __future__ import annotations

import filecmp
import shutil

import yaml

import chartlib


def test_dependencies_are_local_and_present():
    chart = yaml.safe_load((chartlib.CHART / "Chart.yaml").read_text())
    deps = {d["name"]: d for d in chart["dependencies"]}
    assert set(deps) == {"kubiya-common", *chartlib.SUBCHARTS}
    for name, dep in deps.items():
        assert dep["repository"] == f"file://charts/{name}"
        sub = yaml.safe_load((chartlib.CHART / "charts" / name / "Chart.yaml").read_text())
        assert sub["name"] == name and sub["version"] == dep["version"]
    assert list((chartlib.CHART / "charts").glob("*.tgz")) == []  # unpacked, nothing to rebuild


def test_library_copies_are_identical():
    src = chartlib.CHART / "charts" / "kubiya-common"
    for sub in chartlib.SUBCHARTS:
        copy = chartlib.CHART / "charts" / sub / "charts" / "kubiya-common"
        assert not copy.is_symlink()
        cmp = filecmp.dircmp(src, copy)
        stack = [cmp]
        while stack:
            c = stack.pop()
            assert not (c.left_only or c.right_only or c.diff_files), (sub, c.left_only, c.right_only, c.diff_files)
            stack.extend(c.subdirs.values())
        for f in src.rglob("*"):
            if f.is_file():
                assert filecmp.cmp(f, copy / f.relative_to(src), shallow=False), f


def test_installs_from_a_clean_copy_and_a_package_offline(tmp_path, values):
    """No helm dependency build, no repository, no network: copy the chart dir, render, package."""
    copy = tmp_path / "kubiya-runner"
    shutil.copytree(chartlib.CHART, copy)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "HELM_CACHE_HOME": str(tmp_path / "cache"),
           "HELM_CONFIG_HOME": str(tmp_path / "config"), "HELM_DATA_HOME": str(tmp_path / "data"),
           "HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9"}
    args = chartlib.template_args(values, chart=copy, tmpdir=tmp_path)
    out = chartlib.helm(*args, env=env).stdout
    assert "kind: StatefulSet" in out
    chartlib.helm("package", str(copy), "-d", str(tmp_path), env=env)
    tgz = tmp_path / "kubiya-runner-1.0.0.tgz"
    assert tgz.exists()
    args = chartlib.template_args(values, chart=tgz, tmpdir=tmp_path)
    assert chartlib.helm(*args, env=env).stdout == out


def test_subcharts_lint_on_their_own():
    sets = ["--set", "global.runner.name=r", "--set", "global.runner.organization=o",
            "--set", "global.runner.uuid=00000000-0000-4000-8000-000000000000"]
    for sub in chartlib.SUBCHARTS:
        proc = chartlib.helm("lint", "--strict", str(chartlib.CHART / "charts" / sub),
                             "--kube-version", chartlib.KUBE_VERSION, *sets, check=False)
        assert proc.returncode == 0, proc.stdout + proc.stderr
