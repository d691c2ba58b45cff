"""The documented workflow works as written, from a fresh shell.

The commands are extracted from the READMEs' code blocks (never copied here) and run
with `env -i` -- only PATH, HOME and the exports the README itself shows -- in a fresh
checkout (the files git tracks, copied into tmp_path, with .venv and .tools linked and
the collection link `make setup` creates). Nothing from the Makefile's environment.

- README.md "Deploy a runner per customer": the offline validation (no cluster), the
  deploy/verify/remove of acme against the shared local cluster (acme's namespace
  rewritten to one carrying this suite's name), and the built tarball installed with
  ansible-galaxy and used from another directory with the user's own inventory.
- inventories/example/README.md "Add a customer": the recipe, verbatim, with a vault
  password of the customer's own; its run time is printed and recorded.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import yaml

from testlib import REPO

README = REPO / "README.md"
INVENTORY_README = REPO / "inventories" / "example" / "README.md"
PASSWORD = "kubiya-example-vault"
CLEAN_PATH = "/usr/local/bin:/usr/bin:/bin"


def section(markdown: Path, heading: str) -> str:
    """The text of the section `heading` (up to the next heading of the same or a higher level;
    lines inside code fences are never headings)."""
    lines, level, out, fenced = markdown.read_text().splitlines(keepends=True), None, [], False
    for line in lines:
        if line.startswith("```"):
            fenced = not fenced
        heading_match = None if fenced else re.match(r"^(#+) (.*?)\s*$", line)
        if level is None:
            if heading_match and heading_match.group(2) == heading:
                level = len(heading_match.group(1))
            continue
        if heading_match and len(heading_match.group(1)) <= level:
            break
        out.append(line)
    assert level is not None, f"{markdown.name}: no section '{heading}'"
    return "".join(out)


def bash_blocks(markdown: Path, heading: str) -> list[str]:
    return re.findall(r"^```bash\n(.*?)^```", section(markdown, heading), re.M | re.S)


def block_with(blocks: list[str], needle: str) -> str:
    found = [b for b in blocks if needle in b]
    assert len(found) == 1, f"expected one code block with {needle!r}, found {len(found)}"
    return found[0]


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A fresh checkout: the tracked files (work-tree content), git-initialised, after `make setup`'s links
    and the charts' dependency archives (make chart-deps, part of make setup)."""
    repo = tmp_path / "kubiya-runners"
    repo.mkdir()
    files = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    subprocess.run(["tar", "--null", "--no-recursion", "-T", "-", "-cf", str(tmp_path / "src.tar")], cwd=REPO,
                   input=b"\0".join(f for f in files.split(b"\0") if f and (REPO / f.decode()).exists()), check=True)
    subprocess.run(["tar", "-xf", str(tmp_path / "src.tar"), "-C", str(repo)], check=True)
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    # what `make setup` leaves behind (the venv and the binaries are shared, not rebuilt)
    (repo / ".venv").symlink_to((REPO / ".venv").resolve())
    (repo / ".tools").symlink_to((REPO / ".tools").resolve())
    link = repo / ".build" / "collections" / "ansible_collections" / "kubiya" / "runners"
    made = subprocess.run(["make", "--no-print-directory", str(link), "chart-deps"], cwd=repo, capture_output=True,
                          text=True, env={"PATH": CLEAN_PATH, "HOME": str(tmp_path)}, check=False)
    assert made.returncode == 0 and link.is_symlink(), made.stderr
    assert (repo / "charts" / "kubiya-runner" / "charts").is_dir(), made.stdout + made.stderr
    return repo


def run_clean(script: str, cwd: Path, home: Path, timeout: int = 900, **extra: str) -> subprocess.CompletedProcess:
    """bash with an empty environment: PATH, HOME and what the script exports itself."""
    home.mkdir(parents=True, exist_ok=True)
    env = {"PATH": CLEAN_PATH, "HOME": str(home), "LANG": "C.UTF-8", **extra}
    return subprocess.run(["env", "-i", *[f"{k}={v}" for k, v in env.items()], "bash", "-euo", "pipefail", "-c",
                           script], cwd=cwd, text=True, capture_output=True, timeout=timeout, check=False)


def commands_of(block: str) -> list[str]:
    """The commands of a block without comments and spacing."""
    return [" ".join(line.split("#")[0].split()) for line in block.splitlines() if line.split("#")[0].strip()]


def report(out: subprocess.CompletedProcess) -> str:
    return f"rc={out.returncode}\n--- stdout\n{out.stdout[-6000:]}\n--- stderr\n{out.stderr[-3000:]}"


