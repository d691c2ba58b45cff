# -*- coding: utf-8 -*-
# Copyright: (c) 2025, Kubiya runners platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A small, generic Kubernetes API client for this collection's read-mostly modules.

Connection options follow kubernetes.core's naming (``kubeconfig``, ``context``,
``host``, ``api_key``, ``validate_certs``, ``ca_cert``, ``client_cert``,
``client_key``) and the same ``K8S_AUTH_*`` environment fallbacks, so one set of
variables serves both collections.

Configuration (kubeconfig files, exec credential plugins, in-cluster service
account) is loaded with the ``kubernetes`` Python library when it is installed;
requests go over a single persistent HTTPS connection built from that
configuration with the standard library (``http.client`` + ``ssl``), so the code
does not depend on the generated API classes, which change shape between
``kubernetes`` client releases. With ``host`` plus ``api_key`` (or a client
certificate) no third-party library is needed at all.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import http.client
import json
import os
import ssl
import time
from urllib.parse import urlencode, urlsplit

from ansible_collections.kubiya.runners.plugins.module_utils import retry as retrymod
from ansible_collections.kubiya.runners.plugins.module_utils.transport import is_loopback_host

try:
    import kubernetes  # noqa: F401  (kubernetes.config and kubernetes.client)
    import kubernetes.client
    import kubernetes.config
    HAS_KUBERNETES = True
    KUBERNETES_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - depends on the environment
    HAS_KUBERNETES = False
    KUBERNETES_IMPORT_ERROR = exc


# Argument spec shared by every module that talks to the API server. Keep the
# documentation in plugins/doc_fragments/k8s_auth.py in step with it.
K8S_AUTH_ARG_SPEC = dict(
    kubeconfig=dict(type='raw', no_log=True),
    context=dict(type='str'),
    host=dict(type='str'),
    api_key=dict(type='str', no_log=True),
    validate_certs=dict(type='bool', aliases=['verify_ssl']),
    ca_cert=dict(type='path', aliases=['ssl_ca_cert']),
    client_cert=dict(type='path', aliases=['cert_file']),
    client_key=dict(type='path', aliases=['key_file'], no_log=False),
    request_timeout=dict(type='float', default=30.0),
)

# option -> validate.number() rules of the connection options
K8S_NUMBERS = dict(request_timeout=dict(maximum=3600.0))

# option name -> environment variables consulted when the option is not set
# (the same variables kubernetes.core reads).
K8S_AUTH_ENV = dict(
    kubeconfig=('K8S_AUTH_KUBECONFIG',),
    context=('K8S_AUTH_CONTEXT',),
    host=('K8S_AUTH_HOST',),
    api_key=('K8S_AUTH_API_KEY',),
    validate_certs=('K8S_AUTH_VALIDATE_CERTS', 'K8S_AUTH_VERIFY_SSL'),
    ca_cert=('K8S_AUTH_CA_CERT', 'K8S_AUTH_SSL_CA_CERT'),
    client_cert=('K8S_AUTH_CLIENT_CERT', 'K8S_AUTH_CERT_FILE'),
    client_key=('K8S_AUTH_CLIENT_KEY', 'K8S_AUTH_KEY_FILE'),
)

USER_AGENT = 'kubiya.runners/k8s_client'
# Largest API answer read (a page of 500 big objects stays far below it).
MAX_BODY = 64 * 1024 * 1024


class K8sError(Exception):
    """An API call failed. ``status`` is the HTTP status (None when the server was not reached)."""

    def __init__(self, msg, status=None, reason=None, body=None):
        super(K8sError, self).__init__(msg)
        self.msg = msg
        self.status = status
        self.reason = reason
        self.body = body


class MissingLibraryError(K8sError):
    """The connection options given need the ``kubernetes`` Python library."""


