# -*- coding: utf-8 -*-
# Copyright: (c) 2025, Kubiya runners platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one HTTP layer of the collection: Prometheus queries and token requests.

Built on Ansible's ``ansible.module_utils.urls.Request`` with these rules:

* Only ``https://`` URLs (``http://`` only with the explicit ``allow_http``
  opt-in, and then only to a loopback host: ``localhost``, ``127.0.0.0/8`` or
  ``::1``; it is meant for loopback tests). ``file:``, ``data:``, ``ftp:`` and any
  other scheme are refused before anything is sent: urllib would happily
  *open a local file* for ``file:///etc/passwd``. URLs carrying
  ``user:password@`` are refused too (they would become a Basic header).
* Redirects are never followed. A 3xx answer is an error that names the
  status and the host it pointed to, so an ``Authorization`` header, a client
  secret or a token is only ever sent to the origin it was configured for,
  and https is never downgraded. ``~/.netrc`` is not consulted.
* One request, from connect to the last body byte, takes at most its timeout
  of wall-clock time (``retry.run_bounded``), even against a server that
  answers one byte at a time, and a body above ``max_body`` bytes is an error.

``send`` returns a ``Response`` for every HTTP status except redirects;
callers decide what a status means. Network failures raise ``HttpError``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import socket
import ssl
import time
from urllib.error import HTTPError, URLError
from urllib.parse import urlencode, urlsplit

from ansible.module_utils.urls import Request

from ansible_collections.kubiya.runners.plugins.module_utils.retry import run_bounded, shutdown_socket

MiB = 1024 * 1024
MAX_QUERY_BODY = 10 * MiB   # Prometheus query answers
MAX_TOKEN_BODY = 1 * MiB    # token endpoint answers
USER_AGENT = "kubiya.runners"
_CHUNK = 64 * 1024


class HttpError(Exception):
    """A request got no usable HTTP answer.

    ``kind``: ``redirect``, ``timeout``, ``too_large``, ``tls``, ``network``.
    ``retryable``: whether trying again later may help.
    """

    def __init__(self, message, kind, url=None, status=None, retryable=False):
        super(HttpError, self).__init__(message)
        self.kind, self.url, self.status, self.retryable = kind, url, status, retryable


class Response(object):
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def header(self, name):
        return self.headers.get(name) if self.headers is not None else None

    def text(self):
        return self.body.decode("utf-8", "replace")


def is_loopback_host(host):
    """True for ``localhost``, an address in 127.0.0.0/8 or ``::1`` (brackets allowed).

    Only literal addresses and the name ``localhost`` count: any other name could
    resolve anywhere."""
    if not isinstance(host, str):
        return False
    host = host.strip().strip("[]").rstrip(".").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(url, option, allow_http=False):
    """``url`` if it is an https URL (or http to a loopback host with ``allow_http``);
    else ValueError naming ``option``. Nothing is sent."""
    if not isinstance(url, str) or not url.strip():
        raise ValueError("%s: is empty; give an https:// URL" % option)
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme == "http":
        if not allow_http:
            raise ValueError(
                "%s: %r uses http://, which would send credentials and queries unencrypted; "
                "use https:// (allow_http: true permits http:// and is meant for loopback "
                "tests only)" % (option, url))
    elif scheme != "https":
        raise ValueError("%s: %r is not an https:// URL (scheme %r is not allowed; only "
                         "https://, or http:// with allow_http: true)"
                         % (option, url, scheme or "none"))
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise ValueError("%s: %r carries credentials in the URL (user:password@); give them in "
                         "the auth options instead" % (option, _redact(url)))
    if not parts.hostname:
        raise ValueError("%s: %r has no host" % (option, url))
    try:
        # raises on a bad port
        parts.port  # pylint: disable=pointless-statement
    except ValueError:
        raise ValueError("%s: %r has an invalid port" % (option, url))
    if scheme == "http" and not is_loopback_host(parts.hostname):
        raise ValueError(
            "%s: %r uses http:// to the non-loopback host %r; allow_http: true permits "
            "http:// only to localhost, 127.0.0.0/8 or ::1 (loopback tests), because "
            "credentials and queries would cross the network unencrypted; use https://"
            % (option, url, parts.hostname))
    return url.strip()


def _redact(url):
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    return "%s://***@%s%s" % (parts.scheme, host, parts.path)


def origin(url):
    parts = urlsplit(url)
    return "%s://%s" % (parts.scheme, parts.netloc)


def _location_host(headers, base):
    location = headers.get("Location") if headers is not None else None
    if not location:
        return "no Location given"
    parts = urlsplit(location)
    if not parts.netloc:
        return "%s (same host, path %s)" % (origin(base), parts.path or "/")
    return "%s://%s" % (parts.scheme or urlsplit(base).scheme, parts.netloc.rsplit("@", 1)[-1])


def describe_network_error(exc, url, timeout):
    """A short human reason for an exception raised while talking to ``url``."""
    reason = getattr(exc, "reason", exc)
    if isinstance(reason, (socket.timeout, TimeoutError)) or "timed out" in str(reason):
        return "no complete answer from %s within %.1fs (timed out)" % (url, timeout)
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused by %s (is the service running and the port right?)" % url
    if isinstance(reason, socket.gaierror):
        return "cannot resolve the host of %s: %s" % (url, reason)
    if isinstance(reason, ssl.SSLError):
        return "TLS error talking to %s: %s" % (url, reason)
    return "cannot reach %s: %s" % (url, reason)


