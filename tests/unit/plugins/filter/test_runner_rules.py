"""One source for each rule: the role's input formats come from the chart's values.schema.json
(runner_schema_patterns), the role-only ones from the filter plugin, which components a release
runs from permissions.yaml's enabledBy (runner_matrix_components)."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess

import jsonschema
import pytest
import yaml
from hypothesis import given, settings, strategies as st

from ansible_collections.kubiya.runners.plugins.filter import runner_checks as rc
from testlib import REPO

CHART = REPO / "charts" / "kubiya-runner"
SCHEMA = json.loads((CHART / "values.schema.json").read_text())
PATTERNS = rc.schema_patterns(SCHEMA)
ROLE = REPO / "roles" / "runner"
TEMPLATE = (ROLE / "templates" / "input_errors.j2").read_text()


def _schema_node(path):
    """The schema node of a dotted path as schema_patterns names it."""
    if path.startswith("definitions."):
        return SCHEMA["definitions"][path.split(".", 1)[1]]
    node = SCHEMA
    for key in path.split("."):
        items = key.endswith("[]")
        node = node["properties"][key[:-2] if items else key]
        node = rc._resolve(node, SCHEMA)  # pylint: disable=protected-access
        if items:
            node = rc._resolve(node["items"], SCHEMA)  # pylint: disable=protected-access
    return node


def _go_dollar(node):
    """helm validates with Go regular expressions, whose `$` is the end of the text; Python's `re`
    (used by the jsonschema package) also lets it match before a final newline."""
    pattern = node.get("pattern")
    if isinstance(pattern, str) and pattern.endswith("$"):
        node = dict(node, pattern=pattern[:-1] + r"\Z")
    return node


def _chart_accepts(path, value):
    node = dict(_go_dollar(_schema_node(path)), definitions=SCHEMA["definitions"])
    return jsonschema.Draft7Validator(node).is_valid(value)


# --- the role reads the chart's patterns ----------------------------------------------------

def test_the_role_keeps_no_copy_of_a_value_pattern():
    """vars/main.yml computes the patterns from the schema; the template has no regex literal."""
    role_vars = yaml.safe_load((ROLE / "vars" / "main.yml").read_text())
    assert isinstance(role_vars["__runner_patterns"], str) and "values.schema.json" in role_vars["__runner_patterns"]
    assert "runner_schema_patterns" in role_vars["__runner_patterns"]
    assert "__runner_optional_components" not in role_vars, "which components are optional: permissions.yaml"
    assert not re.search(r"is (match|search|regex)\(\s*['\"]", TEMPLATE), "a regex literal in input_errors.j2"
    assert not re.search(r"select\('(match|search)',\s*['\"]", TEMPLATE)


def test_every_chart_value_the_template_names_has_a_pattern():
    used = set(re.findall(r"p\['([a-zA-Z][^']*)'\]", TEMPLATE))
    used |= {"global.nats." + k for k in ("operatorCreds", "runnerCreds")}
    assert len(used) >= 14, used
    missing = sorted(u for u in used if u not in PATTERNS and not u.endswith("nats."))
    assert not missing, f"input_errors.j2 names chart values without a pattern in values.schema.json: {missing}"


def test_every_use_of_the_patterns_in_the_role_names_a_chart_value():
    """Tasks use the same patterns (`__runner_patterns['<chart value>']`), never a name of the old copy."""
    for path in sorted(ROLE.rglob("*")):
        if path.suffix not in (".yml", ".j2") or not path.is_file():
            continue
        text = path.read_text()
        assert not re.search(r"__runner_patterns\.[a-z]", text), f"{path}: __runner_patterns.<name> is gone"
        for key in re.findall(r"__runner_patterns\['([^']+)'\]", text):
            assert key in PATTERNS, f"{path}: no pattern for chart value {key}"


SAMPLES = {
    "global.runner.name": ["runner-1", "a" * 63, "a" * 64, "", "my.runner", "run ner", "-x", "ok\n", "Ab_9"],
    "global.runner.uuid": ["12345678-1234-1234-1234-123456789abc", "12345678-1234", "",
                           "12345678-1234-1234-1234-123456789abc\n"],
    "global.nats.serverUrl": ["tls://connect.ngs.global", "nats://h:4222/x", "https://connect.ngs.global",
                              "tls://user:pw@host", "tls://", "tls://host\n"],
    "global.nats.existingSecret": ["", "nats-creds", "a.b", "A", "x" * 254, "-a"],
    "global.nats.operatorCreds": ["", "-----BEGIN NATS USER JWT-----\nabc", "junk", " -----BEGIN NATS USER JWT-----"],
    "global.registryTls.host": ["registry.example.com", "registry.example.com:5000", "Registry.example.com",
                                "host:123456", ""],
    "global.registryTls.crt": ["-----BEGIN CERTIFICATE-----\nMII", "junk"],
    # headers only, assembled here: no key-shaped literal in the repository (secret scan)
    "global.registryTls.key": ["-----BEGIN " + "PRIVATE KEY-----\nx", "-----BEGIN EC " + "PRIVATE KEY-----\nx", "junk"],
    "global.daggerNamespace": ["", "dagger", "Bad_NS", "a" * 64],
    "telemetry.remoteWrite.url": ["", "https://p.example.com/api/v1/write", "http://127.0.0.1:9090/w",
                                  "prometheus.example.com/api/v1/write", "ftp://h/w", "https://u:p@h/w",
                                  "https://h/w x", "https://h?x=1", "https://h/w\n"],
    "telemetry.remoteWrite.oauth2.scopes[]": ["https://monitor.azure.com/.default", "a b", ""],
    "definitions.dnsLabel": ["acme", "a" * 63, "a" * 64, "", "Acme", "a_b", "acme\n"],
    "definitions.url": ["https://charts.example.com", "https://h:8443/path", "", "oci://h/c", "https://h\n"],
}


@pytest.mark.parametrize("path", sorted(SAMPLES))
def test_the_role_accepts_exactly_what_the_chart_accepts(path):
    """The Python form of a schema pattern (with its length limits) agrees with a JSON-schema
    validator on the chart's own node, including the trailing-newline trap of Python's `$`."""
    wrong = [v for v in SAMPLES[path] if bool(re.match(PATTERNS[path], v)) != _chart_accepts(path, v)]
    assert not wrong, f"{path}: role and chart disagree on {wrong!r}"


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["global.runner.name", "definitions.dnsLabel", "global.nats.existingSecret",
                        "telemetry.remoteWrite.url"]),
       st.text(alphabet="ab-_.:/0Z \n", max_size=70))
def test_role_and_chart_agree_on_any_text(path, value):
    assert bool(re.match(PATTERNS[path], value)) == _chart_accepts(path, value), (path, value)


def test_unanchored_patterns_keep_their_search_meaning():
    patterns = rc.schema_patterns({"properties": {"a": {"type": "string", "pattern": "/0$"},
                                                  "b": {"type": "string", "pattern": "x"}}})
    assert re.match(patterns["a"], "10.0.0.0/0") and not re.match(patterns["a"], "10.0.0.0/8")
    assert re.match(patterns["b"], "axb") and not re.match(patterns["b"], "ab")
    assert rc.schema_patterns(None) == {}


# --- role-only formats --------------------------------------------------------------------

def test_names_the_chart_never_sees():
    assert rc.name_errors("acme", "kubiya-runner") == []
    errors = rc.name_errors("Acme Corp", "r" * 54)
    assert errors == [
        "runner_customer: 'Acme Corp' is not a valid customer id (lowercase letters, digits, '-' and '_', at most 63, "
        "used in override_<customer>.yaml)",
        "runner_release: '%s' is not a valid Helm release name (lowercase letters, digits and '-', at most 53)"
        % ("r" * 54)]
    assert rc.name_errors("a_b", "r" * 53) == []
    assert len(rc.name_errors(12, None)) == 2
    assert rc.name_errors("acme\n", "rel") != []


URL = PATTERNS["definitions.url"]


@pytest.mark.parametrize("ref, version, repo, local, expected", [
    ("/charts/kubiya-runner", "", "", "dir", []),
    ("/charts/kubiya-runner-1.0.0.tgz", "", "", "file", []),
    ("/charts/notes.txt", "", "", "file", ["is neither a chart directory"]),
    ("/nowhere", "", "", None, ["runner_chart_ref: '/nowhere' is neither a chart directory (with Chart.yaml) "
                                "nor a .tgz chart archive on the controller"]),
    ("oci://registry.example.com/charts/kubiya-runner", "", "", None,
     ["runner_chart_version: is empty; a version is required for the remote chart "
      "'oci://registry.example.com/charts/kubiya-runner'"]),
    ("oci://registry.example.com/charts/kubiya-runner", "1.0.0", "", None, []),
    ("kubiya-runner", "1.0.0", "charts.example.com", None,
     ["runner_chart_repo_url: 'charts.example.com' is not a valid URL (expected http(s)://host[:port]/path)"]),
    ("kubiya-runner", "1.0.0", "https://charts.example.com", None, []),
    ("s3://bucket/chart", "", "", None, ["runner_chart_ref: 's3://bucket/chart' has an unsupported scheme"]),
    ("https://charts.example.com/kubiya-runner-1.0.0.tgz", "", "", None, []),
])
def test_chart_reference(ref, version, repo, local, expected):
    errors = rc.chart_ref_errors(ref, version, repo, URL, is_chart_dir=local == "dir", is_file=local == "file")
    assert len(errors) == len(expected) and all(e.startswith(x) or x in e for e, x in zip(errors, expected)), errors


def test_chart_reference_filter_asks_the_file_system(tmp_path):
    (tmp_path / "Chart.yaml").write_text("name: x\n")
    assert rc.runner_chart_ref_errors(str(tmp_path), "", "", URL) == []
    assert rc.runner_chart_ref_errors(str(tmp_path / "missing"), "", "", URL)
    assert rc.runner_chart_ref_errors(str(CHART), "", "", URL) == []


def test_a_chart_directory_without_its_dependency_archives_is_refused_with_the_fix(tmp_path):
    """A fresh checkout before make setup: the umbrella's archives are built, not committed."""
    copy = tmp_path / "kubiya-runner"
    shutil.copytree(CHART, copy, ignore=shutil.ignore_patterns("charts"))
    (error,) = rc.runner_chart_ref_errors(str(copy), "", "", URL)
    assert error.startswith("runner_chart_ref: the chart directory '%s' lacks the archives of its dependencies "
                            "kubiya-common, agent-manager, tool-manager, kubiya-operator" % copy)
    assert "make setup" in error


