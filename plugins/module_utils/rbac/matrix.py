# -*- coding: utf-8 -*-
# Copyright: (c) 2025, Kubiya runners platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The permission matrix: constants, the access type, loading and validating permissions.yaml
(``serviceAccounts``, ``optional``, ``forbidden``, ``acceptedRisks``) and the catalogue of
escalation risks it may accept (docs/permission-matrix.md)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from collections import namedtuple

# re-exported: part of this module's API (rbac/__init__, authorizer, review import them from here)
from ansible_collections.kubiya.runners.plugins.module_utils.labels import (  # noqa: F401 pylint: disable=unused-import
    COMPONENT_LABEL,
    INSTANCE_LABEL,
)

BOOTSTRAP_LABEL = 'kubernetes.io/bootstrapping'
BOOTSTRAP_VALUE = 'rbac-defaults'
RELEASE_NS = '@release'
OTHER_NS = '@other'
ALL_NAMESPACES = '*'
RBAC_GROUP = 'rbac.authorization.k8s.io'
RBAC_KINDS = ('Role', 'ClusterRole', 'RoleBinding', 'ClusterRoleBinding', 'ServiceAccount')
BROAD_GROUPS = ('system:authenticated', 'system:serviceaccounts', 'system:unauthenticated')
REASON_NOT_IN_MATRIX = 'not in matrix'
REASON_FORBIDDEN = 'forbidden probe allowed'
DEFAULT_SERVICE_ACCOUNT = 'default'
WORKLOAD_KINDS = ('Pod', 'Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job', 'CronJob')
TOKEN_SECRET_TYPE = 'kubernetes.io/service-account-token'

# Known escalation paths inside a namespace (and a few cluster-wide ones), after the rule lists of
# rbac-police (PaloAltoNetworks/rbac-police lib/*.rego) and KubiScan (cyberark/KubiScan risky_roles.yaml).
# id -> (triggers, reason); a trigger is (verbs, API group, resources). A binding triggers a risk when one
# of its rules allows one of these requests for at least one object name (resourceNames narrow a risk,
# they do not remove it: patching one named Deployment still sets its serviceAccountName).
_POD_CONTROLLERS = (
    (('create', 'update', 'patch'), 'apps', ('deployments', 'replicasets', 'statefulsets', 'daemonsets')),
    (('create', 'update', 'patch'), 'batch', ('jobs', 'cronjobs')),
    (('create', 'update', 'patch'), '', ('replicationcontrollers',)),
)
RISKS = {
    'assign-service-account': (
        ((('create',), '', ('pods',)),) + _POD_CONTROLLERS,
        'can start a pod that runs as any ServiceAccount of {scope} and so act with its rights and token{holders}'),
    'modify-pods': (
        ((('update', 'patch'), '', ('pods',)),),
        'can replace the image of a running pod and so run code as that pod\'s ServiceAccount'),
    'exec-into-pods': (
        ((('create', 'get'), '', ('pods/exec', 'pods/attach')),
         (('update', 'patch'), '', ('pods/ephemeralcontainers',))),
        'can run commands inside other pods of {scope} and read their ServiceAccount tokens'),
    'read-secrets': (
        ((('get', 'list', 'watch'), '', ('secrets',)),),
        'can read Secrets of {scope}: every credential there, and the token of any ServiceAccount that has a '
        'Secret of type ' + TOKEN_SECRET_TYPE + ' (token theft){holders}'),
    'issue-token-secrets': (
        ((('create', 'update', 'patch'), '', ('secrets',)),),
        'can create a Secret of type ' + TOKEN_SECRET_TYPE + ' for any ServiceAccount of {scope}; the token '
        'controller fills in a long-lived token for it{holders}'),
    'token-request': (
        ((('create',), '', ('serviceaccounts/token',)),),
        'can mint a token for any ServiceAccount of {scope} (TokenRequest){holders}'),
    'rbac-bind': (
        ((('bind',), RBAC_GROUP, ('roles', 'clusterroles')),),
        'can bind Roles/ClusterRoles that hold rights it does not have (RBAC escalation check bypassed)'),
    'rbac-escalate': (
        ((('escalate',), RBAC_GROUP, ('roles', 'clusterroles')),),
        'can write rights it does not hold into Roles/ClusterRoles (RBAC escalation check bypassed)'),
    'rbac-modify': (
        ((('create', 'update', 'patch'), RBAC_GROUP,
          ('roles', 'rolebindings', 'clusterroles', 'clusterrolebindings')),),
        'can change Roles or bindings: add subjects to existing bindings, hand its rights to other accounts'),
    'impersonate': (
        ((('impersonate',), '', ('users', 'groups', 'serviceaccounts')),
         (('impersonate',), 'authentication.k8s.io', ('uids', 'userextras'))),
        'can act as another user, group or ServiceAccount (system:masters included)'),
    'nodes-proxy': (
        ((('get', 'create'), '', ('nodes/proxy',)),),
        'can call the kubelet API of every node: exec into any pod on it'),
    'approve-csr': (
        ((('update', 'patch'), 'certificates.k8s.io', ('certificatesigningrequests/approval',)),),
        'can approve certificate signing requests: issue client certificates for any user'),
    'webhooks': (
        ((('create', 'update', 'patch'), 'admissionregistration.k8s.io',
          ('mutatingwebhookconfigurations', 'validatingwebhookconfigurations')),),
        'can intercept and change every object written to the API server'),
    'persistent-volumes': (
        ((('create', 'update', 'patch'), '', ('persistentvolumes',)),),
        'can create a hostPath PersistentVolume and so mount any node\'s filesystem'),
    'wildcard': (
        (),
        'a rule with "*" grants every present and future verb/resource/API group it matches'),
}

