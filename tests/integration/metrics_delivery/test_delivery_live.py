"""kubiya.runners.metrics_delivery against the real local Prometheus through the
real auth front, with the Entra ID flow pointed at the local token endpoint."""
import re
import socket
import threading
import time

import pytest
import requests

from central import client, settings

pytestmark = [pytest.mark.central]
ORG = "acme"
COMPONENTS = ("agent-manager", "tool-manager", "kubiya-operator")


def push_components(central, runner, metric="kubiya_it_up", age=0.0, drop_component=None):
    ts = client.now_ms() - int(age * 1000)
    series = []
    for comp in COMPONENTS:
        labels = {"__name__": metric, "runner": runner, "organization": ORG,
                  "namespace": "kubiya", "pod": comp + "-0"}
        if comp != drop_component:
            labels["component"] = comp
        series.append((labels, [(ts, 1)]))
    assert central.push(series) == 204


def checks(max_age=60):
    return [
        {"name": "components up", "metric": "kubiya_it_up",
         "required_labels": ["component", "pod", "namespace"], "min_series": 3,
         "max_age": max_age},
        {"name": "all healthy", "promql": "min by (runner) (kubiya_it_up) == 1",
         "required_labels": ["runner"]},
    ]


@pytest.mark.timeout(90)
def test_delivered_fresh_labelled_metrics_pass(central, run_adhoc, runner_name):
    push_components(central, runner_name)
    args = central.module_args(runner=runner_name, organization=ORG, checks=checks(),
                               deadline=20, poll_interval=1)
    run = run_adhoc(args)
    assert run.rc == 0 and not run.failed, run
    assert run.result["changed"] is False
    assert [c["status"] for c in run.result["checks"]] == ["ok", "ok"]
    assert run.check("components up")["series"] == 3
    assert run.check("components up")["oldest_age"] < 30
    assert 'runner="%s"' % runner_name in run.check("components up")["query"]
    report = run.result["report"]
    assert report[0].startswith("metrics_delivery %s organization=%s runner=%s: 2 of 2 checks "
                                "passed" % (central.front_url, ORG, runner_name))
    assert report[2].split()[:5] == ["components", "up", "ok", "3/3", report[2].split()[4]]
    # the secret never shows, not even in the echoed arguments
    assert central.verifier.client_secret not in run.stdout + run.stderr
    assert run.result["invocation"]["module_args"]["client_secret"] == \
        "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"


@pytest.mark.timeout(90)
def test_check_mode_runs_the_same_read_only_checks(central, run_adhoc, runner_name):
    push_components(central, runner_name)
    args = central.module_args(runner=runner_name, organization=ORG, checks=checks(),
                               deadline=20, poll_interval=1)
    run = run_adhoc(args, check_mode=True)
    assert run.rc == 0, run
    assert [c["status"] for c in run.result["checks"]] == ["ok", "ok"]


def _queries_answered(central) -> float:
    """How many instant queries the local Prometheus has answered (its own /metrics)."""
    text = requests.get(central.prometheus_url + "/metrics", timeout=5).text
    return sum(float(v) for v in re.findall(
        r'^prometheus_http_requests_total\{[^}]*handler="/api/v1/query"[^}]*\} (\S+)$', text, re.M))


def _push_after_the_first_query(central, runner, stop):
    """Push only once the module has queried (and found nothing): a fixed delay made the test
    depend on how fast the module process starts on a loaded machine."""
    before = _queries_answered(central)
    while not stop.is_set() and _queries_answered(central) <= before:
        stop.wait(0.2)
    if not stop.is_set():
        push_components(central, runner)


@pytest.mark.timeout(90)
def test_waits_for_data_that_arrives_before_the_deadline(central, run_adhoc, runner_name):
    stop = threading.Event()
    pusher = threading.Thread(target=_push_after_the_first_query, args=(central, runner_name, stop))
    pusher.start()
    try:
        args = central.module_args(runner=runner_name, organization=ORG, checks=checks(),
                                   deadline=30, poll_interval=1)
        run = run_adhoc(args)
    finally:
        stop.set()
        pusher.join()
    assert run.rc == 0, run
    assert run.result["attempts"] >= 2
    assert 1.0 < run.result["elapsed"] < 20  # the push lands ~2 s after the module starts


@pytest.mark.timeout(90)
def test_generic_oauth2_and_bearer_auth(central, run_adhoc, runner_name):
    push_components(central, runner_name)
    base = central.module_args(runner=runner_name, organization=ORG, checks=checks(),
                               deadline=10, poll_interval=1)
    oauth2 = dict(base, auth_type="oauth2", token_url=central.authority_url + "/oauth2/token",
                  scope=settings.QUERY_SCOPE)
    assert run_adhoc(oauth2).rc == 0
    bearer = {k: v for k, v in base.items() if k not in ("client_id", "client_secret",
                                                         "tenant_id", "authority_url")}
    token = central.token("verifier")
    bearer.update(auth_type="bearer", bearer_token=token)
    run = run_adhoc(bearer)
    assert run.rc == 0, run
    assert token not in run.stdout + run.stderr
    assert run.result["invocation"]["module_args"]["bearer_token"] == \
        "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"


