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
    together
  - helm's own view, C(helm list --all --filter ^<name>$) (plain C(helm list) hides C(pending-install),
    C(pending-upgrade) and C(pending-rollback) releases);
  - helm's release records, the Secrets C(owner=helm,name=<name>) of the namespace (helm's default storage
    driver), one per revision, labelled with its status and version.
  - RV(state) is C(absent) only when helm lists no release AND no record exists; it is C(unreadable) when a read
    failed or the two views disagree (RV(reason) says why). The module never fails on the release's state,
    the caller decides (the runner role stops on anything but C(absent), C(deployed), C(failed),
    C(superseded) and C(uninstalled)).
  - Read-only; reports RV(ignore:changed=false). The records' contents (the release's manifest and values)
    are read but never returned.
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
notes:
  - Replaces, in the runner role, M(kubernetes.core.helm_info) (C(release_state=[all])) plus
    M(kubernetes.core.k8s_info) of the records - the same two views in one module process instead of two.
"""

EXAMPLES = r"""
- name: Read the state of the runner's release
  kubiya.runners.release_state:
    name: kubiya-runner
    namespace: acme-runner
  register: release

- name: Stop unless it is safe to upgrade
  ansible.builtin.fail:
    msg: "{{ release.reason }}"
  when: release.state not in ['absent', 'deployed', 'failed', 'superseded', 'uninstalled']
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
"""

import json
import os
import re
import tempfile

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kubiya.runners.plugins.module_utils import release as releasemod
from ansible_collections.kubiya.runners.plugins.module_utils import validate
from ansible_collections.kubiya.runners.plugins.module_utils.kube import (
    K8S_AUTH_ARG_SPEC,
    K8S_NUMBERS,
    K8sError,
    KubeClient,
    auth_params,
)

# helm's environment variables for the connection options both sides share (as kubernetes.core's
# helm modules pass them: in the environment, so a token never shows in the process list)
HELM_ENV = (('context', 'HELM_KUBECONTEXT'), ('host', 'HELM_KUBEAPISERVER'), ('api_key', 'HELM_KUBETOKEN'),
            ('ca_cert', 'HELM_KUBECAFILE'))


def helm_list(module, params):
    """``(entry of the release or None, error text or '')`` from ``helm list --all``."""
    auth = auth_params(params)
    argv = [params['binary_path'] or 'helm', 'list', '--all', '--max', '0', '--output', 'json',
            '--namespace', params['namespace'], '--filter', '^%s$' % re.escape(params['name'])]
    environ = {}
    written = None
    kubeconfig = auth.get('kubeconfig')
    try:
        if isinstance(kubeconfig, dict):
            fd, written = tempfile.mkstemp(prefix='kubeconfig-', suffix='.json')
            with os.fdopen(fd, 'w') as handle:
                json.dump(kubeconfig, handle)
            kubeconfig = written
        if kubeconfig:
            environ['KUBECONFIG'] = kubeconfig
        for option, variable in HELM_ENV:
            if auth.get(option):
                environ[variable] = str(auth[option])
        if auth.get('validate_certs') is False:
            environ['HELM_KUBEINSECURE_SKIP_TLS_VERIFY'] = 'true'
        try:
            rc, out, err = module.run_command(argv, environ_update=environ, handle_exceptions=False)
        except OSError as exc:  # run_command raises for a binary that cannot be executed
            return None, 'cannot run %s: %s' % (argv[0], exc)
    finally:
        if written:
            os.unlink(written)
    if rc != 0:
        return None, (err or out or 'exit code %d' % rc).strip()
    try:
        listing = json.loads(out or '[]')
    except ValueError:
        return None, 'helm list printed something that is not JSON: %s' % out[:200]
    return releasemod.find_listed(listing, params['name']), ''


def release_records(params):
    """``(records, error text or '')``: the Secrets owner=helm,name=<release> of the namespace."""
    try:
        client = KubeClient.from_params(params)
        try:
            return client.list_items('/api/v1/namespaces/%s/secrets' % params['namespace'],
                                     label_selector='owner=helm,name=%s' % params['name']), ''
        finally:
            client.close()
    except K8sError as exc:
        return [], str(exc)


def main():
    argument_spec = dict(
        name=dict(type='str', required=True),
        namespace=dict(type='str', required=True),
        binary_path=dict(type='path'),
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
    listed, helm_error = helm_list(module, params)
    records, records_error = release_records(params)
    result = releasemod.judge(listed, helm_error, records, records_error)
    module.exit_json(changed=False, **result)


if __name__ == '__main__':
    main()