# One authorization question. namespace '' = cluster scope / all namespaces;
# path is set (and resource empty) for non-resource URLs.
Access = namedtuple('Access', ['verb', 'group', 'resource', 'subresource', 'name', 'namespace', 'path'])


class MatrixError(ValueError):
    """The permission matrix (or an extra probe) is malformed."""


def make_access(verb, group='', resource='', subresource='', name='', namespace='', path=''):
    if resource and '/' in resource and not subresource:
        resource, subresource = resource.split('/', 1)
    return Access(verb, group or '', resource or '', subresource or '', name or '', namespace or '', path or '')


def combined_resource(access):
    if access.subresource:
        return '%s/%s' % (access.resource, access.subresource)
    return access.resource


def sa_username(namespace, name):
    return 'system:serviceaccount:%s:%s' % (namespace, name)


def sa_groups(namespace):
    return ['system:serviceaccounts', 'system:serviceaccounts:%s' % namespace, 'system:authenticated']


def _str_list(value, where, field, required=True):
    if value is None:
        if required:
            raise MatrixError('%s: "%s" is required' % (where, field))
        return []
    if isinstance(value, str):
        raise MatrixError('%s: "%s" must be a list, not the string %r' % (where, field, value))
    if not isinstance(value, (list, tuple)):
        raise MatrixError('%s: "%s" must be a list' % (where, field))
    out = []
    for item in value:
        if item is None:
            item = ''
        if not isinstance(item, str):
            raise MatrixError('%s: "%s" holds %r, which is not a string' % (where, field, item))
        out.append(item)
    return out


def normalize_rule(rule, where):
    """Return a PolicyRule dict with list values; raise MatrixError naming ``where`` when malformed."""
    if not isinstance(rule, dict):
        raise MatrixError('%s: a rule must be a mapping, got %r' % (where, rule))
    unknown = set(rule) - {'apiGroups', 'resources', 'verbs', 'resourceNames', 'nonResourceURLs'}
    if unknown:
        raise MatrixError('%s: unknown rule key(s) %s' % (where, ', '.join(sorted(unknown))))
    urls = _str_list(rule.get('nonResourceURLs'), where, 'nonResourceURLs', required=False)
    out = {
        'apiGroups': _str_list(rule.get('apiGroups'), where, 'apiGroups', required=not urls),
        'resources': _str_list(rule.get('resources'), where, 'resources', required=not urls),
        'verbs': _str_list(rule.get('verbs'), where, 'verbs'),
        'resourceNames': _str_list(rule.get('resourceNames'), where, 'resourceNames', required=False),
        'nonResourceURLs': urls,
    }
    if not out['verbs']:
        raise MatrixError('%s: "verbs" is empty' % where)
    return out


def _cluster_rule(rule):
    """Normalize a PolicyRule read from the cluster or a manifest (lenient: missing lists are empty)."""
    rule = rule or {}

    def lst(key):
        value = rule.get(key) or []
        return [v if v is not None else '' for v in value] if isinstance(value, (list, tuple)) else [value]
    return {'apiGroups': lst('apiGroups'), 'resources': lst('resources'), 'verbs': lst('verbs'),
            'resourceNames': lst('resourceNames'), 'nonResourceURLs': lst('nonResourceURLs')}


