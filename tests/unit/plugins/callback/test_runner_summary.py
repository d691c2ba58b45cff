"""The customer summary at the end of a fleet run (plugins/callback/runner_summary.py): one row
per customer, changed / unchanged / failed and why, and the same as JSON for AWX and CI.

The pure part is tested directly; the callback itself through a real ansible-playbook run over
four hosts on this machine (no cluster): one changes, one changes nothing, one fails (its
message shown, cut to one line), one fails in a no_log task (its message never shown)."""
from __future__ import annotations

import json
import stat
import subprocess
import sys

import pytest

from testlib import REPO, base_env, ensure_collection_on_path

ensure_collection_on_path()
from ansible_collections.kubiya.runners.plugins.callback import runner_summary  # noqa: E402

SECRET = "s3cr3t-value-never-shown"

PLAY = """
- name: A fleet of four customers
  hosts: all
  gather_facts: false
  tasks:
    - name: Change something
      ansible.builtin.command: "true"
      changed_when: inventory_hostname != 'quiet'
      when: inventory_hostname in ['busy', 'quiet']

    - name: Break on bad input
      ansible.builtin.fail:
        msg: "runner_uuid: 'x' is not a UUID\\nsecond line of detail"
      when: inventory_hostname == 'broken'

    - name: A failure that is rescued is not a failure
      when: inventory_hostname == 'quiet'
      block:
        - name: Fails
          ansible.builtin.fail:
            msg: rescued
      rescue:
        - name: Rescue
          ansible.builtin.debug:
            msg: rescued

    - name: Fail inside no_log
      ansible.builtin.fail:
        msg: "token {{ secret }} refused"
      no_log: true
      when: inventory_hostname == 'secretive'
"""


def run(tmp_path, **env):
    (tmp_path / "play.yml").write_text(PLAY)
    (tmp_path / "hosts").write_text("[all:vars]\nansible_connection=local\nansible_python_interpreter=%s\nsecret=%s\n"
                                    "[all]\nbusy\nquiet\nbroken\nsecretive\n" % (sys.executable, SECRET))
    return subprocess.run(["ansible-playbook", "-i", str(tmp_path / "hosts"), str(tmp_path / "play.yml")],
                          env=base_env(ANSIBLE_CALLBACKS_ENABLED="kubiya.runners.runner_summary", ANSIBLE_NOCOLOR="1",
                                       **env),
                          cwd=tmp_path, text=True, capture_output=True, timeout=120, check=False)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fleet")
    out = run(tmp, KUBIYA_RUNNER_SUMMARY=str(tmp / "summary.json"))
    return out, tmp / "summary.json"


def test_each_customer_gets_one_row_with_its_result(fleet):
    out = fleet[0]
    assert out.returncode == 2, out.stdout + out.stderr
    summary = out.stdout.split("CUSTOMER SUMMARY", 1)[1]
    rows = {line.split()[0]: line for line in summary.splitlines()[2:] if line.split() and line.split()[0] in
            ("busy", "quiet", "broken", "secretive")}
    assert rows["busy"].split()[1:3] == ["changed", "1"]
    assert rows["quiet"].split()[1] == "unchanged"  # its rescued failure is not a failure
    assert rows["broken"].split()[1] == "failed"
    assert rows["broken"].rstrip().endswith("Break on bad input: runner_uuid: 'x' is not a UUID")
    assert "4 customer(s): 1 changed, 1 unchanged, 2 failed" in summary


def test_the_json_says_the_same_and_holds_no_secret(fleet):
    out, path = fleet
    doc = json.loads(path.read_text())
    assert doc["totals"] == {"changed": 1, "unchanged": 1, "failed": 2}
    assert doc["playbook"] == "play.yml"
    hosts = doc["hosts"]
    assert hosts["broken"]["failed_task"] == "Break on bad input"
    assert hosts["broken"]["message"].startswith("runner_uuid: 'x' is not a UUID\nsecond line")
    assert hosts["busy"]["seconds"] >= 0
    assert "hidden" in hosts["secretive"]["message"]  # Ansible's censored note
    # (ansible-core 2.19 itself prints a failed no_log `fail` task's msg in its [ERROR] line;
    # the summary and the JSON never do)
    assert SECRET not in path.read_text() and SECRET not in out.stdout.split("CUSTOMER SUMMARY", 1)[1]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_an_unwritable_summary_path_warns_and_keeps_the_run_result(tmp_path):
    out = run(tmp_path, KUBIYA_RUNNER_SUMMARY=str(tmp_path / "missing-dir" / "summary.json"))
    assert out.returncode == 2  # the play's own result, not the callback's
    assert "could not write" in out.stdout + out.stderr
    assert "CUSTOMER SUMMARY" in out.stdout


def test_a_json_stdout_stays_one_json_document_and_the_file_is_still_written(tmp_path):
    out = run(tmp_path, KUBIYA_RUNNER_SUMMARY=str(tmp_path / "summary.json"), ANSIBLE_STDOUT_CALLBACK="ansible.posix.json")
    assert set(json.loads(out.stdout)["stats"]) == {"busy", "quiet", "broken", "secretive"}
    assert json.loads((tmp_path / "summary.json").read_text())["totals"]["failed"] == 2


def test_summarize_counts_and_cuts_long_messages():
    stats = {"a": {"changed": 2, "failures": 0}, "b": {"changed": 0}, "c": {"failures": 1, "changed": 1},
             "d": {"unreachable": 1}}
    failures = {"c": {"task": "Install", "message": "x" * 500, "unreachable": False}}
    summary = runner_summary.summarize(stats, failures, {"a": (1.0, 3.5)})
    assert [summary["hosts"][h]["result"] for h in "abcd"] == ["changed", "unchanged", "failed", "failed"]
    assert summary["hosts"]["a"]["seconds"] == 2.5 and summary["hosts"]["b"]["seconds"] is None
    assert summary["hosts"]["d"]["unreachable"] is True
    lines = runner_summary.table(summary)
    row = next(line for line in lines if line.startswith("c "))
    assert row.endswith("...") and len(row) < 260


@pytest.mark.parametrize("result,expected", [
    ({"msg": "boom"}, "boom"),
    ({"stderr": "helm: error"}, "helm: error"),
    ({"censored": "the output has been hidden", "msg": SECRET}, "the output has been hidden"),
    ({}, "failed (no message)"),
])
def test_failure_message(result, expected):
    assert runner_summary.failure_message(result) == expected


def test_the_repository_configuration_enables_it():
    assert "kubiya.runners.runner_summary" in (REPO / "ansible.cfg").read_text()
