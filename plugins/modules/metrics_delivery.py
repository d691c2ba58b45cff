#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2025, Kubiya runners platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: metrics_delivery
short_description: Prove that a runner's metrics arrive in the central Prometheus, fresh and labelled
version_added: 0.1.0
description:
  - Runs PromQL checks against a Prometheus HTTP API (Prometheus, Azure Monitor workspace, or any
    compatible endpoint) and waits until each check passes or O(deadline) is reached.
  - A check passes when its query returns at least O(checks[].min_series) series, every series
    carries each label in O(checks[].required_labels), and every underlying series has a sample
    no older than O(checks[].max_age) seconds.
  - Every query is restricted to one runner by adding label matchers (O(runner),
    O(organization), O(match_labels)) to each of its vector selectors.
  - Every query names a metric, as Azure Monitor workspaces require. PromQL in which a selector
    has no metric name (for example C({job="x"})) is refused before anything is sent.
  - Fails with a reason to act on; no data, stale data with the measured age, a missing label by
    name, too few series, an authentication failure with the HTTP status and the token endpoint's
    C(error) and C(error_description), or a connection failure (refused, timed out).
  - Credentials that are refused stop the module at once; connection failures and failing
    checks are retried every O(poll_interval) seconds until O(deadline). Answers HTTP 429 and
    5xx are retried with exponential backoff and jitter, honouring C(Retry-After) (at most 30s),
    while the deadline allows.
  - The module returns within O(deadline) + O(timeout) seconds, even against a server that
    answers one byte at a time; every request, from connect to the last byte, is cut to what
    is left of that budget.
  - Answers larger than 10 MiB (Prometheus) or 1 MiB (token endpoint) are refused.
  - Credentials only go to the origin they were configured for. Only C(https://) URLs are
    accepted for O(url), O(token_url) and O(authority_url) (C(http://) only with
    O(allow_http=true) and only to a loopback host); redirects are never followed, a 3xx answer is an error naming its
    target host.
  - Every time and count option is checked before anything is sent; NaN, infinity, negative
    values, zero (where zero has no documented meaning) and values above their maximum are
    refused with a message naming the option.
  - Read-only; runs the same way in check mode.
author:
  - Kubiya runners platform team (@kubiya-runners)
extends_documentation_fragment:
  - kubiya.runners.prometheus
attributes:
  check_mode:
    support: full
    description: The module only reads; it runs its queries in check mode too.
  diff_mode:
    support: none
    description: Nothing is changed, so there is no diff.
options:
  runner:
    description:
      - Runner name; adds the matcher O(runner_label)=O(runner) to every selector.
    type: str
  organization:
    description:
      - Organization name; adds the matcher O(organization_label)=O(organization) to every selector.
    type: str
  runner_label:
    description:
      - Label that carries the runner name on the delivered series.
    type: str
    default: runner
  organization_label:
    description:
      - Label that carries the organization name on the delivered series.
    type: str
    default: organization
  match_labels:
    description:
      - More label matchers (label name to exact value) added to every selector, for example
        C(namespace="kubiya") from a dictionary with the key V(namespace) and value V(kubiya).
      - A selector that already constrains a label keeps its own matcher for it.
    type: dict
    default: {}
  checks:
    description:
      - The checks to run. Each needs O(checks[].name) and exactly one of O(checks[].metric) or
        O(checks[].promql).
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description:
          - Name of the check, shown in the report.
        type: str
        required: true
      metric:
        description:
          - A metric selector, C(up) or C(up{job="alloy"}). The check looks at its series.
        type: str
      promql:
        description:
          - A PromQL expression; the check looks at the series it returns. Every vector selector
            in it must name a metric. Freshness is measured on the series of its selectors.
        type: str
      required_labels:
        description:
          - Labels that every returned series must carry with a non-empty value.
        type: list
        elements: str
        default: []
      min_series:
        description:
          - Minimum number of series the query must return, a whole number from V(1) to V(1000000).
          - Typed C(float) only so that C(.inf) is refused with a clear message (ansible-core's
            C(int) conversion crashes on it).
        type: float
        default: 1
      max_age:
        description:
          - Maximum age in seconds of the newest sample of each series. Defaults to O(max_age).
          - Must be above the collector's scrape interval plus its remote-write delay.
          - Above 0, at most 86400.
        type: float
  max_age:
    description:
      - Default O(checks[].max_age) in seconds (above 0, at most 86400).
    type: float
    default: 300
  history_window:
    description:
      - When a check finds no sample recent enough for an instant query (the server's lookback,
        5 minutes by default), look this many seconds back for the newest sample, to tell
        V(stale) (data stopped arriving, with its age) from V(no_data). V(0) does not look back.
      - A whole number of seconds, at most 604800 (7 days).
    type: float
    default: 3600
  deadline:
    description:
      - Seconds to keep polling until every check passes. V(0) runs the checks once.
      - The module returns within O(deadline) + O(timeout) seconds. At most 86400.
    type: float
    default: 60
  poll_interval:
    description:
      - Seconds between two rounds of checks (above 0, at most 3600).
    type: float
    default: 5
  remote_write:
    description:
      - The runner's own remote-write destination and credentials. When given, the module
        first gets a client-credentials token with them and sends an empty remote-write
        request (no series) to O(remote_write.url), before any check.
      - HTTP 401 or 403 from the token endpoint or the write endpoint fails the module at once
        with a message naming the status and the endpoint's error text (for Azure, a principal
        without Monitoring Metrics Publisher on the data collection rule answers 403); the
        checks are then run once, for the report. Any other answer counts as accepted
        credentials (an endpoint may answer 400 to an empty request); a network failure is
        reported in RV(remote_write) and the report but does not fail the module by itself.
      - TLS is always verified; O(allow_http) applies as for O(url). Proxies come from the
        environment (C(HTTPS_PROXY)), as for every request of the module.
    type: dict
    suboptions:
      url:
        description:
          - The remote-write URL the runner's collector uses (for Azure the data collection
            endpoint's ingestion URL with the rule's immutable id).
        type: str
        required: true
      token_url:
        description:
          - The OAuth2 token endpoint the collector uses.
        type: str
        required: true
      client_id:
        description:
          - The collector's client id.
        type: str
        required: true
      client_secret:
        description:
          - The collector's client secret.
        type: str
        required: true
      scope:
        description:
          - Scope of the token request.
        type: str
        default: https://monitor.azure.com/.default
      ca_path:
        description:
          - The CA bundle that verifies the token endpoint and the write endpoint (instead of the
            system CAs).
        type: path
