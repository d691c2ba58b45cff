# -*- coding: utf-8 -*-
# Copyright: (c) 2025, Kubiya runners platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Deadlines and retries shared by every HTTP client of the collection.

* ``Deadline``: a module's time budget. Polling stops at ``deadline`` seconds;
  every request is cut so that it ends by deadline + one request timeout, and
  a retry is only waited for when it still fits in that bound, so a module
  returns within deadline + timeout.
* ``RetryPolicy``: which answers are worth another try (429 and 5xx), and how
  long to wait before it: exponential backoff with jitter, or the server's
  ``Retry-After`` (seconds or an HTTP date), capped.
* ``run_bounded``: call a function in a worker thread and give up on it after
  a wall-clock limit. Socket timeouts bound each read, not a whole exchange: a
  server that trickles one byte per second never trips them.

Used by prometheus.py/auth.py (through transport.py) and kube.py.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import random
import re
import socket
import threading
import time
from email.utils import parsedate_to_datetime

_DELTA_SECONDS = re.compile(r"^[0-9]{1,12}\Z")
# A request is not started with less than this many seconds left.
MIN_REQUEST_TIME = 0.05


class DeadlineExceeded(Exception):
    """No time is left for another request."""


class Abandoned(TimeoutError):
    """run_bounded gave up waiting; the worker thread may still hold its stream."""


def parse_retry_after(value, now=None):
    """Seconds to wait from a ``Retry-After`` header value, or None.

    Accepts delta-seconds (``120``) and HTTP dates (RFC 9110 10.2.3); a date in
    the past means 0. Anything else (negative, NaN, junk) is ignored.
    """
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        return None
    if _DELTA_SECONDS.match(text):  # ASCII digits only: str.isdigit() accepts '²'
        return float(int(text))
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None:
        return None
    now = time.time() if now is None else now
    try:
        return max(0.0, when.timestamp() - now)
    except (OverflowError, ValueError, OSError):
        return None


class RetryPolicy(object):
    """429 and 5xx are retried; the wait doubles from ``base`` up to ``cap``
    seconds, with equal jitter (half fixed, half random), unless the server
    says ``Retry-After`` (honoured up to ``max_retry_after`` seconds)."""

    def __init__(self, base=0.5, factor=2.0, cap=8.0, max_retry_after=30.0, rng=random.random):
        self.base, self.factor, self.cap = float(base), float(factor), float(cap)
        self.max_retry_after, self.rng = float(max_retry_after), rng

    @staticmethod
    def retryable(status):
        return status is not None and (status == 429 or 500 <= status <= 599)

    def delay(self, attempt, retry_after=None, now=None):
        """Seconds to wait before retry number ``attempt`` (0 = first retry)."""
        told = parse_retry_after(retry_after, now)
        if told is not None:
            return min(told, self.max_retry_after)
        backoff = min(self.cap, self.base * self.factor ** max(0, attempt))
        return backoff / 2 + self.rng() * backoff / 2


DEFAULT_POLICY = RetryPolicy()


class Deadline(object):
    """Time budget: wait until ``deadline`` s, finish a request by deadline + timeout.

    ``deadline`` is seconds from now (0: one round, no waiting), or None for
    "only this request" (same as 0). ``request_timeout`` bounds one request.
    """

    def __init__(self, deadline, request_timeout, clock=time.monotonic):
        self.clock = clock
        self.start = clock()
        self.deadline = float(deadline or 0)
        self.request_timeout = float(request_timeout)
        self.soft_end = self.start + self.deadline
        self.hard_end = self.soft_end + self.request_timeout

    def elapsed(self):
        return self.clock() - self.start

    def remaining(self):
        """Seconds left to wait (polls, retries); negative once passed."""
        return self.soft_end - self.clock()

    def timeout(self):
        """Timeout for a request started now: the request timeout, cut so that it
        ends by deadline + request timeout. Raises DeadlineExceeded when no time
        is left."""
        left = self.hard_end - self.clock()
        if left < MIN_REQUEST_TIME:
            raise DeadlineExceeded("deadline of %gs (plus one request timeout of %gs) reached"
                                   % (self.deadline, self.request_timeout))
        return min(self.request_timeout, left)

    def can_wait(self, seconds):
        """Whether a retry after waiting ``seconds`` still fits: it leaves at least
        min(1s, half a request timeout) for the request before deadline + timeout."""
        return self.clock() + seconds + min(1.0, self.request_timeout / 2) < self.hard_end


def _quietly(func):
    # best effort clean-up: nothing to report to anybody
    try:
        func()
    except Exception:  # pylint: disable=broad-except
        pass


def shutdown_socket(sock):
    """Wake up a thread blocked reading ``sock`` (close() alone may not)."""
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class _Outcome(object):
    def __init__(self):
        self.done = threading.Event()
        self.value = self.error = None


def run_bounded(func, limit, on_abandon=None):
    """``func()`` in a daemon thread; its result, its exception, or TimeoutError
    after ``limit`` seconds of wall-clock time.

    On timeout the thread is left behind (it holds only a socket that its own
    timeouts close) and ``on_abandon()`` is called to cut it short if given.
    """
    outcome = _Outcome()

    def work():
        try:
            outcome.value = func()
        except BaseException as exc:  # pylint: disable=broad-except
            outcome.error = exc  # handed to the caller below
        finally:
            outcome.done.set()

    thread = threading.Thread(target=work, name="kubiya-runners-request")
    thread.daemon = True
    thread.start()
    if not outcome.done.wait(max(0.0, limit)):
        if on_abandon is not None:
            # in its own thread: closing a stream can block on the reader's lock
            closer = threading.Thread(target=_quietly, args=(on_abandon,),
                                      name="kubiya-runners-abandon")
            closer.daemon = True
            closer.start()
        raise Abandoned("no complete answer within %.1fs" % limit)
    if outcome.error is not None:
        raise outcome.error
    return outcome.value
