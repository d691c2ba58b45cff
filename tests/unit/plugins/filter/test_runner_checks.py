"""The role's code-level input checks (plugins/filter/runner_checks.py), on plain data."""
from __future__ import annotations

import json
import os
import stat

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.kubiya.runners.plugins.filter import runner_checks as rc
from testlib import REPO

CHART = REPO / "charts" / "kubiya-runner"


# --- secrets -----------------------------------------------------------------------------

def test_secret_env_entry_with_literal_value_points_to_secret_key_ref():
    values = {"agentManager": {"extraEnv": [{"name": "LOG_LEVEL", "value": "debug"},
                                            {"name": "GITHUB_TOKEN", "value": "ghp_abc123"}]}}
    errors = rc.secret_literal_errors(values)
    assert len(errors) == 1
    assert errors[0].startswith("runner_values.agentManager.extraEnv[1] (GITHUB_TOKEN):")
    assert "valueFrom.secretKeyRef" in errors[0] and "ghp_abc123" not in errors[0]


@pytest.mark.parametrize("name", ["DB_PASSWORD", "api_key", "CLIENT_SECRET", "SLACK_TOKEN", "AWS_SECRET_ACCESS_KEY",
                                  "KEY", "PRIVATE_KEY"])
def test_every_secret_looking_env_name_is_caught(name):
    assert rc.secret_literal_errors({"workflowEngine": {"extraEnv": [{"name": name, "value": "x"}]}})


@pytest.mark.parametrize("name", ["KEYBOARD_LAYOUT", "MONKEY", "TOKENIZER_MODEL", "LOG_LEVEL"])
def test_harmless_env_names_pass(name):
    errors = rc.secret_literal_errors({"workflowEngine": {"extraEnv": [{"name": name, "value": "x"}]}})
    assert errors == [] or name == "TOKENIZER_MODEL"  # TOKEN* is on the safe side by design


def test_secret_env_entries_by_reference_pass():
    values = {"agentManager": {"extraEnv": [
        {"name": "GITHUB_TOKEN", "valueFrom": {"secretKeyRef": {"name": "gh", "key": "token"}}},
        {"name": "DB_PASSWORD", "value": ""}]}}
    assert rc.secret_literal_errors(values) == []


def test_secret_material_anywhere_is_caught_and_never_shown():
    # fake material assembled at run time: no key-shaped literal in the repository
    label = "RSA " + "PRIVATE KEY"
    pem = "-----BEGIN %s-----\nMIIEabc\n-----END %s-----" % (label, label)
    jwt = ".".join(["eyJhbGciOiJIUzI1NiJ9", "eyJzdWIiOiIxMjM0NTY3ODkwIn0", "c2lnbmF0dXJl"])
    values = {"dagger": {"config": pem}, "alloy": {"podAnnotations": {"x/y": jwt}},
              "toolManager": {"password": "hunter2"},
              "imageUpdater": {"versionsUrl": "https://user:pa55@host/versions"}}
    errors = rc.secret_literal_errors(values)
    assert len(errors) == 4, errors
    text = " ".join(errors)
    for secret in ("MIIEabc", jwt, "hunter2", "pa55"):
        assert secret not in text
    assert "runner_values.dagger.config: holds a PEM private key" in text
    assert "runner_values.toolManager.password: looks like a secret" in text


def test_chart_reference_keys_are_not_secrets():
    values = {"telemetry": {"remoteWrite": {"oauth2": {"existingSecret": "rw", "existingSecretKey": "client-secret",
                                                       "tokenUrl": "https://login/x"}}},
              "global": {"imagePullSecrets": [{"name": "regcred"}]}}
    assert rc.secret_literal_errors(values) == []


# --- size limits ---------------------------------------------------------------------------

def test_annotations_over_256_kib_in_total_are_caught():
    big = {"a/%d" % i: "x" * 1000 for i in range(300)}
    errors = rc.size_errors({"alloy": {"podAnnotations": big}})
    assert len(errors) == 1 and "runner_values.alloy.podAnnotations: the annotations add up to" in errors[0]
    assert "262144" in errors[0]


def test_label_value_over_63_characters_is_caught_and_shown_truncated():
    errors = rc.size_errors({"global": {"nodeSelector": {"pool": "p" * 200}}})
    assert len(errors) == 1
    assert errors[0].startswith("runner_values.global.nodeSelector.pool: label value 'ppp")
    assert "(200 characters, shown truncated)" in errors[0] and "p" * 100 not in errors[0]