def auth_params(params, environ=None):
    """Return the connection options, filling unset ones from ``K8S_AUTH_*`` variables."""
    environ = os.environ if environ is None else environ
    auth = {}
    for name in K8S_AUTH_ARG_SPEC:
        value = params.get(name)
        if value is None and name in K8S_AUTH_ENV:
            for var in K8S_AUTH_ENV[name]:
                if environ.get(var) not in (None, ''):
                    value = environ[var]
                    if K8S_AUTH_ARG_SPEC[name].get('type') == 'bool':
                        value = value.strip().lower() not in ('0', 'false', 'no', 'off')
                    break
        auth[name] = value
    return auth


def _load_configuration(auth):
    """Build a kubernetes.client.Configuration from kubeconfig / in-cluster settings."""
    if not HAS_KUBERNETES:
        raise MissingLibraryError(
            'the kubernetes Python library is needed to read a kubeconfig or the in-cluster '
            'configuration (or give host plus api_key / client_cert)')
    cfg = kubernetes.client.Configuration()
    kubeconfig = auth.get('kubeconfig')
    context = auth.get('context')
    try:
        if isinstance(kubeconfig, dict):
            kubernetes.config.load_kube_config_from_dict(
                config_dict=kubeconfig, context=context, client_configuration=cfg, persist_config=False)
        elif kubeconfig or context:
            kubernetes.config.load_kube_config(
                config_file=kubeconfig or None, context=context, client_configuration=cfg, persist_config=False)
        else:
            try:
                kubernetes.config.load_incluster_config(client_configuration=cfg)
            except kubernetes.config.ConfigException:
                kubernetes.config.load_kube_config(client_configuration=cfg, persist_config=False)
    except Exception as exc:  # the loaders raise many different types
        raise K8sError('cannot load the Kubernetes client configuration: %s' % exc)
    return cfg


def _bounded_credentials(func, limit):
    """``func()`` (loading or refreshing credentials, which may run a kubeconfig exec
    plugin) within ``limit`` seconds; K8sError when it takes longer."""
    try:
        return retrymod.run_bounded(func, limit)
    except retrymod.Abandoned:
        raise K8sError('the Kubernetes credentials (kubeconfig exec plugin) were not ready within %.1fs' % limit)


def check_host(host):
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
                       'unencrypted; give an https:// URL (option host, K8S_AUTH_HOST or the '
                       "kubeconfig cluster's server)" % (host, why))
    if not hostname:
        raise K8sError('API server host %r has no host name' % (host,))
    return parts