def test_offline_validation_as_written(checkout: Path, tmp_path: Path):
    blocks = bash_blocks(README, "Deploy a runner per customer")
    exports = block_with(blocks, "export KUBIYA_VAULT_PASSWORD=")
    validate = block_with(blocks, "-i inventories/example/hosts.yml kubiya.runners.deploy --tags validate")
    assert "-i inventories/example/hosts.yml" in validate
    # the inventory README shows the same workflow; its blocks must work as written too
    inv_blocks = bash_blocks(INVENTORY_README, "Example inventory: two customers")
    inv_exports = block_with(inv_blocks, "export KUBIYA_VAULT_PASSWORD=")
    inv_validate = block_with(inv_blocks, "-i inventories/example/hosts.yml kubiya.runners.deploy --tags validate")
    # ... and its deploy/verify/remove commands are the ones the cluster test runs from README.md
    assert commands_of(block_with(inv_blocks, "kubiya.runners.remove --limit acme")) == \
        commands_of(block_with(blocks, "kubiya.runners.remove --limit acme"))
    # the role's options, as README.md points to them (ansible-doc -t role kubiya.runners.runner)
    assert "`ansible-doc -t role kubiya.runners.runner`" in README.read_text()
    doc = "ansible-doc -t role kubiya.runners.runner | grep -q runner_allow_http\n"
    out = run_clean(exports + validate + inv_exports + inv_validate + doc, checkout, tmp_path / "home")
    assert out.returncode == 0, report(out)
    for customer in ("acme", "globex"):
        override = yaml.safe_load((checkout / "rendered" / f"override_{customer}.yaml").read_text())
        assert override["global"]["runner"]["organization"] == customer
    installed = checkout / ".build" / "collections" / "ansible_collections" / "kubiya" / "runners"
    assert installed.resolve() == checkout.resolve()  # resolved through ansible.cfg, not a Makefile variable


def test_built_collection_used_from_elsewhere_as_written(checkout: Path, tmp_path: Path):
    blocks = bash_blocks(README, "With the built collection, elsewhere")
    exports = block_with(bash_blocks(README, "Deploy a runner per customer"), "export KUBIYA_VAULT_PASSWORD=")
    build = block_with(blocks, "make build")
    use = block_with(blocks, "cd ~/runners")
    home = tmp_path / "home"
    # the user's own inventory, outside the repository
    shutil.copytree(REPO / "inventories" / "example", home / "runners" / "my-inventory")
    out = run_clean(exports + build + use, checkout, home)
    assert out.returncode == 0, report(out)
    installed = home / ".ansible" / "collections" / "ansible_collections" / "kubiya" / "runners"
    assert (installed / "MANIFEST.json").is_file(), "not installed where ansible-galaxy installs by default"
    assert (home / "runners" / "rendered" / "override_acme.yaml").is_file()
    assert not list(installed.rglob("override_*.yaml")), "written inside the installed collection"
    assert not (installed / "ansible.cfg").exists() and not (installed / "scripts").exists()


@pytest.mark.cluster
@pytest.mark.slow
def test_deploy_verify_remove_as_written(checkout: Path, tmp_path: Path, cluster):
    blocks = bash_blocks(README, "Deploy a runner per customer")
    exports = block_with(blocks, "export KUBIYA_VAULT_PASSWORD=")
    commands = block_with(blocks, "kubiya.runners.remove --limit acme")
    assert "kubiya.runners.deploy --limit acme" in commands and "kubiya.runners.verify --limit acme" in commands
    # the documented KUBECONFIG ($PWD/.cluster/kubeconfig) is the shared cluster; acme gets a namespace of its own
    (checkout / ".cluster").mkdir()
    (checkout / ".cluster" / "kubeconfig").symlink_to(Path(cluster.kubeconfig).resolve())
    namespace = f"kubiya-ops-readme-{uuid.uuid4().hex[:6]}"
    acme = checkout / "inventories" / "example" / "host_vars" / "acme" / "main.yml"
    acme.write_text(acme.read_text().replace("runner_namespace: kubiya-acme", f"runner_namespace: {namespace}"))
    try:
        out = run_clean(exports + commands, checkout, tmp_path / "home", timeout=1200)
        assert out.returncode == 0, report(out)
        recaps = re.findall(r"^acme\s+: ok=\d+\s+changed=(\d+).*failed=(\d+)", out.stdout, re.M)
        assert len(recaps) == 3 and all(failed == "0" for _changed, failed in recaps), report(out)
        assert "health: ok" in out.stdout
        gone = cluster.kubectl("get", "namespace", namespace, check=False)
        assert gone.returncode != 0 or "Terminating" in gone.stdout, "remove left the namespace behind"
    finally:
        cluster.kubectl("delete", "namespace", namespace, "--wait=false", "--ignore-not-found", check=False)


EDITOR = """#!/bin/sh
# stands in for the operator's editor: writes the customer's secrets into the decrypted vault
cat > "$1" <<'YAML'
---
vault_runner_nats_operator_creds: |
  -----BEGIN NATS USER JWT-----
  TEST-GENERATED-NOT-A-REAL-JWT-operator
  ------END NATS USER JWT------
vault_runner_nats_runner_creds: |
  -----BEGIN NATS USER JWT-----
  TEST-GENERATED-NOT-A-REAL-JWT-runner
  ------END NATS USER JWT------
vault_runner_remote_write_client_secret: TEST-GENERATED-NOT-A-REAL-SECRET
YAML
"""


