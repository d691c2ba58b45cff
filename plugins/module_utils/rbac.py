# -*- coding: utf-8 -*-
# Copyright: (c) 2025, Kubiya runners platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Least-privilege review of a release's ServiceAccounts against a permission matrix.

Everything here works on plain dicts shaped like Kubernetes objects, so the same
code serves a live cluster (objects listed from the API server, access decided by
SubjectAccessReview) and rendered manifests (objects read from YAML, access decided
by :func:`allowed_by`, a re-implementation of the RBAC authorizer's rule matching:
``k8s.io/kubernetes/pkg/apis/rbac/v1/evaluation_helpers.go`` and
``pkg/registry/rbac/validation/rule.go``).

Terms:
- *matrix*: the parsed ``permissions.yaml`` (format and review rules: docs/permission-matrix.md).
- *access*: one request attribute set (verb, API group, resource, subresource,
  object name, namespace) or a non-resource URL (path) -- what a SubjectAccessReview asks.
- *binding*: a RoleBinding/ClusterRoleBinding that names a ServiceAccount, with the rules
  of the role it references.
- *missing*: an access the matrix expects that is not allowed.
- *excess*: a grant (from a binding) that the matrix does not cover, or a forbidden
  probe that is allowed.
- *risk*: a known escalation path a binding opens (:data:`RISKS`); it fails unless the
  matrix accepts it for the component (``acceptedRisks``).
- *workload*: a Pod or a pod template (Deployment, StatefulSet, ...) and the
  ServiceAccount it runs as.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import fnmatch
import json
from collections import namedtuple

INSTANCE_LABEL = 'app.kubernetes.io/instance'
COMPONENT_LABEL = 'app.kubernetes.io/component'
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

# The API server's default policy (k8s.io/kubernetes plugin/pkg/auth/authorizer/rbac/bootstrappolicy)
# that reaches every ServiceAccount through a group. A binding is recognised as default policy only by
# its name, the ClusterRole it references AND the groups it names; the label
# kubernetes.io/bootstrapping=rbac-defaults is ignored (anybody who can write bindings can set it).
# Even then only these rules are covered: a default ClusterRole that was changed to grant more is
# reported like any other grant.
_DISCOVERY_URLS = ['/healthz', '/livez', '/readyz', '/version', '/version/']
DEFAULT_POLICY = {
    'system:basic-user': {
        'groups': ('system:authenticated',),
        'rules': [
            {'apiGroups': ['authorization.k8s.io'], 'resources': ['selfsubjectaccessreviews', 'selfsubjectrulesreviews'],
             'verbs': ['create'], 'resourceNames': [], 'nonResourceURLs': []},
            {'apiGroups': ['authentication.k8s.io'], 'resources': ['selfsubjectreviews'], 'verbs': ['create'],
             'resourceNames': [], 'nonResourceURLs': []},
        ],
    },
    'system:discovery': {
        'groups': ('system:authenticated',),
        'rules': [{'apiGroups': [], 'resources': [], 'verbs': ['get'], 'resourceNames': [],
                   'nonResourceURLs': _DISCOVERY_URLS + ['/api', '/api/*', '/apis', '/apis/*', '/openapi',
                                                         '/openapi/*']}],
    },
    'system:public-info-viewer': {
        'groups': ('system:authenticated', 'system:unauthenticated'),
        'rules': [{'apiGroups': [], 'resources': [], 'verbs': ['get'], 'resourceNames': [],
                   'nonResourceURLs': list(_DISCOVERY_URLS)}],
    },
    'system:service-account-issuer-discovery': {
        'groups': ('system:serviceaccounts',),
        'rules': [{'apiGroups': [], 'resources': [], 'verbs': ['get'], 'resourceNames': [],
                   'nonResourceURLs': ['/.well-known/openid-configuration', '/.well-known/openid-configuration/',
                                       '/openid/v1/jwks', '/openid/v1/jwks/']}],
    },
}

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


# ---------------------------------------------------------------------------
# matrix
# ---------------------------------------------------------------------------

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


# ---------------------------------------------------------------------------
# RBAC rule matching (mirrors the API server's RBAC authorizer)
# ---------------------------------------------------------------------------

