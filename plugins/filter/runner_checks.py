# -*- coding: utf-8 -*-
# Copyright: Kubiya runners platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Input checks of the kubiya.runners.runner role that go beyond a regular expression.

The role's format checks (names, URLs, PEM/NATS shapes) are in
roles/runner/templates/input_errors.j2, with the patterns of the chart's values.schema.json
(schema_patterns) and the role-only ones here (name_errors, chart_ref_errors); the checks here
need real code: walking
runner_values, the chart's values.schema.json, Kubernetes size limits, the vault
files of the inventory, helm's output. Every function returns a list of messages
(empty: fine); each message names the variable and says what to do. Secret values
are tested but never shown; long values are shown truncated.

The pure checks take their inputs as arguments (unit-tested in
tests/unit/plugins/filter/test_runner_checks.py); only the filter wrappers at the
bottom read files.
"""
from __future__ import annotations

DOCUMENTATION = r"""
name: runner_checks
short_description: Input checks of the kubiya.runners.runner role
description:
  - Filters used by the role's validation step; see the functions' docstrings.
author: Kubiya runners platform team
"""

import difflib
import json
import os
import re

import yaml

from ansible.errors import AnsibleFilterError

from ansible_collections.kubiya.runners.plugins.module_utils.transport import is_loopback_host

# ---------------------------------------------------------------------------------------
# helpers

SHOW = 60  # characters of a value shown in a message


def shorten(value, limit=SHOW):
    """A value for a message: strings as they are, other types as JSON, cut at `limit`."""
    if not isinstance(value, str):
        try:
            value = json.dumps(value, sort_keys=True, default=str)
        except (TypeError, ValueError):
            value = str(value)
    if len(value) <= limit:
        return value
    return "%s... (%d characters, shown truncated)" % (value[:limit], len(value))


def type_name(value):
    """The YAML-ish name of a value's type, as an operator reads it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "mapping"
    if isinstance(value, (list, tuple)):
        return "list"
    return type(value).__name__


def a_type(value):
    """'an integer', 'a list', ... for a message."""
    name = type_name(value)
    return ("an " if name[0] in "aeiou" else "a ") + name


def _path(parent, key):
    if isinstance(key, int):
        return "%s[%d]" % (parent, key)
    return "%s.%s" % (parent, key)


def walk(node, path):
    """Yield (path, key, value, parent) for every entry of nested mappings and lists."""
    if isinstance(node, dict):
        for key, value in node.items():
            sub = _path(path, key)
            yield sub, key, value, node
            yield from walk(value, sub)
    elif isinstance(node, (list, tuple)):
        for index, value in enumerate(node):
            sub = _path(path, index)
            yield sub, index, value, node
            yield from walk(value, sub)


# ---------------------------------------------------------------------------------------
# secrets in runner_values

SECRET_ENV_NAME = re.compile(r"(PASSWORD|PASSWD|PASSPHRASE|TOKEN|SECRET|CREDENTIAL|(^|_)KEY($|_)|APIKEY|PRIVATE_?KEY)",
                             re.IGNORECASE)
# mapping keys whose literal value is a secret (compared without '-', '_' and case)
SECRET_KEYS = frozenset(["password", "passwd", "passphrase", "secret", "clientsecret", "token", "apitoken",
                         "accesstoken", "bearertoken", "authtoken", "apikey", "privatekey", "tlskey",
                         "creds", "credentials", "operatorcreds", "runnercreds", "sastoken", "connectionstring"])
SECRET_TEXT = [
    (re.compile(r"-----BEGIN ([A-Z]+ )*PRIVATE KEY-----"), "a PEM private key"),
    (re.compile(r"-----BEGIN NATS USER JWT-----|\bSUA[A-Z2-7]{50,}"), "NATS credentials"),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"), "a JSON Web Token"),
    (re.compile(r"(?i)\b(AccountKey|SharedAccessSignature|sig)=[A-Za-z0-9%+/=]{16,}"), "an Azure key or SAS"),
    (re.compile(r"://[^/\s:@]+:[^/\s@]+@"), "a URL with a password"),
]


def _norm(key):
    return re.sub(r"[-_.]", "", str(key)).lower()


def secret_literal_errors(values, root="runner_values"):
    """Secret-looking literals anywhere in the chart values.

    - an environment entry (a mapping with `name` and `value`, for example in extraEnv)
      whose name looks like a secret (*PASSWORD*, *TOKEN*, *SECRET*, *KEY*) with a literal value;
    - a key named like a secret (password, token, clientSecret, apiKey, ...) with a string value;
    - any string that is secret material (PEM private key, NATS credentials, JWT, Azure key,
      URL with a password).
    """
    errors = []
    env_hint = ("a literal value ends up in override_<customer>.yaml, the Helm release and the pod spec; "
                "keep the secret in Ansible Vault, let the role or a Secret hold it and use "
                "valueFrom.secretKeyRef (name: <secret>, key: <key>) instead of value")
    for path, key, value, parent in walk(values, root):
        if isinstance(value, dict) and isinstance(value.get("name"), str) and "value" in value:
            literal = value.get("value")
            if SECRET_ENV_NAME.search(value["name"]) and literal not in (None, ""):
                errors.append("%s (%s): %s; value not shown" % (path, value["name"], env_hint))
                continue
        if not isinstance(value, str) or value == "":
            continue
        if isinstance(parent, dict) and key == "value" and isinstance(parent.get("name"), str) \
                and SECRET_ENV_NAME.search(parent["name"]):
            continue  # reported above for the whole entry
        if isinstance(key, str) and _norm(key) in SECRET_KEYS:
            errors.append("%s: looks like a secret in runner_values (key '%s' with a literal value); secrets never go "
                          "into runner_values -- put it in Ansible Vault and reference an existing Secret "
                          "(valueFrom.secretKeyRef or the chart's existingSecret); value not shown" % (path, key))
            continue
        for pattern, what in SECRET_TEXT:
            if pattern.search(value):
                errors.append("%s: holds %s; secrets never go into runner_values -- put it in Ansible Vault and "
                              "reference a Secret (valueFrom.secretKeyRef or the chart's existingSecret); "
                              "value not shown" % (path, what))
                break
    return errors


