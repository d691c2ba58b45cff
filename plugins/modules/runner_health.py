#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2025, Kubiya runners platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: runner_health
short_description: Check that every component of a runner release is healthy
version_added: 0.1.0
author:
  - Kubiya runners platform team (@kubiya-runners)
description:
  - Lists the Pods, Deployments, StatefulSets, Jobs and CronJobs of a Helm release (label C(app.kubernetes.io/instance=<release>),
    or O(label_selector)) in one namespace and checks that
  - every Pod is Running and Ready (Pods owned by a Job may also have Succeeded; Pods being deleted are skipped);
  - no Pod is Failed and no Job has the condition C(Failed);
  - no container's restart count rises during a check window of O(window) seconds;
  - every Deployment and StatefulSet has all desired replicas updated and ready (Deployments also available) and
    its controller has observed the latest spec.
  - With O(wait_timeout) it first waits, polling every O(interval) seconds, until no Pod is merely not-Ready-yet and
    every workload has its replicas, or the time is up.
  - Returns one entry per workload (grouped by the C(app.kubernetes.io/component) label) and a fixed-width table.
    Fails, with the table in RV(ignore:msg), when anything is unhealthy, unless O(fail_on_unhealthy=false).
  - The module only reads; it never changes anything and reports RV(ignore:changed=false).
  - It returns within O(wait_timeout) + O(window) + O(request_timeout) seconds; API answers HTTP 429
    (and 5xx) are retried with backoff, honouring C(Retry-After), within that time.
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - kubiya.runners.k8s_request
options:
  namespace:
    description:
      - Namespace of the release; a DNS-1123 label (checked by the module).
    type: str
    required: true
  release:
    description:
      - Helm release name; selects objects labelled C(app.kubernetes.io/instance=<release>).
      - One of O(release) and O(label_selector) is required.
      - Checked against Helm's rules (lowercase letters, digits, C(-) and C(.), at most 53 characters).
    type: str
  label_selector:
    description:
      - Label selector of the objects to check, instead of the release label.
    type: str
  expected_components:
    description:
      - Components (values of C(app.kubernetes.io/component)) that must be present as a Pod, Deployment, StatefulSet,
        Job or CronJob; a missing one is a problem.
    type: list
    elements: str
    default: []
  wait_timeout:
    description:
      - Seconds to wait for the release to become ready before judging it. V(0) judges the current state.
      - At most 86400; negative values are refused.
    type: float
    default: 0
  window:
    description:
      - Length of the restart check window in seconds. The restart counts at its start and end are compared;
        V(0) skips the restart check.
      - The part of the window that lies behind already is not waited for again - when every running container
        has been up without a restart for some seconds (its C(state.running.startedAt), and
        C(lastState.terminated.finishedAt) of an earlier run, by the controller's clock), only the rest is watched -
        none for a runner that has been running unchanged, the rest for pods that started moments ago.
        RV(window_behind) says how much. A time more than 2 s in the future (clocks apart) or a container that is
        not running counts nothing as behind.
      - The controller's and the nodes' clocks are assumed synchronised (as for leases and certificates). A node
        clock behind the controller's by more than the window would make a container that restarted moments ago
        look up long enough.
      - When waiting (and slow API answers) ran past O(wait_timeout), the window is cut to what is left of
        O(wait_timeout) + O(window), so the time bound holds; RV(window) and RV(summary) report the shortened window.
      - At most 3600; negative values are refused.
    type: float
    default: 10
  interval:
    description:
      - Seconds between two polls while waiting (above 0, at most 3600).
    type: float
    default: 2
  fail_on_unhealthy:
    description:
      - Fail when a problem is found. With V(false) the result only reports it (RV(healthy=false)).
    type: bool
    default: true
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: The module only reads, so it runs completely in check mode.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
notes:
  - The connecting identity needs C(list) on Pods, Jobs and CronJobs (C(batch)), Deployments and StatefulSets
    (C(apps)) in O(namespace).
  - Restart counts compare the same Pod (by UID) at the start and the end of the window; a Pod replaced during the
    window is judged by its readiness.
seealso:
  - module: kubiya.runners.sa_permissions
  - module: kubernetes.core.k8s_info
"""

EXAMPLES = r"""
- name: Wait up to 5 minutes for the runner, then watch restarts for 30 seconds
  kubiya.runners.runner_health:
    namespace: kubiya-acme
    release: kubiya-runner
    wait_timeout: 300
    window: 30
  register: health

- name: Print the per-component table
  ansible.builtin.debug:
    msg: "{{ health.report }}"

- name: Only report, do not fail, and require the core components
  kubiya.runners.runner_health:
    namespace: kubiya-acme
    release: kubiya-runner
    expected_components: [agent-manager, tool-manager, kubiya-operator]
    fail_on_unhealthy: false
    kubeconfig: /etc/kubiya/acme.kubeconfig
  register: health
"""

RETURN = r"""
healthy:
  description: Whether every check passed.
  returned: success
  type: bool
  sample: true
components:
  description: One entry per Deployment, StatefulSet, Job and CronJob of the release, and per Pod that belongs to none of them.
  returned: success
  type: list
  elements: dict
  contains:
    component:
      description: Value of the C(app.kubernetes.io/component) label (else C(app.kubernetes.io/name), else the name).
      type: str
      sample: agent-manager
    kind:
      description: V(Deployment), V(StatefulSet), V(Job), V(CronJob) or V(Pod).
      type: str
      sample: Deployment
    name:
      description: Object name.
      type: str
      sample: agent-manager
    ready:
      description:
        - Ready replicas over desired replicas; for a Job V(done) or V(<n> active); for a CronJob V(suspended),
          V(not run yet) or C(last <time>).
      type: str
      sample: 2/2
    restarts:
      description: Sum of the container restart counts of its Pods at the end of the check.
      type: int
      sample: 0
    healthy:
      description: Whether this workload passed.
      type: bool
      sample: true
    problems:
      description: What is wrong with it.
      type: list
      elements: str
      sample: []
problems:
  description: Every problem found, prefixed with its component.
  returned: success
  type: list
  elements: str
  sample: ["tool-manager: pod tool-manager-6d9f7-x2x9q container tool-manager restarted during the check window (1 -> 3)"]
report:
  description: The fixed-width table (header, separator, one line per workload), then one C(FAIL) line per problem.
  returned: success
  type: list
  elements: str
  sample:
    - "COMPONENT      KIND        NAME           READY  RESTARTS  STATUS"
    - "-------------  ----------  -------------  -----  --------  ------"
    - "agent-manager  Deployment  agent-manager  2/2    0         ok"
summary:
  description: One line, for example C(8/8 workloads healthy, restart counts checked over 10s).
  returned: success
  type: str
  sample: 8/8 workloads healthy, restart counts checked over 10s
window:
  description:
    - Seconds the restart check window actually lasted. This is O(window), or less when waiting and slow API
      calls used up part of the time budget O(wait_timeout) + O(window); RV(summary) then says the window was cut.
  returned: success
  type: float
  sample: 10
window_behind:
  description:
    - Seconds of RV(window) that lay behind when the window began - every running container had been up that
      long without a restart - and so were not watched again. RV(window) minus this was watched.
  returned: success
  type: float
  sample: 10
waited:
  description: Seconds spent waiting for readiness (not counting the check window).
  returned: success
  type: float
  sample: 3.2
selector:
  description: The label selector used.
  returned: success
  type: str
  sample: app.kubernetes.io/instance=kubiya-runner
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kubiya.runners.plugins.module_utils import health, retry, validate
from ansible_collections.kubiya.runners.plugins.module_utils.kube import (
    K8S_AUTH_ARG_SPEC,
    K8S_NUMBERS,
    K8sError,
    KubeClient,
)

# option -> validate.number() rules; 0 means "do not wait" / "skip the restart check"
NUMBERS = dict(
    wait_timeout=dict(allow_zero=True),
    window=dict(allow_zero=True, maximum=3600),
    interval=dict(maximum=3600),
)
NUMBERS.update(K8S_NUMBERS)


def main():
    argument_spec = dict(
        namespace=dict(type='str', required=True),
        release=dict(type='str'),
        label_selector=dict(type='str'),
        expected_components=dict(type='list', elements='str', default=[]),
        wait_timeout=dict(type='float', default=0),
        window=dict(type='float', default=10),
        interval=dict(type='float', default=2),
        fail_on_unhealthy=dict(type='bool', default=True),
    )
    argument_spec.update(K8S_AUTH_ARG_SPEC)
    module = AnsibleModule(
        argument_spec=argument_spec,
        required_one_of=[('release', 'label_selector')],
        supports_check_mode=True,
    )
    try:
        numbers = validate.check_numbers(module.params, NUMBERS)
        # whole seconds read as such in the summary ("over 10s", not "over 10.0s")
        module.params.update((k, int(v) if float(v).is_integer() else v) for k, v in numbers.items())
        validate.dns_label(module.params['namespace'], 'namespace')
        if module.params['release'] is not None:
            validate.helm_release(module.params['release'], 'release')
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    params = module.params
    try:
        # every API call, retries included, ends by wait_timeout + window + request_timeout
        deadline = retry.Deadline(params['wait_timeout'] + params['window'], params['request_timeout'])
        client = KubeClient.from_params(params, deadline=deadline)
        result = health.watch(client, params['namespace'], release=params['release'],
                              label_selector=params['label_selector'],
                              expected_components=params['expected_components'],
                              wait_timeout=params['wait_timeout'], window=params['window'],
                              interval=params['interval'], deadline=deadline)
    except K8sError as exc:
        module.fail_json(msg='runner_health: %s' % exc.msg, status=exc.status)
    if result['problems'] and module.params['fail_on_unhealthy']:
        module.fail_json(msg='runner is not healthy in namespace %s (%s):\n%s'
                         % (module.params['namespace'], result['summary'], '\n'.join(result['report'])),
                         **result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