def verb_matches(rule, verb):
    return any(v == '*' or v == verb for v in rule.get('verbs') or [])


def group_matches(rule, group):
    return any(g == '*' or g == group for g in rule.get('apiGroups') or [])


def resource_matches(rule, resource, subresource):
    combined = '%s/%s' % (resource, subresource) if subresource else resource
    for rule_resource in rule.get('resources') or []:
        if rule_resource == '*' or rule_resource == combined:
            return True
        # "*/scale" matches the scale subresource of every resource; "pods/*" is NOT a wildcard
        if subresource and rule_resource == '*/' + subresource:
            return True
    return False


def name_matches(rule, name):
    names = rule.get('resourceNames') or []
    return not names or name in names


def url_matches(rule, path):
    for url in rule.get('nonResourceURLs') or []:
        if url == '*' or url == path:
            return True
        if url.endswith('*') and path.startswith(url.rstrip('*')):
            return True
    return False


def rule_allows(rule, access):
    """Does one PolicyRule allow one access? (RBAC's RuleAllows)."""
    if access.path and not access.resource:
        return verb_matches(rule, access.verb) and url_matches(rule, access.path)
    return (verb_matches(rule, access.verb) and group_matches(rule, access.group)
            and resource_matches(rule, access.resource, access.subresource) and name_matches(rule, access.name))


def rules_allow(rules, access):
    return any(rule_allows(r, access) for r in rules)


def subject_applies(subject, sa_namespace, sa_name, binding_namespace=''):
    """Does a binding subject name this ServiceAccount (directly, as a user, or through a group)?"""
    kind = subject.get('kind')
    name = subject.get('name')
    if kind == 'ServiceAccount':
        ns = subject.get('namespace') or binding_namespace
        return bool(ns) and ns == sa_namespace and name == sa_name
    if kind == 'User':
        return name == sa_username(sa_namespace, sa_name)
    if kind == 'Group':
        return name in sa_groups(sa_namespace)
    return False