# ---------------------------------------------------------------------------------------
# Kubernetes size limits

ANNOTATIONS_TOTAL = 256 * 1024          # all annotations of one object (bytes)
LABEL_VALUE_MAX = 63
NAME_MAX = 253                          # DNS-1123 subdomain
RELEASE_MAX = 1024 * 1024               # Helm keeps a release in a Secret (1 MiB, compressed)
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?\Z")
QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]\Z")
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\Z")
NAME_KEYS = frozenset(["existingsecret", "storageclassname", "priorityclassname", "secretname", "claimname",
                       "configmapname"])


def label_key_errors(path, key):
    """Kubernetes' rule for label and annotation keys: [prefix/]name, name at most 63."""
    key = str(key)
    prefix, _sep, name = key.rpartition("/")
    problems = []
    if prefix and (len(prefix) > NAME_MAX or not DNS_SUBDOMAIN.match(prefix)):
        problems.append("prefix '%s' is not a DNS subdomain of at most %d characters" % (shorten(prefix), NAME_MAX))
    if len(name) > LABEL_VALUE_MAX or not QUALIFIED_NAME.match(name):
        problems.append("name '%s' must be at most %d characters of letters, digits, '-', '_' and '.', starting "
                        "and ending with a letter or digit (%d given)" % (shorten(name), LABEL_VALUE_MAX, len(name)))
    return ["%s: key '%s': %s" % (path, shorten(key), "; ".join(problems))] if problems else []


def size_errors(values, root="runner_values", labels_var=None):
    """Values that Kubernetes or Helm would reject at install time for their size or form.

    annotations (every mapping under a key ending in 'annotations'): 256 KiB in total per
    object, keys [prefix/]name; labels (keys ending in 'labels', nodeSelector, matchLabels):
    values at most 63 characters of the label alphabet; names of objects (existingSecret,
    storageClassName, ...): at most 253 characters; the whole override below 1 MiB.
    """
    errors = []
    checks = list(walk(values, root))
    if labels_var is not None:
        checks.append((labels_var[0], "labels", labels_var[1], None))
    for path, key, value, _parent in checks:
        lkey = str(key).lower()
        if isinstance(value, dict) and lkey.endswith("annotations"):
            total = sum(len(str(k).encode("utf-8")) + len((v if isinstance(v, str) else json.dumps(v)).encode("utf-8"))
                        for k, v in value.items())
            if total > ANNOTATIONS_TOTAL:
                errors.append("%s: the annotations add up to %d bytes; Kubernetes allows at most %d bytes (256 KiB) "
                              "of annotations per object -- move large data into a ConfigMap"
                              % (path, total, ANNOTATIONS_TOTAL))
            for k in value:
                errors.extend(label_key_errors(path, k))
        elif isinstance(value, dict) and (lkey.endswith("labels") or lkey in ("nodeselector", "matchlabels")):
            for k, v in value.items():
                errors.extend(label_key_errors(path, k))
                text = v if isinstance(v, str) else json.dumps(v)
                if len(text) > LABEL_VALUE_MAX or not LABEL_VALUE.match(text):
                    errors.append("%s.%s: label value '%s' is not valid: at most %d characters (%d given) of letters, "
                                  "digits, '-', '_' and '.', starting and ending with a letter or digit"
                                  % (path, k, shorten(text), LABEL_VALUE_MAX, len(text)))
        elif isinstance(value, str) and _norm(key) in NAME_KEYS and value:
            if len(value) > NAME_MAX or not DNS_SUBDOMAIN.match(value):
                errors.append("%s: '%s' is not a valid object name (DNS-1123 subdomain: lowercase letters, digits, "
                              "'-' and '.', at most %d characters; %d given)"
                              % (path, shorten(value), NAME_MAX, len(value)))
    size = len(json.dumps(values, default=str))
    if size > RELEASE_MAX:
        errors.append("%s: the values take %d bytes; Helm stores each release with its values in a Secret of at "
                      "most 1 MiB -- keep large files out of the chart values" % (root, size))
    return errors


# ---------------------------------------------------------------------------------------
# keys the chart does not know, with the closest valid key

def _resolve(schema, root):
    seen = 0
    while isinstance(schema, dict) and "$ref" in schema and seen < 10:
        ref = schema["$ref"]
        if not ref.startswith("#/"):
            return {}
        node = root
        for part in ref[2:].split("/"):
            node = node.get(part, {}) if isinstance(node, dict) else {}
        schema = node
        seen += 1
    return schema if isinstance(schema, dict) else {}


def suggest(key, valid):
    """The valid key closest to `key`: same letters ignoring case and '-'/'_', else difflib."""
    valid = sorted(str(v) for v in valid)
    norm = _norm(key)
    for candidate in valid:
        if _norm(candidate) == norm:
            return candidate
    close = difflib.get_close_matches(str(key), valid, n=1, cutoff=0.6)
    if close:
        return close[0]
    lowered = {v.lower(): v for v in valid}
    close = difflib.get_close_matches(str(key).lower(), list(lowered), n=1, cutoff=0.6)
    return lowered[close[0]] if close else None


