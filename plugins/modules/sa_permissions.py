#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2025, Kubiya runners platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: sa_permissions
short_description: Prove that each ServiceAccount of a runner release holds exactly the rights of the permission matrix
version_added: 0.1.0
author:
  - Kubiya runners platform team (@kubiya-runners)
description:
  - Reviews every ServiceAccount of the release namespace. For a ServiceAccount of the Helm release (label
    C(app.kubernetes.io/instance=<release>)) it looks up its component (label C(app.kubernetes.io/component)) in the
    permission matrix (C(charts/kubiya-runner/permissions.yaml), format in the collection's
    C(docs/permission-matrix.md)); every other ServiceAccount of the namespace (its C(default) one, another
    release's, an unlabelled one) must hold no rights. For each account it checks that
  - (1) every action the matrix expects for that component is allowed in the release namespace - one
    C(SubjectAccessReview) (C(authorization.k8s.io/v1)) per verb, API group, resource and resource name, asked as user
    C(system:serviceaccount:<namespace>:<name>) with groups C(system:serviceaccounts),
    C(system:serviceaccounts:<namespace>) and C(system:authenticated);
  - (2) every forbidden probe of the matrix (plus O(extra_forbidden)) is denied, unless the matrix grants that
    action to the component; C(@release) in a probe's namespace means the release namespace, C(@other) means
    O(other_namespace), no namespace means cluster scope;
  - (3) no RoleBinding (any namespace) or ClusterRoleBinding that names the ServiceAccount, directly, as a user or
    through one of its groups, grants anything the matrix does not cover. A grant through a ClusterRoleBinding or a
    RoleBinding in another namespace is always excess unless an enabled optional cluster right covers it.
    The API server's default-policy ClusterRoleBindings (C(system:basic-user), C(system:discovery),
    C(system:public-info-viewer), C(system:service-account-issuer-discovery)) are recognised by their name, the
    ClusterRole they reference and the well-known groups they name, never by the label
    C(kubernetes.io/bootstrapping=rbac-defaults); they are listed, and only what the default policy grants is not
    counted as excess;
  - (4) no binding opens a known escalation path (create pods or pod controllers, exec/attach, read or create
    Secrets, TokenRequest, C(bind)/C(escalate)/C(impersonate), writing Roles or bindings, wildcards, ...; the list
    and the reasons are in C(docs/permission-matrix.md)) unless the matrix accepts that risk for the component
    under C(acceptedRisks) with a reason; accepted risks are listed as C(ACCEPTED) and do not fail;
  - (5) every Pod, and the pod template of every Deployment, StatefulSet, DaemonSet, ReplicaSet, Job and CronJob of
    the namespace, runs as the ServiceAccount of its component; a pod outside the release running as a release
    account, or a pod running as C(default) with a token mounted, fails (without a token it is a warning).
  - Fails with a fixed-width table of missing and excess rights in RV(ignore:msg) and returns them as data
    (RV(service_accounts)). Also fails when a ServiceAccount's component is not in the matrix or a component of
    the matrix has no ServiceAccount.
  - With O(manifests) the same comparison is computed from rendered manifests (for example C(helm template) output)
    without a cluster, by evaluating RBAC's rule matching (wildcards, C(*/subresource), resource names, aggregated
    ClusterRoles) over the Roles, ClusterRoles, bindings and ServiceAccounts they contain.
  - The module only reads; it never changes anything and reports RV(ignore:changed=false).
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - kubiya.runners.k8s_request
  - ansible.builtin.action_common_attributes