class K8sClient(object):
    """JSON over HTTPS to one API server; ``get``/``list_items``/``create``/``request``."""

    def __init__(self, host, token=None, ssl_context=None, timeout=30.0, configuration=None,
                 basic_auth=None):
        parts = check_host(host)
        scheme = parts.scheme.lower()
        self.host = '%s://%s' % (scheme, parts.netloc)
        self.scheme = scheme
        self.netloc = parts.netloc
        self.base_path = parts.path.rstrip('/')
        self.token = token
        self.basic_auth = basic_auth
        self.ssl_context = ssl_context
        self.timeout = timeout
        self.configuration = configuration
        self._conn = None
        # retries of 429/5xx: shared policy; ``deadline`` (a retry.Deadline) bounds
        # them and every request, else each call gets ``timeout`` seconds of retrying.
        self.retry_policy = retrymod.DEFAULT_POLICY
        self.deadline = None
        self.sleep = time.sleep

    # -- construction ----------------------------------------------------
    @classmethod
    def from_params(cls, params, environ=None):
        """Create a client from module parameters (see K8S_AUTH_ARG_SPEC)."""
        auth = auth_params(params, environ)
        host = auth.get('host')
        direct = host and (auth.get('api_key') or (auth.get('client_cert') and auth.get('client_key')))
        cfg = None
        token = None
        basic = None
        verify = True
        ca_cert = cert_file = key_file = None
        check_hostname = True
        if not direct:
            # loading a kubeconfig may run its exec credential plugin (a process that can
            # hang): bounded by the request timeout like any request
            cfg = _bounded_credentials(lambda: _load_configuration(auth), auth.get('request_timeout') or 30.0)
            host = host or cfg.host
            verify = cfg.verify_ssl
            ca_cert = cfg.ssl_ca_cert
            cert_file = cfg.cert_file
            key_file = cfg.key_file
            if getattr(cfg, 'assert_hostname', None) is False:
                check_hostname = False
            if getattr(cfg, 'username', None) and getattr(cfg, 'password', None):
                basic = (cfg.username, cfg.password)
        if auth.get('api_key'):
            token = auth['api_key']
            cfg = None  # an explicit token wins over whatever the kubeconfig holds
        if auth.get('validate_certs') is not None:
            verify = auth['validate_certs']
        if auth.get('ca_cert'):
            ca_cert = auth['ca_cert']
        if auth.get('client_cert'):
            cert_file = auth['client_cert']
        if auth.get('client_key'):
            key_file = auth['client_key']
        context = None
        if check_host(host).scheme.lower() == 'https':
            context = make_ssl_context(verify, ca_cert, cert_file, key_file, check_hostname)
        return cls(host, token=token, ssl_context=context, timeout=auth.get('request_timeout') or 30.0,
                   configuration=cfg, basic_auth=basic)

    # -- transport -------------------------------------------------------
    def _connection(self):
        if self._conn is None:
            if self.scheme == 'https':
                self._conn = http.client.HTTPSConnection(self.netloc, timeout=self.timeout, context=self.ssl_context)
            else:
                self._conn = http.client.HTTPConnection(self.netloc, timeout=self.timeout)
        return self._conn

    def close(self):
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None

    def _auth_header(self, deadline=None):
        if self.token:
            return 'Bearer %s' % self.token
        if self.configuration is not None:
            # calls the refresh hook of exec/oidc credential plugins when present: it may run
            # a process, so it gets what is left of the module's deadline
            try:
                limit = deadline.timeout() if deadline is not None else self.timeout
            except retrymod.DeadlineExceeded as exc:
                raise K8sError('no time left to refresh the Kubernetes credentials: %s' % exc)
            value = _bounded_credentials(
                lambda: self.configuration.get_api_key_with_prefix('BearerToken', alias='authorization'), limit)
            if value:
                return value
        if self.basic_auth:
            raw = ('%s:%s' % self.basic_auth).encode('utf-8')
            return 'Basic %s' % base64.b64encode(raw).decode('ascii')
        return None

    def request(self, method, path, query=None, body=None, retry=None):
        """Send one request; return the decoded JSON body (``{}`` when empty).

        ``retry``: resend once when the connection broke before a response arrived
        (default: for GET only; pass True for side-effect-free POSTs such as reviews).
        """
        if retry is None:
            retry = method == 'GET'
        target = self.base_path + path
        if query:
            target += '?' + urlencode([(k, v) for k, v in query.items() if v is not None])
        headers = {'Accept': 'application/json', 'User-Agent': USER_AGENT}
        deadline = self.deadline or retrymod.Deadline(self.timeout, self.timeout)
        auth = self._auth_header(deadline)
        if auth:
            headers['Authorization'] = auth
        data = None
        if body is not None:
            data = json.dumps(body).encode('utf-8')
            headers['Content-Type'] = 'application/json'
        attempt = 0
        while True:
            status, reason, raw, resp_headers = self._exchange(method, path, target, data, headers,
                                                               retry, deadline)
            # 429: refused before anything happened, always safe to resend; 5xx only for
            # requests without side effects (GET, reviews)
            again = status == 429 or (retry and self.retry_policy.retryable(status))
            if not again:
                break
            wait = self.retry_policy.delay(attempt, resp_headers.get('Retry-After'))
            if not deadline.can_wait(wait):
                break
            self.sleep(wait)
            attempt += 1
        if status >= 400:
            error = _api_error(method, path, status, reason, raw)
            if self.retry_policy.retryable(status) and attempt:
                error.msg += ' (after %d retr%s)' % (attempt, 'y' if attempt == 1 else 'ies')
                error.args = (error.msg,)
            raise error
        if not raw:
            return {}
        try:
            return json.loads(raw.decode('utf-8'))
        except ValueError:
            raise K8sError('%s %s: the API server answered with something that is not JSON' % (method, path),
                           status=status, body=raw[:500])

    def _exchange(self, method, path, target, data, headers, resend, deadline):
        """One request (resent once if the connection broke before an answer and
        ``resend``); (status, reason, body, headers). Connect to last byte within
        the deadline's request timeout; bodies above MAX_BODY are refused."""
        attempts = 2 if resend else 1
        for attempt in range(attempts):
            try:
                timeout = deadline.timeout()
            except retrymod.DeadlineExceeded as exc:
                raise K8sError('cannot reach the API server %s (%s %s): %s' % (self.host, method, path, exc))
            ends_at = time.monotonic() + timeout

            conn = self._connection()

            def exchange():
                conn.timeout = timeout
                if conn.sock is not None:
                    conn.sock.settimeout(timeout)
                conn.request(method, target, body=data, headers=headers)
                resp = conn.getresponse()
                return resp.status, resp.reason, _read_bounded(resp, ends_at), resp.headers

            try:
                return retrymod.run_bounded(exchange, timeout,
                                            on_abandon=lambda: retrymod.shutdown_socket(conn.sock))
            except retrymod.Abandoned as exc:
                # the worker may still hold the response's lock: never close() it
                # here (that would wait for the reader); its socket is shut down
                self._conn = None
                if attempt + 1 >= attempts:
                    raise K8sError('cannot reach the API server %s (%s %s): %s' % (self.host, method, path, exc))
            except BodyTooLarge as exc:
                self.close()
                raise K8sError('%s %s: %s' % (method, path, exc))
            except (http.client.HTTPException, OSError) as exc:
                self.close()
                if attempt + 1 >= attempts:
                    raise K8sError('cannot reach the API server %s (%s %s): %s' % (self.host, method, path, exc))
        raise K8sError('cannot reach the API server %s (%s %s)' % (self.host, method, path))  # pragma: no cover

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


