# -*- coding: utf-8 -*-
# Copyright: (c) 2025, Kubiya runners platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Least-privilege review of a release's ServiceAccounts against a permission matrix.

The package is split along its seams; every name stays importable from here:

- ``matrix``: constants, the access type, permissions.yaml (load, validate), the risk catalogue
- ``authorizer``: RBAC rule matching, the object index, the default policy, SubjectAccessReview
- ``review``: missing/excess rights, forbidden probes, escalation risks, workloads
- ``report``: the fixed-width table

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

from ansible_collections.kubiya.runners.plugins.module_utils.rbac.matrix import (  # noqa: F401
    INSTANCE_LABEL,
    COMPONENT_LABEL,
    BOOTSTRAP_LABEL,
    BOOTSTRAP_VALUE,
    RELEASE_NS,
    OTHER_NS,
    ALL_NAMESPACES,
    RBAC_GROUP,
    RBAC_KINDS,
    BROAD_GROUPS,
    REASON_NOT_IN_MATRIX,
    REASON_FORBIDDEN,
    DEFAULT_SERVICE_ACCOUNT,
    WORKLOAD_KINDS,
    TOKEN_SECRET_TYPE,
    _POD_CONTROLLERS,
    RISKS,
    Access,
    MatrixError,
    make_access,
    combined_resource,
    sa_username,
    sa_groups,
    _str_list,
    normalize_rule,
    _cluster_rule,
    normalize_probe,
    load_matrix,
    load_accepted_risks,
    expand_rules,
    resolve_probe,
    pick_other_namespace,
    resource_text,
)

from ansible_collections.kubiya.runners.plugins.module_utils.rbac.authorizer import (  # noqa: F401
    _DISCOVERY_URLS,
    DEFAULT_POLICY,
    verb_matches,
    group_matches,
    resource_matches,
    name_matches,
    url_matches,
    rule_allows,
    rules_allow,
    subject_applies,
    selector_matches,
    _meta,
    flatten_objects,
    RbacIndex,
    is_default_policy,
    default_policy_rules,
    binding_ref,
    _subject_text,
    allowed_by,
    offline_checker,
    sar_body,
    SAR_PATH,
    sar_checker,
    fetch_index,
    WORKLOAD_PATHS,
    namespace_service_accounts,
    release_service_accounts,
)

from ansible_collections.kubiya.runners.plugins.module_utils.rbac.review import (  # noqa: F401
    access_dict,
    grant_accesses,
    find_excess,
    CLUSTER_SCOPED,
    rule_allows_some_name,
    has_wildcard,
    _risk_hits,
    scope_text,
    find_risks,
    accepted_risks_for,
    SEVERITY_FAIL,
    SEVERITY_WARN,
    pod_template,
    mounts_token,
    review_workloads,
    review_service_account,
    holds_rights,
    review,
    summarize,
)

from ansible_collections.kubiya.runners.plugins.module_utils.rbac.report import (  # noqa: F401
    TABLE_COLUMNS,
    MAX_CELL,
    namespace_text,
    _cell,
    report_rows,
    finding_lines,
    render_table,
)
