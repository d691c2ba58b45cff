#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2025, Kubiya runners platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: release_state
short_description: Read the state of a Helm release two independent ways, and never guess
version_added: 0.1.0
author:
  - Kubiya runners platform team (@kubiya-runners)
description:
  - Reads the state of Helm release O(name) in namespace O(namespace) two ways, in one process, and judges them
    together, after looking up the namespace itself (RV(namespace_exists), RV(namespace_labels)) - helm keeps a
    release's records in its namespace, so without the namespace the release is C(absent) and neither read is
    made
  - helm's own view, C(helm list --all --filter ^<name>$) (plain C(helm list) hides C(pending-install),
    C(pending-upgrade) and C(pending-rollback) releases);
  - helm's release records, the Secrets C(owner=helm,name=<name>) of the namespace (helm's default storage
    driver), one per revision, labelled with its status and version.
  - RV(state) is C(absent) only when helm lists no release AND no record exists; it is C(unreadable) when a read
    failed or the two views disagree (RV(reason) says why). The module never fails on the release's state,
    the caller decides (the runner role stops on anything but C(absent), C(deployed), C(failed),
    C(superseded) and C(uninstalled)).
  - Read-only; reports RV(ignore:changed=false). The records' contents (the release's manifest and values)
    are read but never returned; with O(values=true) the release's computed values are returned from
    C(helm get values --all).
  - Needs C(get) on the namespace (cluster-scoped) and C(list) on the Secrets of the namespace.
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - kubiya.runners.k8s_request
options:
  name:
    description:
      - Helm release name (lowercase letters, digits, C(-) and C(.), at most 53 characters; checked).
    type: str
    required: true
  namespace:
    description:
      - Namespace of the release; a DNS-1123 label (checked).
    type: str
    required: true
  binary_path:
    description:
      - Path of the helm 3 binary. Not given - C(helm) on E(PATH).
      - helm gets the same O(kubeconfig), O(context), O(host), O(api_key), O(ca_cert) and O(validate_certs) as
        the Kubernetes client.
    type: path
  values:
    description:
      - Also return the release's computed values (RV(computed_values), C(helm get values --all --revision), chart
        defaults included) when RV(state) is C(deployed) or C(failed). A failed read makes RV(state) C(unreadable).
    type: bool
    default: false
notes:
  - Replaces, in the runner role, M(kubernetes.core.helm_info) (C(release_state=[all])) plus
    M(kubernetes.core.k8s_info) of the records and of the namespace - the same views in one module process
    instead of three; with O(values=true) also M(kubernetes.core.helm_info) with C(get_all_values).
"""

EXAMPLES = r"""
- name: Read the state of the runner's release
  kubiya.runners.release_state:
    name: kubiya-runner
    namespace: acme-runner
  register: release

- name: Read it with its computed values (helm get values --all)
  kubiya.runners.release_state:
    name: kubiya-runner
    namespace: acme-runner
    values: true
  register: release_with_values

- name: Stop unless it is safe to upgrade
  ansible.builtin.fail:
    msg: "{{ release.reason }}"
  when: release.state not in ['absent', 'deployed', 'failed', 'superseded', 'uninstalled']

- name: Show whether telemetry is on in the deployed revision
  ansible.builtin.debug:
    msg: "{{ release_with_values.computed_values.telemetry.enabled | default(true) }}"
"""

RETURN = r"""
state:
  description:
    - C(absent), C(unreadable), C(unknown) (a status helm does not document), or helm's status of the latest
      revision - C(deployed), C(failed), C(superseded), C(uninstalled), C(uninstalling), C(pending-install),
      C(pending-upgrade), C(pending-rollback).
  returned: always
  type: str
  sample: deployed
revision:
  description: The latest revision (0 when there is none).
  returned: always
  type: int
  sample: 3
last_good:
  description: The latest revision that was deployed (status C(deployed), else C(superseded)); 0 when none.
  returned: always
  type: int
  sample: 2
reason:
  description: Why the state is what it is, in words (for an C(unreadable) release, which read failed and how).
  returned: always
  type: str
  sample: helm reports deployed
namespace_exists:
  description:
    - Whether namespace O(namespace) exists; also false when it could not be read (then RV(state) is
      C(unreadable) and RV(reason) says why).
  returned: always
  type: bool
  sample: true
namespace_labels:
  description: The labels of namespace O(namespace) (empty when it does not exist).
  returned: always
  type: dict
  sample: {"app.kubernetes.io/managed-by": "kubiya.runners"}
namespace_uid:
  description: The UID of namespace O(namespace) (empty when it does not exist).
  returned: always
  type: str
  sample: 0b6f3a9e-6a55-4d5c-9d0e-6f1b2c3d4e5f
chart:
  description: The chart and its version as C(helm list) shows them (empty when helm lists no release).
  returned: always
  type: str
  sample: kubiya-runner-0.4.0
app_version:
  description: The chart's appVersion as C(helm list) shows it (empty when helm lists no release).
  returned: always
  type: str
  sample: 0.4.0
computed_values:
  description:
    - The computed values of the revision RV(revision) (O(values=true) and RV(state) C(deployed) or C(failed);
      else empty). Named so because C(result.values) in Jinja is the dictionary's method.
  returned: always
  type: dict
  sample: {"telemetry": {"enabled": true}}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kubiya.runners.plugins.module_utils import release_read, validate
from ansible_collections.kubiya.runners.plugins.module_utils.kube import (
    K8S_AUTH_ARG_SPEC,
    K8S_NUMBERS,
    K8sError,
    KubeClient,
)


def main():
    argument_spec = dict(
        name=dict(type='str', required=True),
        namespace=dict(type='str', required=True),
        binary_path=dict(type='path'),
        values=dict(type='bool', default=False),
    )
    argument_spec.update(K8S_AUTH_ARG_SPEC)
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    try:
        params.update(validate.check_numbers(params, K8S_NUMBERS))
        validate.helm_release(params['name'], 'name')
        validate.dns_label(params['namespace'], 'namespace')
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    try:
        client = KubeClient.from_params(params)
    except K8sError as exc:
        client = exc
    try:
        result = release_read.read_state(module, params, client, params['name'], params['namespace'],
                                         values=params['values'])
    finally:
        if not isinstance(client, K8sError):
            client.close()
    module.exit_json(changed=False, **result)


if __name__ == '__main__':
    main()
