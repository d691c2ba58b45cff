# -*- coding: utf-8 -*-
# Copyright: (c) 2025, Kubiya runners platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kubernetes API access of the collection's modules, built on kubernetes.core.

The connection options are kubernetes.core's ``AUTH_ARG_SPEC`` (documented by the
``kubernetes.core.k8s_auth_options`` fragment, same ``K8S_AUTH_*`` variables) plus
``request_timeout``; the client is kubernetes.core's ``get_api_client`` (a dynamic client
over the ``kubernetes`` library: kubeconfig files, exec credential plugins, in-cluster
service account). Reads and SubjectAccessReviews go through ``DynamicClient.request``.

What this layer adds, because a user notices it (see the tests):

- the API server URL is checked BEFORE the first request: https, or http only to a
  loopback host, so a typo such as ``htps://`` never means "send the token unencrypted";
- bad kubeconfig/context: an error naming the input;
- one time budget (``retry.Deadline``) over everything, including loading the
  kubeconfig (exec credential plugins run there and on token refresh), discovery and each
  request: every call runs in a worker thread that is given up at its deadline, so a
  trickling API server or a hanging credential plugin cannot hold the module;
- 429 (and 5xx to side-effect-free requests) retried with backoff and ``Retry-After``
  within the deadline (``retry.RetryPolicy``); answers above ``MAX_BODY`` refused.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import json
import os
import time
import traceback
from urllib.parse import urlsplit

from ansible_collections.kubiya.runners.plugins.module_utils import retry as retrymod
from ansible_collections.kubiya.runners.plugins.module_utils.transport import is_loopback_host

try:
    from ansible_collections.kubernetes.core.plugins.module_utils.args_common import (
        AUTH_ARG_MAP,
        AUTH_ARG_SPEC,
    )
    from ansible_collections.kubernetes.core.plugins.module_utils.k8s.client import get_api_client
    HAS_K8S_COLLECTION = True
    K8S_COLLECTION_ERROR = None
except ImportError:  # pragma: no cover - kubernetes.core is a dependency of the collection
    HAS_K8S_COLLECTION = False
    K8S_COLLECTION_ERROR = traceback.format_exc()
    AUTH_ARG_MAP = {}
    AUTH_ARG_SPEC = {}

try:
    from kubernetes.client.exceptions import ApiException
    from kubernetes.config import kube_config
    import urllib3
    HAS_K8S = True
    K8S_IMP_ERR = None
except ImportError:  # pragma: no cover - depends on the environment
    HAS_K8S = False
    K8S_IMP_ERR = traceback.format_exc()

    class ApiException(Exception):  # placeholder so ``except ApiException`` stays valid
        pass


# kubernetes.core's connection options plus the time budget of one request.
# Documented by the kubernetes.core.k8s_auth_options and kubiya.runners.k8s_request fragments.
K8S_AUTH_ARG_SPEC = copy.deepcopy(AUTH_ARG_SPEC)
K8S_AUTH_ARG_SPEC['request_timeout'] = dict(type='float', default=30.0)

# option -> validate.number() rules of the connection options
K8S_NUMBERS = dict(request_timeout=dict(maximum=3600.0))

# Largest API answer read (a page of 500 big objects stays far below it).
MAX_BODY = 64 * 1024 * 1024
# Paths the dynamic client reads while it is built (discovery).
DISCOVERY_PATHS = ('/version', '/api', '/apis')


class K8sError(Exception):
    """An API call failed. ``status`` is the HTTP status (None when the server was not reached)."""

    def __init__(self, msg, status=None, reason=None, body=None):
        super(K8sError, self).__init__(msg)
        self.msg = msg
        self.status = status
        self.reason = reason
        self.body = body


class MissingLibraryError(K8sError):
    """The ``kubernetes`` Python library (or the kubernetes.core collection) is missing."""


def auth_params(params, environ=None):
    """kubernetes.core's view of the connection options: module option name -> value, unset
    ones filled from ``K8S_AUTH_<OPTION>`` or ``K8S_AUTH_<CLIENT NAME>`` (as get_api_client does)."""
    environ = os.environ if environ is None else environ
    auth = {}
    for true_name, arg_name in AUTH_ARG_MAP.items():
        value = params.get(arg_name)
        if value is None and arg_name != 'proxy_headers':
            value = environ.get('K8S_AUTH_%s' % arg_name.upper()) or environ.get('K8S_AUTH_%s' % true_name.upper())
            if value is not None and AUTH_ARG_SPEC[arg_name].get('type') == 'bool':
                value = value.lower() not in ('0', 'false', 'no')
        if value is not None:
            auth[arg_name] = value
    return auth


