# -*- coding: utf-8 -*-
# Copyright: (c) 2025, Kubiya runners platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The state of a Helm release from two independent reads, never guessed (release_state module).

``judge`` is pure: helm's own view (``helm list --all --filter``: plain ``helm list`` hides
pending-install/-upgrade/-rollback releases) and helm's release records (the Secrets
``owner=helm,name=<release>``, one per revision, labelled with status and version) in, the
state out. The roles' guard stops on anything but absent/deployed/failed/superseded/uninstalled.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# states whose latest revision has values worth reading (the verification's computed values)
HAS_VALUES = ('deployed', 'failed')

KNOWN = ('deployed', 'failed', 'superseded', 'uninstalled', 'uninstalling',
         'pending-install', 'pending-upgrade', 'pending-rollback')


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def cut(text, limit=400):
    text = ' '.join(str(text).split())
    return text if len(text) <= limit else text[:limit - 3] + '...'


def judge(helm_release, helm_error, records, records_error):
    """``{state, revision, last_good, reason}``.

    ``helm_release``: the release's entry of ``helm list --all -o json`` (None: not listed);
    ``records``: the release-record Secrets (their labels ``status``, ``version`` are read);
    ``*_error``: why a read failed ('' or None: it did not).

      absent      helm lists no release AND no release record exists (certain)
      <status>    as helm reports the latest revision (unknown for a status helm does not document)
      unreadable  a read failed, or the two views disagree (``reason`` says why)
    """
    latest, latest_status, good, superseded = 0, '', 0, 0
    for item in records or []:
        labels = (item.get('metadata') or {}).get('labels') or {}
        version, status = _int(labels.get('version')), labels.get('status') or ''
        if version > latest:
            latest, latest_status = version, status
        if status == 'deployed' and version > good:
            good = version
        if status == 'superseded' and version > superseded:
            superseded = version
    last_good = good or superseded
    if helm_error:
        return dict(state='unreadable', revision=latest, last_good=last_good, reason='helm: %s' % cut(helm_error))
    if records_error:
        return dict(state='unreadable', revision=latest, last_good=last_good,
                    reason='reading its release records (Secrets owner=helm): %s' % cut(records_error))
    if helm_release is not None:
        status = str(helm_release.get('status') or 'unknown')
        return dict(state=status if status in KNOWN else 'unknown',
                    revision=_int(helm_release.get('revision')) or latest,
                    last_good=last_good, reason='helm reports %s' % status)
    if latest > 0:
        return dict(state='unreadable', revision=latest, last_good=last_good,
                    reason='helm lists no release, but its release record revision %d (%s) exists'
                           % (latest, latest_status))
    return dict(state='absent', revision=0, last_good=0, reason='no release and no release record')


def find_listed(listing, name):
    """The entry of release ``name`` in ``helm list -o json`` output (a list), or None."""
    for entry in listing or []:
        if isinstance(entry, dict) and entry.get('name') == name:
            return entry
    return None


def judge_namespace(namespace, error, name):
    """The state when the namespace alone decides it, else None (read the release).

    ``namespace``: the Namespace object (None: it does not exist, the API server said 404);
    ``error``: why reading it failed ('' or None: it did not). helm keeps a release's records in
    its namespace: no namespace, no release (certain); an unreadable namespace, nothing certain.
    """
    if error:
        return dict(state='unreadable', revision=0, last_good=0,
                    reason='reading namespace %s: %s' % (name, cut(error)))
    if namespace is None:
        return dict(state='absent', revision=0, last_good=0, reason='namespace %s does not exist' % name)
    return None


def namespace_view(namespace):
    """``{namespace_exists, namespace_labels, namespace_uid}`` of a Namespace object (None: none)."""
    meta = (namespace or {}).get('metadata') or {}
    return dict(namespace_exists=namespace is not None, namespace_labels=dict(meta.get('labels') or {}),
                namespace_uid=meta.get('uid') or '')