options:
  namespace:
    description:
      - Namespace the release is installed in; a DNS-1123 label (checked by the module).
    type: str
    required: true
  release:
    description:
      - Helm release name, the value of the C(app.kubernetes.io/instance) label of its ServiceAccounts.
      - Checked against Helm's rules (lowercase letters, digits, C(-) and C(.), at most 53 characters).
    type: str
    required: true
  matrix:
    description:
      - The permission matrix, as the path of a C(permissions.yaml) file or as the parsed dictionary.
      - A path is resolved and read on the controller by the module's action plugin, like a C(src) file -
        absolute, or relative to the role's or playbook's C(files) directory and the playbook directory; a
        missing file or an invalid matrix is an error naming the path before the module runs.
      - Format (see the collection's C(docs/permission-matrix.md)) - C(serviceAccounts) maps each component to
        C(automountToken) and its namespaced C(rules) (PolicyRules); C(forbidden) lists probes
        C({verb, group, resource, subresource, name, namespace}) that must be denied for every ServiceAccount;
        C(optional) lists opt-in cluster-scoped rights (C(component) or C(components), C(rules), C(enabledBy));
        C(acceptedRisks) maps a component to the escalation risks accepted by design, each C({risk, reason}) and
        optionally C(optional) (the risk comes with that opt-in right).
      - When not given, the action plugin uses C(charts/kubiya-runner/permissions.yaml) of the C(kubiya.runners)
        collection it belongs to (on the controller).
    type: raw
  components:
    description:
      - Components that must have a ServiceAccount in the release (for example when optional components are
        disabled). Defaults to every component of the matrix.
      - ServiceAccounts of other components that exist in the release are still checked.
    type: list
    elements: str
  enabled_optional:
    description:
      - Keys of the matrix's C(optional) section whose rights are enabled in this release. Their rules are then
        expected (at cluster scope) for their components and no longer count as excess.
    type: list
    elements: str
    default: []
  extra_forbidden:
    description:
      - Probes that must be denied for every ServiceAccount, in addition to the matrix's C(forbidden) list.
    type: list
    elements: dict
    default: []
    suboptions:
      verb:
        description: Verb, for example V(get), V(create).
        type: str
        required: true
      group:
        description: API group; V("") for the core group.
        type: str
        default: ""
      resource:
        description: Resource, optionally with a subresource (V(pods/exec)). Required unless O(extra_forbidden[].path) is set.
        type: str
      subresource:
        description: Subresource, when not given in O(extra_forbidden[].resource).
        type: str
      name:
        description: Object name.
        type: str
      namespace:
        description: Namespace, V(@release), V(@other) or empty for cluster scope.
        type: str
      path:
        description: Non-resource URL, for example V(/metrics).
        type: str
  other_namespace:
    description:
      - The namespace that stands for C(@other) in probes. Must differ from O(namespace); when it does not,
        V(kube-system) or V(default) is used instead.
    type: str
    default: kube-system
  ignore_bindings:
    description:
      - Bindings to list but not count as excess, as shell-style patterns over C(ClusterRoleBinding/<name>) and
        C(RoleBinding/<namespace>/<name>), for example cluster-wide policy of the customer that every
        ServiceAccount holds.
    type: list
    elements: str
    default: []
  manifests:
    description:
      - Evaluate rendered manifests instead of a live cluster. A path (a YAML file or a directory of C(.yaml),
        C(.yml) and C(.json) files), YAML text with one or more documents (for example the registered stdout of
        C(helm template)), or a list of documents (dictionaries or YAML strings). Documents of kind C(List) are unpacked.
      - Namespaced objects without a namespace are taken to be in O(namespace). No connection option is used.
    type: raw
  fail_on_excess:
    description:
      - Fail when a binding grants more than the matrix. A missing right, an allowed forbidden probe, an escalation
        risk the matrix does not accept, a workload running as the wrong ServiceAccount or a ServiceAccount/component
        mismatch fails regardless.
    type: bool
    default: true
attributes:
  check_mode:
    support: full
    details: The module only reads, so it runs completely in check mode.
  diff_mode:
    support: none
  platform:
    support: full
    platforms: posix
notes:
  - The connecting identity needs C(create) on C(subjectaccessreviews.authorization.k8s.io), C(list) on
    ServiceAccounts, Pods, Deployments, StatefulSets, DaemonSets, ReplicaSets, Jobs and CronJobs in O(namespace)
    and C(list) on Roles, ClusterRoles, RoleBindings and ClusterRoleBindings in all namespaces.
  - Offline evaluation knows only the objects in O(manifests) (plus the namespace's C(default) ServiceAccount,
    which every namespace has), not the cluster's default bindings or other authorizers; the live mode asks the
    API server and therefore sees every authorizer. Escalation risks are derived from the RBAC objects in both
    modes.
  - The permission matrix format, the review rules and the list of escalation risks are documented in
    C(docs/permission-matrix.md) of the collection.
seealso:
  - name: Kubernetes RBAC authorization
    description: How Roles, ClusterRoles and bindings grant access.
    link: https://kubernetes.io/docs/reference/access-authn-authz/rbac/
  - name: SubjectAccessReview
    description: The API the live mode asks.
    link: https://kubernetes.io/docs/reference/kubernetes-api/authorization-resources/subject-access-review-v1/
"""

EXAMPLES = r"""
- name: Verify the runner's service accounts on the cluster
  kubiya.runners.sa_permissions:
    namespace: kubiya-acme
    release: kubiya-runner
    matrix: "{{ playbook_dir }}/../charts/kubiya-runner/permissions.yaml"
    kubeconfig: "{{ runner_kubeconfig }}"
  register: sa_check

- name: Only warn about excess rights, fail on missing ones
  kubiya.runners.sa_permissions:
    namespace: kubiya-acme
    release: kubiya-runner
    fail_on_excess: false
    components: [agent-manager, tool-manager, kubiya-operator, dagger, image-updater, kube-state-metrics, alloy]
    extra_forbidden:
      - {verb: delete, group: "", resource: namespaces}
      - {verb: get, resource: configmaps, namespace: "@other"}
    ignore_bindings:
      - ClusterRoleBinding/acme-psp-*

- name: Render the chart and check it without a cluster
  ansible.builtin.command:
    cmd: helm template kubiya-runner charts/kubiya-runner --namespace kubiya-acme -f override_acme.yaml
  register: rendered
  changed_when: false

- name: Evaluate the rendered RBAC objects
  kubiya.runners.sa_permissions:
    namespace: kubiya-acme
    release: kubiya-runner
    manifests: "{{ rendered.stdout }}"

- name: Show the table
  ansible.builtin.debug:
    var: sa_check.report
"""

RETURN = r"""
mode:
  description: V(live) (SubjectAccessReview against the API server) or V(offline) (rendered manifests).
  returned: always
  type: str
  sample: live
matrix_path:
  description: File the matrix was read from (on the controller); empty when O(matrix) was a dictionary.
  returned: success
  type: str
  sample: /usr/share/ansible/collections/ansible_collections/kubiya/runners/charts/kubiya-runner/permissions.yaml
other_namespace:
  description: The namespace used for C(@other) probes.
  returned: success
  type: str
  sample: kube-system
service_accounts:
  description: One entry per ServiceAccount of the namespace (the release's and every other one), sorted by name.
  returned: success
  type: list
  elements: dict
  contains:
    name:
      description: ServiceAccount name.
      type: str
      sample: kubiya-runner-agent-manager
    namespace:
      description: ServiceAccount namespace.
      type: str
      sample: kubiya-acme
    component:
      description: Value of its C(app.kubernetes.io/component) label (null when unlabelled or not of the release).
      type: str
      sample: agent-manager
    managed:
      description: Whether the account belongs to the release (label C(app.kubernetes.io/instance=<release>)).
        Any other account is expected to hold no rights.
      type: bool
    used_by:
      description: Workloads (C(<Kind>/<name>)) whose pods run as this account.
      type: list
      elements: str
      sample: [Deployment/agent-manager, Pod/agent-manager-5d9c7b8f6-x2x7q]
    risks:
      description: Escalation paths its bindings open (see C(docs/permission-matrix.md)), one per risk and binding.
      type: list
      elements: dict
      contains:
        risk:
          description: Risk id, for example V(assign-service-account), V(read-secrets), V(token-request), V(wildcard).
          type: str
        verbs:
          description: Verbs of the grant that open it.
          type: list
          elements: str
        resources:
          description: Resources of the grant, kubectl style (V(deployments.apps), V(pods/exec)).
          type: list
          elements: str
        resource_names:
          description: Object names the grant is limited to (the risk remains).
          type: list
          elements: str
        namespace:
          description: Namespace of the grant; V(*) for a ClusterRoleBinding.
          type: str
        granted_by:
          description: The binding.
          type: str
        role:
          description: The role it references.
          type: str
        reason:
          description: Why it is a risk, naming the accounts it leads to.
          type: str
        accepted:
          description: Whether the matrix accepts it (C(acceptedRisks)) or the binding is ignored; accepted risks do not fail.
          type: bool
        accepted_reason:
          description: The reason from the matrix (null when not accepted).
          type: str
      sample:
        - {risk: read-secrets, verbs: [get, list], resources: [secrets], resource_names: [], namespace: kubiya-acme,
           granted_by: RoleBinding/kubiya-acme/tool-manager, role: Role/tool-manager, accepted: true,
           reason: "can read Secrets of namespace kubiya-acme: ...", accepted_reason: "reads the credentials ..."}
    notes:
      description: Context for the account (not part of the release, the default account, a binding that carries the
        default-policy label without being one); shown in the report when the account failed.
      type: list
      elements: str
    failed:
      description: Whether this account failed the review.
      type: bool
    checks:
      description: Number of access checks made (expected actions plus forbidden probes).
      type: int
      sample: 14
    missing:
      description: Expected actions that are not allowed.
      type: list
      elements: dict
      contains:
        verb:
          description: Verb.
          type: str
        group:
          description: API group (V("") is the core group).
          type: str
        resource:
          description: Resource, with the subresource after a slash (V(pods/log)).
          type: str
        namespace:
          description: Namespace of the check; null for cluster scope.
          type: str
        resource_name:
          description: Object name, when the rule has C(resourceNames).
          type: str
          returned: when set
      sample: [{verb: watch, group: "", resource: pods, namespace: kubiya-acme}]
    excess:
      description:
        - Rights beyond the matrix. C(reason) is V(not in matrix) for a grant of a binding that the matrix does not
          cover and V(forbidden probe allowed) for a forbidden probe the API server allowed.
        - C(namespace) V(*) means every namespace and cluster scope (a ClusterRoleBinding). Wildcards are kept as
          granted (C(verb) V(*) is one entry).
      type: list
      elements: dict
      contains:
        verb:
          description: Verb.
          type: str
        group:
          description: API group.
          type: str
        resource:
          description: Resource (as granted, may be V(*) or V(*/scale)).
          type: str
        namespace:
          description: Namespace, V(*) or null (cluster scope / non-resource URL).
          type: str
        resource_name:
          description: Object name, when the grant is limited by C(resourceNames).
          type: str
          returned: when set
        non_resource_url:
          description: Non-resource URL granted by a ClusterRole rule.
          type: str
          returned: when set
        granted_by:
          description: The binding, C(ClusterRoleBinding/<name>) or C(RoleBinding/<namespace>/<name>).
          type: str
        role:
          description: The role the binding references, C(ClusterRole/<name>) or C(Role/<name>).
          type: str
        reason:
          description: V(not in matrix) or V(forbidden probe allowed).
          type: str
      sample:
        - {verb: list, group: "", resource: nodes, namespace: "*", granted_by: ClusterRoleBinding/extra,
           role: ClusterRole/node-reader, reason: not in matrix}
    bindings:
      description: Every RoleBinding and ClusterRoleBinding whose subjects name this account or one of its groups.
      type: list
      elements: dict
      contains:
        kind:
          description: V(RoleBinding) or V(ClusterRoleBinding).
          type: str
        name:
          description: Binding name.
          type: str
        namespace:
          description: Namespace of a RoleBinding; null for a ClusterRoleBinding.
          type: str
        role:
          description: Referenced role, C(<kind>/<name>).
          type: str
        role_found:
          description: Whether the referenced role exists (a missing role grants nothing).
          type: bool
        subject:
          description: The subject that matched, for example C(ServiceAccount ns/name) or C(Group system:authenticated).
          type: str
        via_group:
          description: Whether the account is named only through a group.
          type: bool
        baseline:
          description: One of the API server's default-policy bindings, recognised by name, ClusterRole and groups
            (never by label); what the default policy grants is not excess.
          type: bool
        bootstrap_label:
          description: Whether it carries the label C(kubernetes.io/bootstrapping=rbac-defaults) (informational only).
          type: bool
        ignored:
          description: Matched O(ignore_bindings); not excess.
          type: bool
        rules:
          description: The PolicyRules the binding grants.
          type: list
          elements: dict
    automount_token:
      description: C(expected) (matrix C(automountToken)) and C(actual) (the account's C(automountServiceAccountToken)).
      type: dict
    errors:
      description: Problems with this account (no component label, component missing from the matrix).
      type: list
      elements: str
    warnings:
      description: Non-fatal findings, for example a token automount that differs from the matrix.
      type: list
      elements: str
workloads:
  description: Every Pod and pod template (Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob) of the
    namespace with the ServiceAccount it runs as.
  returned: success
  type: list
  elements: dict
  contains:
    kind:
      description: Object kind.
      type: str
    name:
      description: Object name.
      type: str
    component:
      description: Its C(app.kubernetes.io/component) label when it belongs to the release.
      type: str
    service_account:
      description: The ServiceAccount its pods run as (V(default) when unset).
      type: str
    expected_service_account:
      description: The release's ServiceAccount of its component (null when it has none).
      type: str
    token:
      description: Whether its pods get a token of that account (automount or a projected token volume).
      type: bool
    problem:
      description: What is wrong (null when nothing is).
      type: str
    severity:
      description: V(fail), V(warn) (listed, not failing) or null.
      type: str
  sample:
    - {kind: Deployment, name: agent-manager, component: agent-manager, service_account: agent-manager,
       expected_service_account: agent-manager, token: true, problem: null, severity: null}
errors:
  description: Release-wide problems, for example a component of the matrix without a ServiceAccount.
  returned: success
  type: list
  elements: str
  sample: ['component "alloy": no ServiceAccount labelled app.kubernetes.io/instance=r,app.kubernetes.io/component=alloy in namespace ns']
summary:
  description: Counts over all accounts.
  returned: success
  type: dict
  contains:
    service_accounts:
      description: Accounts reviewed.
      type: int
    failed:
      description: Accounts that failed.
      type: int
    missing:
      description: Missing rights.
      type: int
    excess:
      description: Excess grants (reason V(not in matrix)).
      type: int
    forbidden_allowed:
      description: Forbidden probes that were allowed.
      type: int
    risks:
      description: Escalation risks the matrix does not accept.
      type: int
    accepted_risks:
      description: Escalation risks accepted by the matrix (listed, not failing).
      type: int
    workload_findings:
      description: Workloads that run as the wrong ServiceAccount (severity V(fail)).
      type: int
    errors:
      description: Errors (release-wide and per account).
      type: int
    checks:
      description: Access checks made.
      type: int
  sample: {service_accounts: 9, failed: 0, missing: 0, excess: 0, forbidden_allowed: 0, risks: 0, accepted_risks: 7,
           workload_findings: 0, errors: 0, checks: 131}
report:
  description: The fixed-width table, one line per item; on failure it is also in RV(ignore:msg).
  returned: success
  type: list
  elements: str
  sample:
    - "SERVICEACCOUNT  COMPONENT      RESULT  VERBS  RESOURCE          NAME  NAMESPACE  GRANTED BY"
    - "--------------  -------------  ------  -----  ----------------  ----  ---------  ----------"
    - "r-agent-manager agent-manager  ok             12 checks passed"
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.kubiya.runners.plugins.module_utils import rbac, validate
from ansible_collections.kubiya.runners.plugins.module_utils.kube import (
    K8S_AUTH_ARG_SPEC,
    K8S_NUMBERS,
    K8sError,
    KubeClient,
    MissingLibraryError,
)
from ansible_collections.kubiya.runners.plugins.module_utils.rbac import manifests


def load_matrix(module):
    """The matrix and the path it was read from ('' for a dictionary)."""
    value = module.params['matrix']
    if value is None:
        module.fail_json(msg='matrix: no matrix given; the action plugin passes the collection\'s %s by default '
                             '(run the module as the task kubiya.runners.sa_permissions) or pass matrix'
                             % manifests.MATRIX_IN_COLLECTION)
    try:
        data, path = manifests.matrix_document(value)
        return rbac.load_matrix(data, where=path or 'matrix'), path
    except (manifests.InputError, rbac.MatrixError) as exc:
        module.fail_json(msg=str(exc))


def main():
    argument_spec = dict(
        namespace=dict(type='str', required=True),
        release=dict(type='str', required=True),
        matrix=dict(type='raw'),
        components=dict(type='list', elements='str'),
        enabled_optional=dict(type='list', elements='str', default=[]),
        extra_forbidden=dict(type='list', elements='dict', default=[], options=dict(
            verb=dict(type='str', required=True),
            group=dict(type='str', default=''),
            resource=dict(type='str'),
            subresource=dict(type='str'),
            name=dict(type='str'),
            namespace=dict(type='str'),
            path=dict(type='str'),
        )),
        other_namespace=dict(type='str', default='kube-system'),
        ignore_bindings=dict(type='list', elements='str', default=[]),
        manifests=dict(type='raw'),
        fail_on_excess=dict(type='bool', default=True),
    )
    argument_spec.update(K8S_AUTH_ARG_SPEC)
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    try:
        validate.dns_label(params['namespace'], 'namespace')
        validate.helm_release(params['release'], 'release')
        validate.dns_label(params['other_namespace'], 'other_namespace')
        params.update(validate.check_numbers(params, K8S_NUMBERS))
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    namespace = params['namespace']
    release = params['release']

    if not manifests.HAS_YAML:
        module.fail_json(msg=missing_required_lib('PyYAML'), exception=manifests.YAML_IMPORT_ERROR)
    matrix, matrix_path = load_matrix(module)
    try:
        extra = [rbac.normalize_probe(dict((k, v) for k, v in p.items() if v is not None),
                                      'extra_forbidden[%d]' % i)
                 for i, p in enumerate(params['extra_forbidden'])]
    except rbac.MatrixError as exc:
        module.fail_json(msg=str(exc))

    client = None
    if params['manifests'] is not None:
        mode = 'offline'
        try:
            docs = list(rbac.flatten_objects(manifests.load_manifests(params['manifests'])))
        except manifests.InputError as exc:
            module.fail_json(msg=str(exc), mode=mode)
        if not docs:
            module.fail_json(msg='manifests hold no Kubernetes object (did the render fail?)', mode=mode)
        index = rbac.RbacIndex.from_objects(docs, namespace)
        service_accounts = rbac.release_service_accounts(index, namespace, release)

        def checker_for(sa_namespace, sa_name, bindings):
            return rbac.offline_checker(bindings)
    else:
        mode = 'live'
        try:
            client = KubeClient.from_params(params)
            index = rbac.fetch_index(client, namespace, release)
        except MissingLibraryError as exc:
            module.fail_json(msg=missing_required_lib('kubernetes'), error=str(exc))
        except K8sError as exc:
            module.fail_json(msg='cannot read the RBAC state of the cluster: %s' % exc.msg, status=exc.status)
        service_accounts = index.service_accounts

        def checker_for(sa_namespace, sa_name, bindings):
            return rbac.sar_checker(client, sa_namespace, sa_name)

    try:
        outcome = rbac.review(
            matrix, namespace, release, service_accounts, index, checker_for,
            components=params['components'], enabled_optional=params['enabled_optional'], extra_probes=extra,
            other_namespace=params['other_namespace'], ignore_bindings=params['ignore_bindings'],
            fail_on_excess=params['fail_on_excess'])
    except K8sError as exc:
        module.fail_json(msg='SubjectAccessReview failed: %s' % exc.msg, status=exc.status, mode=mode)
    finally:
        if client is not None:
            client.close()

    report = rbac.render_table(outcome['service_accounts'], outcome['errors'], outcome['summary'],
                               outcome['workloads'])
    for warning in outcome['warnings']:
        module.warn(warning)
    result = dict(
        changed=False,
        mode=mode,
        matrix_path=matrix_path,
        other_namespace=outcome['other_namespace'],
        service_accounts=outcome['service_accounts'],
        workloads=outcome['workloads'],
        errors=outcome['errors'],
        summary=outcome['summary'],
        report=report,
    )
    if outcome['failed']:
        module.fail_json(msg='ServiceAccount permissions of release %s in namespace %s differ from the matrix:\n%s'
                             % (release, namespace, '\n'.join(report)), **result)
    summary = outcome['summary']
    module.exit_json(msg='%d ServiceAccount(s) of namespace %s hold exactly the rights of the matrix for release %s '
                         '(%d checks, %d accepted risks, %d workloads checked)'
                         % (summary['service_accounts'], namespace, release, summary['checks'],
                            summary['accepted_risks'], len(outcome['workloads'])),
                     **result)


if __name__ == '__main__':
    main()