def test_a_chart_directory_with_outdated_dependency_archives_is_refused(tmp_path):
    """After a pull or an edit of a component chart, the umbrella's archives are old copies:
    a template added, changed or removed in agent-manager makes the role stop naming it."""
    charts = tmp_path / "charts"
    shutil.copytree(CHART.parent, charts, ignore=shutil.ignore_patterns("charts", "*.tgz"))
    env = dict(os.environ, PATH=os.pathsep.join([str(REPO / ".tools" / "bin"), os.environ.get("PATH", "")]))
    subprocess.run(["bash", str(REPO / "tools" / "chart-deps.sh"), str(charts)], env=env, check=True,
                   capture_output=True)
    umbrella = str(charts / "kubiya-runner")
    assert rc.runner_chart_ref_errors(umbrella, "", "", URL) == []
    template = charts / "agent-manager" / "templates" / "extra.yaml"
    template.write_text("# a new template\n")
    (error,) = rc.runner_chart_ref_errors(umbrella, "", "", URL)
    assert error.startswith(f"runner_chart_ref: the chart directory '{umbrella}' would install outdated copies "
                            "of agent-manager") and "make chart-deps" in error
    template.unlink()
    assert rc.runner_chart_ref_errors(umbrella, "", "", URL) == []
    values = charts / "tool-manager" / "values.yaml"
    values.write_text(values.read_text() + "# changed\n")
    assert "outdated copies of tool-manager" in rc.runner_chart_ref_errors(umbrella, "", "", URL)[0]
    subprocess.run(["bash", str(REPO / "tools" / "chart-deps.sh"), str(charts)], env=env, check=True,
                   capture_output=True)
    assert rc.runner_chart_ref_errors(umbrella, "", "", URL) == []


