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

DOCUMENTATION = r"""
name: grafana_plan
short_description: grafana_stale, the uids of the Grafana objects the grafana role must write
description:
  - Takes the results of a C(ansible.builtin.uri) loop that read each desired object (C(item)) and returns the
    uids of those missing (404) or differing in a field the role sets.
  - O(section) reads the current object under that key of the answer (C(dashboard) for C(/api/dashboards/uid/...));
    O(folder) also requires C(meta.folderUid) to equal it.
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


class FilterModule:  # pylint: disable=too-few-public-methods
    """What kubiya.runners.grafana must write."""

    def filters(self):
        return {"grafana_stale": grafana_stale}
