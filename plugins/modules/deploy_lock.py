#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2025, Kubiya runners platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: deploy_lock
short_description: Take, renew or release the deploy lock of a runner release (a Kubernetes Lease)
version_added: 0.1.0
author:
  - Kubiya runners platform team (@kubiya-runners)
description:
  - One deploy (or removal) per customer at a time - the C(coordination.k8s.io/v1) Lease
    C(<release>-deploy-lock) in namespace O(namespace), holder O(holder).
  - O(state=present) takes it. Taking is a server-side apply with field manager O(field_manager) and no
    force - it creates the lease, or conflicts when the lease exists, so of two concurrent takes exactly
    one succeeds and a free lock costs one request. Only on a conflict (or a lost answer) is the lease read -
    held by another holder and not expired (RV(outcome=held)), this run does not get it; expired (more than its
    C(leaseDurationSeconds) since its C(renewTime), by this controller's clock) or naming no holder (a lease
    given up), it is taken over with force and the C(resourceVersion) that was read as a precondition, then
    read back - RV(outcome=lost_race) when another run got it at the same moment. A lease that names a holder
    but has no readable C(renewTime) is never taken over.
  - Without the namespace there is nothing to lock - RV(outcome=no_namespace), nothing written.
  - With O(read_release=true) the state of release O(release) is then read in the same process, under the
    lock (RV(release_state), as M(kubiya.runners.release_state) returns it); also without the namespace
    (C(absent)) and in check mode.
  - O(state=renewed) writes a new C(renewTime) with O(resource_version) (the one this run last wrote) as a
    precondition - RV(held=false) when another run took the lease over meanwhile (this run outlived it). A lost
    answer is read back (the renewal landed, or it is sent once more).
  - O(state=absent) deletes the lease with O(resource_version) as a precondition - a lease that is gone
    or that another run holds now is left alone.
  - The module does not fail when the lock is held by another run or lost (RV(held) says so, the caller
    decides); it fails when the API server refuses the request itself (no permission, invalid),
    naming the Lease and the reason.
  - In check mode nothing is written, the lease is only read - O(state=present) reports RV(outcome) C(free) or
    C(held) (and, with O(read_release=true), the release's state), never RV(held=true); O(state=renewed) and
    O(state=absent) report what a real run would find.
  - Needs C(get), C(patch) (server-side apply) and C(delete) on Leases of the namespace and C(get) on the
    namespace (read after a 404); for O(read_release) also C(list) on its Secrets (and C(get) for
    O(release_values)).
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - kubiya.runners.k8s_request
options:
  release:
    description:
      - Helm release name; the lease is C(<release>-deploy-lock) (lowercase letters, digits, C(-) and C(.), at most
        53 characters; checked).
    type: str
    required: true
  namespace:
    description:
      - Namespace of the release and of its lease; a DNS-1123 label (checked).
    type: str
    required: true
  state:
    description:
      - V(present) takes the lock, V(renewed) renews it, V(absent) releases it.
    type: str
    choices: [present, renewed, absent]
    default: present
  holder:
    description:
      - The holder identity written to the lease (who and which run). Required for V(present) and V(renewed).
    type: str
  field_manager:
    description:
      - The server-side apply field manager of this run (one per run, so another run's apply conflicts).
        Required for V(present) and V(renewed).
    type: str
  duration:
    description:
      - C(leaseDurationSeconds) - how long after its last renewal the lease counts as held (1 to 2147483647).
        Required for V(present) and V(renewed).
    type: int
  labels:
    description:
      - Labels of the lease.
    type: dict
    default: {}
  resource_version:
    description:
      - The C(resourceVersion) this run last wrote (RV(lease.resource_version) of the previous call). Required for
        V(renewed) and V(absent).
    type: str
  acquire_time:
    description:
      - The lease's C(acquireTime) as taken (RV(lease.acquire_time)); kept by a renewal. Required for V(renewed).
    type: str
  read_release:
    description:
      - With V(present), read the state of release O(release) (RV(release_state)) once the lock is held, when
        the namespace does not exist (C(absent)) and in check mode.
    type: bool
    default: false
  release_values:
    description:
      - With O(read_release), also read the release's computed values (C(helm get values --all --revision) of a
        C(deployed) or C(failed) release; C(computed_values) of RV(release_state)), as
        M(kubiya.runners.release_state) does with its O(kubiya.runners.release_state#module:values) option. A failed
        read of the values leaves them empty (C(values_error) of RV(release_state) says why), the state as read.
    type: bool
    default: false
  binary_path:
    description:
      - Path of the helm 3 binary for O(read_release). Not given - C(helm) on E(PATH).
    type: path
notes:
  - Replaces, in the runner role, the take, read, take-over and read-back steps that were each a
    M(kubernetes.core.k8s) or M(kubernetes.core.k8s_info) task, plus the release state read under the lock - one
    module process instead of two on a free lock, and the time arithmetic in Python rather than Jinja.
  - The module reports RV(ignore:changed=true) when it wrote the lease.
seealso:
  - module: kubiya.runners.release_state
"""

EXAMPLES = r"""
- name: Take the deploy lock and read the release under it
  kubiya.runners.deploy_lock:
    release: kubiya-runner
    namespace: acme-runner
    holder: "ops@laptop run 3k2j1h4g5f6d"
    field_manager: kubiya-runners-3k2j1h4g5f6d
    duration: 720
    read_release: true
  register: lock

- name: Stop when another run holds it
  ansible.builtin.fail:
    msg: "held by {{ lock.other.holder }} since {{ lock.other.acquire_time }}"
  when: not lock.held

- name: Renew it
  kubiya.runners.deploy_lock:
    release: kubiya-runner
    namespace: acme-runner
    state: renewed
    holder: "ops@laptop run 3k2j1h4g5f6d"
    field_manager: kubiya-runners-3k2j1h4g5f6d
    duration: 720
    acquire_time: "{{ lock.lease.acquire_time }}"
    resource_version: "{{ lock.lease.resource_version }}"
  register: renewal

- name: Release it
  kubiya.runners.deploy_lock:
    release: kubiya-runner
    namespace: acme-runner
    state: absent
    resource_version: "{{ renewal.lease.resource_version }}"
"""

RETURN = r"""
held:
  description: Whether this run holds the lock after the call (V(absent) - always false).
  returned: always
  type: bool
  sample: true
outcome:
  description:
    - V(present) - C(taken) (it was free), C(mine) (an earlier answer to this run was lost; the lease names it
      already), C(taken_over) (expired or without holder, or deleted between the conflict and the take),
      C(held) (another run holds it), C(lost_race) (another run took it at the same moment), C(no_namespace)
      (namespace O(namespace) does not exist); in check mode C(free) or C(held).
    - V(renewed) - C(renewed) or C(lost). V(absent) - C(released) or C(gone) (deleted already, or another run's now).
  returned: always
  type: str
  sample: taken
lease:
  description: The lease this run holds (empty when it holds none).
  returned: always
  type: dict
  contains:
    holder:
      description: C(holderIdentity).
      type: str
    resource_version:
      description: Its C(resourceVersion), the precondition of the next renewal or release.
      type: str
    acquire_time:
      description: C(acquireTime).
      type: str
    renew_time:
      description: C(renewTime).
      type: str
    duration:
      description: C(leaseDurationSeconds).
      type: int
  sample: {"holder": "ops@laptop run 3k2j1h4g5f6d", "resource_version": "4711", "duration": 720,
           "acquire_time": "2026-12-01T20:00:00.000000Z", "renew_time": "2026-12-01T20:00:00.000000Z"}
other:
  description:
    - The lease as another run holds it (RV(outcome) C(held), C(lost_race)), or as it was before this run took it
      over (C(taken_over)); else empty. Same keys as RV(lease).
  returned: always
  type: dict
  sample: {}
error:
  description: The API server's answer to a write that did not get the lock (conflict), or empty.
  returned: always
  type: str
  sample: ""
release_state:
  description:
    - With O(read_release=true) and the lock held (or RV(outcome=no_namespace), or in check mode) - the state of
      the release read under it,
      the keys of M(kubiya.runners.release_state) (C(state), C(revision), C(last_good), C(reason),
      C(namespace_exists), C(namespace_labels), C(namespace_uid), C(chart), C(app_version), C(computed_values)).
      Else empty.
  returned: always
  type: dict
  sample: {"state": "deployed", "revision": 3, "last_good": 3, "reason": "helm reports deployed"}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kubiya.runners.plugins.module_utils import lease as leasemod
from ansible_collections.kubiya.runners.plugins.module_utils import release_read, validate
from ansible_collections.kubiya.runners.plugins.module_utils.kube import (
    K8S_AUTH_ARG_SPEC,
    K8S_NUMBERS,
    K8sError,
    KubeClient,
)


# leaseDurationSeconds is an int32
MAX_DURATION = 2147483647


def check(params):
    """ValueError naming the option, before any request."""
    params.update(validate.check_numbers(params, K8S_NUMBERS))
    validate.helm_release(params['release'], 'release')
    validate.dns_label(params['namespace'], 'namespace')
    if params['state'] in ('present', 'renewed'):
        for option in ('holder', 'field_manager'):
            if not (params[option] or '').strip():
                raise ValueError('%s: required (a non-empty text) when state is %s' % (option, params['state']))
        if params['duration'] is None:
            raise ValueError('duration: required when state is %s (leaseDurationSeconds)' % params['state'])
        params['duration'] = validate.number(params['duration'], 'duration', integer=True, maximum=MAX_DURATION)
    if params['state'] in ('renewed', 'absent') and not (params['resource_version'] or '').strip():
        raise ValueError('resource_version: required when state is %s (the one this run last wrote)' % params['state'])
    if params['state'] == 'renewed':
        acquired = leasemod.parse_time(params['acquire_time'])
        if acquired is None:
            raise ValueError('acquire_time: %r is not an RFC 3339 time (the lease\'s acquireTime as taken)'
                             % (params['acquire_time'],))
        params['acquire_time'] = leasemod.micro_time(acquired)  # the API server takes microseconds only


def namespace_exists(client, namespace):
    """Whether the namespace exists (a 404 of the lease is then not "no namespace")."""
    try:
        client.get('/api/v1/namespaces/%s' % namespace)
    except K8sError as exc:
        if exc.status == 404:
            return False
        raise
    return True


def run(module, client, params):
    name = '%s-deploy-lock' % params['release']
    namespace = params['namespace']
    where = 'Lease %s in namespace %s' % (name, namespace)
    out = dict(changed=False, held=False, outcome='', lease={}, other={}, error='', release_state={})
    try:
        if module.check_mode:  # read only: what a real run would find
            current = leasemod.peek(client, namespace, name)
            if params['state'] == 'present':
                busy = current is not None and leasemod.holder_of(current) != params['holder'] \
                    and not leasemod.free(current, leasemod.now_utc())
                out.update(outcome='held' if busy else 'free', other=leasemod.view(current) if busy else {})
            else:
                mine = current is not None and \
                    str((current.get('metadata') or {}).get('resourceVersion')) == params['resource_version']
                if params['state'] == 'renewed':
                    mine = mine and leasemod.holder_of(current) == params['holder']
                    out.update(held=mine, outcome='renewed' if mine else 'lost', lease=leasemod.view(current) if mine else {})
                else:
                    out.update(changed=mine, outcome='released' if mine else 'gone')
        elif params['state'] == 'absent':
            released = leasemod.release(client, namespace, name, params['resource_version'])
            out.update(changed=released, outcome='released' if released else 'gone')
        elif params['state'] == 'renewed':
            got = leasemod.renew(client, namespace, name, params['labels'], params['holder'], params['field_manager'],
                                 params['duration'], params['acquire_time'], params['resource_version'])
            out.update(changed=got['held'], held=got['held'], outcome='renewed' if got['held'] else 'lost',
                       lease=leasemod.view(got['lease']), error=got['error'])
        else:
            try:
                got = leasemod.take(client, namespace, name, params['labels'], params['holder'],
                                    params['field_manager'], params['duration'])
            except K8sError as exc:
                if exc.status != 404 or namespace_exists(client, namespace):
                    raise
                got = dict(held=False, outcome='no_namespace', lease={}, other={}, error='')
            out.update(changed=got['held'], held=got['held'], outcome=got['outcome'], lease=leasemod.view(got['lease']),
                       other=leasemod.view(got['other']), error=got['error'])
    except K8sError as exc:
        module.fail_json(msg='%s: %s' % (where, exc), **out)
    if params['read_release'] and params['state'] == 'present' and \
            (out['held'] or module.check_mode or out['outcome'] == 'no_namespace'):
        # never fails once the lock is held (the caller must be able to release it): an error
        # is an unreadable state, on which the caller stops
        try:
            out['release_state'] = release_read.read_state(module, params, client, params['release'], namespace,
                                                           values=params['release_values'], values_required=False)
        except Exception as exc:  # pylint: disable=broad-except
            out['release_state'] = dict(state='unreadable', revision=0, last_good=0, reason=str(exc)[:400],
                                        namespace_exists=False, namespace_labels={}, namespace_uid='', chart='',
                                        app_version='', computed_values={})
    return out


def main():
    argument_spec = dict(
        release=dict(type='str', required=True),
        namespace=dict(type='str', required=True),
        state=dict(type='str', default='present', choices=['present', 'renewed', 'absent']),
        holder=dict(type='str'),
        field_manager=dict(type='str'),
        duration=dict(type='int'),
        labels=dict(type='dict', default={}),
        resource_version=dict(type='str'),
        acquire_time=dict(type='str'),
        read_release=dict(type='bool', default=False),
        release_values=dict(type='bool', default=False),
        binary_path=dict(type='path'),
    )
    argument_spec.update(K8S_AUTH_ARG_SPEC)
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    try:
        check(params)
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    try:
        client = KubeClient.from_params(params)
    except K8sError as exc:
        module.fail_json(msg='Lease %s-deploy-lock in namespace %s: %s' % (params['release'], params['namespace'], exc))
    try:
        result = run(module, client, params)
    finally:
        client.close()
    module.exit_json(**result)


if __name__ == '__main__':
    main()