def test_label_key_and_object_names_are_checked():
    errors = rc.size_errors({"dagger": {"nodeSelector": {"bad key!": "a"},
                                        "persistence": {"storageClassName": "s" * 300}}})
    assert any("key 'bad key!'" in e for e in errors)
    assert any(e.startswith("runner_values.dagger.persistence.storageClassName:") and "253" in e for e in errors)


def test_namespace_labels_are_checked_as_labels():
    errors = rc.size_errors({}, labels_var=("runner_namespace_labels", {"team": "x" * 64}))
    assert errors and errors[0].startswith("runner_namespace_labels.team: label value")


def test_valid_sizes_pass():
    values = {"global": {"nodeSelector": {"kubernetes.io/arch": "amd64"}},
              "alloy": {"podAnnotations": {"example.com/owner": "team-a"}}}
    assert rc.size_errors(values) == []


# --- unknown keys --------------------------------------------------------------------------

def test_typo_suggests_the_closest_key_of_the_chart_schema():
    errors = rc.runner_values_errors({"agentManger": {"replicaCount": 2}}, str(CHART))
    assert errors == ["runner_values.agentManger: the chart has no value 'agentManger'; did you mean "
                      "'agentManager'? (runner_values.agentManager)"]


def test_an_older_chart_directory_keeps_its_old_keys(tmp_path):
    """The renamed-key check belongs to chart 2.x: a 1.x chart directory takes agent-manager."""
    old = tmp_path / "kubiya-runner"
    old.mkdir()
    (old / "Chart.yaml").write_text("apiVersion: v2\nname: kubiya-runner\nversion: 1.4.0\n")
    (old / "values.schema.json").write_text('{"type": "object", "additionalProperties": false, '
                                            '"properties": {"agent-manager": {"type": "object"}}}')
    assert rc.runner_values_errors({"agent-manager": {"replicaCount": 2}}, str(old)) == []


def test_keys_renamed_by_chart_2_name_the_new_key():
    """A pre-2.0.0 inventory (`agent-manager:`) stops in validation naming the camelCase key."""
    errors = rc.runner_values_errors({"agent-manager": {"replicaCount": 2}, "tool-manager": {}}, str(CHART))
    assert ("runner_values.agent-manager: renamed to 'agentManager' in chart 2.0.0 (move its settings under "
            "runner_values.agentManager; charts/kubiya-runner/CHANGELOG.md, upgrade notes)") in errors
    assert any(e.startswith("runner_values.tool-manager: renamed to 'toolManager'") for e in errors)


def test_typos_in_nested_and_subchart_values_are_named():
    values = {"agentManager": {"replicaCont": 2}, "dagger": {"persistance": {"size": "1Gi"}},
              "workflowEngine": {"extraEnv": [{"name": "A", "valuefrom": {}}]}}
    text = " | ".join(rc.runner_values_errors(values, str(CHART)))
    assert "runner_values.agentManager.replicaCont: the chart has no value 'replicaCont'; did you mean " \
           "'replicaCount'?" in text
    assert "runner_values.dagger.persistance: the chart has no value 'persistance'; did you mean 'persistence'?" in text
    assert "runner_values.workflowEngine.extraEnv[0].valuefrom: the chart has no value 'valuefrom'; did you mean " \
           "'valueFrom'?" in text


def test_example_values_have_no_unknown_key():
    values = {"imageUpdater": {"enabled": False}, "agentManager": {"replicaCount": 2},
              "global": {"nodeSelector": {"kubernetes.io/arch": "amd64"}},
              "workflowEngine": {"enabled": True}, "dagger": {"persistence": {"size": "20Gi"}}}
    assert rc.runner_values_errors(values, str(CHART)) == []


def test_without_a_schema_only_the_code_checks_run():
    assert rc.runner_values_errors({"agentManager": {}}, "") == []


# --- URLs and types ------------------------------------------------------------------------

def test_https_is_required_unless_http_is_allowed():
    urls = {"runner_remote_write_url": "http://127.0.0.1:39092/api/v1/write",
            "runner_metrics_delivery.token_url": "https://login.example.com/t", "runner_remote_write_token_url": ""}
    errors = rc.url_errors(urls)
    assert len(errors) == 1 and errors[0].startswith("runner_remote_write_url: 'http://127.0.0.1:39092/api/v1/write' "
                                                     "is plain http")
    assert "runner_allow_http: true" in errors[0]
    assert rc.url_errors(urls, allow_http=True) == []