class BodyTooLarge(Exception):
    pass


def _read_bounded(resp, ends_at, limit=MAX_BODY):
    """The body of ``resp``: at most ``limit`` bytes, read before ``ends_at``."""
    chunks, size = [], 0
    while True:
        if time.monotonic() > ends_at:
            raise TimeoutError('the answer did not arrive in time (timed out)')
        chunk = resp.read(65536)
        if not chunk:
            return b''.join(chunks)
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge('the answer is larger than %d bytes' % limit)
        chunks.append(chunk)


def _api_error(method, path, status, reason, raw):
    message = None
    try:
        doc = json.loads(raw.decode('utf-8'))
        message = doc.get('message')
    except (ValueError, AttributeError, UnicodeDecodeError):
        pass
    text = '%s %s: HTTP %s %s' % (method, path, status, reason)
    if message:
        text += ': %s' % message
    return K8sError(text, status=status, reason=reason, body=raw[:2000])


def make_ssl_context(verify=True, ca_cert=None, cert_file=None, key_file=None, check_hostname=True):
    """An SSL context for the API server connection."""
    if verify is None:
        verify = True
    context = ssl.create_default_context(cafile=ca_cert if (verify and ca_cert) else None)
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif not check_hostname:
        context.check_hostname = False
    if cert_file:
        context.load_cert_chain(cert_file, key_file)
    return context


def api_path(api_version, plural, namespace=None, name=None):
    """URL path of a resource collection or object, e.g. api_path('v1', 'pods', 'ns')."""
    prefix = '/api/%s' % api_version if '/' not in api_version else '/apis/%s' % api_version
    if namespace:
        prefix += '/namespaces/%s' % namespace
    prefix += '/%s' % plural
    if name:
        prefix += '/%s' % name
    return prefix
