# -*- coding: utf-8 -*-
# Copyright: (c) 2025, Kubiya runners platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading a Helm release's state: the I/O around ``release.judge`` (modules release_state and
deploy_lock, which reads the state again under the lock it took, in the same process).

The namespace is looked up first (no namespace: ``absent``, helm is not run); when it exists,
helm's own view (``helm list --all --filter``) and helm's release records (the Secrets
``owner=helm,name=<release>``) are read and judged together.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import re
import tempfile

from ansible_collections.kubiya.runners.plugins.module_utils import release as releasemod
from ansible_collections.kubiya.runners.plugins.module_utils.kube import K8sError, auth_params

# helm's environment variables for the connection options both sides share (as kubernetes.core's
# helm modules pass them: in the environment, so a token never shows in the process list)
HELM_ENV = (('context', 'HELM_KUBECONTEXT'), ('host', 'HELM_KUBEAPISERVER'), ('api_key', 'HELM_KUBETOKEN'),
            ('ca_cert', 'HELM_KUBECAFILE'))


def run_helm(module, params, args):
    """``(rc, stdout, stderr)`` of ``helm <args>`` with the connection options in its environment."""
    auth = auth_params(params)
    argv = [params['binary_path'] or 'helm'] + list(args)
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
            return module.run_command(argv, environ_update=environ, handle_exceptions=False)
        except OSError as exc:  # run_command raises for a binary that cannot be executed
            return -1, '', 'cannot run %s: %s' % (argv[0], exc)
    finally:
        if written:
            os.unlink(written)


def helm_json(module, params, args, what):
    """``(decoded JSON or None, error text or '')`` of ``helm <args> --output json``."""
    rc, out, err = run_helm(module, params, list(args) + ['--output', 'json'])
    if rc != 0:
        return None, (err or out or 'exit code %d' % rc).strip()
    try:
        return json.loads(out or 'null'), ''
    except ValueError:
        return None, '%s printed something that is not JSON: %s' % (what, out[:200])


def helm_list(module, params, name, namespace):
    """``(entry of the release or None, error text or '')`` from ``helm list --all``."""
    listing, error = helm_json(module, params, ['list', '--all', '--max', '0', '--namespace', namespace,
                                                '--filter', '^%s$' % re.escape(name)], 'helm list')
    if error:
        return None, error
    return releasemod.find_listed(listing or [], name), ''


def helm_values(module, params, name, namespace, revision):
    """``(computed values, error text or '')``: ``helm get values --all`` of the release's revision
    ``revision`` (the one helm listed, so values and revision belong together)."""
    values, error = helm_json(module, params, ['get', 'values', name, '--all', '--revision', str(revision),
                                               '--namespace', namespace], 'helm get values')
    if error:
        return {}, 'helm get values: %s' % error
    return values if isinstance(values, dict) else {}, ''


def read_cluster(client, name, namespace):
    """``(namespace object or None, namespace error, records, records error)``: the namespace
    first; its release records only when it exists."""
    try:
        found = client.get('/api/v1/namespaces/%s' % namespace)
    except K8sError as exc:
        if exc.status == 404:
            return None, '', [], ''
        return None, str(exc), [], ''
    try:
        return found, '', client.list_items('/api/v1/namespaces/%s/secrets' % namespace,
                                            label_selector='owner=helm,name=%s' % name), ''
    except K8sError as exc:
        return found, '', [], str(exc)


def read_state(module, params, client, name, namespace, values=False, values_required=True):
    """The release_state result: ``{state, revision, last_good, reason, namespace_exists,
    namespace_labels, namespace_uid, chart, app_version, computed_values}``.

    ``client``: a kube.KubeClient, or a K8sError saying why none could be built (then the
    namespace is unreadable, and nothing is assumed). ``values_required``: a failed read of the
    values makes the state unreadable; else they are left empty (``values_error`` says why)."""
    if isinstance(client, K8sError):
        found, namespace_error, records, records_error = None, str(client), [], ''
    else:
        found, namespace_error, records, records_error = read_cluster(client, name, namespace)
    result = releasemod.judge_namespace(found, namespace_error, namespace)
    listed = None
    if result is None:  # the namespace exists: read the release both ways
        listed, helm_error = helm_list(module, params, name, namespace)
        result = releasemod.judge(listed, helm_error, records, records_error)
    result.update(releasemod.namespace_view(found), chart=(listed or {}).get('chart') or '',
                  app_version=(listed or {}).get('app_version') or '', computed_values={})
    if values and listed is not None and result['state'] in releasemod.HAS_VALUES and result['revision'] > 0:
        result['computed_values'], values_error = helm_values(module, params, name, namespace, result['revision'])
        if values_error and values_required:
            result.update(state='unreadable', reason=releasemod.cut(values_error))
        elif values_error:
            result['values_error'] = releasemod.cut(values_error)
    return result