def normalize_probe(probe, where):
    """A forbidden probe: {verb, group, resource[/subresource], subresource, name, namespace, path}."""
    if not isinstance(probe, dict):
        raise MatrixError('%s: a probe must be a mapping, got %r' % (where, probe))
    unknown = set(probe) - {'verb', 'group', 'apiGroup', 'resource', 'subresource', 'name', 'namespace',
                            'path', 'nonResourceURL'}
    if unknown:
        raise MatrixError('%s: unknown probe key(s) %s' % (where, ', '.join(sorted(unknown))))
    verb = probe.get('verb')
    if not isinstance(verb, str) or not verb:
        raise MatrixError('%s: "verb" is required' % where)
    path = probe.get('path') or probe.get('nonResourceURL') or ''
    resource = probe.get('resource') or ''
    if not resource and not path:
        raise MatrixError('%s: "resource" (or "path" for a non-resource URL) is required' % where)
    group = probe.get('group', probe.get('apiGroup', ''))
    namespace = probe.get('namespace')
    for key, value in (('group', group), ('resource', resource), ('namespace', namespace),
                       ('subresource', probe.get('subresource')), ('name', probe.get('name'))):
        if value is not None and not isinstance(value, str):
            raise MatrixError('%s: "%s" must be a string, got %r' % (where, key, value))
    subresource = probe.get('subresource') or ''
    if '/' in resource and not subresource:
        resource, subresource = resource.split('/', 1)
    return {'verb': verb, 'group': group or '', 'resource': resource, 'subresource': subresource,
            'name': probe.get('name') or '', 'namespace': namespace or '', 'path': path}


def load_matrix(data, where='matrix'):
    """Validate and normalize a parsed permissions.yaml.

    Returns {'serviceAccounts': {component: {'automountToken': bool|None, 'rules': [...]}},
             'forbidden': [probe, ...], 'optional': {key: {'components': [...], 'rules': [...],
             'enabledBy': ...}}, 'acceptedRisks': {component: [{'risk', 'reason', 'optional'}]}}
    """
    if not isinstance(data, dict):
        raise MatrixError('%s: the matrix must be a mapping with a "serviceAccounts" key' % where)
    sas = data.get('serviceAccounts')
    if not isinstance(sas, dict) or not sas:
        raise MatrixError('%s: "serviceAccounts" must be a non-empty mapping of component -> rules' % where)
    out = {'serviceAccounts': {}, 'forbidden': [], 'optional': {}}
    for component, spec in sas.items():
        here = '%s: serviceAccounts.%s' % (where, component)
        spec = spec if spec is not None else {}
        if not isinstance(spec, dict):
            raise MatrixError('%s must be a mapping' % here)
        automount = spec.get('automountToken')
        if automount is not None and not isinstance(automount, bool):
            raise MatrixError('%s.automountToken must be true or false' % here)
        rules = spec.get('rules') or []
        if not isinstance(rules, list):
            raise MatrixError('%s.rules must be a list' % here)
        out['serviceAccounts'][str(component)] = {
            'automountToken': automount,
            'rules': [normalize_rule(r, '%s.rules[%d]' % (here, i)) for i, r in enumerate(rules)],
        }
    forbidden = data.get('forbidden') or []
    if not isinstance(forbidden, list):
        raise MatrixError('%s: "forbidden" must be a list of probes' % where)
    out['forbidden'] = [normalize_probe(p, '%s: forbidden[%d]' % (where, i)) for i, p in enumerate(forbidden)]
    optional = data.get('optional') or {}
    if isinstance(optional, list):  # also accept a list of entries with a "name"
        optional = dict((o.get('name'), o) for o in optional if isinstance(o, dict))
    if not isinstance(optional, dict):
        raise MatrixError('%s: "optional" must be a mapping' % where)
    for key, spec in optional.items():
        here = '%s: optional.%s' % (where, key)
        if not isinstance(spec, dict):
            raise MatrixError('%s must be a mapping' % here)
        components = spec.get('components', spec.get('component', spec.get('serviceAccount')))
        if isinstance(components, str):
            components = [components]
        components = _str_list(components, here, 'component(s)', required=False)
        if not components and key in out['serviceAccounts']:
            components = [str(key)]  # keyed by the component it is for
        unknown = [c for c in components if c not in out['serviceAccounts']]
        if unknown:
            raise MatrixError('%s names component(s) not in serviceAccounts: %s' % (here, ', '.join(unknown)))
        rules = spec.get('rules') or spec.get('clusterRules') or []
        if not isinstance(rules, list):
            raise MatrixError('%s.rules must be a list' % here)
        out['optional'][str(key)] = {
            'components': components,
            'rules': [normalize_rule(r, '%s.rules[%d]' % (here, i)) for i, r in enumerate(rules)],
            'enabledBy': spec.get('enabledBy', spec.get('value')),
        }
    out['acceptedRisks'] = load_accepted_risks(data.get('acceptedRisks'), out, where)
    return out


