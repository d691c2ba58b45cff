# -*- coding: utf-8 -*-
# Copyright: (c) 2025, Kubiya runners platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The review: missing and excess rights, forbidden probes, escalation risks and the ServiceAccount
of every workload, for every ServiceAccount of the release namespace."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from ansible_collections.kubiya.runners.plugins.module_utils.rbac.matrix import (
    ALL_NAMESPACES,
    BOOTSTRAP_LABEL,
    BOOTSTRAP_VALUE,
    COMPONENT_LABEL,
    DEFAULT_SERVICE_ACCOUNT,
    INSTANCE_LABEL,
    REASON_FORBIDDEN,
    REASON_NOT_IN_MATRIX,
    RISKS,
    WORKLOAD_KINDS,
    combined_resource,
    expand_rules,
    make_access,
    pick_other_namespace,
    resolve_probe,
    resource_text,
)
from ansible_collections.kubiya.runners.plugins.module_utils.rbac.authorizer import (
    _meta,
    allowed_by,
    binding_ref,
    default_policy_rules,
    rule_allows,
    rules_allow,
)


def access_dict(access):
    out = {'verb': access.verb, 'group': access.group, 'resource': combined_resource(access),
           'namespace': access.namespace or None}
    if access.name:
        out['resource_name'] = access.name
    if access.path:
        out['non_resource_url'] = access.path
    return out


def grant_accesses(rule, namespace):
    """Accesses a granted rule stands for, with wildcards kept literally (a '*' verb is one access '*')."""
    return expand_rules([rule], namespace)


def find_excess(bindings, namespace, expected_rules, cluster_rules):
    """Grants from bindings that the matrix does not cover.

    A grant through a RoleBinding in the release namespace is covered by the component's rules
    (or enabled optional cluster rules); anything granted through a ClusterRoleBinding
    (namespace '*') or in another namespace is covered only by enabled optional cluster rules.
    A recognised default-policy binding (:func:`is_default_policy`) is covered for the rules the
    API server's default policy gives it, and no more. Ignored bindings are skipped.
    """
    out = []
    seen = set()
    for binding in bindings:
        if binding['ignored']:
            continue
        known = default_policy_rules(binding)
        if binding['kind'] == 'ClusterRoleBinding':
            scope = ALL_NAMESPACES
            cover = cluster_rules + known
        else:
            scope = binding['namespace']
            cover = (expected_rules + cluster_rules) if scope == namespace else cluster_rules
        for rule in binding['rules']:
            for acc in grant_accesses(rule, '' if scope == ALL_NAMESPACES else scope):
                if acc.path and binding['kind'] == 'RoleBinding':
                    continue  # a RoleBinding cannot grant non-resource URLs
                if rules_allow(cover, acc):
                    continue
                entry = access_dict(acc)
                entry['namespace'] = None if acc.path else scope
                entry['granted_by'] = binding_ref(binding['kind'], binding['name'], binding['namespace'])
                entry['role'] = binding['role']
                entry['reason'] = REASON_NOT_IN_MATRIX
                key = json.dumps(entry, sort_keys=True)
                if key not in seen:
                    seen.add(key)
                    out.append(entry)
    return out


# resources a RoleBinding cannot grant (cluster-scoped); ("bind", "clusterroles") is the exception:
# it lets a RoleBinding in the namespace reference a ClusterRole
CLUSTER_SCOPED = frozenset(['persistentvolumes', 'nodes', 'certificatesigningrequests', 'clusterroles',
                            'clusterrolebindings', 'mutatingwebhookconfigurations',
                            'validatingwebhookconfigurations', 'users', 'groups', 'uids', 'userextras'])


def rule_allows_some_name(rule, access):
    """Like :func:`rule_allows`, but a rule narrowed by resourceNames allows the access for its names."""
    if rule.get('resourceNames'):
        rule = dict(rule, resourceNames=[])
    return rule_allows(rule, access)


def has_wildcard(rule):
    """A "*" verb, API group, resource (or "*/subresource") or non-resource URL."""
    return ('*' in (rule.get('verbs') or []) or '*' in (rule.get('apiGroups') or [])
            or '*' in (rule.get('nonResourceURLs') or [])
            or any(r == '*' or r.startswith('*/') for r in rule.get('resources') or []))