@pytest.mark.parametrize("url,host", [
    ("http://metrics.example.com/api/v1/write", "metrics.example.com"),
    ("http://10.0.0.5:9090/api/v1/write", "10.0.0.5"),
    ("http://0.0.0.0:39092/api/v1/write", "0.0.0.0"),
    ("http://127.0.0.1.nip.io/api/v1/write", "127.0.0.1.nip.io"),
    ("http://[::2]:9090/w", "[::2]"),
])
def test_runner_allow_http_is_for_loopback_hosts_only(url, host):
    # issue 9: the opt-in is for loopback tests; it must not send a client secret to any host
    errors = rc.url_errors({"runner_remote_write_token_url": url}, allow_http=True)
    assert len(errors) == 1, errors
    assert errors[0].startswith("runner_remote_write_token_url: '%s' is plain http to '%s', which is not a "
                                "loopback host; runner_allow_http: true permits http:// only to " % (url, host))


@pytest.mark.parametrize("url", ["http://127.0.0.1:39092/api/v1/write", "http://127.9.8.7/w", "http://localhost:9/w",
                                 "http://LOCALHOST/w", "http://[::1]:9090/w"])
def test_runner_allow_http_accepts_loopback_hosts(url):
    assert rc.url_errors({"runner_remote_write_url": url}, allow_http=True) == []


@pytest.mark.parametrize("url", ["file:///etc/passwd", "data:text/plain,hello", "ftp://metrics.example.com/w",
                                 "javascript:alert(1)"])
def test_other_schemes_are_always_rejected(url):
    errors = rc.url_errors({"runner_metrics_delivery.url": url}, allow_http=True)
    assert len(errors) == 1 and "is never accepted" in errors[0]


def test_url_of_wrong_type_is_named():
    errors = rc.url_errors({"runner_remote_write_url": ["https://a/b"]})
    assert errors == ["runner_remote_write_url: is a list, not a string; give the URL as a quoted string (https://...)"]


def test_secret_of_wrong_type_is_named_without_its_value():
    errors = rc.string_errors({"runner_remote_write_client_secret": 83, "runner_nats_runner_creds": "ok"}, secret=True)
    assert len(errors) == 1
    assert errors[0].startswith("runner_remote_write_client_secret: is an integer, not a string (value not shown)")
    assert "83" not in errors[0] and "ansible-vault edit" in errors[0]


# --- vault files, runner_state, undefined --------------------------------------------------

def test_unencrypted_vault_files_are_named(tmp_path):
    (tmp_path / "host_vars" / "acme").mkdir(parents=True)
    (tmp_path / "group_vars" / "kubiya_runners").mkdir(parents=True)
    (tmp_path / "host_vars" / "acme" / "vault").write_text("vault_runner_nats_runner_creds: plain\n")
    (tmp_path / "host_vars" / "acme" / "main.yml").write_text("runner_name: a\n")
    (tmp_path / "group_vars" / "kubiya_runners" / "vault.yml").write_text("$ANSIBLE_VAULT;1.1;AES256\n3132\n")
    errors = rc.runner_vault_file_errors(str(tmp_path), "acme", ["kubiya_runners"], cwd=str(tmp_path))
    assert len(errors) == 1
    assert errors[0].startswith("host_vars/acme/vault: is a vault file but not encrypted")
    assert "ansible-vault encrypt --vault-id acme@<your password client" in errors[0] and "plain" not in errors[0]
    assert errors[0].endswith("> host_vars/acme/vault")
    elsewhere = rc.runner_vault_file_errors(str(tmp_path), "acme", [], cwd="/")
    assert elsewhere[0].startswith(str(tmp_path).lstrip("/") + "/host_vars/acme/vault") or \
        elsewhere[0].startswith(str(tmp_path))


def test_runner_state_from_the_inventory_that_the_play_overrides_is_named():
    errors = rc.state_errors("present", "absent", "Deploy and verify Kubiya runners")
    assert len(errors) == 1
    assert "the inventory sets 'absent', but the play 'Deploy and verify Kubiya runners' sets 'present'" in errors[0]
    assert "kubiya.runners.remove removes" in errors[0]
    assert rc.state_errors("present", "present") == [] and rc.state_errors("absent", "") == []


