# -*- coding: utf-8 -*-
# Copyright: (c) 2025, Kubiya runners platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fixed-width report of a review."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.kubiya.runners.plugins.module_utils import table
from ansible_collections.kubiya.runners.plugins.module_utils.rbac.matrix import (
    ALL_NAMESPACES,
    REASON_FORBIDDEN,
    resource_text,
)
from ansible_collections.kubiya.runners.plugins.module_utils.rbac.review import (
    SEVERITY_FAIL,
    summarize,
)

TABLE_COLUMNS = ('SERVICEACCOUNT', 'COMPONENT', 'RESULT', 'VERBS', 'RESOURCE', 'NAME', 'NAMESPACE', 'GRANTED BY', 'ROLE')
MAX_CELL = 64


def namespace_text(value):
    if value == ALL_NAMESPACES:
        return '* (all)'
    return value or '(cluster)'


def _cell(value):
    value = '' if value is None else str(value)
    return value if len(value) <= MAX_CELL else value[:MAX_CELL - 3] + '...'


def report_rows(result, max_rows=60):
    """Rows (tuples) for one ServiceAccount; findings with the same target are merged into one row."""
    sa = result.get('name') or '?'
    comp = result.get('component') or '-'
    rows = []
    groups = []
    merged = {}
    findings = [('MISSING', m) for m in result['missing']]
    findings += [('FORBIDDEN' if e['reason'] == REASON_FORBIDDEN else 'EXCESS', e) for e in result['excess']]
    for label, item in findings:
        key = (label, resource_text(item), item.get('resource_name') or '', namespace_text(item.get('namespace')),
               item.get('granted_by') or '', item.get('role') or '')
        if key not in merged:
            merged[key] = []
            groups.append(key)
        if item['verb'] not in merged[key]:
            merged[key].append(item['verb'])
    for key in groups:
        label, resource, name, ns, granted, role = key
        rows.append((sa, comp, label, ','.join(merged[key]), resource, name, ns, granted, role))
    for risk in result.get('risks') or []:
        rows.append((sa, comp, 'ACCEPTED' if risk['accepted'] else 'RISK', ','.join(risk['verbs']),
                     '%s: %s' % (risk['risk'], ','.join(risk['resources'])), ','.join(risk['resource_names']),
                     namespace_text(risk['namespace']), risk['granted_by'], risk['role']))
    if result.get('errors'):
        rows.append((sa, comp, 'ERROR', '', '(see ERROR lines below)', '', '', '', ''))
    if not rows:
        rows.append((sa, comp, 'ok', '', '%d checks passed' % result['checks'], '', '', '', ''))
    if len(rows) > max_rows:
        hidden = len(rows) - max_rows
        rows = rows[:max_rows] + [(sa, comp, '...', '', '%d more rows (see service_accounts in the result)' % hidden,
                                   '', '', '', '')]
    return rows


def finding_lines(results, workloads=()):
    """The reasons behind RISK/ACCEPTED rows, workload findings and notes of failed accounts."""
    lines = []
    for result in results:
        for risk in result.get('risks') or []:
            label = 'ACCEPTED' if risk['accepted'] else 'RISK'
            text = '%s %s: %s via %s: %s' % (label, result.get('name'), risk['risk'], risk['granted_by'],
                                             risk['reason'])
            if risk['accepted']:
                text += ' -- accepted: %s' % risk['accepted_reason']
            lines.append(text)
        if result.get('failed'):
            lines.extend('NOTE %s: %s' % (result.get('name'), note) for note in result.get('notes') or [])
    for workload in workloads:
        if workload.get('severity'):
            label = 'WORKLOAD' if workload['severity'] == SEVERITY_FAIL else 'WARNING'
            component = ' (component %s)' % workload['component'] if workload['component'] else ''
            lines.append('%s %s/%s%s: %s' % (label, workload['kind'], workload['name'], component,
                                             workload['problem']))
    return lines


def render_table(results, errors=(), summary=None, workloads=()):
    """A fixed-width table (list of lines): one block per ServiceAccount, then the reasons of risks,
    workload findings, errors and a summary."""
    rows = []
    for result in results:
        block = report_rows(result)
        for i, row in enumerate(block):
            # print the account and component once per block
            rows.append(row if i == 0 else ('', '') + tuple(row[2:]))
    # cap the descriptive columns so one odd value cannot push the table apart; the binding and
    # role names (the last two columns) are what an operator acts on and are never shortened
    cells = [tuple(_cell(v) for v in row[:-2]) + tuple(v or '' for v in row[-2:]) for row in rows]
    lines = table.render(TABLE_COLUMNS, cells)
    lines += finding_lines(results, workloads)
    for err in [e for r in results for e in r.get('errors') or []] + list(errors):
        lines.append('ERROR: %s' % err)
    summary = summary or summarize(results, errors, workloads)
    lines.append('service accounts: %(service_accounts)d checked, %(failed)d failed; missing: %(missing)d, '
                 'excess: %(excess)d, forbidden allowed: %(forbidden_allowed)d, risks: %(risks)d '
                 '(accepted: %(accepted_risks)d), workload findings: %(workload_findings)d, errors: %(errors)d; '
                 'checks: %(checks)d' % summary)
    return lines
