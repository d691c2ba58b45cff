# -*- coding: utf-8 -*-
# Copyright: (c) 2025, Kubiya runners platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Health of a runner release, computed from plain Kubernetes object dicts.

:func:`watch` is the module's polling loop (the API client is passed in: anything with
``list_items(path, label_selector=...)``, e.g. kube.KubeClient). The rest does no I/O: :func:`evaluate` takes the Pods, Deployments, StatefulSets and Jobs of a
release (as the API server returns them) and, optionally, the container restart counts
seen at the start of a check window, and returns one entry per component with its
problems. :func:`report_lines` renders the fixed-width table the module prints.

Rules (what "healthy" means, issue 5):
- every Pod that is not Succeeded is Running with condition Ready=True
  (Pods being deleted are skipped; Pods of Jobs may also be Succeeded);
- no Pod is Failed and no Job has the condition Failed=True;
- the restart count of a container does not rise during the check window;
- every Deployment and StatefulSet has its desired replicas updated, ready (and, for
  Deployments, available), and its controller has seen the latest spec.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import calendar
import math
import time

from ansible_collections.kubiya.runners.plugins.module_utils import table
from ansible_collections.kubiya.runners.plugins.module_utils.labels import (  # noqa: F401 (part of this API)
    COMPONENT_LABEL,
    INSTANCE_LABEL,
    NAME_LABEL,
)

TABLE_HEADER = ('COMPONENT', 'KIND', 'NAME', 'READY', 'RESTARTS', 'STATUS')


def _meta(obj):
    return obj.get('metadata') or {}


def _labels(obj):
    return _meta(obj).get('labels') or {}


def _status(obj):
    return obj.get('status') or {}


def _spec(obj):
    return obj.get('spec') or {}


def _owner(obj, kind):
    for ref in _meta(obj).get('ownerReferences') or []:
        if ref.get('kind') == kind:
            return ref.get('name')
    return None


def component_of(obj, fallback=None):
    """Component of an object: its component label, else its name label, else ``fallback`` or its name."""
    labels = _labels(obj)
    for key in (COMPONENT_LABEL, NAME_LABEL):
        if labels.get(key):
            return labels[key]
    return fallback or _meta(obj).get('name') or '?'


def _condition(obj, ctype):
    for cond in _status(obj).get('conditions') or []:
        if cond.get('type') == ctype:
            return cond
    return None


def container_restarts(pod):
    """``{container name: restartCount}`` of a Pod (init containers prefixed with ``init:``)."""
    counts = {}
    status = _status(pod)
    for cs in status.get('containerStatuses') or []:
        counts[cs.get('name')] = int(cs.get('restartCount') or 0)
    for cs in status.get('initContainerStatuses') or []:
        counts['init:%s' % cs.get('name')] = int(cs.get('restartCount') or 0)
    return counts


def _epoch(value):
    """Seconds since the epoch of an API timestamp (RFC 3339, UTC, ``2026-12-01T09:50:00Z``); None if unreadable."""
    try:
        return calendar.timegm(time.strptime(str(value)[:19], '%Y-%m-%dT%H:%M:%S'))
    except (TypeError, ValueError):
        return None


def stable_for(pods, now):
    """Seconds every container of the running Pods has been up without a restart, by the
    Pods' own status: the least ``now - state.running.startedAt`` (and ``now -
    lastState.terminated.finishedAt`` when the kubelet recorded an earlier run). 0 when a
    container is not running, a time is missing, or one lies more than 2 s in the future
    (clocks apart): then nothing is taken as already observed. Pods of Jobs and Pods that
    are not Running are left out (judged by their phase and readiness)."""
    least = None
    for pod in pods:
        if _status(pod).get('phase') != 'Running' or _owner(pod, 'Job'):
            continue
        for cs in _status(pod).get('containerStatuses') or []:
            started = _epoch(((cs.get('state') or {}).get('running') or {}).get('startedAt'))
            if started is None:
                return 0.0
            ages = [now - started]
            finished = ((cs.get('lastState') or {}).get('terminated') or {}).get('finishedAt')
            if finished:
                ages.append(now - (_epoch(finished) or now))
            age = min(ages)
            if age < -2:
                return 0.0
            least = age if least is None else min(least, age)
    return max(0.0, least or 0.0)


def restart_snapshot(pods):
    """``{pod uid or name: {container: restartCount}}`` for the start of a check window."""
    return dict((_pod_key(p), container_restarts(p)) for p in pods)


def _pod_key(pod):
    meta = _meta(pod)
    return meta.get('uid') or meta.get('name')