notes:
  - HTTP goes through Ansible's own C(ansible.module_utils.urls); no other library is needed on
    the host that runs it (usually C(localhost)).
seealso:
  - name: Query Prometheus metrics in Azure Monitor
    description: Query endpoint and authentication of Azure Monitor workspaces.
    link: https://learn.microsoft.com/azure/azure-monitor/essentials/prometheus-api-promql
"""

EXAMPLES = r"""
- name: Prove that the runner's metrics reach Azure Managed Prometheus
  kubiya.runners.metrics_delivery:
    url: "https://kubiya-prod-abcd.westeurope.prometheus.monitor.azure.com"
    auth_type: azure
    tenant_id: "{{ azure_tenant_id }}"
    client_id: "{{ azure_reader_client_id }}"
    client_secret: "{{ vault_azure_reader_client_secret }}"
    runner: "{{ runner_name }}"
    organization: "{{ organization_name }}"
    deadline: 300
    poll_interval: 15
    max_age: 180
    checks:
      - name: components up
        metric: up
        required_labels: [namespace, component, pod]
        min_series: 3
      - name: kube-state-metrics pod readiness
        promql: kube_pod_status_ready{condition="true"} == 1
        required_labels: [pod]
      - name: collector remote write healthy
        promql: rate(prometheus_remote_storage_samples_failed_total[5m]) == 0
  register: delivery