@pytest.mark.timeout(90)
def test_unauthenticated_prometheus_with_auth_none(central, run_adhoc, runner_name):
    push_components(central, runner_name)
    run = run_adhoc({"url": central.prometheus_url, "runner": runner_name, "organization": ORG,
                     "checks": checks(), "deadline": 10, "poll_interval": 1,
                     "allow_http": True})
    assert run.rc == 0, run


# --- faults, each bounded in time ------------------------------------------------------

@pytest.mark.timeout(60)
def test_wrong_client_secret_fails_at_once_naming_authentication(central, run_adhoc,
                                                                 runner_name):
    push_components(central, runner_name)
    args = central.module_args(runner=runner_name, client_secret="wrong-secret",
                               checks=checks(), deadline=60, poll_interval=1)
    run = run_adhoc(args)
    assert run.rc != 0 and run.failed, run
    assert run.elapsed < 15  # refused credentials are not retried until the deadline
    assert run.result["attempts"] == 1
    assert "authentication failed" in run.msg
    assert "HTTP 401" in run.msg
    assert "invalid_client" in run.msg
    assert "AADSTS7000215: Invalid client secret provided" in run.msg
    assert central.token_url in run.msg
    assert {c["status"] for c in run.result["checks"]} == {"error"}
    assert "wrong-secret" not in run.stdout


@pytest.mark.timeout(60)
def test_client_without_read_role_gets_403_from_the_front(central, run_adhoc, runner_name):
    args = central.module_args(runner=runner_name, client_id=central.collector.client_id,
                               client_secret=central.collector.client_secret,
                               checks=checks(), deadline=30)
    run = run_adhoc(args)
    assert run.failed, run
    assert run.elapsed < 15
    assert "HTTP 403 (forbidden)" in run.msg
    assert "lacks role Metrics.Read" in run.msg


@pytest.mark.timeout(60)
def test_basic_auth_refused_by_bearer_only_front(central, run_adhoc, runner_name):
    run = run_adhoc({"url": central.front_url, "auth_type": "basic", "username": "u",
                     "password": "p4ss-w0rd", "checks": checks(), "deadline": 30,
                     "allow_http": True})
    assert run.failed, run
    assert "HTTP 401 (unauthorized) to basic credentials" in run.msg
    assert "p4ss-w0rd" not in run.stdout


@pytest.mark.timeout(60)
def test_old_samples_are_stale_with_measured_age(central, run_adhoc, runner_name):
    push_components(central, runner_name, age=200)
    args = central.module_args(runner=runner_name, organization=ORG, checks=checks(max_age=60),
                               deadline=2, poll_interval=1)
    run = run_adhoc(args)
    assert run.failed, run
    c = run.check("components up")
    assert c["status"] == "stale"
    assert 199 <= c["oldest_age"] < 240
    assert c["stale_series"] == 3
    assert "stale: 3 of 3 series older than max_age 1m00s (oldest 3m2" in c["reason"]
    assert "components up: stale" in run.msg


@pytest.mark.timeout(60)
def test_samples_beyond_lookback_reported_stale_not_missing(central, run_adhoc, runner_name):
    push_components(central, runner_name, age=900)
    args = central.module_args(runner=runner_name, organization=ORG, checks=checks(),
                               deadline=0)
    run = run_adhoc(args)
    c = run.check("components up")
    assert c["status"] == "stale", run
    assert "newest sample is 15m0" in c["reason"]
    assert 895 < c["newest_age"] < 960


@pytest.mark.timeout(90)
def test_staleness_detected_within_max_age_after_pushing_stops(central, run_adhoc,
                                                               runner_name):
    """The 'collector stopped' fault: a pusher sends every second, then stops."""
    stop = threading.Event()

    def pusher():
        while not stop.is_set():
            push_components(central, runner_name)
            stop.wait(1.0)
    thread = threading.Thread(target=pusher, daemon=True)
    thread.start()
    max_age = 5
    one_shot = central.module_args(runner=runner_name, organization=ORG,
                                   checks=checks(max_age=max_age)[:1], deadline=0)
    try:
        time.sleep(1.5)
        assert run_adhoc(one_shot).rc == 0
    finally:
        stop.set()
        thread.join(10)
    stopped = time.time()
    time.sleep(max_age + 1.5)
    run = run_adhoc(one_shot)
    assert run.failed, run
    c = run.check("components up")
    assert c["status"] == "stale"
    assert max_age < c["oldest_age"] <= time.time() - stopped + 1.5


