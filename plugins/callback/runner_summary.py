# -*- coding: utf-8 -*-
# Copyright: (c) 2025, Kubiya runners platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One line per customer at the end of a fleet run, on screen and as JSON."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: runner_summary
type: aggregate
short_description: One line per customer at the end of a run (changed, unchanged or failed, and why)
description:
  - At the end of a playbook run over many customers (one inventory host each, e.g.
    C(kubiya.runners.deploy) without C(--limit)), prints one table row per host - C(changed),
    C(unchanged) or C(failed) - with the number of changed tasks, the host's wall time, and for
    a failed host the last task that failed and the first line of its message.
  - With O(path) set, writes the same summary as JSON (atomically, mode 0600), for AWX and CI
    to read instead of parsing the log.
  - Messages of C(no_log) tasks are never shown; they appear as Ansible censors them.
  - With a JSON stdout callback (C(json), C(ansible.posix.json), C(jsonl)) nothing is printed, so
    that output stays one parseable document; O(path) is still written.
  - Enable it with C(callbacks_enabled = kubiya.runners.runner_summary) in C(ansible.cfg) or
    C(ANSIBLE_CALLBACKS_ENABLED).
author:
  - Kubiya runners platform team (@kubiya-runners)
requirements:
  - enabled in C(callbacks_enabled)
options:
  path:
    description:
      - File the JSON summary is written to. Its directory must exist. Empty, no file is written.
    type: str
    default: ''
    env:
      - name: KUBIYA_RUNNER_SUMMARY
    ini:
      - section: callback_runner_summary
        key: path
"""

import json
import os
import tempfile
import time

from ansible import constants as C
from ansible.plugins.callback import CallbackBase
from ansible_collections.kubiya.runners.plugins.module_utils.table import render

# one line of the table per host: a failed host's message is cut to this many characters
WHY_WIDTH = 160
# the JSON keeps more of it, still bounded (a helm error can be pages long)
MESSAGE_LIMIT = 4000


def first_line(text, width=WHY_WIDTH):
    """First non-empty line of ``text``, cut to ``width`` characters."""
    for line in str(text or '').splitlines():
        line = line.strip()
        if line:
            return line if len(line) <= width else line[:width - 3] + '...'
    return ''


def failure_message(result):
    """What a failed task said: its msg, else stderr, else the censored note of a no_log task."""
    if result.get('censored'):
        return str(result['censored'])
    for key in ('msg', 'stderr', 'reason'):
        if result.get(key):
            return str(result[key])[:MESSAGE_LIMIT]
    return 'failed (no message)'


def summarize(stats, failures, times):
    """The per-host summary. ``stats``: host -> Ansible's summarize() counts; ``failures``:
    host -> {'task', 'message', 'unreachable'} of its last failure; ``times``: host ->
    (first start, last end) in seconds. Pure: unit-tested without a playbook."""
    hosts = {}
    for host in sorted(stats):
        counts = stats[host]
        failure = failures.get(host)
        if counts.get('unreachable') or counts.get('failures') or failure:
            result = 'failed'
        elif counts.get('changed'):
            result = 'changed'
        else:
            result = 'unchanged'
        start, end = times.get(host, (None, None))
        entry = {'result': result, 'changed_tasks': counts.get('changed', 0),
                 'seconds': round(end - start, 1) if start is not None and end is not None else None}
        if result == 'failed':
            failure = failure or {'task': '?', 'message': 'failed', 'unreachable': bool(counts.get('unreachable'))}
            entry.update(failed_task=failure['task'], unreachable=failure['unreachable'],
                         message=failure['message'])
        hosts[host] = entry
    totals = {name: sum(1 for h in hosts.values() if h['result'] == name) for name in ('changed', 'unchanged', 'failed')}
    return {'hosts': hosts, 'totals': totals}


def table(summary):
    """Lines of the on-screen table."""
    rows = []
    for host, entry in summary['hosts'].items():
        why = ''
        if entry['result'] == 'failed':
            why = '%s: %s' % (entry['failed_task'], first_line(entry['message']))
        seconds = '' if entry['seconds'] is None else '%.1f' % entry['seconds']
        rows.append((host, entry['result'], entry['changed_tasks'], seconds, why))
    totals = summary['totals']
    lines = render(('customer', 'result', 'changed', 'seconds', 'why'), rows, free_last=True)
    lines.append('%d customer(s): %d changed, %d unchanged, %d failed'
                 % (len(rows), totals['changed'], totals['unchanged'], totals['failed']))
    return lines


def machine_readable(stdout_callback):
    """True for a stdout callback whose output is JSON (json, ansible.posix.json, jsonl): a
    table printed after it would make that output unparseable."""
    return str(stdout_callback or '').rsplit('.', 1)[-1] in ('json', 'jsonl')


def write_json(path, document):
    """Write ``document`` to ``path`` atomically (a reader never sees half a file), mode 0600."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix='.runner-summary-', dir=directory)
    try:
        with os.fdopen(fd, 'w') as handle:
            json.dump(document, handle, indent=2, sort_keys=True)
            handle.write('\n')
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'kubiya.runners.runner_summary'
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super(CallbackModule, self).__init__(*args, **kwargs)
        self._failures = {}
        self._times = {}
        self._playbook = None
        self._started = time.time()

    def v2_playbook_on_start(self, playbook):
        self._playbook = os.path.basename(getattr(playbook, '_file_name', '') or '')

    def _seen(self, host):
        now = time.monotonic()
        self._times[host] = (self._times.get(host, (now, now))[0], now)

    def v2_runner_on_start(self, host, task):
        self._seen(host.get_name())

    def _done(self, result):
        self._seen(result._host.get_name())

    def _failed(self, result, unreachable):
        self._done(result)
        # the LAST failure is kept: a failure rescued by a block is followed by the rescue's
        # own (the role's undo path ends with a fail that carries the install's message)
        self._failures[result._host.get_name()] = {'task': result._task.get_name(), 'unreachable': unreachable,
                                                   'message': failure_message(result._result)}

    def v2_runner_on_ok(self, result):
        self._done(result)

    v2_runner_on_skipped = v2_runner_on_ok

    def v2_runner_on_failed(self, result, ignore_errors=False):
        if ignore_errors:
            self._done(result)
        else:
            self._failed(result, unreachable=False)

    def v2_runner_on_unreachable(self, result):
        self._failed(result, unreachable=True)

    def v2_playbook_on_stats(self, stats):
        counts = {host: stats.summarize(host) for host in stats.processed}
        # a failure rescued by a block is only a failure if Ansible counts it as one
        failures = {h: f for h, f in self._failures.items() if counts.get(h, {}).get('failures') or f['unreachable']}
        summary = summarize(counts, failures, self._times)
        show = not machine_readable(C.config.get_config_value('DEFAULT_STDOUT_CALLBACK'))
        if show:
            self._display.banner('CUSTOMER SUMMARY')
            for line in table(summary):
                self._display.display(line)
        path = self.get_option('path')
        if path:
            document = dict(summary, playbook=self._playbook,
                            started=time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(self._started)),
                            ended=time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime()))
            try:
                write_json(path, document)
            except (IOError, OSError) as exc:
                self._display.warning('runner_summary: could not write %s (callback_runner_summary path): %s' % (path, exc))
            else:
                if show:
                    self._display.display('summary written to %s' % path)