- name: Show the table
  ansible.builtin.debug:
    var: delivery.report

- name: Generic Prometheus behind an OAuth2 proxy
  kubiya.runners.metrics_delivery:
    url: https://prometheus.example.com
    auth_type: oauth2
    token_url: https://idp.example.com/oauth2/token
    client_id: metrics-verifier
    client_secret: "{{ vault_verifier_secret }}"
    scope: metrics.read
    # Prometheus has a self-signed certificate; the token endpoint stays verified
    validate_certs: false
    token_validate_certs: true
    runner: runner-a
    checks:
      - name: agent-manager scraped
        metric: up{component="agent-manager"}
        max_age: 120

- name: Prometheus with basic auth and a private CA, one pass, no waiting
  kubiya.runners.metrics_delivery:
    url: https://prometheus.monitoring:9090
    ca_path: /etc/ssl/private-ca.pem
    auth_type: basic
    username: reader
    password: "{{ vault_prometheus_password }}"
    runner: runner-a
    deadline: 0
    checks:
      - name: anything from the runner
        metric: up
"""

RETURN = r"""
checks:
  description: One entry per check, in the order given.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Name of the check.
      type: str
      sample: components up
    status:
      description: V(ok), V(no_data), V(stale), V(missing_labels), V(too_few_series) or V(error).
      type: str
      sample: stale
    reason:
      description: Why the check failed, empty when it passed.
      type: str
      sample: "stale: 3 of 3 series older than max_age 2m00s (oldest 6m10s, newest 6m02s)"
    query:
      description: The scoped PromQL that was sent.
      type: str
      sample: timestamp(up{organization="acme", runner="runner-a"})
    series:
      description: Number of series the query returned; null when it could not run.
      type: int
      sample: 3
    min_series:
      description: Minimum number of series expected.
      type: int
      sample: 1
    max_age:
      description: Maximum sample age allowed, seconds.
      type: float
      sample: 120.0
    oldest_age:
      description: Age in seconds of the stalest series' newest sample.
      type: float
      sample: 12.4
    newest_age:
      description: Age in seconds of the most recent sample.
      type: float
      sample: 2.1
    stale_series:
      description: Number of series older than O(checks[].max_age).
      type: int
      sample: 0
    missing_labels:
      description: Required label name to the number of series that lack it.
      type: dict
      sample: {component: 2}
    example:
      description: Labels of one series that lacks a required label.
      type: dict
      sample: {job: alloy, runner: runner-a}
report:
  description: The per-check table, one line per entry, header first.
  returned: always
  type: list
  elements: str
  sample:
    - "metrics_delivery https://prom.example.com runner=runner-a: 2 of 2 checks passed after 1 attempt in 0.3s"
    - "CHECK          STATUS  SERIES  AGE  MAX AGE  DETAIL"
    - "components up  ok      3/3     14s  2m00s"
attempts:
  description: Rounds of checks run.
  returned: always
  type: int
  sample: 1
elapsed:
  description: Seconds spent.
  returned: always
  type: float
  sample: 0.31
remote_write:
  description: The result of the empty remote-write request, when O(remote_write) was given.
  returned: when O(remote_write) is given
  type: dict
  contains:
    url:
      description: The remote-write URL without its query string.
      type: str
    status:
      description: HTTP status of the token endpoint (when it refused) or of the write endpoint; null when none answered.
      type: int
      sample: 403
    refused:
      description: Whether the runner's credentials were refused (401/403 or an OAuth2 error).
      type: bool
    reason:
      description: Why, empty when the write was accepted.
      type: str