def unknown_key_errors(values, schema, root="runner_values", subschemas=None):
    """Keys of `values` that the chart's values.schema.json does not allow, each with the closest valid key.

    `subschemas` maps a top-level key (a subchart such as agent-manager) to the subchart's
    own schema, used where the umbrella schema leaves the subchart open.
    """
    errors = []
    subschemas = subschemas or {}

    def visit(node, sch, top, path, depth):
        sch = _resolve(sch, top)
        if depth > 30:
            return
        if isinstance(node, dict):
            props = sch.get("properties")
            if not isinstance(props, dict):
                return
            closed = sch.get("additionalProperties") is False
            for key, value in node.items():
                sub = _path(path, key)
                if key in props:
                    child = props[key]
                    child_top = top
                    resolved = _resolve(child, top)
                    if depth == 0 and key in subschemas and not isinstance(resolved.get("properties"), dict):
                        child, child_top = subschemas[key], subschemas[key]
                    visit(value, child, child_top, sub, depth + 1)
                elif closed:
                    hint = suggest(key, props)
                    if hint:
                        errors.append("%s: the chart has no value '%s'; did you mean '%s'? (%s.%s)"
                                      % (sub, shorten(key), hint, path, hint))
                    else:
                        errors.append("%s: the chart has no value '%s'; valid keys here: %s"
                                      % (sub, shorten(key), shorten(", ".join(sorted(props)), 300)))
        elif isinstance(node, list):
            items = sch.get("items")
            if isinstance(items, dict):
                for index, value in enumerate(node):
                    visit(value, items, top, _path(path, index), depth + 1)

    visit(values, schema, schema, root, 0)
    return errors


# ---------------------------------------------------------------------------------------
# URLs, types, vault, runner_state, undefined references

HTTPS_URL = re.compile(r"^https://[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:[0-9]{1,5})?(/\S*)?\Z")
HTTP_URL = re.compile(r"^http://(?P<host>[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])"
                      r"(:[0-9]{1,5})?(/\S*)?\Z")
SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")


def url_errors(urls, allow_http=False):
    """`urls` maps a variable name to its value (empty or missing: not checked here).

    Each must be a string; https:// always; http:// only with runner_allow_http: true and
    only to a loopback host (localhost, 127.0.0.0/8, ::1: tests against a loopback endpoint);
    any other scheme (file:, data:, ftp:, ...) never.
    """
    errors = []
    for name, url in sorted((urls or {}).items()):
        if url is None or url == "":
            continue
        if not isinstance(url, str):
            errors.append("%s: is %s, not a string; give the URL as a quoted string (https://...)"
                          % (name, a_type(url)))
            continue
        if HTTPS_URL.match(url):
            continue
        http = HTTP_URL.match(url)
        if http:
            if not allow_http:
                errors.append("%s: '%s' is plain http; credentials and metrics would travel unencrypted -- use "
                              "https://, or set runner_allow_http: true for a test against a loopback endpoint"
                              % (name, shorten(url)))
            elif not is_loopback_host(http.group("host")):
                errors.append("%s: '%s' is plain http to '%s', which is not a loopback host; runner_allow_http: true "
                              "permits http:// only to localhost, 127.0.0.0/8 or ::1 (tests against a loopback "
                              "endpoint) -- use https://, credentials and metrics would travel unencrypted"
                              % (name, shorten(url), shorten(http.group("host"))))
            continue
        scheme = SCHEME.match(url)
        if scheme and scheme.group(1).lower() not in ("http", "https"):
            errors.append("%s: '%s' has the scheme '%s:', which is never accepted; use https://host[:port]/path"
                          % (name, shorten(url), scheme.group(1)))
        else:
            errors.append("%s: '%s' is not a valid URL (expected https://host[:port]/path)" % (name, shorten(url)))
    return errors


def string_errors(variables, secret=False):
    """`variables` maps a variable name to its value: each must be a string (or empty).

    YAML turns unquoted 0123 into the number 83 and yes into true: a secret or URL of another
    type would be silently changed on its way into the Secret or the chart.
    """
    errors = []
    for name, value in sorted((variables or {}).items()):
        if value is None or isinstance(value, str):
            continue
        shown = "value not shown" if secret else "got %s" % shorten(value)
        errors.append("%s: is %s, not a string (%s); YAML changes unquoted numbers, dates and yes/no -- quote the "
                      "value%s" % (name, a_type(value), shown,
                                   " in the vault file (ansible-vault edit)" if secret else ""))
    return errors


VAULT_NAMES = re.compile(r"^vault(\.ya?ml)?$")
VAULT_HEADER = "$ANSIBLE_VAULT;"


def vault_file_errors(files, label="<customer>"):
    """`files` maps a vault file's path to its first bytes (str). Each must be Ansible-Vault encrypted."""
    errors = []
    for path, head in sorted((files or {}).items()):
        if not head.lstrip().startswith(VAULT_HEADER):
            errors.append("%s: is a vault file but not encrypted -- anyone who can read the inventory reads the "
                          "secrets; encrypt it: ansible-vault encrypt --vault-id %s@<your password client, e.g. "
                          "vault-pass-client.sh> %s" % (path, label, path))
    return errors


def state_errors(effective, inventory, playbook=None):
    """runner_state set in the inventory but overridden by the play (role or play vars win)."""
    if inventory in (None, "") or inventory == effective:
        return []
    which = "the play '%s'" % playbook if playbook else "this play"
    return ["runner_state: the inventory sets '%s', but %s sets '%s' and play vars win over inventory vars, so this "
            "run would %s the runner; remove runner_state from the inventory (host_vars/group_vars) and choose the "
            "playbook instead: kubiya.runners.deploy installs, kubiya.runners.remove removes"
            % (shorten(inventory), which, effective, "install or upgrade" if effective == "present" else "remove")]


def undefined_errors(undefined, vault_missing, customer="<customer>"):
    """Role variables whose value refers to a variable that is not defined.

    `undefined`: names of role variables that do not resolve; `vault_missing`: the
    vault_<name> variables (the documented convention) that are not defined either.
    """
    if not undefined:
        return []
    vault = list(vault_missing)
    parts = ["%s" % name for name in sorted(undefined)]
    msg = ("%s: set from variables that are not defined" % ", ".join(parts))
    if vault:
        msg += ("; missing from the vault of customer %s: %s -- add them with ansible-vault edit "
                "host_vars/%s/vault (or check the vault password/--vault-id)"
                % (customer, ", ".join(sorted(vault)), customer))
    return [msg]


# ---------------------------------------------------------------------------------------
# helm's output

