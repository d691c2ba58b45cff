"""Deadlines are kept and answers are bounded (issue 9 item 3).

kubiya.runners.metrics_delivery runs as a real module process against loopback servers
that trickle one byte per second, rate-limit, fail forever or answer far too much. The
run time is measured from outside the process."""
from __future__ import annotations

import itertools
import time
from email.utils import formatdate

import pytest

from loopback import prometheus_ok, reply, token_ok
from testlib import run_module

CHECKS = [{"name": "up", "metric": "up"}]
# Python start-up and module import, measured at ~0.5s; generous on a loaded 2-core box
STARTUP = 2.5


def delivery(tmp_path, **args):
    base = {"checks": CHECKS, "runner": "r1", "allow_http": True, "poll_interval": 1}
    base.update(args)
    return run_module("metrics_delivery", tmp_path, process_timeout=150, **base)


def trickle(start_after_headers=False):
    """Answer one byte per second for up to two minutes (a slow-loris server)."""
    def behave(handler, seen):
        if start_after_headers:
            handler.send_response(200)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", "100000")
            handler.end_headers()
            handler.wfile.flush()
            data = itertools.cycle(b'{"status": "success", "data": {"result": []}} ')
        else:
            data = itertools.cycle(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n")
        for _tick in range(120):
            handler.wfile.write(bytes([next(data)]))
            handler.wfile.flush()
            time.sleep(1)
    return behave


@pytest.mark.parametrize("where", ["status-line", "body"])
@pytest.mark.parametrize("deadline,timeout", [(0, 3), (4, 3)])
def test_a_trickling_server_cannot_hold_the_module_past_deadline_plus_timeout(
        tmp_path, servers, where, deadline, timeout):
    prom = servers(trickle(start_after_headers=where == "body"))
    run = delivery(tmp_path, url=prom.url, deadline=deadline, timeout=timeout)
    assert run.failed
    assert "timed out" in run.msg, run.msg
    assert run.elapsed <= deadline + timeout + STARTUP, \
        "ran %.1fs, documented bound %ds" % (run.elapsed, deadline + timeout)
    assert run.elapsed >= timeout  # it did wait for the answer


def test_a_trickling_token_endpoint_is_bounded_too(tmp_path, servers):
    idp = servers(trickle())
    prom = servers(prometheus_ok)
    run = delivery(tmp_path, url=prom.url, auth_type="oauth2", token_url=idp.url + "/token",
                   client_id="c", client_secret="s3cr3t", deadline=2, timeout=2)
    assert run.failed and "timed out" in run.msg and "cannot get a token" in run.msg, run.msg
    assert run.elapsed <= 2 + 2 + STARTUP
    assert prom.requests == []


def limited_then_ok(retry_after):
    state = {"n": 0}

    def behave(handler, seen):
        state["n"] += 1
        if state["n"] == 1:
            reply(handler, 429, {"status": "error", "error": "slow down"},
                  headers={"Retry-After": retry_after()})
        else:
            prometheus_ok(handler, seen)
    return behave


@pytest.mark.parametrize("retry_after", [
    lambda: "1",
    lambda: formatdate(time.time() + 2, usegmt=True),   # HTTP-date form, 1s resolution
], ids=["seconds", "http-date"])
def test_429_with_retry_after_is_honoured_then_succeeds(tmp_path, servers, retry_after):
    prom = servers(limited_then_ok(retry_after))
    # a poll interval far above Retry-After: success must come from the retry, not a new round
    run = delivery(tmp_path, url=prom.url, deadline=20, poll_interval=15, timeout=5)
    assert not run.failed, run.msg
    assert run.result["attempts"] == 1
    assert len(prom.requests) == 2
    gap = prom.requests[1].at - prom.requests[0].at
    assert 0.95 <= gap < 4, "waited %.2fs after Retry-After" % gap


def test_503_forever_fails_by_the_deadline_naming_the_status(tmp_path, servers):
    prom = servers(lambda h, s: reply(h, 503, {"status": "error", "error": "overloaded"}))
    run = delivery(tmp_path, url=prom.url, deadline=4, timeout=2)
    assert run.failed
    assert "answered HTTP 503" in run.msg and "overloaded" in run.msg, run.msg
    assert run.elapsed <= 4 + 2 + STARTUP
    assert len(prom.requests) >= 3  # retried with backoff, not hammered
    gaps = [b.at - a.at for a, b in zip(prom.requests, prom.requests[1:])]
    assert min(gaps) >= 0.2, gaps


def huge(size, chunked=False):
    def behave(handler, seen):
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        if chunked:
            handler.send_header("Transfer-Encoding", "chunked")
        else:
            handler.send_header("Content-Length", str(size))
        handler.end_headers()
        block = b" " * 65536
        sent = 0
        while sent < size:
            if chunked:
                handler.wfile.write(b"%x\r\n%s\r\n" % (len(block), block))
            else:
                handler.wfile.write(block)
            sent += len(block)
        if chunked:
            handler.wfile.write(b"0\r\n\r\n")
    return behave


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_huge_prometheus_answer_is_refused_at_10_mib(tmp_path, servers, chunked):
    prom = servers(huge(12 * 1024 * 1024, chunked))
    run = delivery(tmp_path, url=prom.url, deadline=30, timeout=10)
    assert run.failed
    assert "more than" in run.msg and "10485760 bytes" in run.msg, run.msg
    assert len(prom.requests) == 1 and run.elapsed < 15  # not retried: waiting cannot help


def test_a_huge_token_answer_is_refused_at_1_mib(tmp_path, servers):
    idp = servers(huge(2 * 1024 * 1024))
    prom = servers(prometheus_ok)
    run = delivery(tmp_path, url=prom.url, auth_type="oauth2", token_url=idp.url + "/token",
                   client_id="c", client_secret="s3cr3t", deadline=30, timeout=10)
    assert run.failed and "1048576 bytes" in run.msg, run.msg
    assert len(idp.requests) == 1 and prom.requests == []


def test_token_endpoint_429_is_retried_within_the_deadline(tmp_path, servers):
    state = {"n": 0}

    def idp_behave(handler, seen):
        state["n"] += 1
        if state["n"] == 1:
            reply(handler, 429, {"error": "temporarily_unavailable"}, headers={"Retry-After": "1"})
        else:
            token_ok(handler, seen)
    idp = servers(idp_behave)
    prom = servers(prometheus_ok)
    run = delivery(tmp_path, url=prom.url, auth_type="oauth2", token_url=idp.url + "/token",
                   client_id="c", client_secret="s3cr3t", deadline=10, poll_interval=15)
    assert not run.failed, run.msg
    assert len(idp.requests) == 2 and idp.requests[1].at - idp.requests[0].at >= 0.95


def test_deeply_nested_json_is_a_clear_error_not_a_traceback(tmp_path, servers):
    prom = servers(lambda h, s: reply(h, 200, raw=b"[" * 200000 + b"]" * 200000))
    run = delivery(tmp_path, url=prom.url, deadline=0, timeout=5)
    assert run.failed and "did not answer JSON" in run.msg, run.msg
    assert len(prom.requests) == 1
