# -*- coding: utf-8 -*-
# Copyright: (c) 2025, Kubiya runners platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The deploy lock: a ``coordination.k8s.io/v1`` Lease, taken, renewed and released (deploy_lock module).

Taking it is a server-side apply with a field manager of this run and no force: it creates the
lease, or conflicts (409) when the lease exists - another manager owns its holderIdentity - so of
two concurrent takes exactly one succeeds and a free lock costs one request. Only then is the
lease read: held by another run and not expired, this run does not get it; expired (or with no
holder), it is taken over with ``force`` and the resourceVersion that was read as a precondition
(of two concurrent takeovers exactly one succeeds) and read back: whoever is not named in it does
not hold the lock. Renewing and releasing carry the resourceVersion this run last wrote, so a run
that outlived its lease never touches the lease of the run that took it over.

A lease that names no holder counts as free whatever its renewTime (Kubernetes leader election
writes an empty holder to give a lease up). ``holder_of``, ``expired``, ``free``, ``parse_time``,
``body`` are pure; ``take``, ``peek``, ``renew``,
``release`` get the client (a kube.KubeClient) passed in.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import re

from ansible_collections.kubiya.runners.plugins.module_utils.kube import K8sError, api_path

# an answer that says the request itself was wrong: nothing to read or retry, the caller stops
DEFINITE = (400, 401, 403, 404, 405, 415, 422)

_TIME = re.compile(r'^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})\Z')


def now_utc():
    return datetime.datetime.now(datetime.timezone.utc)


