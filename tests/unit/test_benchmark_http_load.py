"""The submit-latency benchmark reads wrk's report: only 2xx answers count, latencies in
any unit become milliseconds, and socket errors are errors."""

from __future__ import annotations

import pytest

from benchmarks.http_load import _wrk_script, parse_wrk

REPORT = """Running 8s test @ http://127.0.0.1:8798/api/high-scale-tasks/submit
  1 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    14.02ms    5.11ms  61.93ms   77.21%
    Req/Sec     1.14k   104.32     1.33k    71.25%
  Latency Distribution
     50%   13.49ms
     75%   16.60ms
     90%   20.31ms
     99%   32.36ms
  9000 requests in 8.10s, 4.18MB read
{extra}Requests/sec:   1111.11
Transfer/sec:    528.53KB
"""


def test_a_clean_report_gives_the_rate_and_the_percentiles_in_milliseconds():
    figures = parse_wrk(REPORT.format(extra=""))
    assert figures["requests_per_s"] == pytest.approx(1111.11)
    assert figures["p50_ms"] == pytest.approx(13.49)
    assert figures["p99_ms"] == pytest.approx(32.36)
    assert figures["errors"] == 0


def test_refused_answers_do_not_count_towards_the_rate():
    extra = "  Socket errors: connect 0, read 2, write 0, timeout 1\n"
    extra += "  Non-2xx or 3xx responses: 900\n"
    figures = parse_wrk(REPORT.format(extra=extra))
    assert figures["requests_per_s"] == pytest.approx(1111.11 * 0.9)
    assert figures["errors"] == 903


def test_latencies_in_microseconds_and_seconds_are_converted():
    report = REPORT.format(extra="").replace("13.49ms", "310.00us").replace("32.36ms", "1.41s")
    figures = parse_wrk(report)
    assert figures["p50_ms"] == pytest.approx(0.31)
    assert figures["p99_ms"] == pytest.approx(1410.0)


def test_a_report_without_figures_is_an_error_not_a_zero():
    with pytest.raises(ValueError):
        parse_wrk("unable to connect to 127.0.0.1:8798 Connection refused\n")


def test_the_request_script_sends_the_json_body_and_every_header():
    script = _wrk_script({"X-API-Key": "vf_abc"}, {"name": "it's", "function_name": "noop"})
    assert 'wrk.method = "POST"' in script
    assert 'wrk.body = [==[{"name": "it\'s", "function_name": "noop"}]==]' in script
    assert "wrk.headers[ [==[X-API-Key]==] ] = [==[vf_abc]==]" in script
    assert "wrk.headers[ [==[Content-Type]==] ] = [==[application/json]==]" in script


def test_a_value_holding_the_closing_bracket_gets_a_longer_one():
    script = _wrk_script({}, {"name": "a]==]b"})
    assert 'wrk.body = [===[{"name": "a]==]b"}]===]' in script