def _waiting_reasons(pod):
    reasons = []
    status = _status(pod)
    for cs in (status.get('initContainerStatuses') or []) + (status.get('containerStatuses') or []):
        state = cs.get('state') or {}
        if state.get('waiting') and state['waiting'].get('reason'):
            reasons.append('%s: %s' % (cs.get('name'), state['waiting']['reason']))
        elif state.get('terminated') and state['terminated'].get('exitCode'):
            terminated = state['terminated']
            reasons.append('%s: exited %s (%s)' % (cs.get('name'), terminated['exitCode'],
                                                   terminated.get('reason') or 'error'))
        elif not cs.get('ready') and not state.get('terminated'):
            reasons.append('%s: not ready' % cs.get('name'))
    return reasons


def pod_problems(pod, before=None):
    """Problems of one Pod. ``before``: its ``{container: restartCount}`` at the start of the window."""
    name = _meta(pod).get('name')
    status = _status(pod)
    phase = status.get('phase') or 'Unknown'
    problems = []
    if phase == 'Failed':
        detail = status.get('reason') or status.get('message') or ', '.join(_waiting_reasons(pod)) or 'no reason given'
        problems.append('pod %s Failed (%s)' % (name, detail))
    elif phase == 'Succeeded':
        if not _owner(pod, 'Job'):
            problems.append('pod %s Succeeded but is not part of a Job (its containers exited)' % name)
    else:
        ready = _condition(pod, 'Ready')
        if not ready or ready.get('status') != 'True':
            detail = _waiting_reasons(pod)
            scheduled = _condition(pod, 'PodScheduled')
            if scheduled and scheduled.get('status') == 'False':
                detail.insert(0, 'unschedulable: %s' % (scheduled.get('message') or scheduled.get('reason') or '?'))
            problems.append('pod %s not Ready (phase %s%s)' % (name, phase, '; ' + '; '.join(detail) if detail else ''))
    if before is not None:
        now = container_restarts(pod)
        for container in sorted(now):
            if container in before and now[container] > before[container]:
                problems.append('pod %s container %s restarted during the check window (%d -> %d)'
                                % (name, container, before[container], now[container]))
    return problems


def _replicas(obj):
    replicas = _spec(obj).get('replicas')
    return 1 if replicas is None else int(replicas)


def workload_problems(obj):
    """Problems of a Deployment or StatefulSet: desired replicas not updated/ready/available."""
    kind = obj.get('kind')
    name = _meta(obj).get('name')
    status = _status(obj)
    desired = _replicas(obj)
    ready = int(status.get('readyReplicas') or 0)
    updated = int(status.get('updatedReplicas') or 0)
    problems = []
    generation = _meta(obj).get('generation')
    observed = status.get('observedGeneration')
    if generation is not None and (observed is None or int(observed) < int(generation)):
        problems.append('%s %s: controller has not seen generation %s yet (observed %s)'
                        % (kind, name, generation, observed))
    if ready < desired:
        problems.append('%s %s: %d/%d replicas ready' % (kind, name, ready, desired))
    if updated < desired:
        problems.append('%s %s: %d/%d replicas updated to the current spec' % (kind, name, updated, desired))
    if kind == 'Deployment':
        available = int(status.get('availableReplicas') or 0)
        if available < desired <= ready:
            problems.append('%s %s: %d/%d replicas available' % (kind, name, available, desired))
        total = int(status.get('replicas') or 0)
        if total > desired:
            problems.append('%s %s: %d replicas exist, %d desired (rollout in progress)' % (kind, name, total, desired))
        progressing = _condition(obj, 'Progressing')
        if progressing and progressing.get('reason') == 'ProgressDeadlineExceeded':
            problems.append('%s %s: rollout exceeded its progress deadline' % (kind, name))
    elif kind == 'StatefulSet':
        current = status.get('currentRevision')
        update = status.get('updateRevision')
        strategy = (_spec(obj).get('updateStrategy') or {}).get('type', 'RollingUpdate')
        if strategy == 'RollingUpdate' and current and update and current != update:
            problems.append('%s %s: rollout to revision %s not finished (current %s)' % (kind, name, update, current))
    return problems


def job_problems(job):
    name = _meta(job).get('name')
    failed = _condition(job, 'Failed')
    if failed and failed.get('status') == 'True':
        return ['Job %s Failed (%s)' % (name, failed.get('reason') or failed.get('message') or 'no reason given')]
    return []


def _workload_ready(obj):
    status = _status(obj)
    return '%d/%d' % (int(status.get('readyReplicas') or 0), _replicas(obj))


def _pod_component(pod, workloads_by_name, replicasets):
    """Component of a Pod: its labels, else the labels of its owning workload."""
    labels = _labels(pod)
    if labels.get(COMPONENT_LABEL) or labels.get(NAME_LABEL):
        return component_of(pod)
    owner = _owner(pod, 'ReplicaSet')
    if owner:
        deploy = replicasets.get(owner)
        if deploy and deploy in workloads_by_name:
            return component_of(workloads_by_name[deploy])
    for kind in ('StatefulSet', 'Job'):
        owner = _owner(pod, kind)
        if owner and owner in workloads_by_name:
            return component_of(workloads_by_name[owner])
    return component_of(pod)


