"""The per-check table and the summary a user reads."""
from ansible_collections.kubiya.runners.plugins.module_utils import delivery

NOW = 1_800_000_000.0


def results():
    scope = delivery.scope_matchers("r-1")
    ok = delivery.build_check({"name": "components up", "metric": "up"}, scope, 120)
    stale = delivery.build_check({"name": "ksm", "metric": "kube_pod_info"}, scope, 60)
    err = delivery.build_check({"name": "collector", "metric": "x"}, scope, 60)
    return [
        delivery.judge(ok, [{"runner": "r-1"}] * 3, [NOW - 14] * 3, NOW),
        delivery.judge(stale, [], [], NOW, history_ts=[NOW - 372], history_window=3600),
        delivery.error_result(err, "authentication failed: token endpoint answered HTTP 401"),
    ]


def test_table_columns_align_and_show_age_and_detail():
    lines = delivery.render_report(results(), header="HEAD")
    assert lines[0] == "HEAD"
    assert lines[1].split() == ["CHECK", "STATUS", "SERIES", "AGE", "MAX", "AGE", "DETAIL"]
    assert lines[2].split() == ["components", "up", "ok", "3/1", "14s", "2m00s"]
    assert lines[3].split()[:5] == ["ksm", "stale", "0/1", "6m12s", "1m00s"]
    assert "newest sample is 6m12s old" in lines[3]
    assert lines[4].split()[:5] == ["collector", "error", "-", "-", "1m00s"]
    # columns line up: STATUS starts at the same offset on every row
    words = ["STATUS", "ok", "stale", "error"]
    offsets = {line.index(word) for line, word in zip(lines[1:], words)}
    assert len(offsets) == 1
    assert all(line == line.rstrip() for line in lines)


def test_summary_names_each_failure():
    text = delivery.summary(results(), attempts=4, elapsed=31.04)
    assert text.startswith("1 of 3 checks passed after 4 attempts in 31.0s; failing: ")
    assert "ksm: stale: no sample in the query lookback" in text
    assert "collector: authentication failed: token endpoint answered HTTP 401" in text


def test_summary_all_passed():
    ok = results()[:1]
    assert delivery.summary(ok, 1, 0.2) == "1 of 1 checks passed after 1 attempt in 0.2s"