HELM_NOISE = re.compile(r"^(WARNING:|\S+\.go:\d+: |W\d{4} |I\d{4} |\[?warn)", re.IGNORECASE)


def helm_error(stderr, limit=4000):
    """The part of helm's stderr that says why it failed: the `Error:` block first, then
    (counted, truncated) the warnings that came before it."""
    lines = [line for line in (stderr or "").splitlines() if line.strip()]
    noise = [line for line in lines if HELM_NOISE.match(line.strip())]
    start = next((i for i, line in enumerate(lines) if line.startswith("Error:")), None)
    if start is None:
        core = [line for line in lines if line not in noise] or lines
    else:
        core = [line for line in lines[start:] if not HELM_NOISE.match(line.strip())]
    text = "\n".join(core)
    if len(text) > limit:
        text = text[:limit] + "... (%d characters, shown truncated)" % len(text)
    if noise:
        text += " [helm also printed %d warning line(s), first: %s]" % (len(noise), shorten(noise[0].strip(), 120))
    return text


def helm_failure(result, helm):
    """What went wrong when `helm template` did not succeed (`result`: the registered command)."""
    result = result or {}
    if result.get("rc") is None or "Errno" in str(result.get("msg", "")) \
            or result.get("rc") in (126, 127):
        why = shorten(str(result.get("msg") or result.get("stderr") or ""), 200)
        return ("runner_helm_binary: helm '%s' could not be run (%s); install helm 3 or set runner_helm_binary "
                "to its path -- the chart was not asked" % (helm, why))
    return "the chart rejected the values: %s" % helm_error(result.get("stderr", "") or result.get("msg", ""))


def chart_fetch_failure(result, ref, version):
    """Why `helm registry login` or `helm pull` of a remote chart failed, naming the variable to fix.

    `result`: the registered task (rc/stderr/msg). Pure: helm's message is classified, never re-run.
    """
    result = result or {}
    text = str(result.get("stderr") or result.get("msg") or "")
    # classified on helm's `Error:` block only: what helm printed before it (`Pulled: ...`,
    # `Digest: sha256:<hex>`) is not the reason, and a digest can hold "401" or "403"
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("Error:")), 0)
    low = "\n".join(lines[start:]).lower()
    where = "%s version %s" % (ref, version)
    why = helm_error(text)
    if "openpgp" in low or "provenance" in low or "sha256 sum does not match" in low or "keyring" in low \
            or "signature" in low:
        return ("runner_chart_verify: the provenance of %s does not verify against runner_chart_keyring (%s); the "
                "chart was not used" % (where, why))
    if "connection refused" in low or "no such host" in low or "i/o timeout" in low \
            or "network is unreachable" in low or "deadline exceeded" in low:
        return ("runner_chart_ref: the chart registry of '%s' cannot be reached (%s); is it up, and is the "
                "host:port right?" % (ref, why))
    if "x509" in low or ("certificate" in low and "tls" in low):
        return ("runner_chart_ca_file: the TLS certificate of the chart registry of '%s' is not trusted (%s); "
                "set runner_chart_ca_file to its CA" % (ref, why))
    if re.search(r"\b40[13]\b", low) or "unauthorized" in low or "basic credential not found" in low \
            or "denied" in low:
        return ("runner_chart_registry_username/runner_chart_registry_password: the chart registry of '%s' refused "
                "the credentials (%s)" % (ref, why))
    if "not found" in low or "manifest unknown" in low or "no chart version found" in low:
        return "runner_chart_version: %s is not in the registry (%s)" % (where, why)
    return "runner_chart_ref: %s could not be fetched: %s" % (where, why or "helm gave no reason")


def helm_binary_errors(helm, path_env):
    """The helm binary must exist and be executable: `helm` is a name looked up in `path_env` or a path."""
    helm = helm or "helm"
    if "/" in helm:
        candidates = [helm]
    else:
        candidates = [os.path.join(d, helm) for d in (path_env or "").split(os.pathsep) if d]
    for candidate in candidates:
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return []
    if "/" in helm:
        if os.path.isfile(helm):
            why = "exists but is not executable (chmod +x, or mount without noexec)"
        elif os.path.isdir(helm):
            why = "is a directory, not the helm binary"
        else:
            why = "does not exist"
        return ["runner_helm_binary: '%s' %s; set runner_helm_binary to the helm 3 binary" % (helm, why)]
    return ["runner_helm_binary: '%s' was not found on PATH; install helm 3 (in this repository: make setup, then "
            "export PATH=$PWD/.tools/bin:$PATH) or set runner_helm_binary to its path" % helm]


# ---------------------------------------------------------------------------------------
# YAML errors of the inventory

def yaml_error(path, text):
    """The YAML syntax error of one file as `path:line:column: problem`, or None."""
    if text.lstrip().startswith(VAULT_HEADER):
        return None
    try:
        # composing parses the syntax without constructing values: `!vault |` and other
        # tags Ansible understands are no error here
        list(yaml.compose_all(text, Loader=yaml.SafeLoader))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = "%s:%d:%d" % (path, mark.line + 1, mark.column + 1) if mark else path
        return "%s: YAML syntax error: %s%s" % (where, exc.problem or exc, " (%s)" % exc.context if exc.context else "")
    except yaml.YAMLError as exc:
        return "%s: YAML error: %s" % (path, exc)
    return None


def inventory_files(sources):
    """YAML files of the inventory sources: the source files and their host_vars/group_vars."""
    files = []
    for source in sources or []:
        source = str(source)
        if "," in source and not os.path.exists(source):
            continue  # a host list, not a path
        if os.path.isfile(source):
            if source.endswith((".yml", ".yaml")):
                files.append(source)
            base = os.path.dirname(source)
        elif os.path.isdir(source):
            base = source
            for name in sorted(os.listdir(source)):
                if name.endswith((".yml", ".yaml")) and os.path.isfile(os.path.join(source, name)):
                    files.append(os.path.join(source, name))
        else:
            continue
        for sub in ("host_vars", "group_vars"):
            top = os.path.join(base, sub)
            for dirpath, _dirs, names in sorted(os.walk(top)):
                for name in sorted(names):
                    if name.endswith((".yml", ".yaml", ".json")) or "." not in name:
                        files.append(os.path.join(dirpath, name))
    return files


