# -*- coding: utf-8 -*-
# Copyright: (c) 2025, Kubiya runners platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What RBAC allows: the rule matcher (a re-implementation of the API server's RBAC authorizer,
``k8s.io/kubernetes/pkg/apis/rbac/v1/evaluation_helpers.go``), the index of Roles, bindings,
ServiceAccounts and workloads with RBAC's lookup rules, the default policy, and the live side
(SubjectAccessReview, listing the cluster)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import fnmatch
import json

from ansible_collections.kubiya.runners.plugins.module_utils.rbac.matrix import (
    BOOTSTRAP_LABEL,
    BOOTSTRAP_VALUE,
    DEFAULT_SERVICE_ACCOUNT,
    INSTANCE_LABEL,
    RBAC_GROUP,
    RBAC_KINDS,
    WORKLOAD_KINDS,
    _cluster_rule,
    sa_groups,
    sa_username,
)

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


def offline_checker(bindings):
    """An access check that emulates the RBAC authorizer over the given bindings."""
    def check(access):
        return allowed_by(access, bindings) is not None
    return check


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
