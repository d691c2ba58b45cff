"""AWX job slicing gives each customer the same result as one unsliced job.

AWX's sliced job template runs N jobs, each on an inventory holding only every N-th host
(ordered by name: slice k gets hosts[k-1::N]), possibly on different execution nodes. The
collection must not depend on seeing the other customers of the group: this runs the
example inventory plus generated customers (one with bad input) through ansible-runner the
way the AWX test does, once unsliced and once as two slices, with `--tags validate` (offline:
the input checks and the rendered override files, no cluster), and compares per customer
the summary written by kubiya.runners.runner_summary and the rendered override files.
"""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from testlib import REPO, base_env, ensure_collection_on_path

pytestmark = [pytest.mark.slow]

VAULT_PASSWORD = "kubiya-example-vault"  # the example inventory's documented password
GENERATED = {  # name -> runner_uuid; "initech" has bad input
    "hooli": "5a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
    "initech": "not-a-uuid",
}


def inventory(dest: Path, hosts: list[str]) -> None:
    """The example inventory plus the generated customers, holding only ``hosts`` (a slice)."""
    shutil.copytree(REPO / "inventories" / "example", dest, ignore=shutil.ignore_patterns("*.sh", "*.md"))
    acme = dest / "host_vars" / "acme"
    for name, uuid in GENERATED.items():
        shutil.copytree(acme, dest / "host_vars" / name)
        main = yaml.safe_load((acme / "main.yml").read_text())
        main.update(runner_name=f"{name}-runner", runner_organization=name, runner_uuid=uuid,
                    runner_namespace=f"kubiya-{name}")
        (dest / "host_vars" / name / "main.yml").write_text(yaml.safe_dump(main))
    (dest / "hosts.yml").write_text(yaml.safe_dump({"kubiya_runners": {"hosts": {h: {} for h in hosts}}}))


def all_hosts() -> list[str]:
    example = yaml.safe_load((REPO / "inventories" / "example" / "hosts.yml").read_text())
    return sorted(list(example["kubiya_runners"]["hosts"]) + list(GENERATED))


def run_job(root: Path, hosts: list[str], ident: str) -> tuple[dict, dict]:
    """One AWX job over ``hosts``: (per-customer summary, rendered override files by name)."""
    pdd = root / ident
    shutil.copytree(REPO / "awx", pdd / "project")
    inventory(pdd / "inventory", hosts)
    env_dir = pdd / "env"
    env_dir.mkdir()
    rendered = pdd / "rendered"
    summary = pdd / "summary.json"
    (env_dir / "extravars").write_text(yaml.safe_dump({"kubiya_runner_hosts": "kubiya_runners",
                                                       "runner_values_dir": str(rendered)}))
    ensure_collection_on_path()
    (env_dir / "envvars").write_text(yaml.safe_dump({
        "ANSIBLE_COLLECTIONS_PATH": base_env()["ANSIBLE_COLLECTIONS_PATH"],
        "ANSIBLE_CALLBACKS_ENABLED": "kubiya.runners.runner_summary",
        "KUBIYA_RUNNER_SUMMARY": str(summary),
        "KUBECONFIG": "/nonexistent/kubeconfig",  # offline: nothing may touch a cluster
        "ANSIBLE_FORCE_COLOR": "0",
    }))
    (env_dir / "cmdline").write_text("--ask-vault-pass --tags validate")
    (env_dir / "passwords").write_text(yaml.safe_dump({r"^Vault password:\s*?$": VAULT_PASSWORD}))
    (env_dir / "settings").write_text(yaml.safe_dump({"job_timeout": 600, "suppress_ansible_output": True}))
    env = base_env()
    for name in ("ANSIBLE_VAULT_PASSWORD_FILE", "ANSIBLE_VAULT_IDENTITY_LIST", "KUBIYA_VAULT_PASSWORD"):
        env.pop(name, None)
    out = subprocess.run(["ansible-runner", "run", str(pdd), "-p", "deploy.yml", "--ident", ident],
                         env=env, text=True, capture_output=True, timeout=600, check=False)
    stdout = pdd / "artifacts" / ident / "stdout"
    assert summary.exists(), (stdout.read_text() if stdout.exists() else out.stdout)[-4000:]
    hosts_summary = json.loads(summary.read_text())["hosts"]
    files = {p.name: p.read_text() for p in rendered.glob("*")} if rendered.is_dir() else {}
    return hosts_summary, files


def comparable(entry: dict) -> dict:
    """Result and failure; not the wall time, nor the changed-task count (a run-once task of
    the play, such as creating runner_values_dir, counts for whichever host runs it)."""
    return {k: v for k, v in entry.items() if k not in ("seconds", "changed_tasks")}


def test_two_slices_give_each_customer_the_same_result_as_one_job(tmp_path):
    hosts = all_hosts()
    whole, whole_files = run_job(tmp_path, hosts, "unsliced")
    assert set(whole) == set(hosts)
    assert whole["initech"]["result"] == "failed" and "runner_uuid" in whole["initech"]["message"]
    assert all(whole[h]["result"] != "failed" for h in hosts if h != "initech")
    assert {f"override_{h}.yaml" for h in hosts if h != "initech"} <= set(whole_files)

    sliced, sliced_files = {}, {}
    for k in (1, 2):  # AWX: slice k of 2 holds hosts[k-1::2]
        part, files = run_job(tmp_path, hosts[k - 1::2], f"slice-{k}")
        assert set(part) == set(hosts[k - 1::2])
        sliced.update(part)
        sliced_files.update(files)

    assert {h: comparable(e) for h, e in sliced.items()} == {h: comparable(e) for h, e in whole.items()}
    assert sliced_files == whole_files