# ---------------------------------------------------------------------------------------
# value formats: the chart's values.schema.json is the one source of the patterns

def _pattern(node):
    """A schema node's pattern with its minLength/maxLength as one Python expression that
    `re.match` applies to the whole value (JSON-schema `$` is the end of the text; Python's
    `$` also matches before a final newline, hence the trailing \\Z)."""
    pattern = node["pattern"]
    prefix = "" if pattern.startswith("^") else r"[\s\S]*?"
    suffix = r"\Z" if pattern.endswith("$") and not pattern.endswith(r"\$") else ""
    low, high = node.get("minLength"), node.get("maxLength")
    if low is not None or high is not None:
        prefix = r"(?=[\s\S]{%d,%s}\Z)" % (low or 0, "" if high is None else high) + prefix
    return "%s(?:%s)%s" % (prefix, pattern, suffix)


def schema_patterns(schema):
    """Every pattern of a values.schema.json by the dotted path of its value:
    'global.nats.serverUrl', array items 'telemetry.remoteWrite.oauth2.scopes[]',
    named formats 'definitions.dnsLabel'. `$ref`s are followed; each pattern carries the
    value's minLength/maxLength (see _pattern). The role checks each runner_* variable with
    the pattern of the chart value it becomes, so the role never accepts what the chart refuses."""
    out = {}
    if not isinstance(schema, dict):
        return out

    def visit(node, path, depth):
        node = _resolve(node, schema)
        if depth > 30 or not node:
            return
        if isinstance(node.get("pattern"), str) and path:
            out[path] = _pattern(node)
        for key, child in sorted((node.get("properties") or {}).items()):
            visit(child, "%s.%s" % (path, key) if path else key, depth + 1)
        if isinstance(node.get("items"), dict):
            visit(node["items"], path + "[]", depth + 1)

    visit(schema, "", 0)
    for name, node in sorted((schema.get("definitions") or {}).items()):
        visit(node, "definitions." + name, 1)
    return out


# ---------------------------------------------------------------------------------------
# role-only formats: inputs that are no chart value

CUSTOMER_ID = re.compile(r"^[a-z0-9]([a-z0-9_-]{0,61}[a-z0-9])?\Z")   # override_<customer>.yaml, a label value
RELEASE_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,51}[a-z0-9])?\Z")   # Helm's rule: DNS-1123 label, at most 53
CHART_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://")


def name_errors(customer, release):
    """runner_customer and runner_release: names the chart never sees as values."""
    errors = []
    if not (isinstance(customer, str) and CUSTOMER_ID.match(customer)):
        errors.append("runner_customer: '%s' is not a valid customer id (lowercase letters, digits, '-' and '_', "
                      "at most 63, used in override_<customer>.yaml)" % shorten(customer))
    if not (isinstance(release, str) and RELEASE_NAME.match(release)):
        errors.append("runner_release: '%s' is not a valid Helm release name (lowercase letters, digits and '-', "
                      "at most 53)" % shorten(release))
    return errors


def chart_ref_errors(ref, version, repo_url, url_pattern, is_chart_dir=False, is_file=False):
    """runner_chart_ref / runner_chart_version / runner_chart_repo_url.

    A remote chart (oci:// or a chart name with runner_chart_repo_url) needs a version and a
    valid repository URL (`url_pattern`: the chart schema's definitions.url); another scheme is
    refused; a local reference must be a chart directory (`is_chart_dir`: it has a Chart.yaml) or
    a .tgz archive (`is_file`). http(s):// references are left to helm.
    """
    ref = "" if ref is None else str(ref)
    version = "" if version is None else str(version)
    repo_url = "" if repo_url is None else str(repo_url)
    errors = []
    if ref.startswith("oci://") or repo_url:
        if not version:
            errors.append("runner_chart_version: is empty; a version is required for the remote chart '%s'" % ref)
        if repo_url and not re.match(url_pattern, repo_url):
            errors.append("runner_chart_repo_url: '%s' is not a valid URL (expected http(s)://host[:port]/path)"
                          % shorten(repo_url))
    elif CHART_SCHEME.match(ref) and not ref.startswith(("http://", "https://")):
        errors.append("runner_chart_ref: '%s' has an unsupported scheme (use a local path, oci://, or a chart name "
                      "with runner_chart_repo_url)" % shorten(ref))
    elif not ref.startswith(("http://", "https://")) and not (is_chart_dir or (is_file and ref.endswith(".tgz"))):
        errors.append("runner_chart_ref: '%s' is neither a chart directory (with Chart.yaml) nor a .tgz chart archive "
                      "on the controller" % shorten(ref))
    return errors


# ---------------------------------------------------------------------------------------
# which components a release runs: permissions.yaml `enabledBy`

def _value_at(values, path):
    node = values
    for key in path.split("."):
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def enabled_by(spec, values):
    """Whether an `enabledBy` of permissions.yaml holds for the chart values: `<path>` (the value is
    true) or `<path>=<value>` (compared as lowercase text, as `helm --set` writes it). No spec: always."""
    if spec in (None, ""):
        return True
    path, sep, wanted = str(spec).partition("=")
    value = _value_at(values if isinstance(values, dict) else {}, path.strip())
    if not sep:
        return value is True or str(value).lower() == "true"
    return value is not None and str(value).lower() == wanted.strip().lower()


def matrix_components(matrix, values):
    """The components of the permission matrix the release runs: those without `enabledBy`, and those
    whose `enabledBy` holds for the release's values (helm get values --all)."""
    accounts = (matrix or {}).get("serviceAccounts") or {}
    return [name for name, spec in accounts.items()
            if enabled_by((spec or {}).get("enabledBy") if isinstance(spec, dict) else None, values)]


