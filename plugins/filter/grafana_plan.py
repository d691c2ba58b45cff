# -*- coding: utf-8 -*-
# Copyright: Kubiya runners platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the kubiya.runners.grafana role must write: compares the desired Grafana objects with
what Grafana answered (the registered results of an ``ansible.builtin.uri`` loop).

An object is stale when Grafana does not have it (404) or when a field the role sets differs;
fields Grafana adds itself (id, version, provenance, updated, ...) are not compared.
Unit-tested in tests/unit/plugins/filter/test_grafana_plan.py.
"""
from __future__ import annotations

import re

DOCUMENTATION = r"""
name: grafana_plan
short_description: grafana_stale, the uids of the Grafana objects the grafana role must write
description:
  - Takes the results of a C(ansible.builtin.uri) loop that read each desired object (C(item)) and returns the
    uids of those missing (404) or differing in a field the role sets.
  - O(section) reads the current object under that key of the answer (C(dashboard) for C(/api/dashboards/uid/...));
    O(folder) also requires C(meta.folderUid) to equal it.
  - The same file holds the role's other planning filters (pure, documented in their docstrings) -
    C(grafana_contact_points) (payloads and input problems of C(grafana_contact_points)),
    C(grafana_contact_points_stale) (uids of the contact points to write) and C(grafana_policy_tree)
    (the notification policy tree with the environment's route put in).
positional: _input
options:
  _input:
    description: The C(results) of the registered uri loop.
    type: list
    elements: dict
    required: true
  section:
    description: Key of the answer holding the object.
    type: str
  folder:
    description: Required folder uid (dashboards).
    type: str
author: Kubiya runners platform team
"""

EXAMPLES = r"""
- name: Dashboards to write
  ansible.builtin.set_fact:
    stale: "{{ read.results | kubiya.runners.grafana_stale(section='dashboard', folder='kubiya-runners-staging') }}"
"""

RETURN = r"""
_value:
  description: uids to write, in the order of the input.
  type: list
  elements: str
"""

# Contact-point types the role provisions, with Grafana's settings: required keys and secure
# keys (Grafana answers those as "[REDACTED]" on GET and keeps the stored value when sent back).
CONTACT_POINT_TYPES = {
    "webhook": {"required": ("url",), "secure": ("password", "authorization_credentials")},
    "email": {"required": ("addresses",), "secure": ()},
}
REDACTED = "[REDACTED]"
_CP_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,19}$")
_DURATION = re.compile(r"^([0-9]+(ms|s|m|h|d|w))+$")
TEAM = "kubiya-runners"

from ansible.errors import AnsibleFilterError


def differs(desired, current) -> bool:
    """True when a field of ``desired`` is missing from ``current`` or has another value."""
    if not isinstance(current, dict):
        return True
    return any(current.get(k) != v for k, v in desired.items())


def grafana_stale(results, section=None, folder=None):
    if not isinstance(results, list):
        raise AnsibleFilterError("grafana_stale: expects the results list of a uri loop, got %s"
                                 % type(results).__name__)
    stale = []
    for r in results:
        item = r.get("item") or {}
        uid = item.get("uid")
        status = r.get("status")
        if status not in (200, 404):
            raise AnsibleFilterError("grafana_stale: reading %s answered %s" % (uid, status))
        answer = r.get("json") or {}
        current = answer.get(section) if section else answer
        if status == 404 or differs(item, current):
            stale.append(uid)
        elif folder is not None and (answer.get("meta") or {}).get("folderUid") != folder:
            stale.append(uid)
    return stale


def _cp_settings(cp: dict) -> dict:
    """Grafana settings of one grafana_contact_points entry (only the keys that are set)."""
    if cp.get("type") == "webhook":
        pairs = (("url", cp.get("url")), ("httpMethod", cp.get("http_method") or "POST"),
                 ("username", cp.get("username")), ("password", cp.get("password")),
                 ("authorization_scheme", cp.get("authorization_scheme")),
                 ("authorization_credentials", cp.get("authorization_credentials")))
    else:
        addresses = cp.get("addresses") or []
        pairs = (("addresses", ";".join(addresses) if isinstance(addresses, list) else addresses),
                 ("singleEmail", bool(cp.get("single_email"))), ("subject", cp.get("subject")),
                 ("message", cp.get("message")))
    return {k: v for k, v in pairs if v not in (None, "")}


def grafana_contact_points(cps, environment, receivers=()):
    """Grafana provisioning payloads for the role variable grafana_contact_points, and the
    problems found (each names the variable and the entry, never a value: values may be secrets).

    Returns {"payloads": [...], "problems": [...]}. Grafana's name is
    ``kubiya-runners-<environment>-<name>``, its uid ``kr-<environment>-<name>`` (<= 40 chars).
    """
    problems, payloads, names = [], [], []
    if not isinstance(cps, list):
        return {"payloads": [], "problems": ["grafana_contact_points must be a list of dicts"]}
    for i, cp in enumerate(cps):
        where = "grafana_contact_points[%d]" % i
        if not isinstance(cp, dict):
            problems.append("%s must be a dict" % where)
            continue
        name, kind = cp.get("name"), cp.get("type")
        if not isinstance(name, str) or not _CP_NAME.match(name):
            problems.append("%s.name must match %s" % (where, _CP_NAME.pattern))
            continue
        where = "%s (%s)" % (where, name)
        if name in names:
            problems.append("%s: name given twice" % where)
        names.append(name)
        if kind not in CONTACT_POINT_TYPES:
            problems.append("%s.type must be one of %s, got %r" % (where, ", ".join(CONTACT_POINT_TYPES), kind))
            continue
        settings = _cp_settings(cp)
        missing = [k for k in CONTACT_POINT_TYPES[kind]["required"] if not settings.get(k)]
        if missing:
            problems.append("%s: type %s needs %s" % (where, kind, ", ".join(missing)))
        if kind == "webhook":
            if settings.get("url") and not re.match(r"^https?://[^/@\s]+", settings["url"]):
                problems.append("%s.url must be an http(s):// URL without user:password@" % where)
            if bool(cp.get("username")) != bool(cp.get("password")):
                problems.append("%s: username and password go together" % where)
            if cp.get("authorization_credentials") and cp.get("password"):
                problems.append("%s: password (basic auth) or authorization_credentials, not both" % where)
            if cp.get("http_method") not in (None, "", "POST", "PUT"):
                problems.append("%s.http_method must be POST or PUT" % where)
        payloads.append({"uid": "kr-%s-%s" % (environment, name),
                         "name": "kubiya-runners-%s-%s" % (environment, name),
                         "type": kind, "settings": settings,
                         "disableResolveMessage": bool(cp.get("disable_resolve_message"))})
    for var, receiver in receivers:
        if receiver and receiver not in names:
            problems.append("%s=%s is not the name of an entry of grafana_contact_points" % (var, receiver))
    return {"payloads": payloads, "problems": problems}


def _redacted(payload: dict) -> dict:
    secure = CONTACT_POINT_TYPES.get(payload.get("type"), {}).get("secure", ())
    return {**payload, "settings": {k: (REDACTED if k in secure else v)
                                    for k, v in (payload.get("settings") or {}).items()}}


def grafana_contact_points_stale(current, payloads):
    """uids of the contact points to write: missing from ``current`` (Grafana's GET
    /api/v1/provisioning/contact-points) or differing in a field the role sets. Secure settings
    are compared as Grafana answers them ("[REDACTED]" when set): a changed secret alone is not
    seen (it is sent with every write)."""
    if not isinstance(current, list):
        raise AnsibleFilterError("grafana_contact_points_stale: expects Grafana's contact-point list, got %s"
                                 % type(current).__name__)
    by_uid = {c.get("uid"): c for c in current if isinstance(c, dict)}
    stale = []
    for p in payloads:
        have = by_uid.get(p["uid"])
        want = _redacted(p)
        if have is None or any(have.get(k, False if k == "disableResolveMessage" else None) != v
                               for k, v in want.items()):
            stale.append(p["uid"])
    return stale


def _is_ours(route, folder_title) -> bool:
    matchers = [list(m) for m in (route or {}).get("object_matchers") or []]
    return ["team", "=", TEAM] in matchers and ["grafana_folder", "=", folder_title] in matchers


def grafana_policy_tree(current, folder_title, receiver, critical_receiver="", group_by=None,
                        group_wait="30s", group_interval="5m", repeat_interval="4h"):
    """{"tree": the notification policy tree to PUT, "changed": whether it differs}: Grafana's current tree (GET
    /api/v1/provisioning/policies) with the environment's route -- matching ``team=kubiya-runners``
    and ``grafana_folder=<the environment's folder title>``, the labels every rule of the
    collection carries -- put first among the root's routes or replaced where it is. The root
    and every other route are kept as they are. ``provenance`` is dropped (Grafana sets it)."""
    if not isinstance(current, dict) or not current.get("receiver"):
        raise AnsibleFilterError("grafana_policy_tree: Grafana's policy tree has no root receiver: %r" % (current,))
    for name, value in (("group_wait", group_wait), ("group_interval", group_interval),
                        ("repeat_interval", repeat_interval)):
        if not _DURATION.match(str(value)):
            raise AnsibleFilterError("grafana_notification_%s: %r is no duration (e.g. 30s, 5m, 4h)" % (name, value))

    def strip(route):
        out = {k: v for k, v in route.items() if k != "provenance"}
        if "routes" in out:
            out["routes"] = [strip(r) for r in out["routes"] or []]
        return out

    ours = {"receiver": receiver,
            "object_matchers": [["team", "=", TEAM], ["grafana_folder", "=", folder_title]],
            "group_by": list(group_by or ["alertname", "organization", "runner"]),
            "group_wait": group_wait, "group_interval": group_interval, "repeat_interval": repeat_interval}
    if critical_receiver and critical_receiver != receiver:
        ours["routes"] = [{"receiver": critical_receiver, "object_matchers": [["severity", "=", "critical"]]}]
    tree = strip(current)
    routes = list(tree.get("routes") or [])
    index = next((i for i, r in enumerate(routes) if _is_ours(r, folder_title)), None)
    if index is None:
        routes.insert(0, ours)
    else:
        routes[index] = ours
    tree["routes"] = routes
    return {"tree": tree, "changed": tree != strip(current)}


class FilterModule:  # pylint: disable=too-few-public-methods
    """What kubiya.runners.grafana must write."""

    def filters(self):
        return {"grafana_stale": grafana_stale, "grafana_contact_points": grafana_contact_points,
                "grafana_contact_points_stale": grafana_contact_points_stale,
                "grafana_policy_tree": grafana_policy_tree}