def _read_capped(stream, limit, url, ends_at):
    """Read ``stream`` to the end: at most ``limit`` bytes, before ``ends_at``."""
    if stream is None:
        return b""
    length = None
    headers = getattr(stream, "headers", None)
    if headers is not None and headers.get("Content-Length", "").strip().isdigit():
        length = int(headers.get("Content-Length").strip())
    if length is not None and length > limit:
        raise HttpError("%s answered with a body of %d bytes, more than the limit of %d bytes"
                        % (url, length, limit), "too_large", url)
    chunks, size = [], 0
    while True:
        if time.monotonic() > ends_at:
            raise socket.timeout("timed out")
        chunk = stream.read(_CHUNK)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > limit:
            raise HttpError("%s answered with a body of more than %d bytes (the limit)"
                            % (url, limit), "too_large", url)
        chunks.append(chunk)


def send(method, url, data=None, headers=None, timeout=10.0, validate_certs=True, ca_path=None,
         max_body=MAX_QUERY_BODY, allow_http=False, option="url"):
    """One request; a Response for any non-redirect HTTP status.

    Raises ValueError for a URL that ``check_url`` refuses (nothing is sent) and
    HttpError for redirects, timeouts, oversized bodies and network failures.
    The whole exchange takes at most ``timeout`` seconds.
    """
    check_url(url, option, allow_http)
    timeout = float(timeout)
    headers = dict(headers or {})
    secret_headers = [h for h in headers if h.lower() in ("authorization", "cookie")]
    started = time.monotonic()
    ends_at = started + timeout
    held = {}

    def exchange():
        request = Request(follow_redirects="none", use_netrc=False, decompress=False,
                          http_agent=USER_AGENT)
        try:
            resp = request.open(method, url, data=data, headers=headers, timeout=timeout,
                                validate_certs=validate_certs, ca_path=ca_path,
                                unredirected_headers=secret_headers)
        except HTTPError as exc:
            held["resp"] = exc
            if 300 <= exc.code < 400:
                return Response(exc.code, exc.headers, b"")
            body = _read_capped(exc if exc.fp is not None else None, max_body, url, ends_at)
            return Response(exc.code, exc.headers, body)
        held["resp"] = resp
        try:
            return Response(resp.status, resp.headers, _read_capped(resp, max_body, url, ends_at))
        finally:
            resp.close()

    def abandon():
        # the socket under urllib's response: HTTPResponse.fp is a BufferedReader
        # over a SocketIO whose _sock is the connection (HTTPError wraps the response)
        stream = held.get("resp")
        for _depth in range(4):
            raw = getattr(stream, "raw", None)
            if raw is not None and getattr(raw, "_sock", None) is not None:
                shutdown_socket(raw._sock)  # pylint: disable=protected-access
                return
            stream = getattr(stream, "fp", None)

    try:
        response = run_bounded(exchange, timeout, on_abandon=abandon)
    except HttpError:
        raise
    except (URLError, OSError, TimeoutError, ssl.SSLError) as exc:
        reason = getattr(exc, "reason", exc)
        kind = "tls" if isinstance(reason, ssl.SSLError) else (
            "timeout" if isinstance(reason, (socket.timeout, TimeoutError)) else "network")
        text = describe_network_error(exc, url, timeout)
        if kind == "tls":
            text += " (certificate verification is on; see the validate_certs / ca_path options)"
        raise HttpError(text, kind, url, retryable=kind != "tls")
    except Exception as exc:  # http.client.HTTPException and friends: a broken answer
        raise HttpError("cannot talk to %s: %s: %s" % (url, type(exc).__name__, exc), "network",
                        url, retryable=True)
    if 300 <= response.status < 400:
        raise HttpError(
            "%s answered HTTP %d redirecting to %s; redirects are not followed so that "
            "credentials are only sent to the host they were configured for -- configure the "
            "final URL instead" % (url, response.status, _location_host(response.headers, url)),
            "redirect", url, status=response.status)
    return response


def post_form(url, form, headers=None, **kwargs):
    """POST ``form`` urlencoded; see ``send``."""
    all_headers = {"Content-Type": "application/x-www-form-urlencoded",
                   "Accept": "application/json"}
    all_headers.update(headers or {})
    return send("POST", url, data=urlencode(form).encode("utf-8"), headers=all_headers, **kwargs)


def post_form_retrying(url, form, deadline, policy, sleep, **kwargs):
    """POST ``form`` until the answer is not 429/5xx or ``deadline`` (a
    retry.Deadline) leaves no room for the next wait (``policy.delay``, which
    honours Retry-After); the last Response. Each attempt's timeout is cut to
    the deadline. Raises HttpError, or retry.DeadlineExceeded when no time is
    left for an attempt."""
    attempt = 0
    while True:
        resp = post_form(url, form, timeout=deadline.timeout(), **kwargs)
        if not policy.retryable(resp.status):
            return resp
        wait = policy.delay(attempt, resp.header("Retry-After"))
        if not deadline.can_wait(wait):
            return resp
        sleep(wait)
        attempt += 1
