"""The operator documentation agrees with the code.

- a default quoted in a README (`runner_x` ... default `v`) equals defaults/main.yml
  (and with it meta/argument_specs.yml, see test_role_specs.py);
- every inventory path shown to ansible is the form the inventory README recommends
  (`-i inventories/example/hosts.yml`, never the directory);
- every file a README or a comment of the operator-facing files names exists.
"""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from testlib import REPO

DEFAULTS = yaml.safe_load((REPO / "roles" / "runner" / "defaults" / "main.yml").read_text())
DOCS = [REPO / "README.md", REPO / "inventories" / "example" / "README.md", REPO / "roles" / "runner" / "README.md",
        REPO / "awx" / "README.md"]
# files whose comments name other files: the operator-facing ones
COMMENTED = ["ansible.cfg", "Makefile", "playbooks/*.yml", "inventories/**/*.yml", "inventories/**/*.sh",
             "roles/runner/tasks/*.yml", "roles/runner/vars/*.yml", "roles/runner/defaults/*.yml",
             "roles/runner/templates/*.j2", "plugins/filter/*.py"]
# names of files that are generated at run time, not kept in the repository
GENERATED = re.compile(r"^(override_[\w<>-]*\.yaml|deploy-vars\.yml|verify-vars\.yml|kubeconfig|credentials\.json|"
                       r"kubiya-runners-.*\.tar\.gz|values\.yaml|images\.(json|txt))$")


def tracked() -> list[str]:
    out = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True)
    return [line for line in out.stdout.splitlines() if (REPO / line).is_file()]


def test_defaults_quoted_in_the_readmes_are_the_role_defaults():
    quoted = []
    for doc in DOCS:
        text = doc.read_text()
        for match in re.finditer(r"default `([^`]+)`", text):
            before = text[max(0, match.start() - 90):match.start()]
            names = re.findall(r"`(runner_\w+)(?::[^`]*)?`", before)
            if not names:
                continue
            name, value = names[-1], yaml.safe_load(match.group(1))
            quoted.append(name)
            assert name in DEFAULTS, f"{doc.relative_to(REPO)}: quotes a default for {name}, which has none"
            assert value == DEFAULTS[name], (f"{doc.relative_to(REPO)}: {name} default quoted as {value!r}, "
                                             f"defaults/main.yml has {DEFAULTS[name]!r}")
    assert {"runner_allow_http", "runner_values_common", "runner_verify_metrics"} <= set(quoted)


def test_no_readme_calls_a_default_on_off_against_the_code():
    for doc in DOCS:
        for paragraph in doc.read_text().split("\n\n"):
            said = re.search(r"\b(On|Off|on|off) by default", paragraph)
            names = [n for n in re.findall(r"`(runner_\w+)", paragraph) if isinstance(DEFAULTS.get(n), bool)]
            if said and names:
                state = said.group(1).lower()
                assert DEFAULTS[names[0]] is (state == "on"), \
                    f"{doc.relative_to(REPO)}: {names[0]} is said to be {state} by default: {paragraph[:200]}"


def test_inventory_path_form_is_the_recommended_one():
    recommended = (REPO / "inventories" / "example" / "README.md").read_text()
    assert "Use `-i inventories/example/hosts.yml`, not the directory" in recommended
    wrong = []
    for path in tracked():
        if path.endswith((".tar.gz", ".tgz", ".png")) or path == "tests/unit/test_docs_agree.py":
            continue
        try:
            text = (REPO / path).read_text()
        except UnicodeDecodeError:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            for match in re.finditer(r"(-i|--inventory)[ =]+[\"']?(\S*inventories/example)(/?[^\s\"'`]*)", line):
                if match.group(3) != "/hosts.yml":
                    wrong.append(f"{path}:{number}: {line.strip()}")
    assert not wrong, "inventory given as a directory (use -i inventories/example/hosts.yml):\n" + "\n".join(wrong)


PATHLIKE = re.compile(r"(?<![\w$/.{<-])((?:[\w.-]+/)*[\w.-]+\.(?:yml|yaml|j2|sh|py|json|md|cfg))(?![\w/-])")


def named_files(path: Path) -> list[str]:
    """File names a document mentions (docs: everywhere; code: in comments only)."""
    text = path.read_text()
    if path.suffix == ".md":
        chunks = [text]
    elif path.suffix == ".py":
        chunks = re.findall(r"#.*$", text, re.M) + re.findall(r'"""(.*?)"""', text, re.S)
    elif path.suffix == ".j2":
        chunks = re.findall(r"\{#(.*?)#\}", text, re.S)
    else:
        chunks = re.findall(r"(?:^|\s)#.*$", text, re.M)
    names = []
    for chunk in chunks:
        for match in PATHLIKE.finditer(chunk):
            name = match.group(1)
            if "://" in chunk[max(0, match.start() - 60):match.start()] and "/" in name:
                continue  # part of a URL
            names.append(name)
    return names


def exists(name: str, source: Path, basenames: set[str]) -> bool:
    if GENERATED.match(Path(name).name):
        return True
    if "/" not in name:
        return name in basenames
    if name.startswith("my-inventory/"):
        return (REPO / "inventories" / "example" / name.split("/", 1)[1]).exists()  # the user's copy of the example
    for base in source.parents:
        if (base / name).exists():
            return True
        if base == REPO:
            break
    for root in (REPO / "roles" / "runner", REPO / "inventories" / "example", REPO / "charts" / "kubiya-runner"):
        if (root / name).exists():
            return True
    return False


def sources() -> list[Path]:
    files = set(DOCS)
    for pattern in COMMENTED:
        files.update(p for p in REPO.glob(pattern) if p.is_file())
    return sorted(files)


@pytest.mark.parametrize("source", sources(), ids=lambda p: str(p.relative_to(REPO)))
def test_files_named_in_docs_and_comments_exist(source: Path):
    basenames = {Path(p).name for p in tracked()}
    missing = sorted({n for n in named_files(source) if not exists(n, source, basenames)})
    assert not missing, f"{source.relative_to(REPO)} names files that do not exist: {missing}"


def test_the_checker_catches_a_wrong_name(tmp_path):
    doc = tmp_path / "x.yml"
    doc.write_text("# the values are in the vault-encrypted vault.yml\nkey: 1  # see host_vars/acme/main.yml\n")
    basenames = {Path(p).name for p in tracked()}
    assert named_files(doc) == ["vault.yml", "host_vars/acme/main.yml"]
    assert not exists("vault.yml", doc, basenames)
    assert exists("host_vars/acme/main.yml", doc, basenames)
