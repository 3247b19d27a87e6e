"""Table tests for the load tool's pure parts (no server needed).

Run with ``python -m pytest bench/tests``.
"""

from __future__ import annotations

import pytest

from bench.api import DUMMY, REGISTRATION_TOKEN, SyncResponse, marker_of, next_uia_stage
from bench.http import HomeserverClient, path_segment, retry_delay_s
from bench.load import build_parser, check_loopback
from bench.report import ScenarioResult, summary_rows
from bench.stats import latency_summary_ms, median, percentile, rate


@pytest.mark.parametrize(("values", "pct", "expected"), [
    ([], 50, None),
    ([1.0], 99, 1.0),
    ([1.0, 2.0, 3.0, 4.0], 50, 2.0),
    ([1.0, 2.0, 3.0, 4.0], 100, 4.0),
    ([float(i) for i in range(1, 101)], 99, 99.0),
    ([float(i) for i in range(1, 101)], 90, 90.0),
])
def test_percentile_is_nearest_rank(values: list[float], pct: float, expected: float) -> None:
    assert percentile(values, pct) == expected


def test_latency_summary_converts_seconds_to_ms() -> None:
    summary = latency_summary_ms([0.010, 0.020, 0.030])
    assert summary["p50_ms"] == 20.0
    assert summary["max_ms"] == 30.0


@pytest.mark.parametrize(("values", "expected"), [
    ([], None), ([3.0], 3.0), ([1.0, 3.0], 2.0), ([5.0, 1.0, 3.0], 3.0)])
def test_median(values: list[float], expected: float | None) -> None:
    assert median(values) == expected


def test_rate_with_no_elapsed_time_is_zero() -> None:
    assert rate(10, 0.0) == 0.0
    assert rate(10, 2.0) == 5.0


@pytest.mark.parametrize(("flows", "completed", "have_token", "expected"), [
    ([{"stages": [DUMMY]}], [], False, DUMMY),
    ([{"stages": [REGISTRATION_TOKEN]}], [], False, None),
    ([{"stages": [REGISTRATION_TOKEN]}], [], True, REGISTRATION_TOKEN),
    ([{"stages": ["m.login.recaptcha"]}, {"stages": [DUMMY]}], [], False, DUMMY),
    ([{"stages": [REGISTRATION_TOKEN, DUMMY]}], [REGISTRATION_TOKEN], True, DUMMY),
    ([{"stages": [DUMMY]}], [DUMMY], False, None),
])
def test_next_uia_stage(flows: list[dict[str, list[str]]], completed: list[str],
                        have_token: bool, expected: str | None) -> None:
    assert next_uia_stage(flows, completed, have_token) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(("headers", "body", "expected"), [
    ({"Retry-After": "2"}, {"retry_after_ms": 5000}, 2.0),
    ({}, {"retry_after_ms": 1500}, 1.5),
    ({}, {}, 1.0),
    ({"Retry-After": "9999"}, {}, 30.0),
])
def test_retry_delay_prefers_header(headers: dict[str, str], body: dict[str, int],
                                    expected: float) -> None:
    assert retry_delay_s(headers, body) == expected


def test_room_ids_are_percent_encoded_in_paths() -> None:
    assert path_segment("!abc:localhost") == "%21abc%3Alocalhost"


def test_sync_response_extracts_markers_and_limited_rooms() -> None:
    body = {"next_batch": "s2", "rooms": {"join": {
        "!a:x": {"timeline": {"limited": True, "events": [
            {"type": "m.room.message", "content": {"org.parley.bench.marker": "m1"}},
            {"type": "m.room.member", "content": {}}]}},
        "!b:x": {"timeline": {"events": []}}}}}
    response = SyncResponse(body, 0)
    markers = [marker_of(e) for _r, e in response.timeline_events()]
    assert markers == ["m1", None]
    assert response.limited_rooms() == 1
    assert response.next_batch == "s2"


def test_url_keeps_encoded_room_id() -> None:
    client = HomeserverClient(None, "http://127.0.0.1:8008/")  # type: ignore[arg-type]
    url = client.url("/_matrix/client/v3/rooms/%21a%3Ax/messages", {"dir": "b", "from": None})
    assert str(url) == "http://127.0.0.1:8008/_matrix/client/v3/rooms/%21a%3Ax/messages?dir=b"


def test_common_options_accepted_after_subcommand() -> None:
    args = build_parser().parse_args(["wakeup", "-n", "10", "--server-pid", "42", "--json"])
    assert (args.connections, args.server_pid, args.json) == (10, 42, "-")
    assert args.base_url == "http://127.0.0.1:8008"


def test_non_loopback_targets_are_refused() -> None:
    check_loopback("http://127.0.0.1:8008")
    with pytest.raises(SystemExit):
        check_loopback("http://matrix.example.org")


def test_summary_rows_use_headline_metrics() -> None:
    result = ScenarioResult("paginate")
    result.add("pages", 3)
    result.add("events_per_s", 1234.5, "events/s", headline=True)
    assert summary_rows([result]) == [("paginate", "events_per_s", "1,234.50 events/s")]
