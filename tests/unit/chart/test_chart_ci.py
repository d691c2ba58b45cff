"""make chart-ci (tools/chart-ci.sh): chart-testing's ct lint of every chart, and its
version-bump check -- a chart changed against the target branch without a higher version in
Chart.yaml fails, naming the chart; with the bump it passes.

Runs on a clone of the committed tree (uncommitted edits are not part of it), whose target
branch is a local ref at the clone's HEAD.
"""
from __future__ import annotations

import re
import subprocess

import pytest

from testlib import REPO

pytestmark = [pytest.mark.slow]

GIT = ["git", "-c", "user.email=ci@example.invalid", "-c", "user.name=chart-ci"]


def chart_ci(clone, **env):
    return subprocess.run(["tools/chart-ci.sh"], cwd=clone, text=True, capture_output=True, timeout=600, check=False,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(clone), **env})


@pytest.fixture
def clone(tmp_path):
    dest = tmp_path / "repo"
    subprocess.run(["git", "clone", "-q", str(REPO), str(dest)], check=True, timeout=120)
    for tool_dir in (".tools", ".venv"):
        (dest / tool_dir).symlink_to(REPO / tool_dir)
    subprocess.run(["git", "update-ref", "refs/remotes/origin/ci-base", "HEAD"], cwd=dest, check=True)
    return dest


def commit(clone, message):
    subprocess.run(GIT + ["commit", "-qam", message], cwd=clone, check=True, timeout=60)


def test_a_changed_chart_needs_a_version_bump(clone):
    notes = clone / "charts" / "kubiya-runner" / "templates" / "NOTES.txt"
    notes.write_text(notes.read_text() + "\n")
    commit(clone, "change the chart, keep its version")
    out = chart_ci(clone, CT_TARGET_BRANCH="ci-base")
    assert out.returncode != 0, out.stdout[-3000:]
    assert "kubiya-runner" in out.stdout and "Needs a version bump" in out.stdout, out.stdout[-3000:]

    chart = clone / "charts" / "kubiya-runner" / "Chart.yaml"
    text = chart.read_text()
    major, minor, patch = re.search(r"^version: *\"?(\d+)\.(\d+)\.(\d+)", text, re.M).groups()
    chart.write_text(re.sub(r"^version: .*$", f"version: {major}.{minor}.{int(patch) + 1}", text, count=1, flags=re.M))
    commit(clone, "bump the chart's version")
    out = chart_ci(clone, CT_TARGET_BRANCH="ci-base")
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    assert "Chart version ok." in out.stdout


def test_without_the_target_branch_the_lint_still_runs_and_says_the_check_was_skipped(clone):
    out = chart_ci(clone, CT_TARGET_BRANCH="no-such-branch")
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    assert "All charts linted successfully" in out.stdout
    assert "version-bump check skipped" in out.stdout
    # nothing written into the working tree but the git-ignored dependency archives
    status = subprocess.run(["git", "status", "--porcelain", "--ignored", "charts"], cwd=clone, text=True,
                            capture_output=True, check=True).stdout
    assert sorted(status.splitlines()) == [f"!! charts/{c}/charts/" for c in
                                           ("agent-manager", "kubiya-operator", "kubiya-runner", "tool-manager")], status