msg:
  description: Summary, with the reason of every failing check.
  returned: always
  type: str
  sample: "1 of 2 checks passed after 5 attempts in 60.2s; failing: components up: no data: ..."
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kubiya.runners.plugins.module_utils import delivery, validate, writeprobe
from ansible_collections.kubiya.runners.plugins.module_utils.prometheus import (
    PROMETHEUS_ARGUMENT_SPEC, PROMETHEUS_NUMBERS, PROMETHEUS_REQUIRED_IF, PrometheusClient)

CHECK_SPEC = dict(
    name=dict(type="str", required=True),
    metric=dict(type="str"),
    promql=dict(type="str"),
    required_labels=dict(type="list", elements="str", default=[]),
    min_series=dict(type="float", default=1),
    max_age=dict(type="float"),
)


def argument_spec():
    spec = dict(PROMETHEUS_ARGUMENT_SPEC)
    spec.update(
        runner=dict(type="str"),
        organization=dict(type="str"),
        runner_label=dict(type="str", default="runner"),
        organization_label=dict(type="str", default="organization"),
        match_labels=dict(type="dict", default={}),
        checks=dict(type="list", elements="dict", required=True, options=CHECK_SPEC,
                    mutually_exclusive=[["metric", "promql"]],
                    required_one_of=[["metric", "promql"]]),
        max_age=dict(type="float", default=300),
        history_window=dict(type="float", default=3600),
        deadline=dict(type="float", default=60),
        poll_interval=dict(type="float", default=5),
        remote_write=dict(type="dict", options=writeprobe.REMOTE_WRITE_SPEC),
    )
    return spec


def main():
    module = AnsibleModule(argument_spec=argument_spec(), required_if=PROMETHEUS_REQUIRED_IF,
                           supports_check_mode=True)
    p = module.params
    try:
        rules = dict(PROMETHEUS_NUMBERS)
        rules.update(delivery.DELIVERY_NUMBERS)
        p.update(validate.check_numbers(p, rules))
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    if not p["checks"]:
        module.fail_json(msg="checks is empty: give at least one check")
    try:
        matchers = delivery.scope_matchers(p["runner"], p["organization"], p["runner_label"],
                                           p["organization_label"], p["match_labels"])
        checks = [delivery.build_check(c, matchers, p["max_age"]) for c in p["checks"]]
        client = PrometheusClient.from_params(p)
        if p["remote_write"]:
            writeprobe.check(p["remote_write"], bool(p["allow_http"]))
    except ValueError as exc:
        module.fail_json(msg=str(exc))

    probe = None
    if p["remote_write"]:
        probe = writeprobe.probe(p["remote_write"], p["timeout"], bool(p["allow_http"]))
    deadline = 0 if probe and probe["refused"] else p["deadline"]
    outcome = delivery.run(client, checks, deadline, p["poll_interval"], p["history_window"])
    if probe and probe["refused"]:
        outcome["fatal"] = "%s; %s" % (probe["reason"], outcome["fatal"] or delivery.summary(
            outcome["results"], outcome["attempts"], outcome["elapsed"]))
    results = outcome["results"]
    scope = " ".join("%s=%s" % kv for kv in sorted(matchers.items()))
    summary = outcome["fatal"] or delivery.summary(results, outcome["attempts"],
                                                   outcome["elapsed"])
    header = "metrics_delivery %s %s: %s" % (client.url, scope or "(no runner scope)",
                                             delivery.summary(results, outcome["attempts"],
                                                              outcome["elapsed"]).split(";")[0])
    ret = dict(changed=False, checks=results, attempts=outcome["attempts"],
               elapsed=round(outcome["elapsed"], 3),
               report=delivery.render_report(results, header))
    if probe:
        ret["remote_write"] = probe
        ret["report"].insert(1, "remote write %s: %s" % (probe["url"], probe["reason"] or "accepted (HTTP %s)" % probe["status"]))
    if outcome["fatal"] or any(r["status"] != delivery.OK for r in results):
        module.fail_json(msg=summary, **ret)
    module.exit_json(msg=summary, **ret)


if __name__ == "__main__":
    main()