def evaluate(pods, deployments=(), statefulsets=(), jobs=(), restarts_before=None, cronjobs=()):
    """Health of a release. Returns ``(components, problems)``.

    ``components``: list of dicts sorted by component then kind/name, one per workload
    (Deployment, StatefulSet, Job) plus one per Pod that belongs to none of them, each with
    ``component, kind, name, ready, restarts, healthy, problems``.
    ``problems``: every problem, prefixed with its component.
    ``restarts_before``: :func:`restart_snapshot` taken at the start of the check window;
    ``None`` skips the restart check.
    ``cronjobs``: listed for the report (their Jobs are judged as Jobs).
    """
    pods = [p for p in pods if not _meta(p).get('deletionTimestamp')]
    workloads = [dict(w, kind=w.get('kind') or 'Deployment') for w in deployments]
    workloads += [dict(w, kind=w.get('kind') or 'StatefulSet') for w in statefulsets]
    workloads += [dict(w, kind=w.get('kind') or 'Job') for w in jobs]
    by_name = dict((_meta(w).get('name'), w) for w in workloads)
    # ReplicaSet name -> Deployment name: pod-template-hash suffix
    replicasets = {}
    for pod in pods:
        owner = _owner(pod, 'ReplicaSet')
        if owner and '-' in owner:
            replicasets[owner] = owner.rsplit('-', 1)[0]

    entries = {}
    for w in workloads:
        key = (w['kind'], _meta(w).get('name'))
        if w['kind'] == 'Job':
            problems = job_problems(w)
            status = _status(w)
            ready = 'done' if int(status.get('succeeded') or 0) > 0 else ('%d active' % int(status.get('active') or 0))
        else:
            problems = workload_problems(w)
            ready = _workload_ready(w)
        entries[key] = dict(component=component_of(w), kind=w['kind'], name=key[1], ready=ready,
                            restarts=0, problems=problems)

    for cj in cronjobs:
        status = _status(cj)
        if _spec(cj).get('suspend'):
            ready = 'suspended'
        elif status.get('lastScheduleTime'):
            ready = 'last %s' % status['lastScheduleTime']
        else:
            ready = 'not run yet'
        name = _meta(cj).get('name')
        entries[('CronJob', name)] = dict(component=component_of(cj), kind='CronJob', name=name, ready=ready,
                                          restarts=0, problems=[])

    for pod in pods:
        before = None
        if restarts_before is not None:
            before = restarts_before.get(_pod_key(pod))
        problems = pod_problems(pod, before)
        restarts = sum(container_restarts(pod).values())
        owner_key = None
        rs = _owner(pod, 'ReplicaSet')
        if rs and ('Deployment', replicasets.get(rs)) in entries:
            owner_key = ('Deployment', replicasets[rs])
        for kind in ('StatefulSet', 'Job'):
            name = _owner(pod, kind)
            if name and (kind, name) in entries:
                owner_key = (kind, name)
        if owner_key:
            entry = entries[owner_key]
            entry['restarts'] += restarts
            entry['problems'].extend(problems)
        else:
            ready_cond = _condition(pod, 'Ready')
            entries[('Pod', _meta(pod).get('name'))] = dict(
                component=_pod_component(pod, by_name, replicasets), kind='Pod', name=_meta(pod).get('name'),
                ready='1/1' if ready_cond and ready_cond.get('status') == 'True' else '0/1',
                restarts=restarts, problems=problems)

    components = sorted(entries.values(), key=lambda e: (e['component'], e['kind'], e['name']))
    problems = []
    for entry in components:
        entry['healthy'] = not entry['problems']
        problems.extend('%s: %s' % (entry['component'], p) for p in entry['problems'])
    return components, problems


def is_settled(pods, deployments=(), statefulsets=()):
    """Whether waiting longer can no longer change the verdict.

    True when no Pod is merely not Ready yet and every Deployment/StatefulSet has its
    replicas. Failed Pods and Jobs do not heal by waiting, so they do not keep a wait going.
    """
    for pod in pods:
        if _meta(pod).get('deletionTimestamp'):
            return False  # a rollout is still replacing it
        phase = _status(pod).get('phase')
        if phase in ('Failed', 'Succeeded'):
            continue
        ready = _condition(pod, 'Ready')
        if not ready or ready.get('status') != 'True':
            return False
    for obj in list(deployments) + list(statefulsets):
        if workload_problems(obj):
            return False
    return True