def check_host(host, where='option host, K8S_AUTH_HOST or the kubeconfig cluster\'s server'):
    """``urlsplit`` of the API server ``host`` (https:// when it has no scheme).

    K8sError naming ``host`` unless the scheme is https, or http to a loopback host
    (localhost, 127.0.0.0/8, ::1): the token or Basic credentials go in every request,
    and a typo such as ``htps://`` or ``tcp://`` must not mean "send them unencrypted".
    """
    if not host:
        raise K8sError('no API server host is configured')
    try:
        parts = urlsplit(host if '://' in host else 'https://' + host)
        hostname = parts.hostname
    except ValueError as exc:  # e.g. an unclosed [ of an IPv6 address
        raise K8sError('API server host %r is not a valid URL: %s' % (host, exc))
    scheme = parts.scheme.lower()
    if scheme != 'https' and not (scheme == 'http' and is_loopback_host(hostname)):
        if scheme == 'http':
            why = 'http:// is accepted only for a loopback host (localhost, 127.0.0.0/8, ::1)'
        else:
            why = 'the scheme %r is not https' % parts.scheme
        raise K8sError('API server host %r is refused: %s, and the credentials would be sent '
                       'unencrypted; give an https:// URL (%s)' % (host, why, where))
    if not hostname:
        raise K8sError('API server host %r has no host name' % (host,))
    return parts


def _describe(auth, params=None, environ=None):
    """Which input the configuration came from (the kubeconfig path itself is no_log: the
    option is named instead of its value)."""
    environ = os.environ if environ is None else environ
    kubeconfig = auth.get('kubeconfig')
    if isinstance(kubeconfig, dict):
        text = 'option kubeconfig (a dictionary)'
    elif kubeconfig and (params or {}).get('kubeconfig'):
        text = 'the file of option kubeconfig'
    elif kubeconfig:
        text = 'the file of K8S_AUTH_KUBECONFIG'
    elif environ.get('KUBECONFIG'):
        text = 'the file(s) of KUBECONFIG'
    else:
        text = 'the default kubeconfig ~/.kube/config'
    if auth.get('context'):
        text += ', context %r' % auth['context']
    return text


def configured_host(auth, params=None):
    """The API server URL the client will use, found without sending anything and without
    running credential plugins: option ``host``, else the in-cluster address, else the server
    of the kubeconfig's (current) context. K8sError naming the kubeconfig/context when it
    cannot be read."""
    direct = auth.get('host') and (auth.get('api_key') or (auth.get('client_cert') and auth.get('client_key'))
                                   or (auth.get('username') and auth.get('password')))
    if direct:
        return auth['host']
    kubeconfig = auth.get('kubeconfig')
    if not (kubeconfig or auth.get('context')) and os.environ.get('KUBERNETES_SERVICE_HOST') \
            and os.path.isfile('/var/run/secrets/kubernetes.io/serviceaccount/token'):
        return auth.get('host') or 'https://in-cluster'  # load_incluster_config: always https
    try:
        if isinstance(kubeconfig, dict):
            loader = kube_config._get_kube_config_loader(config_dict=kubeconfig, persist_config=False)
        else:
            loader = kube_config._get_kube_config_loader(
                filename=kubeconfig or os.path.expanduser(
                    os.environ.get('KUBECONFIG', kube_config.KUBE_CONFIG_DEFAULT_LOCATION)),
                persist_config=False)
        loader.set_active_context(auth.get('context'))
        server = loader._cluster['server']  # pylint: disable=protected-access
    except Exception as exc:  # the loader raises ConfigException, KeyError, OSError, YAML errors...
        raise K8sError('cannot load the Kubernetes client configuration from %s: %s' % (_describe(auth, params), exc))
    return auth.get('host') or server