@pytest.mark.timeout(60)
def test_missing_required_label_is_named(central, run_adhoc, runner_name):
    push_components(central, runner_name, drop_component="tool-manager")
    args = central.module_args(runner=runner_name, organization=ORG, checks=checks(),
                               deadline=2, poll_interval=1)
    run = run_adhoc(args)
    assert run.failed, run
    c = run.check("components up")
    assert c["status"] == "missing_labels"
    assert c["missing_labels"] == {"component": 1}
    assert "missing label 'component' on 1 of 3 series" in c["reason"]
    assert 'pod="tool-manager-0"' in c["reason"]
    assert run.check("all healthy")["status"] == "ok"


@pytest.mark.timeout(60)
def test_no_data_until_deadline(central, run_adhoc, runner_name):
    args = central.module_args(runner=runner_name, organization=ORG, checks=checks(),
                               deadline=3, poll_interval=1)
    run = run_adhoc(args)
    assert run.failed, run
    assert run.check("components up")["status"] == "no_data"
    assert "no data: no series match kubiya_it_up{runner=\"%s\"" % runner_name in run.msg
    assert run.result["attempts"] >= 3
    assert 3 <= run.result["elapsed"] < 8


@pytest.mark.timeout(60)
def test_token_endpoint_down_clear_error_within_deadline(central, run_adhoc, runner_name):
    central.stop("tokend")
    try:
        args = central.module_args(runner=runner_name, checks=checks(), deadline=4,
                                   poll_interval=1)
        run = run_adhoc(args)
    finally:
        central.start("tokend")
    assert run.failed, run
    assert run.result["elapsed"] < 4 + 5
    assert "cannot get a token: connection refused by %s" % central.token_url in run.msg
    assert run.result["attempts"] >= 2  # a token endpoint outage may be brief: it retried


@pytest.fixture
def silent_server():
    """A TCP port that accepts connections and never answers (a hung endpoint)."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    conns = []
    done = threading.Event()

    def accept():
        srv.settimeout(0.2)
        while not done.is_set():
            try:
                conns.append(srv.accept()[0])
            except OSError:
                continue
    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield "http://127.0.0.1:%d" % srv.getsockname()[1]
    done.set()
    thread.join(5)
    for conn in conns:
        conn.close()
    srv.close()


@pytest.mark.timeout(60)
def test_hung_token_endpoint_times_out_without_hanging(central, run_adhoc, runner_name,
                                                       silent_server):
    args = central.module_args(runner=runner_name, checks=checks(), authority_url=silent_server,
                               timeout=2, deadline=5, poll_interval=1)
    run = run_adhoc(args)
    assert run.failed, run
    assert re.search(r"no complete answer from %s\S* within [0-9.]+s \(timed out\)"
                     % re.escape(silent_server), run.msg), run.msg
    assert run.elapsed < 5 + 2 + 6  # deadline + one request timeout + ansible start-up


@pytest.mark.timeout(60)
def test_hung_prometheus_times_out_without_hanging(central, run_adhoc, silent_server):
    run = run_adhoc({"url": silent_server, "checks": checks(), "timeout": 1, "deadline": 3,
                     "poll_interval": 1, "allow_http": True})
    assert run.failed, run
    assert "no complete answer from %s/api/v1/query within 1.0s (timed out)" % silent_server \
        in run.msg
    assert run.elapsed < 3 + 1 + 6


@pytest.mark.timeout(60)
def test_prometheus_refusing_connections(run_adhoc):
    run = run_adhoc({"url": "http://127.0.0.1:9", "checks": checks(), "deadline": 1,
                     "poll_interval": 0.5, "allow_http": True})
    assert run.failed, run
    assert "connection refused by http://127.0.0.1:9/api/v1/query" in run.msg


@pytest.mark.timeout(60)
def test_promql_without_metric_name_is_refused_before_any_query(run_adhoc):
    run = run_adhoc({"url": "http://127.0.0.1:9", "deadline": 30, "allow_http": True,
                     "checks": [{"name": "nameless", "promql": 'sum(rate({job="x"}[5m]))'}]})
    assert run.failed, run
    assert run.elapsed < 10
    assert "check 'nameless': selector {job=\"x\"} at position 9 has no metric name" in run.msg
    assert "Azure Monitor workspaces require" in run.msg


@pytest.mark.timeout(60)
def test_missing_auth_options_are_reported_by_ansible(run_adhoc):
    run = run_adhoc({"url": "http://127.0.0.1:9", "auth_type": "azure", "client_id": "x",
                     "checks": checks(), "allow_http": True})
    assert run.failed, run
    assert "client_secret" in run.msg and "tenant_id" in run.msg


@pytest.mark.timeout(60)
def test_promql_that_is_not_an_instant_vector_is_refused(central, run_adhoc, runner_name):
    push_components(central, runner_name)
    args = central.module_args(runner=runner_name, deadline=30, poll_interval=1, checks=[
        {"name": "range", "promql": "kubiya_it_up[5m]"}])
    run = run_adhoc(args)
    assert run.failed, run
    assert run.elapsed < 15  # a query that cannot work is not retried
    assert "check 'range': the query must return an instant vector, it returned a matrix" \
        in run.msg