def selector_matches(selector, labels):
    """Label selector (matchLabels + matchExpressions) against a label dict."""
    if not selector:
        return False
    labels = labels or {}
    for key, value in (selector.get('matchLabels') or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get('matchExpressions') or []:
        key, op, values = expr.get('key'), expr.get('operator'), expr.get('values') or []
        if op == 'In' and labels.get(key) not in values:
            return False
        if op == 'NotIn' and key in labels and labels[key] in values:
            return False
        if op == 'Exists' and key not in labels:
            return False
        if op == 'DoesNotExist' and key in labels:
            return False
    return True


# ---------------------------------------------------------------------------
# object index (live listings or rendered manifests)
# ---------------------------------------------------------------------------

def _meta(obj):
    return obj.get('metadata') or {}


def flatten_objects(docs):
    """Yield the objects of a list of documents, unpacking `kind: List` (and *List) items."""
    for doc in docs or []:
        if not isinstance(doc, dict):
            continue
        if isinstance(doc.get('items'), list) and (doc.get('kind') or '').endswith('List'):
            yield from flatten_objects(doc['items'])
        elif doc.get('kind'):
            yield doc


class RbacIndex(object):
    """Roles, ClusterRoles, bindings and ServiceAccounts, with RBAC's lookup rules."""

    def __init__(self, roles=None, cluster_roles=None, role_bindings=None, cluster_role_bindings=None,
                 service_accounts=None, workloads=None):
        self.roles = {}
        for role in roles or []:
            self.roles[(_meta(role).get('namespace') or '', _meta(role).get('name'))] = role
        self.cluster_roles = dict((_meta(cr).get('name'), cr) for cr in cluster_roles or [])
        self.role_bindings = list(role_bindings or [])
        self.cluster_role_bindings = list(cluster_role_bindings or [])
        self.service_accounts = list(service_accounts or [])
        self.workloads = list(workloads or [])
        self._aggregated = {}

    @classmethod
    def from_objects(cls, docs, default_namespace):
        """Index rendered manifests; namespaced objects without a namespace get ``default_namespace``.

        Every namespace has a ``default`` ServiceAccount (the API server creates it), so one is added
        for ``default_namespace`` when the manifests do not hold it: bindings to it are then reviewed.
        """
        buckets = dict((k, []) for k in RBAC_KINDS + WORKLOAD_KINDS)
        for obj in flatten_objects(docs):
            kind = obj.get('kind')
            if kind not in buckets:
                continue
            obj = copy.deepcopy(obj)
            meta = obj.setdefault('metadata', {})
            if kind not in ('ClusterRole', 'ClusterRoleBinding') and not meta.get('namespace'):
                meta['namespace'] = default_namespace
            buckets[kind].append(obj)
        sas = buckets['ServiceAccount']
        if not any(_meta(sa).get('name') == DEFAULT_SERVICE_ACCOUNT and _meta(sa).get('namespace') == default_namespace
                   for sa in sas):
            sas.append({'apiVersion': 'v1', 'kind': 'ServiceAccount',
                        'metadata': {'name': DEFAULT_SERVICE_ACCOUNT, 'namespace': default_namespace}})
        workloads = [w for kind in WORKLOAD_KINDS for w in buckets[kind]]
        return cls(buckets['Role'], buckets['ClusterRole'], buckets['RoleBinding'],
                   buckets['ClusterRoleBinding'], sas, workloads)

    def cluster_role_rules(self, name):
        """Rules of a ClusterRole, including aggregated ones (None when it does not exist)."""
        role = self.cluster_roles.get(name)
        if role is None:
            return None
        if name in self._aggregated:
            return self._aggregated[name]
        rules = [_cluster_rule(r) for r in role.get('rules') or []]
        selectors = (role.get('aggregationRule') or {}).get('clusterRoleSelectors') or []
        if selectors:
            # on a live cluster the controller already copied them in; offline we do it here
            seen = set(json.dumps(r, sort_keys=True) for r in rules)
            for other_name in sorted(self.cluster_roles):
                other = self.cluster_roles[other_name]
                if other_name == name or not any(selector_matches(s, _meta(other).get('labels')) for s in selectors):
                    continue
                for rule in other.get('rules') or []:
                    rule = _cluster_rule(rule)
                    key = json.dumps(rule, sort_keys=True)
                    if key not in seen:
                        seen.add(key)
                        rules.append(rule)
        self._aggregated[name] = rules
        return rules

    def role_ref_rules(self, role_ref, binding_namespace):
        kind = (role_ref or {}).get('kind')
        name = (role_ref or {}).get('name')
        if kind == 'ClusterRole':
            return self.cluster_role_rules(name)
        if kind == 'Role' and binding_namespace:
            role = self.roles.get((binding_namespace, name))
            return None if role is None else [_cluster_rule(r) for r in role.get('rules') or []]
        return None

    def bindings_for(self, sa_namespace, sa_name, ignore=None):
        """Every binding whose subjects name the ServiceAccount (directly or through one of its groups)."""
        out = []
        pairs = [('ClusterRoleBinding', b) for b in self.cluster_role_bindings]
        pairs += [('RoleBinding', b) for b in self.role_bindings]
        for kind, binding in pairs:
            meta = _meta(binding)
            ns = (meta.get('namespace') or '') if kind == 'RoleBinding' else ''
            matched = [s for s in binding.get('subjects') or [] if subject_applies(s, sa_namespace, sa_name, ns)]
            if not matched:
                continue
            direct = [s for s in matched if s.get('kind') != 'Group']
            subject = (direct or matched)[0]
            role_ref = binding.get('roleRef') or {}
            rules = self.role_ref_rules(role_ref, ns)
            baseline = is_default_policy(kind, meta.get('name'), role_ref, matched)
            ref = binding_ref(kind, meta.get('name'), ns)
            ignored = any(fnmatch.fnmatchcase(ref, pattern) for pattern in ignore or [])
            out.append({
                'kind': kind,
                'name': meta.get('name'),
                'namespace': ns or None,
                'role': '%s/%s' % (role_ref.get('kind'), role_ref.get('name')),
                'role_found': rules is not None,
                'subject': _subject_text(subject, ns),
                'via_group': not direct,
                'baseline': baseline,
                'bootstrap_label': (meta.get('labels') or {}).get(BOOTSTRAP_LABEL) == BOOTSTRAP_VALUE,
                'ignored': ignored,
                'rules': rules or [],
            })
        out.sort(key=lambda b: (b['kind'], b['namespace'] or '', b['name'] or ''))
        return out


def is_default_policy(kind, name, role_ref, matched_subjects):
    """Is this binding, as it reaches the account, one of the API server's default-policy bindings?

    True only for a ClusterRoleBinding with a name of :data:`DEFAULT_POLICY` that references the
    ClusterRole of the same name and reaches the account only through that entry's groups. Labels
    play no part.
    """
    policy = DEFAULT_POLICY.get(name)
    if kind != 'ClusterRoleBinding' or policy is None:
        return False
    role_ref = role_ref or {}
    if role_ref.get('kind') != 'ClusterRole' or role_ref.get('name') != name:
        return False
    if (role_ref.get('apiGroup') or RBAC_GROUP) != RBAC_GROUP:
        return False
    return bool(matched_subjects) and all(
        s.get('kind') == 'Group' and s.get('name') in policy['groups'] for s in matched_subjects)


def default_policy_rules(binding):
    """The rules a recognised default-policy binding is known to grant ([] for any other binding)."""
    if not binding.get('baseline'):
        return []
    return DEFAULT_POLICY[binding['name']]['rules']


def binding_ref(kind, name, namespace=None):
    """'ClusterRoleBinding/name' or 'RoleBinding/namespace/name' (the form ignore patterns match)."""
    if kind == 'RoleBinding':
        return 'RoleBinding/%s/%s' % (namespace, name)
    return '%s/%s' % (kind, name)


def _subject_text(subject, binding_namespace=''):
    if subject.get('kind') == 'ServiceAccount':
        return 'ServiceAccount %s/%s' % (subject.get('namespace') or binding_namespace, subject.get('name'))
    return '%s %s' % (subject.get('kind'), subject.get('name'))


def allowed_by(access, bindings):
    """The first binding whose rules allow ``access`` (RBAC semantics), or None.

    A ClusterRoleBinding applies everywhere; a RoleBinding only to requests in its namespace,
    never to cluster-scoped or non-resource requests.
    """
    for binding in bindings:
        if binding['kind'] == 'RoleBinding':
            if access.path or not access.namespace or access.namespace != binding['namespace']:
                continue
        if rules_allow(binding['rules'], access):
            return binding
    return None


# ---------------------------------------------------------------------------
# diff
# ---------------------------------------------------------------------------

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


def offline_checker(bindings):
    """An access check that emulates the RBAC authorizer over the given bindings."""
    def check(access):
        return allowed_by(access, bindings) is not None
    return check


# ---------------------------------------------------------------------------
# escalation risks
# ---------------------------------------------------------------------------

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


# ---------------------------------------------------------------------------
# workloads: which ServiceAccount every pod (template) runs as
# ---------------------------------------------------------------------------

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


# ---------------------------------------------------------------------------
# review
# ---------------------------------------------------------------------------

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


# ---------------------------------------------------------------------------
# report
# ---------------------------------------------------------------------------

TABLE_COLUMNS = ('SERVICEACCOUNT', 'COMPONENT', 'RESULT', 'VERBS', 'RESOURCE', 'NAME', 'NAMESPACE', 'GRANTED BY', 'ROLE')
MAX_CELL = 64


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
    widths = [len(c) for c in TABLE_COLUMNS]
    for row in cells:
        widths = [max(w, len(v)) for w, v in zip(widths, row)]
    fmt = '  '.join('%%-%ds' % w for w in widths)
    lines = [(fmt % TABLE_COLUMNS).rstrip(), '  '.join('-' * w for w in widths)]
    lines += [(fmt % row).rstrip() for row in cells]
    lines += finding_lines(results, workloads)
    for err in [e for r in results for e in r.get('errors') or []] + list(errors):
        lines.append('ERROR: %s' % err)
    summary = summary or summarize(results, errors, workloads)
    lines.append('service accounts: %(service_accounts)d checked, %(failed)d failed; missing: %(missing)d, '
                 'excess: %(excess)d, forbidden allowed: %(forbidden_allowed)d, risks: %(risks)d '
                 '(accepted: %(accepted_risks)d), workload findings: %(workload_findings)d, errors: %(errors)d; '
                 'checks: %(checks)d' % summary)
    return lines


# ---------------------------------------------------------------------------
# live cluster (client: anything with get/list_items/create like k8s_client.K8sClient)
# ---------------------------------------------------------------------------

def sar_body(access, user, groups):
    """A SubjectAccessReview (authorization.k8s.io/v1) for one access."""
    spec = {'user': user, 'groups': list(groups)}
    if access.path and not access.resource:
        spec['nonResourceAttributes'] = {'path': access.path, 'verb': access.verb}
    else:
        attrs = {'verb': access.verb, 'group': access.group, 'resource': access.resource}
        if access.subresource:
            attrs['subresource'] = access.subresource
        if access.name:
            attrs['name'] = access.name
        if access.namespace:
            attrs['namespace'] = access.namespace
        spec['resourceAttributes'] = attrs
    return {'apiVersion': 'authorization.k8s.io/v1', 'kind': 'SubjectAccessReview', 'spec': spec}


SAR_PATH = '/apis/authorization.k8s.io/v1/subjectaccessreviews'


def sar_checker(client, sa_namespace, sa_name):
    """An access check that asks the API server (one SubjectAccessReview per distinct access)."""
    user = sa_username(sa_namespace, sa_name)
    groups = sa_groups(sa_namespace)
    cache = {}

    def check(access):
        if access not in cache:
            answer = client.create(SAR_PATH, sar_body(access, user, groups), retry=True)
            status = answer.get('status') or {}
            cache[access] = bool(status.get('allowed')) and not status.get('denied')
        return cache[access]
    return check


def fetch_index(client, namespace, release):
    """List the release's ServiceAccounts and all RBAC objects of the cluster into an RbacIndex."""
    rbac = '/apis/rbac.authorization.k8s.io/v1'
    # every ServiceAccount of the namespace, not only the release's: an unlabelled one with rights,
    # or the namespace's default one, is as usable by a pod (and by whoever can create pods) as ours
    sas = client.list_items('/api/v1/namespaces/%s/serviceaccounts' % namespace)
    workloads = []
    for kind, path in WORKLOAD_PATHS:
        for obj in client.list_items(path % namespace):
            obj.setdefault('kind', kind)  # list items carry no kind
            workloads.append(obj)
    return RbacIndex(
        roles=client.list_items(rbac + '/roles'),
        cluster_roles=client.list_items(rbac + '/clusterroles'),
        role_bindings=client.list_items(rbac + '/rolebindings'),
        cluster_role_bindings=client.list_items(rbac + '/clusterrolebindings'),
        service_accounts=sas,
        workloads=workloads,
    )


WORKLOAD_PATHS = (
    ('Pod', '/api/v1/namespaces/%s/pods'),
    ('Deployment', '/apis/apps/v1/namespaces/%s/deployments'),
    ('StatefulSet', '/apis/apps/v1/namespaces/%s/statefulsets'),
    ('DaemonSet', '/apis/apps/v1/namespaces/%s/daemonsets'),
    ('ReplicaSet', '/apis/apps/v1/namespaces/%s/replicasets'),
    ('Job', '/apis/batch/v1/namespaces/%s/jobs'),
    ('CronJob', '/apis/batch/v1/namespaces/%s/cronjobs'),
)


def namespace_service_accounts(index, namespace):
    """Every ServiceAccount of the namespace (what :func:`review` reviews)."""
    return [sa for sa in index.service_accounts if (_meta(sa).get('namespace') or namespace) == namespace]


def release_service_accounts(index, namespace, release):
    """ServiceAccounts of the release in the namespace (label app.kubernetes.io/instance=<release>).

    :func:`review` reviews every account of the namespace whatever it is given.
    """
    out = []
    for sa in index.service_accounts:
        meta = _meta(sa)
        if (meta.get('namespace') or namespace) != namespace:
            continue
        if release and (meta.get('labels') or {}).get(INSTANCE_LABEL) != release:
            continue
        out.append(sa)
    return out