class KubeClient(object):
    """JSON requests through kubernetes.core's dynamic client: ``get``/``list_items``/``create``/``request``."""

    def __init__(self, dynamic, host, timeout=30.0, deadline=None):
        self.dynamic = dynamic
        self.host = host
        self.timeout = timeout
        # retries of 429/5xx: shared policy; ``deadline`` (a retry.Deadline) bounds
        # them and every request, else each call gets ``timeout`` seconds of retrying.
        self.retry_policy = retrymod.DEFAULT_POLICY
        self.deadline = deadline
        self.sleep = time.sleep

    # -- construction ----------------------------------------------------
    @classmethod
    def from_params(cls, params, deadline=None, environ=None):
        """Check the configuration, then build the client within ``deadline`` (a retry.Deadline;
        it then bounds every later call too). Without one, building gets one request timeout (plus
        as much for retries) and each later call its own. Loading the kubeconfig (exec credential
        plugins) and discovery happen here."""
        if not HAS_K8S_COLLECTION:
            raise MissingLibraryError('the kubernetes.core collection is needed: %s' % K8S_COLLECTION_ERROR)
        if not HAS_K8S:
            raise MissingLibraryError('the kubernetes Python library is needed')
        auth = auth_params(params, environ)
        timeout = float(params.get('request_timeout') or 30.0)
        host = check_host(configured_host(auth, params)).geturl()
        budget = deadline or retrymod.Deadline(timeout, timeout)  # of building the client
        # the options as resolved here (K8S_AUTH_* included), so both sides agree on them
        kwargs = dict((k, v) for k, v in params.items() if k in AUTH_ARG_SPEC and v is not None)
        kwargs.update(auth)

        def build():
            client = get_api_client(**kwargs)
            return client.client

        try:
            dynamic = _with_retries(build, 'setting up the client', '(kubeconfig, credential plugins, discovery)',
                                    host, budget, retry=True, policy=retrymod.DEFAULT_POLICY, sleep=time.sleep)
        except K8sError:
            raise
        except Exception as exc:  # ConfigException, CoreException, exec plugin errors...
            raise K8sError('cannot load the Kubernetes client configuration from %s: %s' % (_describe(auth, params), exc))
        # the client's host after loading: check again (it is what every request uses)
        check_host(dynamic.configuration.host)
        _no_library_retries(dynamic)
        return cls(dynamic, dynamic.configuration.host, timeout=timeout, deadline=deadline)

    def close(self):
        """Drop the pooled connections (the client may be cached by kubernetes.core)."""
        try:
            self.dynamic.client.rest_client.pool_manager.clear()
        except AttributeError:  # pragma: no cover - library internals differ
            pass

    # -- requests --------------------------------------------------------
    def request(self, method, path, query=None, body=None, retry=None, content_type=None):
        """Send one request; return the decoded JSON body (``{}`` when empty).

        ``retry``: resend once when the connection broke before a response arrived, and
        retry 5xx (default: for GET only; pass True for side-effect-free POSTs such as
        reviews). 429 is always retried: the server refused before doing anything.
        ``content_type``: the body's media type when not JSON (``application/apply-patch+yaml``
        for a server-side apply, whose JSON body is YAML too).
        """
        if retry is None:
            retry = method == 'GET'
        query_params = [(k, v) for k, v in (query or {}).items() if v is not None]
        deadline = self.deadline or retrymod.Deadline(self.timeout, self.timeout)

        def call(timeout, ends_at):
            extra = {'content_type': content_type} if content_type else {}
            resp = self.dynamic.request(method, path, body=body, query_params=list(query_params),
                                        serialize=False, _request_timeout=timeout, **extra)
            return _read_bounded(resp, ends_at)

        raw = _with_retries(call, method, path, self.host, deadline, retry, self.retry_policy, self.sleep,
                            pass_timeout=True, on_abandon=self.close)
        if not raw:
            return {}
        try:
            return json.loads(raw.decode('utf-8'))
        except ValueError:
            raise K8sError('%s %s: the API server answered with something that is not JSON' % (method, path),
                           status=200, body=raw[:500])

    def get(self, path, query=None):
        return self.request('GET', path, query=query)

    def create(self, path, body, retry=False):
        return self.request('POST', path, body=body, retry=retry)

    def list_items(self, path, label_selector=None, field_selector=None, page_size=500):
        """GET a collection, following ``continue`` tokens; return the list of items."""
        items = []
        token = None
        while True:
            query = {'limit': page_size, 'labelSelector': label_selector,
                     'fieldSelector': field_selector, 'continue': token}
            page = self.get(path, query=query)
            items.extend(page.get('items') or [])
            token = (page.get('metadata') or {}).get('continue')
            if not token:
                return items