def report_lines(components, problems=None):
    """Fixed-width table of the components, then one line per problem."""
    lines = table.render(TABLE_HEADER, [(e['component'], e['kind'], e['name'], e['ready'], e['restarts'],
                                         'ok' if e['healthy'] else 'FAIL') for e in components])
    if not components:
        lines.append('(no Pods, Deployments, StatefulSets, Jobs or CronJobs found)')
    for problem in problems or []:
        lines.append('FAIL %s' % problem)
    return lines


def summarize(components, problems, window, requested_window=None, behind=0):
    """One line; ``requested_window``: the configured window when ``window`` (the one
    observed) was cut short, so the line says so; ``behind``: seconds of it that every
    container had already been up without a restart when the check began."""
    total = len(components)
    healthy = sum(1 for e in components if e['healthy'])
    text = '%d/%d workloads healthy' % (healthy, total)
    if window or requested_window:
        text += ', restart counts checked over %ss' % window
        if behind:
            text += ' (%ss of it before this check: every container up that long)' % behind
    if requested_window is not None and requested_window != window:
        text += (' (window cut from %ss: waiting and API calls used up the time budget'
                 ' wait_timeout + window)' % requested_window)
    if problems:
        text += ', %d problem(s)' % len(problems)
    return text


# kind, apiVersion, plural of the objects a release is judged by
KINDS = (
    ('Pod', 'v1', 'pods'),
    ('Deployment', 'apps/v1', 'deployments'),
    ('StatefulSet', 'apps/v1', 'statefulsets'),
    ('Job', 'batch/v1', 'jobs'),
    ('CronJob', 'batch/v1', 'cronjobs'),
)


def _collection_path(api_version, plural, namespace):
    prefix = '/api/%s' % api_version if '/' not in api_version else '/apis/%s' % api_version
    return '%s/namespaces/%s/%s' % (prefix, namespace, plural)


def fetch(client, namespace, selector):
    """``{kind: [objects]}`` of the release; list items get their ``kind`` back."""
    found = {}
    for kind, version, plural in KINDS:
        items = client.list_items(_collection_path(version, plural, namespace), label_selector=selector)
        for item in items:
            item.setdefault('kind', kind)
        found[kind] = items
    return found


def watch(client, namespace, release=None, label_selector=None, expected_components=(), wait_timeout=0,
          window=10, interval=2, deadline=None, clock=time.monotonic, sleep=time.sleep, wall=time.time):
    """Wait up to ``wait_timeout`` s for the release to settle, watch restart counts for
    ``window`` s, judge it: the runner_health module's result (without ``failed``).

    The part of the window that lies behind already is not waited for again: when every
    running container has been up for ``stable_for`` seconds without a restart (its own
    status says so), only the rest of the window is watched - none for a runner that has
    been running unchanged (a re-run), the rest for pods started moments ago.

    ``deadline`` (a retry.Deadline over wait_timeout + window): when slow API calls of the
    wait phase used part of the window's time, the window shrinks to what is left, so the
    documented bound wait_timeout + window + request_timeout holds.
    """
    selector = label_selector or '%s=%s' % (INSTANCE_LABEL, release)
    started = clock()
    ends = started + max(0, wait_timeout)
    found = fetch(client, namespace, selector)
    while wait_timeout > 0 and clock() < ends:
        if found['Pod'] and is_settled(found['Pod'], found['Deployment'], found['StatefulSet']):
            break
        sleep(min(interval, max(0.0, ends - clock())))
        found = fetch(client, namespace, selector)
    waited = round(clock() - started, 1)

    before = None
    requested_window = window
    behind = 0.0
    if window > 0:
        before = restart_snapshot(found['Pod'])
        behind = round(min(window, stable_for(found['Pod'], wall())), 1)
        watched = window - behind
        if deadline is not None and deadline.remaining() < watched:
            watched = max(0.0, math.floor(deadline.remaining() * 10) / 10)
            window = behind + watched
        if watched > 0:
            sleep(watched)
            found = fetch(client, namespace, selector)

    components, problems = evaluate(found['Pod'], found['Deployment'], found['StatefulSet'],
                                    found['Job'], restarts_before=before, cronjobs=found['CronJob'])
    present = set(entry['component'] for entry in components)
    for name in expected_components:
        if name not in present:
            problems.append('%s: no Pod, Deployment, StatefulSet, Job or CronJob of this component (selector %s)'
                            % (name, selector))
    if not components:
        problems.append('no Pod, Deployment, StatefulSet, Job or CronJob matches %s in namespace %s' % (selector, namespace))
    return dict(
        changed=False,
        healthy=not problems,
        components=components,
        problems=problems,
        report=report_lines(components, problems),
        summary=summarize(components, problems, window,
                          requested_window=requested_window if window != requested_window else None, behind=behind),
        waited=waited,
        window=window,
        window_behind=behind,
        selector=selector,
    )