def load_accepted_risks(data, matrix, where='matrix'):
    """Validate ``acceptedRisks``: {component: [{risk, reason, optional?}]} (see docs/permission-matrix.md)."""
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise MatrixError('%s: "acceptedRisks" must be a mapping of component -> list of {risk, reason}' % where)
    out = {}
    for component, entries in data.items():
        here = '%s: acceptedRisks.%s' % (where, component)
        if component not in matrix['serviceAccounts']:
            raise MatrixError('%s: component "%s" is not in serviceAccounts' % (here, component))
        if not isinstance(entries, list):
            raise MatrixError('%s must be a list of {risk, reason}' % here)
        out[str(component)] = []
        for i, entry in enumerate(entries):
            spot = '%s[%d]' % (here, i)
            if not isinstance(entry, dict):
                raise MatrixError('%s: an accepted risk must be a mapping {risk, reason}, got %r' % (spot, entry))
            unknown = set(entry) - {'risk', 'reason', 'optional'}
            if unknown:
                raise MatrixError('%s: unknown key(s) %s' % (spot, ', '.join(sorted(unknown))))
            risk = entry.get('risk')
            if risk not in RISKS:
                raise MatrixError('%s: unknown risk %r (known: %s)' % (spot, risk, ', '.join(sorted(RISKS))))
            reason = entry.get('reason')
            if not isinstance(reason, str) or not reason.strip():
                raise MatrixError('%s: "reason" is required: say why the %s risk is accepted' % (spot, risk))
            optional = entry.get('optional')
            if optional is not None and optional not in matrix['optional']:
                raise MatrixError('%s: optional %r is not in the matrix\'s "optional" section' % (spot, optional))
            out[str(component)].append({'risk': risk, 'reason': ' '.join(reason.split()), 'optional': optional})
    return out


def expand_rules(rules, namespace):
    """Every access a list of rules grants, one per verb x group x resource x name (order kept, no repeats)."""
    seen = set()
    out = []
    for rule in rules:
        names = rule.get('resourceNames') or ['']
        for group in rule.get('apiGroups') or []:
            for resource in rule.get('resources') or []:
                for verb in rule.get('verbs') or []:
                    for name in names:
                        acc = make_access(verb, group, resource, name=name, namespace=namespace)
                        if acc not in seen:
                            seen.add(acc)
                            out.append(acc)
        for url in rule.get('nonResourceURLs') or []:
            for verb in rule.get('verbs') or []:
                acc = make_access(verb, path=url)
                if acc not in seen:
                    seen.add(acc)
                    out.append(acc)
    return out


def resolve_probe(probe, namespace, other_namespace):
    ns = probe.get('namespace') or ''
    if ns == RELEASE_NS:
        ns = namespace
    elif ns == OTHER_NS:
        ns = other_namespace
    return make_access(probe['verb'], probe.get('group', ''), probe.get('resource', ''), probe.get('subresource', ''),
                       probe.get('name', ''), ns, probe.get('path', ''))


def pick_other_namespace(namespace, preferred='kube-system'):
    """A namespace that is not the release's, for "@other" probes."""
    for candidate in (preferred, 'kube-system', 'default'):
        if candidate and candidate != namespace:
            return candidate
    return namespace + '-other'


def resource_text(item):
    """kubectl-style resource: pods, deployments.apps, pods/exec, deployments.apps/scale, *.*; or the URL."""
    if item.get('non_resource_url'):
        return item['non_resource_url']
    resource = item.get('resource') or ''
    sub = ''
    if '/' in resource:
        resource, sub = resource.split('/', 1)
    text = resource + ('.' + item['group'] if item.get('group') else '')
    return text + ('/' + sub if sub else '')