# --- which components a release runs: permissions.yaml enabledBy -----------------------------

MATRIX = yaml.safe_load((CHART / "permissions.yaml").read_text())
DEFAULTS = yaml.safe_load((CHART / "values.yaml").read_text())


def test_default_release_runs_telemetry_but_not_the_opt_in_components():
    got = rc.matrix_components(MATRIX, DEFAULTS)
    assert "alloy" in got and "kube-state-metrics" in got and "agent-manager" in got and "test" in got
    assert "workflow-engine" not in got and "image-updater" not in got


def test_enabled_by_forms():
    values = {"a": {"on": True, "off": False, "text": "true", "mode": "Explicit"}}
    assert rc.enabled_by(None, values) and rc.enabled_by("", values)
    assert rc.enabled_by("a.on", values) and rc.enabled_by("a.text", values)
    assert not rc.enabled_by("a.off", values) and not rc.enabled_by("a.missing", values)
    assert rc.enabled_by("a.mode=explicit", values) and not rc.enabled_by("a.mode=internet", values)
    assert rc.enabled_by("a.off=false", values) and not rc.enabled_by("x.y=true", values)
    assert rc.matrix_components({"serviceAccounts": {"x": None, "y": {"enabledBy": "a.off"}}}, values) == ["x"]
    assert rc.matrix_components(None, values) == [] and rc.matrix_components({}, None) == []