def _risk_hits(risk_id, rule, binding_kind):
    """(verb, group, resource) triples of ``rule`` that open risk ``risk_id``."""
    if risk_id == 'wildcard':
        if not has_wildcard(rule):
            return []
        return [(verb, group, resource) for verb in rule.get('verbs') or []
                for group in (rule.get('apiGroups') or [''])
                for resource in (rule.get('resources') or rule.get('nonResourceURLs') or [''])]
    hits = []
    for verbs, group, resources in RISKS[risk_id][0]:
        for resource in resources:
            base = resource.split('/', 1)[0]
            if binding_kind == 'RoleBinding' and base in CLUSTER_SCOPED and (base, verbs) != ('clusterroles', ('bind',)):
                continue
            for verb in verbs:
                if rule_allows_some_name(rule, make_access(verb, group, resource)):
                    hits.append((verb, group, resource))
    return hits


def scope_text(scope):
    return 'every namespace' if scope == ALL_NAMESPACES else 'namespace %s' % scope


def find_risks(bindings, namespace, accepted=(), holders=()):
    """Known escalation paths the bindings open: one entry per (risk, binding).

    ``accepted``: the component's accepted risks from the matrix, each {risk, reason, optional}, where
    ``optional`` is None (accepted in the release namespace only) or an enabled optional entry
    (accepted at every scope). ``holders``: other ServiceAccounts of the namespace that hold rights,
    named in the reason of the paths that lead to them. A risk through an ignored binding is listed
    as accepted (the operator chose to ignore that binding).
    """
    out = []
    for binding in bindings:
        scope = ALL_NAMESPACES if binding['kind'] == 'ClusterRoleBinding' else binding['namespace']
        found = {}
        for rule in binding['rules']:
            for risk_id in RISKS:
                hits = _risk_hits(risk_id, rule, binding['kind'])
                if not hits:
                    continue
                item = found.setdefault(risk_id, {'verbs': [], 'resources': [], 'names': []})
                for verb, group, resource in hits:
                    text = resource_text({'group': group if group != '*' else '*', 'resource': resource})
                    if verb not in item['verbs']:
                        item['verbs'].append(verb)
                    if text not in item['resources']:
                        item['resources'].append(text)
                for name in rule.get('resourceNames') or []:
                    if name not in item['names']:
                        item['names'].append(name)
        for risk_id in RISKS:
            if risk_id not in found:
                continue
            item = found[risk_id]
            if holders and (scope == namespace or scope == ALL_NAMESPACES):
                who = ' (ServiceAccounts of %s that hold rights: %s)' % (namespace, ', '.join(holders))
            else:
                who = ''
            reason = RISKS[risk_id][1].format(scope=scope_text(scope), holders=who)
            if item['names']:
                reason += '; limited to %s, which does not remove the risk' % ', '.join(item['names'])
            acceptance = None
            if binding['ignored']:
                acceptance = 'binding matches ignore_bindings'
            else:
                for entry in accepted:
                    if entry['risk'] == risk_id and (entry.get('optional') or scope == namespace):
                        acceptance = entry['reason']
                        break
            out.append({
                'risk': risk_id,
                'verbs': item['verbs'],
                'resources': item['resources'],
                'resource_names': item['names'],
                'namespace': scope,
                'granted_by': binding_ref(binding['kind'], binding['name'], binding['namespace']),
                'role': binding['role'],
                'reason': reason,
                'accepted': acceptance is not None,
                'accepted_reason': acceptance,
            })
    return out


def accepted_risks_for(matrix, component, enabled_optional=()):
    """The component's accepted risks; those tied to an optional entry only when it is enabled."""
    entries = (matrix.get('acceptedRisks') or {}).get(component) or [] if component else []
    return [e for e in entries if not e.get('optional') or e['optional'] in enabled_optional]


SEVERITY_FAIL = 'fail'
SEVERITY_WARN = 'warn'


def pod_template(obj):
    """(pod spec, pod metadata) of a Pod or of a workload's pod template."""
    spec = obj.get('spec') or {}
    if obj.get('kind') == 'Pod':
        return spec, _meta(obj)
    if obj.get('kind') == 'CronJob':
        template = ((spec.get('jobTemplate') or {}).get('spec') or {}).get('template') or {}
    else:
        template = spec.get('template') or {}
    return template.get('spec') or {}, template.get('metadata') or {}