def recipe_script(customer: str, runner_uuid: str) -> str:
    exports = block_with(bash_blocks(INVENTORY_README, "Example inventory: two customers"),
                         "export KUBIYA_VAULT_PASSWORD=")
    recipe = block_with(bash_blocks(INVENTORY_README, "Add a customer"), "make new-customer")
    # the only lines changed: the customer id and the runner UUID the operator fills in
    recipe, n_customer = re.subn(r"^export CUSTOMER=\S+", f"export CUSTOMER={customer}", recipe, flags=re.M)
    recipe, n_uuid = re.subn(r"^export RUNNER_UUID=\S+", f"export RUNNER_UUID={runner_uuid}", recipe, flags=re.M)
    assert n_customer == 1 and n_uuid == 1, "the recipe starts with export CUSTOMER=... and export RUNNER_UUID=..."
    return exports + recipe


def recipe_env(tmp_path: Path, customer: str, password: str) -> dict[str, str]:
    editor = tmp_path / "editor.sh"
    editor.write_text(EDITOR)
    editor.chmod(0o755)
    label = re.sub(r"[^A-Z0-9_]", "", customer.upper().replace("-", "_").replace(".", "_"))
    return {"EDITOR": str(editor), f"KUBIYA_VAULT_PASSWORD_{label}": password}


def check_recipe_result(checkout: Path, customer: str, password: str, tmp_path: Path) -> None:
    inventory = checkout / "inventories" / "example"
    hosts = yaml.safe_load((inventory / "hosts.yml").read_text())
    assert customer in hosts["kubiya_runners"]["hosts"]
    vault = inventory / "host_vars" / customer / "vault"
    assert vault.read_text().startswith(f"$ANSIBLE_VAULT;1.2;AES256;{customer}\n")
    # the customer's own password opens it, the shared one does not: vault ids select passwords
    for secret, ok in ((password, True), (PASSWORD, False)):
        pwfile = tmp_path / "pw"
        pwfile.write_text(secret + "\n")
        view = subprocess.run([str(REPO / ".venv" / "bin" / "ansible-vault"), "view", "--vault-password-file",
                               str(pwfile), str(vault)], capture_output=True, text=True, check=False,
                              env={"PATH": CLEAN_PATH, "HOME": str(tmp_path)})
        assert (view.returncode == 0) is ok, view.stderr
        if ok:
            assert "TEST-GENERATED-NOT-A-REAL-SECRET" in view.stdout


@pytest.mark.cluster
@pytest.mark.slow
def test_add_a_customer_recipe_as_written(checkout: Path, tmp_path: Path, cluster, record_property):
    customer = f"ops-{uuid.uuid4().hex[:8]}"
    runner_uuid = str(uuid.uuid4())
    password = f"own-{uuid.uuid4().hex}"
    (checkout / ".cluster").mkdir()
    (checkout / ".cluster" / "kubeconfig").symlink_to(Path(cluster.kubeconfig).resolve())
    namespace = f"kubiya-{customer}"
    started = time.monotonic()
    try:
        out = run_clean(recipe_script(customer, runner_uuid), checkout, tmp_path / "home", timeout=1200,
                        **recipe_env(tmp_path, customer, password))
        elapsed = time.monotonic() - started
        record_property("recipe_seconds", round(elapsed, 1))
        print(f"\nadd-a-customer recipe (scaffold, vault, validation, first deploy): {elapsed:.1f} s")
        assert out.returncode == 0, report(out)
        check_recipe_result(checkout, customer, password, tmp_path)
        recaps = re.findall(r"^%s\s+: ok=\d+\s+changed=(\d+).*failed=(\d+)" % re.escape(customer), out.stdout, re.M)
        assert len(recaps) == 2 and all(failed == "0" for _changed, failed in recaps), report(out)
        assert "health: ok" in out.stdout
        ns = cluster.kubectl("get", "namespace", namespace, "-o", "name", check=False)
        assert ns.returncode == 0, f"the first deploy did not create {namespace}"
    finally:
        cluster.kubectl("delete", "namespace", namespace, "--wait=false", "--ignore-not-found", check=False)


def test_add_a_customer_recipe_until_the_first_validation(checkout: Path, tmp_path: Path):
    """Without a cluster: the recipe up to its validation step works as written."""
    customer = f"ops-{uuid.uuid4().hex[:8]}"
    password = f"own-{uuid.uuid4().hex}"
    script = recipe_script(customer, str(uuid.uuid4()))
    lines = script.splitlines()
    last = max(i for i, line in enumerate(lines) if "--tags validate" in line)
    started = time.monotonic()
    out = run_clean("\n".join(lines[:last + 1]) + "\n", checkout, tmp_path / "home",
                    **recipe_env(tmp_path, customer, password))
    print(f"\nadd-a-customer recipe up to the first validation: {time.monotonic() - started:.1f} s")
    assert out.returncode == 0, report(out)
    check_recipe_result(checkout, customer, password, tmp_path)
    assert os.path.isdir(checkout / "inventories" / "example" / "host_vars" / customer)