def micro_time(moment):
    """A Kubernetes MicroTime: RFC 3339 with microseconds, in UTC."""
    return moment.astimezone(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%S.%fZ')


def parse_time(text):
    """An aware datetime of an RFC 3339 time (fractions up to nanoseconds), or None."""
    match = _TIME.match(str(text or ''))
    if not match:
        return None
    base, fraction, zone = match.groups()
    micro = int(((fraction or '.')[1:] + '000000')[:6])
    offset = datetime.timedelta(0)
    if zone != 'Z':
        sign = 1 if zone[0] == '+' else -1
        offset = sign * datetime.timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
    try:
        moment = datetime.datetime.strptime(base, '%Y-%m-%dT%H:%M:%S').replace(microsecond=micro)
        return moment.replace(tzinfo=datetime.timezone(offset))
    except ValueError:  # no such date, or an offset of a day or more
        return None


def holder_of(lease):
    return str(((lease or {}).get('spec') or {}).get('holderIdentity') or '')


def expired(lease, now):
    """Whether the lease ran out: more than leaseDurationSeconds since its renewTime. A lease
    without a readable renewTime never expires here (it is never taken over on a guess)."""
    spec = (lease or {}).get('spec') or {}
    renewed = parse_time(spec.get('renewTime'))
    if renewed is None:
        return False
    try:
        seconds = int(spec.get('leaseDurationSeconds') or 0)
    except (TypeError, ValueError):
        seconds = 0
    return (now - renewed).total_seconds() > seconds


def free(lease, now):
    """Whether a lease held by someone else may be taken: expired, or naming no holder."""
    return holder_of(lease) == '' or expired(lease, now)


def view(lease):
    """What a caller needs of a lease (never its managed fields)."""
    if not lease:
        return {}
    spec = lease.get('spec') or {}
    return dict(holder=holder_of(lease), resource_version=str((lease.get('metadata') or {}).get('resourceVersion') or ''),
                acquire_time=str(spec.get('acquireTime') or ''), renew_time=str(spec.get('renewTime') or ''),
                duration=spec.get('leaseDurationSeconds'))


def body(name, namespace, labels, holder, seconds, acquired, renewed, resource_version=None):
    metadata = dict(name=name, namespace=namespace, labels=dict(labels or {}))
    if resource_version:
        metadata['resourceVersion'] = resource_version
    return dict(apiVersion='coordination.k8s.io/v1', kind='Lease', metadata=metadata,
                spec=dict(holderIdentity=holder, leaseDurationSeconds=int(seconds), acquireTime=acquired,
                          renewTime=renewed))


def path_of(namespace, name):
    return api_path('coordination.k8s.io/v1', 'leases', namespace, name)


def _apply(client, lease, field_manager, force):
    meta = lease['metadata']
    # a dict: every kubernetes client from 29 on sends it as JSON (which is YAML) for this media
    # type; text would be encoded a second time by clients 29 to 36 (a JSON string, HTTP 400)
    return client.request('PATCH', path_of(meta['namespace'], meta['name']), body=lease,
                          query={'fieldManager': field_manager, 'force': 'true' if force else 'false'},
                          content_type='application/apply-patch+yaml', retry=False)


def peek(client, namespace, name):
    """The lease, or None when there is none (other errors raise K8sError)."""
    try:
        return client.get(path_of(namespace, name))
    except K8sError as exc:
        if exc.status == 404:
            return None
        raise


def take(client, namespace, name, labels, holder, field_manager, seconds, now=None):
    """Take the lease; ``{held, outcome, lease, other, error}``.

    outcome: ``taken`` (it was free), ``mine`` (an earlier answer of this run was lost: the lease
    names this holder already), ``taken_over`` (it had expired or named no holder), ``held``
    (another run holds it and it has not expired: ``other`` says who and since when) or
    ``lost_race`` (another run took it at the same moment). A definite refusal (403 forbidden,
    404 no namespace, 422 invalid...) raises K8sError: nothing is assumed.
    """
    now = now or now_utc()
    stamp = micro_time(now)
    error = ''
    try:
        got = _apply(client, body(name, namespace, labels, holder, seconds, stamp, stamp), field_manager, False)
        if holder_of(got) == holder:
            return dict(held=True, outcome='taken', lease=got, other={}, error='')
        error = 'the lease names holder "%s"' % holder_of(got)
    except K8sError as exc:
        if exc.status in DEFINITE:
            raise
        error = str(exc)  # 409: it exists; else the answer was lost (timeout, 5xx): read it
    current = peek(client, namespace, name)
    if current is not None and holder_of(current) == holder:
        return dict(held=True, outcome='mine', lease=current, other={}, error='')
    if current is not None and not free(current, now):
        return dict(held=False, outcome='held', lease={}, other=current, error=error)
    # gone since the conflict (created again, no precondition) or free (taken over with force,
    # the resourceVersion read as a precondition: of two takeovers, one succeeds)
    version = ((current or {}).get('metadata') or {}).get('resourceVersion')
    try:
        _apply(client, body(name, namespace, labels, holder, seconds, stamp, stamp, resource_version=version),
               field_manager, current is not None)
        error = ''
    except K8sError as exc:
        if exc.status in DEFINITE and exc.status != 409:
            raise
        error = str(exc)
    back = peek(client, namespace, name)
    if back is not None and holder_of(back) == holder:
        return dict(held=True, outcome='taken_over', lease=back, other=current or {}, error='')
    return dict(held=False, outcome='lost_race', lease={}, other=back or {}, error=error)


def renew(client, namespace, name, labels, holder, field_manager, seconds, acquired, resource_version, now=None):
    """Renew the lease this run holds, with the resourceVersion it last wrote as a precondition;
    ``{held, lease, error}``: held false when another run took it over or it is gone (409). A
    lost answer (timeout, 5xx) is read back: the lease naming this run with a newer
    resourceVersion is the renewal that landed; unchanged, the renewal is sent once more. A
    definite refusal (403...) raises K8sError."""
    lease = body(name, namespace, labels, holder, seconds, acquired, micro_time(now or now_utc()),
                 resource_version=resource_version)
    for attempt in (1, 2):
        try:
            got = _apply(client, lease, field_manager, False)
            break
        except K8sError as exc:
            if exc.status == 409:
                return dict(held=False, lease={}, error=str(exc))
            if exc.status in DEFINITE or attempt == 2:
                raise
            current = peek(client, namespace, name)
            if current is None:
                return dict(held=False, lease={}, error='the lease is gone (%s)' % exc)
            version = str((current.get('metadata') or {}).get('resourceVersion') or '')
            if holder_of(current) != holder:
                return dict(held=False, lease={}, error='the lease names holder "%s"' % holder_of(current))
            if version != str(resource_version):
                return dict(held=True, lease=current, error='')  # the renewal landed; its answer was lost
    if holder_of(got) != holder:
        return dict(held=False, lease={}, error='the lease names holder "%s"' % holder_of(got))
    return dict(held=True, lease=got, error='')


def release(client, namespace, name, resource_version):
    """Delete the lease if it is still the one this run wrote (resourceVersion precondition);
    True when deleted, False when it was gone or another run's (404, 409)."""
    try:
        # retried on a lost answer: a repeated delete with the precondition is a 404 or 409
        client.request('DELETE', path_of(namespace, name), retry=True,
                       body={'kind': 'DeleteOptions', 'apiVersion': 'v1',
                             'preconditions': {'resourceVersion': resource_version}})
    except K8sError as exc:
        if exc.status in (404, 409):
            return False
        raise
    return True