def _no_library_retries(dynamic):
    """urllib3's default (3 silent retries of connection and read errors) would multiply the
    time of a request; retries are ours, within the deadline."""
    try:
        manager = dynamic.client.rest_client.pool_manager
        manager.connection_pool_kw['retries'] = False
        manager.clear()
    except AttributeError:  # pragma: no cover - library internals differ
        pass


def _with_retries(func, method, path, host, deadline, retry, policy, sleep, pass_timeout=False, on_abandon=None):
    """``func()`` (or ``func(timeout, ends_at)``) in a bounded worker, retried on 429 (always) and
    5xx/broken connections (when ``retry``) while ``deadline`` allows; K8sError otherwise."""
    attempt = 0
    broken = 0
    while True:
        try:
            timeout = deadline.timeout()
        except retrymod.DeadlineExceeded as exc:
            raise K8sError('cannot reach the API server %s (%s %s): %s' % (host, method, path, exc))
        ends_at = time.monotonic() + timeout
        try:
            if pass_timeout:
                return retrymod.run_bounded(lambda: func(timeout, ends_at), timeout, on_abandon=on_abandon)
            return retrymod.run_bounded(func, timeout, on_abandon=on_abandon)
        except retrymod.Abandoned as exc:
            # the worker may still be reading (or running a credential plugin): it is left behind
            raise K8sError('cannot reach the API server %s (%s %s): %s' % (host, method, path, exc))
        except BodyTooLarge as exc:
            raise K8sError('%s %s: %s' % (method, path, exc))
        except ApiException as exc:
            status = getattr(exc, 'status', None)
            if not status:  # the library's own failures (no HTTP answer)
                raise K8sError('cannot reach the API server %s (%s %s): %s' % (host, method, path, exc))
            again = status == 429 or (retry and policy.retryable(status))
            headers = getattr(exc, 'headers', None) or {}
            wait = policy.delay(attempt, headers.get('Retry-After')) if again else None
            if not again or not deadline.can_wait(wait):
                error = _api_error(method, path, status, getattr(exc, 'reason', ''), getattr(exc, 'body', b''))
                if policy.retryable(status) and attempt:
                    error.msg += ' (after %d retr%s)' % (attempt, 'y' if attempt == 1 else 'ies')
                    error.args = (error.msg,)
                raise error
            sleep(wait)
            attempt += 1
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            # connection refused/reset, TLS failure, read timeout of the library
            broken += 1
            if not retry or broken >= 2:
                raise K8sError('cannot reach the API server %s (%s %s): %s' % (host, method, path, _reason(exc)))


def _reason(exc):
    return getattr(exc, 'reason', None) or exc


class BodyTooLarge(Exception):
    pass


def _read_bounded(resp, ends_at, limit=None):
    """The body of ``resp`` (a urllib3 response not read yet): at most ``limit`` bytes
    (default MAX_BODY), read before ``ends_at``."""
    limit = MAX_BODY if limit is None else limit
    chunks, size = [], 0
    while True:
        if time.monotonic() > ends_at:
            raise TimeoutError('the answer did not arrive in time (timed out)')
        chunk = resp.read(65536)
        if not chunk:
            resp.release_conn()
            return b''.join(chunks)
        size += len(chunk)
        if size > limit:
            resp.close()
            raise BodyTooLarge('the answer is larger than %d bytes' % limit)
        chunks.append(chunk)


def _api_error(method, path, status, reason, raw):
    message = None
    try:
        doc = json.loads(raw.decode('utf-8') if isinstance(raw, bytes) else raw)
        message = doc.get('message')
    except (ValueError, AttributeError, UnicodeDecodeError, TypeError):
        pass
    text = '%s %s: HTTP %s %s' % (method, path, status, reason or '')
    if message:
        text += ': %s' % message
    if isinstance(raw, str):
        raw = raw.encode('utf-8', 'replace')
    return K8sError(text.replace('  ', ' '), status=status, reason=reason, body=(raw or b'')[:2000])


def api_path(api_version, plural, namespace=None, name=None):
    """URL path of a resource collection or object, e.g. api_path('v1', 'pods', 'ns')."""
    prefix = '/api/%s' % api_version if '/' not in api_version else '/apis/%s' % api_version
    if namespace:
        prefix += '/namespaces/%s' % namespace
    prefix += '/%s' % plural
    if name:
        prefix += '/%s' % name
    return prefix