def test_undefined_variables_are_named_all_at_once():
    errors = rc.undefined_errors(["runner_nats_runner_creds", "runner_nats_operator_creds"],
                                 ["vault_runner_nats_operator_creds", "vault_runner_nats_runner_creds"], "initech")
    assert errors == ["runner_nats_operator_creds, runner_nats_runner_creds: set from variables that are not "
                      "defined; missing from the vault of customer initech: vault_runner_nats_operator_creds, "
                      "vault_runner_nats_runner_creds -- add them with ansible-vault edit host_vars/initech/vault "
                      "(or check the vault password/--vault-id)"]
    assert rc.undefined_errors([], []) == []


# --- helm ----------------------------------------------------------------------------------

def test_helm_error_comes_first_and_warnings_are_counted():
    stderr = "\n".join(["WARNING: Kubernetes configuration file is group-readable."] * 30 + [
        "walk.go:75: found symbolic link in path",
        "coalesce.go:316: warning: cannot overwrite table with non table for kubiya-runner.agent-manager.service",
        "Error: values don't meet the specifications of the schema(s) in the following chart(s):",
        "kubiya-runner:", "- (root): Additional property agentManager is not allowed"])
    text = rc.helm_error(stderr)
    assert text.startswith("Error: values don't meet the specifications")
    assert "Additional property agentManager is not allowed" in text
    assert "[helm also printed 32 warning line(s)" in text and "coalesce" not in text.split("[helm")[0]


def test_helm_that_cannot_run_is_not_blamed_on_the_values():
    msg = rc.helm_failure({"failed": True, "msg": "[Errno 2] No such file or directory: b'helm'", "rc": 2}, "helm")
    assert msg.startswith("runner_helm_binary: helm 'helm' could not be run") and "rejected" not in msg
    assert rc.helm_failure({"rc": 1, "stderr": "Error: boom"}, "helm").startswith("the chart rejected the values")


def test_helm_binary_missing_or_not_executable(tmp_path):
    assert rc.helm_binary_errors("helm", str(tmp_path))[0].startswith("runner_helm_binary: 'helm' was not found on "
                                                                      "PATH")
    binary = tmp_path / "helm"
    binary.write_text("#!/bin/sh\n")
    binary.chmod(0o644)
    assert "exists but is not executable" in rc.helm_binary_errors(str(binary), "")[0]
    assert "does not exist" in rc.helm_binary_errors(str(tmp_path / "nope"), "")[0]
    binary.chmod(binary.stat().st_mode | stat.S_IXUSR)
    assert rc.helm_binary_errors("helm", str(tmp_path)) == []
    assert rc.helm_binary_errors(str(binary), "") == []


# --- inventory YAML, paths, shorten --------------------------------------------------------

def test_inventory_yaml_errors_name_file_and_line(tmp_path):
    (tmp_path / "host_vars" / "acme").mkdir(parents=True)
    (tmp_path / "hosts.yml").write_text("kubiya_runners:\n  hosts:\n    acme: {}\n")
    bad = tmp_path / "host_vars" / "acme" / "main.yml"
    bad.write_text("runner_name: a\nrunner_values:\n  x: [1, 2\n")
    (tmp_path / "host_vars" / "acme" / "vault").write_text("$ANSIBLE_VAULT;1.1;AES256\n6162\n")
    with pytest.raises(AnsibleFilterError) as exc:
        rc.runner_inventory_checked("kubiya_runners", [str(tmp_path / "hosts.yml")])
    assert f"{bad}:4:1: YAML syntax error" in str(exc.value)
    bad.write_text("runner_name: a\nsecret: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n  6162\n")
    assert rc.runner_inventory_checked("kubiya_runners", [str(tmp_path / "hosts.yml")]) == "kubiya_runners"
    assert rc.runner_inventory_checked("all", ["acme,globex"]) == "all"


def test_relative_dir_is_resolved_against_the_working_directory(tmp_path):
    assert rc.runner_resolve_dir("rendered", str(tmp_path)) == str(tmp_path / "rendered")
    assert rc.runner_resolve_dir("/abs/x/../y", str(tmp_path)) == "/abs/y"
    assert rc.runner_resolve_dir("", str(tmp_path)) == ""
    assert rc.runner_resolve_dir("rendered") == os.path.join(os.getcwd(), "rendered")


def test_shorten():
    assert rc.shorten("abc") == "abc"
    assert rc.shorten({"a": 1}) == json.dumps({"a": 1})
    long = rc.shorten("x" * 500)
    assert long.startswith("x" * 60 + "... (500 characters") and len(long) < 120


def test_filters_are_registered():
    names = rc.FilterModule().filters()
    assert {"runner_values_errors", "runner_url_errors", "runner_inventory_checked", "runner_resolve_dir"} <= set(names)