def mounts_token(pod_spec, service_account):
    """Does the pod get a token of its ServiceAccount (automount, or a projected token volume)?"""
    for volume in pod_spec.get('volumes') or []:
        for source in (volume.get('projected') or {}).get('sources') or []:
            if source.get('serviceAccountToken') is not None:
                return True
    automount = pod_spec.get('automountServiceAccountToken')
    if automount is None and service_account is not None:
        automount = service_account.get('automountServiceAccountToken')
    return automount is not False


def review_workloads(workloads, namespace, release, matrix, accounts, component_accounts):
    """Compare the ServiceAccount of every pod and pod template of the namespace with the matrix.

    ``accounts``: name -> ServiceAccount object (every account of the namespace);
    ``component_accounts``: component -> name of the release's ServiceAccount for it.
    Returns one entry per object: {kind, name, component, service_account, expected_service_account,
    token, problem, severity}; severity is None (fine), 'warn' (listed) or 'fail'.
    """
    release_accounts = dict((name, comp) for comp, name in component_accounts.items())
    out = []
    for obj in workloads:
        meta = _meta(obj)
        if (meta.get('namespace') or namespace) != namespace:
            continue
        pod_spec, pod_meta = pod_template(obj)
        labels = dict(meta.get('labels') or {})
        labels.update(pod_meta.get('labels') or {})
        sa_name = pod_spec.get('serviceAccountName') or pod_spec.get('serviceAccount') or DEFAULT_SERVICE_ACCOUNT
        in_release = bool(release) and labels.get(INSTANCE_LABEL) == release
        component = labels.get(COMPONENT_LABEL) if in_release else None
        expected = component_accounts.get(component) if component else None
        token = mounts_token(pod_spec, accounts.get(sa_name))
        problem, severity = None, None
        if sa_name not in accounts:
            problem, severity = 'runs as ServiceAccount %s, which does not exist in %s' % (sa_name, namespace), \
                SEVERITY_FAIL
        elif in_release and component in matrix['serviceAccounts']:
            if expected is None:
                problem, severity = ('runs as %s; the release has no ServiceAccount for component %s'
                                     % (sa_name, component)), SEVERITY_FAIL
            elif sa_name != expected:
                problem, severity = ('runs as %s, not as %s, the ServiceAccount of its component %s'
                                     % (sa_name, expected, component)), SEVERITY_FAIL
        elif sa_name in release_accounts:
            problem, severity = ('%s runs as %s, the ServiceAccount of component %s, and holds its rights'
                                 % ('is not part of that component and' if in_release else
                                    'is not part of release %s and' % release,
                                    sa_name, release_accounts[sa_name])), SEVERITY_FAIL
        if problem is None and sa_name == DEFAULT_SERVICE_ACCOUNT:
            if token:
                problem, severity = ('runs as the namespace\'s default ServiceAccount with its token mounted; '
                                     'give it its own ServiceAccount'), SEVERITY_FAIL
            else:
                problem, severity = ('runs as the namespace\'s default ServiceAccount (no token mounted)',
                                     SEVERITY_WARN)
        if problem is None and in_release and component not in matrix['serviceAccounts']:
            problem, severity = ('component %s is not in the matrix; it runs as %s'
                                 % (component or '(no %s label)' % COMPONENT_LABEL, sa_name)), SEVERITY_FAIL
        out.append({'kind': obj.get('kind'), 'name': meta.get('name'), 'component': component,
                    'service_account': sa_name, 'expected_service_account': expected, 'token': token,
                    'problem': problem, 'severity': severity})
    out.sort(key=lambda w: (WORKLOAD_KINDS.index(w['kind']) if w['kind'] in WORKLOAD_KINDS else 99,
                            w['name'] or ''))
    return out


