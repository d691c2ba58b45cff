"""Every role's meta/argument_specs.yml matches its defaults/main.yml.

For each role under roles/:
- entry point ``main``: its options are exactly the keys of defaults/main.yml plus the
  required options; every non-required option has a default equal to the value in
  defaults/main.yml; a required option has no default and is absent from defaults/main.yml
  (a default would satisfy ``required`` and hide a missing value);
- every other entry point: each option is either in defaults/main.yml with an equal
  default, or absent from it and without a default.
Fails, naming the role, entry point and option, on any drift.
"""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from testlib import REPO

ROLES = sorted(p for p in (REPO / "roles").glob("*") if (p / "meta" / "argument_specs.yml").exists()
               or (p / "defaults" / "main.yml").exists())


def _load(path: Path) -> dict:
    return (yaml.safe_load(path.read_text()) or {}) if path.exists() else {}


def drift(defaults: dict, specs: dict) -> list[str]:
    """Human-readable differences between defaults/main.yml and argument_specs (empty: none)."""
    problems = []
    if "main" not in specs:
        problems.append("meta/argument_specs.yml has no entry point 'main'")
    for entry, spec in specs.items():
        options = (spec or {}).get("options") or {}
        for name, opt in options.items():
            opt = opt or {}
            if opt.get("required"):
                if "default" in opt:
                    problems.append(f"{entry}.{name}: required and has a default in argument_specs")
                if name in defaults:
                    problems.append(f"{entry}.{name}: required but defaults/main.yml sets it ({defaults[name]!r})")
                continue
            if name in defaults:
                if "default" not in opt:
                    problems.append(f"{entry}.{name}: defaults/main.yml has {defaults[name]!r}, "
                                    "argument_specs has no default")
                elif opt["default"] != defaults[name]:
                    problems.append(f"{entry}.{name}: default {opt['default']!r} in argument_specs, "
                                    f"{defaults[name]!r} in defaults/main.yml")
            elif entry == "main":
                problems.append(f"{entry}.{name}: optional but missing from defaults/main.yml")
            elif "default" in opt:
                problems.append(f"{entry}.{name}: has default {opt['default']!r} in argument_specs "
                                "but is not in defaults/main.yml")
        if entry == "main":
            for name in defaults:
                if name not in options:
                    problems.append(f"main.{name}: in defaults/main.yml but not documented in argument_specs")
    return problems


@pytest.mark.parametrize("role", ROLES, ids=[r.name for r in ROLES])
def test_argument_specs_match_defaults(role: Path):
    specs_file = role / "meta" / "argument_specs.yml"
    assert specs_file.exists(), f"{role.name}: meta/argument_specs.yml is missing"
    specs = _load(specs_file).get("argument_specs") or {}
    defaults = _load(role / "defaults" / "main.yml")
    problems = drift(defaults, specs)
    assert not problems, f"role {role.name}: argument_specs and defaults drifted:\n  " + "\n  ".join(problems)


def test_there_is_a_role_to_check():
    assert any(r.name == "runner" for r in ROLES)


def test_drift_is_detected():
    """The checker itself fails on each kind of drift."""
    spec = {"main": {"options": {"a": {"type": "str", "default": "x"}, "b": {"type": "str", "required": True}}}}
    assert drift({"a": "x"}, spec) == []
    assert drift({"a": "y"}, spec) == ["main.a: default 'x' in argument_specs, 'y' in defaults/main.yml"]
    assert drift({"a": "x", "c": 1}, spec) == ["main.c: in defaults/main.yml but not documented in argument_specs"]
    assert drift({}, spec) == ["main.a: optional but missing from defaults/main.yml"]
    assert drift({"a": "x", "b": ""}, spec) == ["main.b: required but defaults/main.yml sets it ('')"]
    other = {"main": spec["main"], "verify": {"options": {"a": {"default": "z"}, "d": {"default": 1}}}}
    assert drift({"a": "x"}, other) == ["verify.a: default 'z' in argument_specs, 'x' in defaults/main.yml",
                                        "verify.d: has default 1 in argument_specs but is not in defaults/main.yml"]
    # the same value with another type is drift too (YAML 'true' vs "true")
    assert drift({"a": True}, {"main": {"options": {"a": {"default": "true"}}}}) == [
        "main.a: default 'true' in argument_specs, True in defaults/main.yml"]