# ---------------------------------------------------------------------------------------
# filters (these read files; the logic above does not)

def _read_head(path, size=64):
    try:
        with open(path, "rb") as handle:
            return handle.read(size).decode("utf-8", "replace")
    except OSError:
        return VAULT_HEADER  # unreadable: Ansible itself reports it


def runner_vault_file_errors(inventory_dir, host, groups=None, cwd=None):
    """Vault files (host_vars/<host>/vault[.yml], group_vars/<group>/vault[.yml]) that are not encrypted,
    named by a path relative to the working directory when they are below it."""
    if not inventory_dir:
        return []
    cwd = cwd or os.getcwd()
    found = {}
    dirs = [os.path.join(inventory_dir, "host_vars", str(host))]
    dirs += [os.path.join(inventory_dir, "group_vars", str(g)) for g in (groups or []) + ["all"]]
    for directory in dirs:
        if not os.path.isdir(directory):
            continue
        for name in sorted(os.listdir(directory)):
            path = os.path.join(directory, name)
            if VAULT_NAMES.match(name) and os.path.isfile(path):
                shown = os.path.relpath(path, cwd)
                found[path if shown.startswith("..") else shown] = _read_head(path)
    return vault_file_errors(found, str(host))


def _load_schema(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def runner_values_errors(values, chart_dir=None, root="runner_values", namespace_labels=None):
    """Secret literals, size limits and (with a local chart directory) unknown keys of the chart values."""
    if not isinstance(values, dict):
        return []
    errors = secret_literal_errors(values, root)
    errors += size_errors(values, root, ("runner_namespace_labels", namespace_labels)
                          if isinstance(namespace_labels, dict) else None)
    schema = _load_schema(os.path.join(chart_dir, "values.schema.json")) if chart_dir else None
    if schema:
        current = values
        if chart_major(chart_dir) >= 2:   # an older chart directory still takes the old keys
            errors += renamed_key_errors(values, root)
            current = {k: v for k, v in values.items() if k not in RENAMED_KEYS}   # said once, above
        errors += unknown_key_errors(current, schema, root, subchart_schemas(chart_dir))
    return errors


# values keys renamed by a chart MAJOR: old key -> (new key, chart version that renamed it)
RENAMED_KEYS = {
    "agent-manager": ("agentManager", "2.0.0"),
    "tool-manager": ("toolManager", "2.0.0"),
    "kubiya-operator": ("kubiyaOperator", "2.0.0"),
}


def chart_major(chart_dir):
    """The major version of a local chart directory (0 when it cannot be read)."""
    try:
        with open(os.path.join(chart_dir, "Chart.yaml"), encoding="utf-8") as handle:
            version = str((yaml.safe_load(handle) or {}).get("version", ""))
        return int(version.lstrip("v").split(".", 1)[0])
    except (OSError, yaml.YAMLError, AttributeError, ValueError):
        return 0


def renamed_key_errors(values, root="runner_values"):
    """Top-level keys an older chart used, each with its new name (charts/kubiya-runner/CHANGELOG.md)."""
    return ["%s.%s: renamed to '%s' in chart %s (move its settings under %s.%s; "
            "charts/kubiya-runner/CHANGELOG.md, upgrade notes)" % (root, old, new, version, root, new)
            for old, (new, version) in sorted(RENAMED_KEYS.items()) if old in values]


def subchart_schemas(chart_dir):
    """The values schemas of a local chart's dependencies by the key they take in its values
    (alias or name): dependencies declared with a ``file://`` repository are read from that
    directory, others from an unpacked ``charts/<name>`` if present."""
    try:
        with open(os.path.join(chart_dir, "Chart.yaml"), encoding="utf-8") as handle:
            meta = yaml.safe_load(handle) or {}
    except (OSError, yaml.YAMLError):
        return {}
    subs = {}
    for dep in meta.get("dependencies") or []:
        if not isinstance(dep, dict) or not dep.get("name"):
            continue
        repo = str(dep.get("repository") or "")
        where = (os.path.join(chart_dir, repo[len("file://"):]) if repo.startswith("file://")
                 else os.path.join(chart_dir, "charts", str(dep["name"])))
        sub = _load_schema(os.path.join(where, "values.schema.json"))
        if sub:
            subs[str(dep.get("alias") or dep["name"])] = sub
    return subs


def runner_helm_errors(helm, path_env=None):
    """Filter: the helm binary the role would run is missing or not executable."""
    return helm_binary_errors(helm, path_env if path_env is not None else os.environ.get("PATH", ""))


def runner_inventory_checked(pattern, sources):
    """Filter for a play's `hosts:`: returns `pattern` unchanged, or fails naming every YAML
    error of the inventory with file, line and column (Ansible itself says only
    "YAML parsing failed" for a host_vars file, and skips an unparsable hosts.yml)."""
    errors = []
    for path in inventory_files(sources):
        try:
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
        except (OSError, UnicodeDecodeError):
            continue
        problem = yaml_error(path, text)
        if problem:
            errors.append(problem)
    if errors:
        raise AnsibleFilterError("The inventory has YAML errors; nothing was run or changed. " + " | ".join(errors))
    return pattern


def missing_dependency_errors(chart_dir):
    """A local chart directory whose declared dependencies have no archive (or unpacked chart)
    in its charts/ directory: helm would refuse it mid-run; said here with the fix."""
    try:
        with open(os.path.join(chart_dir, "Chart.yaml"), encoding="utf-8") as handle:
            deps = (yaml.safe_load(handle) or {}).get("dependencies") or []
    except (OSError, yaml.YAMLError, AttributeError):
        return []
    sub = os.path.join(chart_dir, "charts")
    present = os.listdir(sub) if os.path.isdir(sub) else []
    missing = [str(d.get("name")) for d in deps if isinstance(d, dict) and d.get("name")
               and "%s-%s.tgz" % (d["name"], d.get("version")) not in present and str(d["name"]) not in present]
    if missing:
        return ["runner_chart_ref: the chart directory '%s' lacks the archives of its dependencies %s: build them "
                "with `helm dependency build` in dependency order (in this repository: make setup, or "
                "tools/chart-deps.sh)" % (chart_dir, ", ".join(missing))]
    stale = [str(d["name"]) for d in deps if isinstance(d, dict) and str(d.get("repository", "")).startswith("file://")
             and archive_differs(os.path.join(sub, "%s-%s.tgz" % (d["name"], d.get("version"))),
                                 os.path.join(chart_dir, str(d["repository"])[len("file://"):]))]
    if not stale:
        return []
    return ["runner_chart_ref: the chart directory '%s' would install outdated copies of %s: their archives in "
            "charts/ differ from the chart directories they were built from; rebuild them (in this repository: "
            "make chart-deps, or tools/chart-deps.sh)" % (chart_dir, ", ".join(stale))]


# what a component chart's archive must hold as its directory does (README, ci/ may differ)
_ARCHIVE_COMPARED = re.compile(r"^(templates/.+|values\.yaml|values\.schema\.json)$")


def archive_differs(archive, source_dir):
    """Whether a dependency archive (``helm dependency build``) no longer holds what its source
    chart directory holds: a template, values.yaml or values.schema.json added, removed or
    changed in either (nested dependencies are checked at their own level)."""
    import tarfile  # pylint: disable=import-outside-toplevel
    if not os.path.isfile(archive) or not os.path.isdir(source_dir):
        return False
    packed = {}
    try:
        with tarfile.open(archive) as tgz:
            for member in tgz.getmembers():
                rel = member.name.split("/", 1)[1] if "/" in member.name else ""
                if member.isfile() and _ARCHIVE_COMPARED.match(rel):
                    packed[rel] = tgz.extractfile(member).read()
    except (OSError, tarfile.TarError):
        return True
    present = {}
    for base, _dirs, files in os.walk(source_dir):
        for name in files:
            rel = os.path.relpath(os.path.join(base, name), source_dir).replace(os.sep, "/")
            if _ARCHIVE_COMPARED.match(rel) and not rel.startswith("charts/"):
                with open(os.path.join(base, name), "rb") as handle:
                    present[rel] = handle.read()
    return packed != present


def runner_chart_ref_errors(ref, version, repo_url, url_pattern):
    """Filter: chart_ref_errors with the controller's file system asked (Chart.yaml, the archive)."""
    ref_text = "" if ref is None else str(ref)
    is_dir = bool(ref_text) and os.path.isfile(os.path.join(ref_text, "Chart.yaml"))
    errors = chart_ref_errors(ref, version, repo_url, url_pattern, is_chart_dir=is_dir,
                              is_file=bool(ref_text) and os.path.isfile(ref_text))
    if is_dir and not (ref_text.startswith("oci://") or repo_url):
        errors += missing_dependency_errors(ref_text)
    return errors


def runner_resolve_dir(path, cwd=None):
    """A relative directory resolved against the directory the command was run from
    (the controller process's working directory; ansible-playbook never changes it)."""
    if not path:
        return path
    path = os.path.expanduser(str(path))
    if os.path.isabs(path):
        return os.path.normpath(path)
    return os.path.normpath(os.path.join(cwd or os.getcwd(), path))


# ---------------------------------------------------------------------------------------
# what lives in a namespace (removal and undo delete a namespace only when nothing foreign
# is in it) and which customers of a play share one target

# Namespaced kinds that are noise: written by Kubernetes for objects that are there anyway.
NOISE_KINDS = {
    ("", "Event"), ("events.k8s.io", "Event"), ("", "Endpoints"), ("discovery.k8s.io", "EndpointSlice"),
    ("apps", "ControllerRevision"), ("metrics.k8s.io", "PodMetrics"),
}
# Namespaced kinds that cannot be listed (create-only or virtual).
UNLISTABLE_KINDS = {
    ("", "Binding"), ("authorization.k8s.io", "LocalSubjectAccessReview"), ("policy", "Eviction"),
    ("authentication.k8s.io", "TokenRequest"),
}
HELM_RELEASE = "meta.helm.sh/release-name"
HELM_NAMESPACE = "meta.helm.sh/release-namespace"
INSTANCE = "app.kubernetes.io/instance"
MANAGED_BY = "app.kubernetes.io/managed-by"


def listable_kinds(apis):
    """The kinds to scan in a namespace, from kubernetes.core.k8s_cluster_info's ``apis``
    (``{"<group>/<version>" or "v1": {Kind: {namespaced, preferred, name}}}``): every
    namespaced resource of the preferred version of its group, except subresources, kinds
    that cannot be listed and noise (events, endpoints, endpointslices, controllerrevisions).
    Sorted ``[{"api_version", "kind"}]``."""
    if not isinstance(apis, dict):
        raise AnsibleFilterError("runner_listable_kinds: expected the apis of k8s_cluster_info, got %s"
                                 % type_name(apis))
    found = {}
    for group_version, kinds in apis.items():
        group = group_version.rsplit("/", 1)[0] if "/" in group_version else ""
        for kind, info in (kinds or {}).items():
            info = info or {}
            name = str(info.get("name") or "")
            if not info.get("namespaced") or "/" in name or not info.get("preferred", True):
                continue
            if (group, kind) in NOISE_KINDS or (group, kind) in UNLISTABLE_KINDS:
                continue
            found[(group, kind)] = {"api_version": group_version, "kind": kind}
    return [found[key] for key in sorted(found)]


def _ours_by_metadata(obj, release, namespace):
    md = obj.get("metadata") or {}
    labels = md.get("labels") or {}
    annotations = md.get("annotations") or {}
    if annotations.get(HELM_RELEASE) == release:
        # the same release name in another namespace is another release
        return namespace is None or annotations.get(HELM_NAMESPACE) in (None, namespace)
    if labels.get(INSTANCE) != release:
        # helm's release records: Secrets owner=helm,name=<release>
        return labels.get("owner") == "helm" and labels.get("name") == release
    # the instance label alone is not ownership, except on what helm or the role made, on
    # what a controller made from the release's templates (ownerReferences, the
    # StatefulSet's volumeClaimTemplates) and on helm's hooks (helm test)
    return (labels.get(MANAGED_BY) in ("Helm", "kubiya.runners")
            or bool(md.get("ownerReferences"))
            or obj.get("kind") == "PersistentVolumeClaim"
            or "helm.sh/hook" in annotations)


def foreign_objects(objects, release, namespace=None, lock_name=None, keep_volumes=False):
    """What in a namespace belongs neither to release ``release`` (of namespace
    ``namespace``, the release's own, also when the objects are in dagger's) nor to Kubernetes.

    ``objects``: every object listed in the namespace (dicts with kind, apiVersion,
    metadata). Ours: helm's release-name annotation, the instance label together with
    helm's or the role's managed-by label (or on a controller-made object, a PVC of the
    StatefulSet, a helm hook), helm's release records, and whatever a release object owns
    (ownerReferences, followed to any depth). Kubernetes' own: Events, Endpoints,
    EndpointSlices, ControllerRevisions, the ConfigMap kube-root-ca.crt, the ServiceAccount
    default; the role's deploy lock (Lease ``lock_name``); objects being deleted.
    With ``keep_volumes`` a PVC of the release is reported too (it is kept, and with it the
    namespace). Returns sorted ``"Kind/name (why)"`` strings."""
    if not isinstance(objects, list):
        raise AnsibleFilterError("runner_foreign_objects: expected a list of objects, got %s" % type_name(objects))
    items = [o for o in objects if isinstance(o, dict) and isinstance(o.get("metadata"), dict)]
    ours = {o["metadata"].get("uid") for o in items if _ours_by_metadata(o, release, namespace)}
    ours.discard(None)
    grew = True
    while grew:  # ownerReferences to any depth (Pod -> ReplicaSet -> Deployment)
        grew = False
        for obj in items:
            uid = obj["metadata"].get("uid")
            if uid and uid not in ours and any(ref.get("uid") in ours
                                               for ref in obj["metadata"].get("ownerReferences") or []
                                               if isinstance(ref, dict)):
                ours.add(uid)
                grew = True
    found = []
    for obj in items:
        md = obj["metadata"]
        kind = str(obj.get("kind") or "?")
        group = str(obj.get("apiVersion") or "v1").rsplit("/", 1)[0] if "/" in str(obj.get("apiVersion") or "") else ""
        name = str(md.get("name") or "?")
        if md.get("deletionTimestamp") or (group, kind) in NOISE_KINDS:
            continue
        if (kind, name) in (("ConfigMap", "kube-root-ca.crt"), ("ServiceAccount", "default")):
            continue
        if kind == "Lease" and group == "coordination.k8s.io" and lock_name and name == lock_name:
            continue
        mine = md.get("uid") in ours if md.get("uid") else _ours_by_metadata(obj, release, namespace)
        if mine and kind == "PersistentVolumeClaim" and keep_volumes:
            found.append("%s/%s (volume of the release, kept: runner_remove_volumes is false)" % (kind, name))
        elif not mine:
            found.append("%s/%s (not part of release %s)" % (kind, name, release))
    return sorted(found)


def target_clash_errors(targets, host=None):
    """Customers of one play that target the same namespace of the same cluster.

    ``targets``: ``{customer: {"namespace", "kubeconfig", "context"}}`` (kubeconfig and
    context as the customer sets them; empty = the controller's default). One namespace
    holds one customer's runner: two customers there would remove, undo or lock each
    other's objects. Returns one message per shared target, naming every customer (with
    ``host``: only the target of that customer)."""
    if not isinstance(targets, dict):
        raise AnsibleFilterError("runner_target_clash_errors: expected a dict, got %s" % type_name(targets))
    groups = {}
    for customer, target in sorted(targets.items()):
        target = target if isinstance(target, dict) else {}
        kubeconfig = target.get("kubeconfig") or ""
        if not isinstance(kubeconfig, str):
            kubeconfig = json.dumps(kubeconfig, sort_keys=True)
        key = (str(target.get("namespace") or ""), kubeconfig, str(target.get("context") or ""))
        groups.setdefault(key, []).append(str(customer))
    errors = []
    for (namespace, kubeconfig, context), customers in sorted(groups.items()):
        if len(customers) > 1 and namespace and (host is None or str(host) in customers):
            errors.append(
                "runner_namespace: customers %s all target namespace %s (kube context %s, kubeconfig %s); one "
                "namespace holds one customer's runner - give each customer its own runner_namespace, or run "
                "them in separate plays" % (
                    " and ".join(customers), namespace, context or "(default)",
                    "(default)" if not kubeconfig else ("(given inline)" if kubeconfig.startswith("{")
                                                        else shorten(kubeconfig))))
    return errors


class FilterModule:  # pylint: disable=too-few-public-methods
    """Input checks of kubiya.runners.runner."""

    def filters(self):
        return {
            "runner_values_errors": runner_values_errors,
            "runner_url_errors": url_errors,
            "runner_string_errors": string_errors,
            "runner_vault_file_errors": runner_vault_file_errors,
            "runner_state_errors": state_errors,
            "runner_undefined_errors": undefined_errors,
            "runner_helm_errors": runner_helm_errors,
            "runner_helm_failure": helm_failure,
            "runner_chart_fetch_failure": chart_fetch_failure,
            "runner_inventory_checked": runner_inventory_checked,
            "runner_resolve_dir": runner_resolve_dir,
            "runner_shorten": shorten,
            "runner_schema_patterns": schema_patterns,
            "runner_name_errors": name_errors,
            "runner_chart_ref_errors": runner_chart_ref_errors,
            "runner_matrix_components": matrix_components,
            "runner_listable_kinds": listable_kinds,
            "runner_foreign_objects": foreign_objects,
            "runner_target_clash_errors": target_clash_errors,
        }