def review_service_account(sa, component, matrix, namespace, other_namespace, bindings, check,
                           enabled_optional=(), extra_probes=()):
    """Compare one ServiceAccount with its component's matrix entry.

    ``check(access) -> bool`` decides whether an access is allowed (SubjectAccessReview live,
    :func:`offline_checker` offline). ``component`` may be None/unknown: then nothing is
    expected and every grant is excess.
    """
    meta = _meta(sa)
    name = meta.get('name')
    entry = matrix['serviceAccounts'].get(component) if component else None
    expected_rules = entry['rules'] if entry else []
    cluster_rules = []
    for key in enabled_optional:
        opt = matrix['optional'][key]
        if entry and (not opt['components'] or component in opt['components']):
            cluster_rules.extend(opt['rules'])
    missing = []
    checks = 0
    for acc in expand_rules(expected_rules, namespace) + expand_rules(cluster_rules, ''):
        checks += 1
        if not check(acc):
            missing.append(access_dict(acc))
    excess = find_excess(bindings, namespace, expected_rules, cluster_rules)
    probes = []
    for probe in list(matrix['forbidden']) + list(extra_probes):
        acc = resolve_probe(probe, namespace, other_namespace)
        if acc in probes:
            continue
        probes.append(acc)
        if (acc.namespace == namespace and rules_allow(expected_rules, acc)) or rules_allow(cluster_rules, acc):
            continue  # the matrix grants it to this component ("unless granted above")
        checks += 1
        if check(acc):
            item = access_dict(acc)
            granted = allowed_by(acc, bindings)
            item['granted_by'] = (binding_ref(granted['kind'], granted['name'], granted['namespace'])
                                  if granted else 'no RBAC binding found (another authorizer?)')
            item['role'] = granted['role'] if granted else None
            item['reason'] = REASON_FORBIDDEN
            excess.append(item)
    warnings = []
    automount_expected = entry.get('automountToken') if entry else None
    automount_actual = sa.get('automountServiceAccountToken')
    if automount_expected is False and automount_actual is not False:
        warnings.append('ServiceAccount %s/%s: the matrix says automountToken: false, the ServiceAccount has '
                        'automountServiceAccountToken %s (pods may still opt out)'
                        % (namespace, name, 'unset' if automount_actual is None else automount_actual))
    return {
        'name': name,
        'namespace': meta.get('namespace') or namespace,
        'component': component,
        'managed': entry is not None,
        'missing': missing,
        'excess': excess,
        'risks': [],
        'bindings': [dict((k, v) for k, v in b.items()) for b in bindings],
        'used_by': [],
        'checks': checks,
        'automount_token': {'expected': automount_expected, 'actual': automount_actual},
        'notes': [],
        'warnings': warnings,
        'errors': [],
    }


def holds_rights(bindings):
    """Does any binding grant the account something beyond the known default policy?"""
    for binding in bindings:
        known = default_policy_rules(binding)
        scope = '' if binding['kind'] == 'ClusterRoleBinding' else binding['namespace']
        for rule in binding['rules']:
            if any(not rules_allow(known, acc) for acc in grant_accesses(rule, scope)):
                return True
    return False


def review(matrix, namespace, release, service_accounts, index, checker_for, components=None,
           enabled_optional=(), extra_probes=(), other_namespace=None, ignore_bindings=(),
           fail_on_excess=True):
    """Review every ServiceAccount of the namespace and the ServiceAccount of every workload.

    ``service_accounts``: ServiceAccount objects to review; every ServiceAccount of ``namespace`` in
    ``index`` is reviewed as well, so passing only the release's accounts cannot hide another one.
    Accounts labelled ``app.kubernetes.io/instance=<release>`` are compared with their component's
    matrix entry; every other account (the namespace's ``default`` included) is expected to hold no
    rights. ``checker_for(sa_namespace, sa_name, bindings)`` returns the access check for one account.
    Returns {'service_accounts': [...], 'workloads': [...], 'errors': [...], 'warnings': [...],
    'summary': {...}, 'failed': bool}.
    """
    other_namespace = pick_other_namespace(namespace, other_namespace or 'kube-system')
    errors = []
    for key in enabled_optional:
        if key not in matrix['optional']:
            errors.append('optional right "%s" is not in the matrix (known: %s)'
                          % (key, ', '.join(sorted(matrix['optional'])) or 'none'))
    enabled_optional = [k for k in enabled_optional if k in matrix['optional']]
    wanted = list(components) if components else list(matrix['serviceAccounts'])
    for comp in wanted:
        if comp not in matrix['serviceAccounts']:
            errors.append('component "%s" is not in the matrix' % comp)
    accounts = {}
    for sa in list(service_accounts) + list(index.service_accounts):
        meta = _meta(sa)
        if (meta.get('namespace') or namespace) == namespace and meta.get('name') not in accounts:
            accounts[meta.get('name')] = sa
    bindings_of = dict((name, index.bindings_for(namespace, name, ignore_bindings)) for name in accounts)
    holders = sorted(name for name in accounts if holds_rights(bindings_of[name]))
    results = []
    seen_components = set()
    component_accounts = {}
    for name in sorted(accounts):
        sa = accounts[name]
        labels = _meta(sa).get('labels') or {}
        managed = bool(release) and labels.get(INSTANCE_LABEL) == release
        component = labels.get(COMPONENT_LABEL) if managed else None
        bindings = bindings_of[name]
        known = component if component in matrix['serviceAccounts'] else None
        result = review_service_account(sa, known, matrix, namespace, other_namespace, bindings,
                                        checker_for(namespace, name, bindings), enabled_optional, extra_probes)
        result['component'] = component
        result['managed'] = managed
        result['risks'] = find_risks(bindings, namespace, accepted_risks_for(matrix, known, enabled_optional),
                                     [h for h in holders if h != name])
        for binding in bindings:
            if binding['bootstrap_label'] and not binding['baseline'] and not binding['ignored']:
                result['notes'].append('%s carries the label %s=%s but is not a default-policy binding (name, '
                                       'role and groups do not match); its grants are counted'
                                       % (binding_ref(binding['kind'], binding['name'], binding['namespace']),
                                          BOOTSTRAP_LABEL, BOOTSTRAP_VALUE))
        if managed:
            if not component:
                result['errors'].append('ServiceAccount %s/%s has no %s label' % (namespace, name, COMPONENT_LABEL))
            elif component not in matrix['serviceAccounts']:
                result['errors'].append('ServiceAccount %s/%s: component "%s" is missing from the matrix'
                                        % (namespace, name, component))
            elif component in component_accounts:
                # one ServiceAccount per component: a second one would pass as the component silently
                result['errors'].append('ServiceAccount %s/%s: component "%s" already has the ServiceAccount %s; '
                                        'the matrix allows one per component'
                                        % (namespace, name, component, component_accounts[component]))
            else:
                seen_components.add(component)
                component_accounts[component] = name
        elif name == DEFAULT_SERVICE_ACCOUNT:
            result['notes'].append('the namespace\'s default ServiceAccount: every pod without serviceAccountName '
                                   'runs as it; it must hold no rights')
        else:
            result['notes'].append('not part of release %s (no label %s=%s): it must hold no rights'
                                   % (release, INSTANCE_LABEL, release))
        results.append(result)
    for comp in wanted:
        if comp in matrix['serviceAccounts'] and comp not in seen_components:
            errors.append('component "%s": no ServiceAccount labelled %s=%s,%s=%s in namespace %s'
                          % (comp, INSTANCE_LABEL, release, COMPONENT_LABEL, comp, namespace))
    workloads = review_workloads(index.workloads, namespace, release, matrix, accounts, component_accounts)
    by_account = dict((r['name'], r) for r in results)
    for workload in workloads:
        if workload['service_account'] in by_account:
            by_account[workload['service_account']]['used_by'].append('%s/%s' % (workload['kind'], workload['name']))
    for result in results:
        forbidden = [e for e in result['excess'] if e['reason'] == REASON_FORBIDDEN]
        risky = [r for r in result['risks'] if not r['accepted']]
        result['failed'] = bool(result['missing'] or forbidden or result['errors'] or risky
                                or (fail_on_excess and result['excess']))
    summary = summarize(results, errors, workloads)
    warnings = [w for r in results for w in r['warnings']]
    warnings += ['%s/%s %s' % (w['kind'], w['name'], w['problem']) for w in workloads
                 if w['severity'] == SEVERITY_WARN]
    failed = (bool(errors) or any(r['failed'] for r in results)
              or any(w['severity'] == SEVERITY_FAIL for w in workloads))
    return {'service_accounts': results, 'workloads': workloads, 'errors': errors, 'warnings': warnings,
            'summary': summary, 'failed': failed, 'other_namespace': other_namespace}


def summarize(results, errors=(), workloads=()):
    excess = [e for r in results for e in r['excess']]
    risks = [k for r in results for k in r.get('risks') or []]
    return {
        'service_accounts': len(results),
        'failed': sum(1 for r in results if r.get('failed')),
        'missing': sum(len(r['missing']) for r in results),
        'excess': sum(1 for e in excess if e['reason'] == REASON_NOT_IN_MATRIX),
        'forbidden_allowed': sum(1 for e in excess if e['reason'] == REASON_FORBIDDEN),
        'risks': sum(1 for k in risks if not k['accepted']),
        'accepted_risks': sum(1 for k in risks if k['accepted']),
        'workload_findings': sum(1 for w in workloads if w['severity'] == SEVERITY_FAIL),
        'errors': len(errors) + sum(len(r['errors']) for r in results),
        'checks': sum(r['checks'] for r in results),
    }
