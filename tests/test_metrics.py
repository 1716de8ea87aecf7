"""The metrics step against real HTTP servers on loopback: every failure the issue names."""
from __future__ import annotations

import base64
import gzip
import json
import time
from urllib.parse import quote

import pytest
from werkzeug.wrappers import Response

from fixtures.services import random_secret, write_env_file
from flash_green_ops import metrics, redact, settings
from flash_green_ops.preflight import new_context
from flash_green_ops.contract import load_contract
from flash_green_ops.envfile import parse_env_text
from flash_green_ops.findings import Status
from flash_green_ops.metrics.promlint import RULESETS
from flash_green_ops.settings import Settings
from tests.conftest import HandAnswer, assert_no_secrets, run_script
from tests.metrics_http import OPENMETRICS_TYPE, TEXT_TYPE, ScriptedServer, SilentListener, exposition

BASE_ENV = {
    "APP_ENV": "staging",
    "CLIENT_CERT_SUBJECT_HEADER": "X-Client-Cert-Subject",
}
TIMEOUT = 1.0


@pytest.fixture(scope="module")
def server():
    server = ScriptedServer()
    yield server
    server.close()


@pytest.fixture(autouse=True)
def _fresh(server):
    server.reset()


@pytest.fixture
def silent():
    listener = SilentListener()
    yield listener
    listener.close()


def context(values: dict[str, str], **settings):
    values = {**BASE_ENV, "API_KEY": random_secret("api"), **values}
    text = "".join(f"{k}='{v}'\n" for k, v in values.items())
    options = {"http_timeout": TIMEOUT, "metrics_interval": 0.05, **settings}
    return new_context(parse_env_text(text, "test.env"), load_contract(), Settings(**options))


def service_env(server, **extra) -> dict[str, str]:
    return {"SERVICE_URL": server.url, "METRICS_PORT": str(server.port), **extra}


def by_check(findings):
    return {f.check.split(".", 1)[1]: f for f in findings}


def healthy(server):
    server.serve("/health", Response('{"status": "ok"}', content_type="application/json"))


# -- the happy paths ------------------------------------------------------------------------

def test_a_good_endpoint_passes_every_check(server):
    server.serve_metrics(exposition(orders=10), exposition(orders=12))
    healthy(server)
    findings = by_check(metrics.run(context(service_env(server))))
    assert {name: f.status for name, f in findings.items()} == {
        "scrape": Status.PASS, "parse": Status.PASS, "lint": Status.PASS,
        "required": Status.PASS, "stable": Status.PASS, "health": Status.PASS}
    # Scraped as a Prometheus server scrapes: it asks for OpenMetrics first.
    accept = [h["Accept"] for path, h in server.requests if path == "/metrics"]
    assert len(accept) == 2 and accept[0].startswith("application/openmetrics-text")


def test_openmetrics_is_parsed_with_the_openmetrics_parser(server):
    body = ("# HELP process_start_time_seconds Start time.\n# TYPE process_start_time_seconds gauge\n"
            "process_start_time_seconds 1.7e9\n# HELP flash_green_orders Orders.\n"
            "# TYPE flash_green_orders counter\nflash_green_orders_total 3\n# EOF\n")
    server.serve_metrics(body, content_type=OPENMETRICS_TYPE)
    probe = metrics.MetricsProbe(context(service_env(server)))
    assert probe.parse().status is Status.PASS and "OpenMetrics" in probe.parse().message
    # The counter family is named as exposed, with _total, as in the text format.
    assert probe.required().status is Status.PASS
    assert probe.lint().status is Status.PASS


def test_the_address_follows_the_env_contract():
    assert metrics.scrape_url({}) == "http://127.0.0.1:8000/metrics"
    assert metrics.scrape_url({"METRICS_PORT": "9100"}) == "http://127.0.0.1:9100/metrics"
    assert metrics.scrape_url({"SERVICE_URL": "https://svc.internal:8443/api", "METRICS_PORT": "9100"}) \
        == "http://svc.internal:9100/metrics"
    assert metrics.scrape_url({"METRICS_URL": "http://m.internal:1/x", "METRICS_PORT": "2"}) == "http://m.internal:1/x"
    assert metrics.health_url({"SERVICE_URL": "http://svc:8080/"}) == "http://svc:8080/health"
    assert metrics.health_url({}) is None


def test_a_bad_metrics_port_fails_the_scrape_and_says_where():
    findings = by_check(metrics.run(context({"METRICS_PORT": "80a"})))
    assert findings["scrape"].status is Status.FAIL
    assert "METRICS_PORT must be an integer 1-65535, found '80a' (test.env line 4)" in findings["scrape"].message
    assert findings["parse"].status is Status.SKIP


# -- each failure the issue names -------------------------------------------------------------

def test_http_500_fails_the_scrape_and_skips_what_needs_a_body(server):
    server.serve_metrics("boom", status=500)
    findings = by_check(metrics.run(context(service_env(server))))
    assert findings["scrape"].status is Status.FAIL
    assert f"GET {server.url}/metrics answered HTTP 500 INTERNAL SERVER ERROR, expected 200" \
        in findings["scrape"].message
    for name in ("parse", "lint", "required", "stable"):
        assert findings[name].status is Status.SKIP, name
        assert "the scrape of" in findings[name].message


@pytest.mark.parametrize("content_type", ["text/html; charset=utf-8", "application/json",
                                          "text/plain; version=9.9.9"])
def test_a_wrong_content_type_fails_the_scrape(server, content_type):
    server.serve_metrics(exposition(), content_type=content_type)
    finding = metrics.MetricsProbe(context(service_env(server))).scrape()
    assert finding.status is Status.FAIL
    assert f"answered with Content-Type {content_type!r}, expected text/plain; version=0.0.4 or " \
           f"application/openmetrics-text" in finding.message


def test_a_body_that_does_not_parse_names_the_line(server):
    body = exposition().replace('venue="powerledger"} 5', 'venue="powerledger"} 5.5.5')
    server.serve_metrics(body)
    probe = metrics.MetricsProbe(context(service_env(server)))
    finding = probe.parse()
    assert finding.status is Status.FAIL
    assert "does not parse as Prometheus text 0.0.4: line 7:" in finding.message
    assert """'flash_green_orders_total{venue="powerledger"} 5.5.5'""" in finding.message
    assert finding.where == f"{server.url}/metrics line 7"
    assert probe.lint().status is Status.SKIP and probe.required().status is Status.SKIP


def test_a_structural_error_prometheus_rejects_is_a_parse_failure(server):
    # prometheus_client's text parser accepts a second TYPE line; Prometheus does not.
    server.serve_metrics(exposition(extra="# TYPE flash_green_orders_total gauge\n"))
    finding = metrics.MetricsProbe(context(service_env(server))).parse()
    assert finding.status is Status.FAIL
    assert "line 14: second TYPE line for metric name 'flash_green_orders_total'" in finding.message


def test_an_openmetrics_body_that_does_not_parse_names_the_line(server):
    body = "# HELP up Up.\n# TYPE up gauge\nup 1\nup{x=1} 2\n# EOF\n"
    server.serve_metrics(body, content_type=OPENMETRICS_TYPE)
    finding = metrics.MetricsProbe(context(service_env(server))).parse()
    assert finding.status is Status.FAIL
    assert "does not parse as OpenMetrics: line 4:" in finding.message and "'up{x=1} 2'" in finding.message


def test_lint_problems_warn_by_default_and_fail_when_strict(server):
    extra = "# TYPE flash_green_queue_latency_milliseconds gauge\nflash_green_queue_latency_milliseconds 3\n"
    server.serve_metrics(exposition(extra=extra))
    lenient = metrics.MetricsProbe(context(service_env(server))).lint()
    assert lenient.status is Status.WARN
    assert "2 problems in 1 metric families" in lenient.message
    assert 'flash_green_queue_latency_milliseconds no help text (line 14)' in lenient.items
    assert any('use base unit "seconds" instead of "milliseconds"' in item for item in lenient.items)
    strict = metrics.MetricsProbe(context(service_env(server), metrics_strict=True)).lint()
    assert strict.status is Status.FAIL and strict.message == lenient.message


def test_a_duplicate_series_is_promlints_text_with_its_lines_beside(server):
    server.serve_metrics(exposition(extra='flash_green_orders_total{venue="ice"} 11\n'))
    finding = metrics.MetricsProbe(context(service_env(server))).lint()
    assert finding.status is Status.WARN
    assert finding.items == ('flash_green_orders_total metric not unique (line 14: flash_green_orders_total'
                             '{venue="ice"} on lines 6 and 14)',)


def test_the_rule_set_is_an_option(server, tmp_path):
    """--metrics-rules: today's Prometheus reads UTF-8 names; promtool 2.42's rules do not."""
    server.serve_metrics(exposition(extra='# HELP "flash.green.up" Up.\n# TYPE "flash.green.up" gauge\n'
                                          '{"flash.green.up"} 1\n'))
    healthy(server)
    env_file, _ = _env_file(tmp_path, server)
    common = ("--stage", "metrics", "--env-file", env_file, "--http-timeout", "2", "--metrics-interval", "0.1")
    current = run_script("preflight_check.py", *common)
    assert current.returncode == 0 and "PASS metrics.parse" in current.stdout, current.stdout + current.stderr
    legacy = run_script("preflight_check.py", *common, "--metrics-rules", "client_golang-1.14")
    assert legacy.returncode == 1 and "FAIL metrics.parse" in legacy.stdout and "line 14: invalid metric name in comment" \
        in legacy.stdout, legacy.stdout
    bad = run_script("preflight_check.py", *common, "--metrics-rules", "2.0")
    assert bad.returncode == 2 and "'2.0' is not one of current, client_golang-1.14" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_the_option_offers_the_rule_sets_promlint_has():
    assert settings.METRICS_RULES == RULESETS


def test_a_missing_required_family_is_named(server):
    body = "# HELP up Up.\n# TYPE up gauge\nup 1\n"
    server.serve_metrics(body)
    finding = metrics.MetricsProbe(context(service_env(server))).required()
    assert finding.status is Status.FAIL
    assert "lacks family process_start_time_seconds; a family whose name starts with flash_green_ " \
           "(required by contract.toml [metrics])" in finding.message


def test_a_counter_that_went_backwards_names_the_series_and_both_values(server):
    server.serve_metrics(exposition(orders=12), exposition(orders=3))
    finding = metrics.MetricsProbe(context(service_env(server), metrics_interval=0.2)).stable()
    assert finding.status is Status.FAIL
    assert 'counters went backwards: flash_green_orders_total{venue="ice"} went from 12.0 to 3.0' \
        in finding.message
    assert "two scrapes 0.2 s apart" in finding.message


def test_a_restart_between_scrapes_fails(server):
    server.serve_metrics(exposition(start_time=1700000000.0), exposition(start_time=1700000042.5, orders=11))
    finding = metrics.MetricsProbe(context(service_env(server))).stable()
    assert finding.status is Status.FAIL
    assert "process_start_time_seconds changed from 1700000000.0 to 1700000042.5: the service restarted" \
        in finding.message
    assert "went backwards" not in finding.message


def test_the_two_scrapes_are_the_interval_apart(server):
    server.serve_metrics(exposition())
    probe = metrics.MetricsProbe(context(service_env(server), metrics_interval=0.5))
    probe.first()
    started = time.monotonic()
    assert probe.stable().status is Status.PASS
    assert 0.5 <= time.monotonic() - started < 1.5


def test_a_listener_that_never_answers_fails_within_the_timeout(silent):
    probe = metrics.MetricsProbe(context({"METRICS_URL": f"{silent.url}/metrics"}))
    started = time.monotonic()
    finding = probe.scrape()
    elapsed = time.monotonic() - started
    assert finding.status is Status.FAIL
    assert f"GET {silent.url}/metrics failed: no answer within 1 s (timed out)" in finding.message
    assert TIMEOUT <= elapsed < TIMEOUT + 1
    assert silent.accepted, "the listener never saw the connection"


def test_a_refused_connection_is_retried_then_fails_fast(silent):
    port = silent.port
    silent.close()  # nothing listens there now
    started = time.monotonic()
    finding = metrics.MetricsProbe(context({"METRICS_PORT": str(port)})).scrape()
    assert finding.status is Status.FAIL
    assert f"GET http://127.0.0.1:{port}/metrics failed: Connection refused (after 2 retries)" in finding.message
    assert "(address from host 127.0.0.1; METRICS_PORT, test.env line 4)" in finding.message
    assert time.monotonic() - started < TIMEOUT + 1


# -- health -----------------------------------------------------------------------------------

def test_health_non_200_fails(server):
    server.serve("/health", Response('{"status": "ok"}', status=503, content_type="application/json"))
    finding = metrics.MetricsProbe(context(service_env(server))).health()
    assert finding.status is Status.FAIL
    assert f"GET {server.url}/health answered HTTP 503 SERVICE UNAVAILABLE, expected 200" in finding.message


@pytest.mark.parametrize("status", ["degraded", "DOWN", ""])
def test_health_with_an_unhealthy_status_fails(server, status):
    server.serve("/health", Response(f'{{"status": "{status}", "db": "ok"}}', content_type="application/json"))
    finding = metrics.MetricsProbe(context(service_env(server))).health()
    assert finding.status is Status.FAIL
    assert f"answered 200 but its status is {status!r}, expected one of ok, pass, healthy" in finding.message


@pytest.mark.parametrize("body", ['{"status": "pass"}', '{"status": "Healthy"}', "OK", '{"uptime": 3}'])
def test_health_ok_statuses_and_bodies_without_one_pass(server, body):
    server.serve("/health", Response(body))
    assert metrics.MetricsProbe(context(service_env(server))).health().status is Status.PASS


def test_health_that_never_answers_fails_within_the_timeout(silent):
    started = time.monotonic()
    finding = metrics.MetricsProbe(context({"SERVICE_URL": silent.url})).health()
    assert finding.status is Status.FAIL and "no answer within 1 s" in finding.message
    assert time.monotonic() - started < TIMEOUT + 1


def test_health_is_skipped_without_service_url():
    finding = metrics.MetricsProbe(context({})).health()
    assert finding.status is Status.SKIP and "SERVICE_URL is not set" in finding.message


# -- the preflight command line ---------------------------------------------------------------

def _env_file(tmp_path, server):
    values = {**BASE_ENV, "API_KEY": random_secret("api"), **service_env(server)}
    return write_env_file(tmp_path / "service.env", values, "metrics test"), values["API_KEY"]


def test_cli_metrics_stage_exits_0_on_a_good_service(server, tmp_path):
    server.serve_metrics(exposition())
    healthy(server)
    env_file, api_key = _env_file(tmp_path, server)
    result = run_script("preflight_check.py", "--stage", "metrics", "--env-file", env_file,
                        "--http-timeout", "2", "--metrics-interval", "0.1")
    assert_no_secrets([api_key], result.stdout, result.stderr)  # first: the next asserts print the output
    assert result.returncode == 0, result.stdout + result.stderr
    assert "PASS metrics.stable" in result.stdout and "6 passed, 0 failed, 0 skipped" in result.stdout


def test_cli_metrics_stage_exits_1_when_a_check_fails(server, tmp_path):
    server.serve_metrics("boom", status=500)
    healthy(server)
    env_file, api_key = _env_file(tmp_path, server)
    result = run_script("preflight_check.py", "--stage", "metrics", "--env-file", env_file,
                        "--http-timeout", "2", "--format", "json")
    assert_no_secrets([api_key], result.stdout, result.stderr)  # first: the next asserts print the output
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stderr == ""
    statuses = {check["id"]: check["status"] for check in json.loads(result.stdout)["checks"]}
    assert statuses["metrics.scrape"] == "FAIL", statuses


def test_a_redirect_is_followed_as_prometheus_follows_it(server):
    server.serve("/old-metrics", Response("", status=302, headers={"Location": "/metrics"}))
    server.serve_metrics(exposition())
    finding = metrics.MetricsProbe(context({"METRICS_URL": f"{server.url}/old-metrics"})).scrape()
    assert finding.status is Status.PASS, finding.message


def test_a_redirect_loop_fails_after_the_redirects_prometheus_allows(server):
    server.serve("/loop", Response("", status=302, headers={"Location": "/loop"}))
    finding = metrics.MetricsProbe(context({"METRICS_URL": f"{server.url}/loop"})).scrape()
    assert finding.status is Status.FAIL
    assert f"GET {server.url}/loop failed: more than {metrics.MAX_REDIRECTS} redirects" in finding.message
    assert len(server.requests) == 1 + metrics.MAX_REDIRECTS


@pytest.mark.parametrize("answer", [
    b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nContent-Type: text/plain\r\n\r\n# HELP a A.\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n20\r\n# HELP a A.\n",
    # No length, no chunks: only the gzip stream's own end (its trailer) tells the body is whole.
    b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nConnection: close\r\n\r\n" + gzip.compress(b"a 1\n" * 100)[:20],
], ids=["content-length", "chunked", "gzip"])
def test_a_body_cut_short_is_a_failed_scrape_not_a_short_exposition(answer):
    with HandAnswer(answer) as hand:
        finding = metrics.MetricsProbe(context({"METRICS_URL": f"http://127.0.0.1:{hand.port}/m"})).scrape()
    assert finding.status is Status.FAIL
    assert "failed: the connection broke off before the whole body arrived (IncompleteRead)" in finding.message


def test_a_body_trickled_in_fails_within_the_timeout():
    """Each read arrives within the read timeout, the whole body never does: the scrape ends at
    --http-timeout all the same (bounded: the server stops after 10 s)."""
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\nContent-Type: text/plain\r\n\r\n"
    with HandAnswer(head, b"# a comment\n", times=50, pause=0.2, wait=5) as trickle:
        url = f"http://127.0.0.1:{trickle.port}/metrics"
        started = time.monotonic()
        finding = metrics.MetricsProbe(context({"METRICS_URL": url})).scrape()
        elapsed = time.monotonic() - started
    assert finding.status is Status.FAIL
    assert f"GET {url} failed: the answer did not finish within 1 s" in finding.message, finding.message
    assert elapsed < TIMEOUT + 1
    assert trickle.done, "the scrape left its connection open: the server still sends"


def test_a_gzip_body_sent_in_chunks_is_decoded(server):
    # As prometheus_client's app answers a scrape that accepts gzip (no Content-Length: chunked).
    packed = gzip.compress(exposition().encode())
    server.serve("/metrics", Response((packed[i:i + 100] for i in range(0, len(packed), 100)),
                                      content_type=TEXT_TYPE, headers={"Content-Encoding": "gzip"}))
    probe = metrics.MetricsProbe(context(service_env(server)))
    assert probe.parse().status is Status.PASS, probe.parse().message
    assert "gzip" in server.requests[0][1]["Accept-Encoding"]


def test_a_body_in_an_encoding_not_asked_for_is_a_failed_scrape(server):
    server.serve("/metrics", Response(b"\x1b\x00\x00", content_type=TEXT_TYPE, headers={"Content-Encoding": "br"}))
    finding = metrics.MetricsProbe(context({"METRICS_URL": f"{server.url}/metrics"})).scrape()
    assert finding.status is Status.FAIL
    assert "failed: the body is encoded as 'br', which was not asked for (gzip was)" in finding.message


def test_basic_auth_follows_a_redirect_to_the_same_host_only(server):
    other = ScriptedServer()  # another port: another origin
    try:
        other.serve_metrics(exposition())
        server.serve_metrics(exposition())
        server.serve("/here", Response("", status=302, headers={"Location": "/metrics"}))
        server.serve("/away", Response("", status=302, headers={"Location": f"{other.url}/metrics"}))
        for path in ("here", "away"):
            url = f"http://prom:{random_secret('pw')}@127.0.0.1:{server.port}/{path}"
            finding = metrics.MetricsProbe(context({"METRICS_URL": url})).scrape()  # not in the assert: url holds a password
            assert finding.status is Status.PASS, finding.message
        sent = [(path, "Authorization" in headers) for path, headers in server.requests + other.requests]
        assert sent == [("/here", True), ("/metrics", True), ("/away", True), ("/metrics", False)]
    finally:
        other.close()


def test_the_url_s_user_and_password_are_sent_as_basic_auth_and_never_shown(server):
    password = random_secret("scrape-pw") + "@:"
    server.serve_metrics(exposition())
    url = f"http://prom:{quote(password, safe='')}@127.0.0.1:{server.port}/metrics"
    finding = metrics.MetricsProbe(context({"METRICS_URL": url})).scrape()
    assert finding.status is Status.PASS, finding.message
    assert_no_secrets([password, quote(password, safe="")], finding.message)
    sent = server.requests[0][1]["Authorization"]
    # A bare bool: pytest would print both operands of a comparison, the password in base64.
    as_basic_auth = sent == "Basic " + base64.b64encode(f"prom:{password}".encode()).decode()
    assert as_basic_auth, "the Authorization header is not Basic prom:<the password> (values hidden)"


def test_a_metrics_url_whose_password_urllib_cannot_delimit_is_never_shown():
    # The '/' ends the URL's host part: a parser sees no password, and a parser's error may quote the whole URL.
    password = f"{random_secret('scrape-pw')}/{random_secret('tail')}"
    url = f"http://prom:{password}@127.0.0.1:1/metrics"
    finding = metrics.MetricsProbe(context({"METRICS_URL": url, "SERVICE_URL": url})).scrape()
    shown = redact.mask(finding.message)
    assert_no_secrets([password, *password.split("/")], finding.message, shown)
    assert finding.status is Status.FAIL
    assert "GET http://*** failed: not a usable URL (InvalidURL)" in finding.message


def test_an_unusable_metrics_url_is_one_clear_failure():
    finding = metrics.MetricsProbe(context({"METRICS_URL": "http://"})).scrape()
    assert finding.status is Status.FAIL
    assert "GET http:// failed: not a usable URL" in finding.message
    assert "(address from METRICS_URL, test.env line 4)" in finding.message


def test_the_counter_snapshot_finds_each_series_by_its_labels_in_any_order():
    from flash_green_ops.metrics.exposition import parse
    first = parse('# HELP a_total A.\n# TYPE a_total counter\na_total{x="1",y="2"} 5\na_total{x="2"} 1\n')
    second = parse('# HELP a_total A.\n# TYPE a_total counter\na_total{y="2",x="1"} 4\na_total{x="3"} 0\n')
    snapshot = metrics.CounterSnapshot.of(first)
    assert len(snapshot) == 2
    assert [snapshot.value_of(v.key) for v in second.family("a_total").values()] == [5.0, None]
    finding = metrics.compare_scrapes(snapshot, second, 1.0, "here")
    assert finding.status is Status.FAIL and 'a_total{x="1",y="2"} went from 5.0 to 4.0' in finding.message


def test_after_the_stability_check_every_check_still_answers(server):
    """stable() lets the first body go: lint, required, parse and stable again still answer."""
    server.serve_metrics(exposition(orders=10), exposition(orders=12), exposition(orders=13))
    probe = metrics.MetricsProbe(context(service_env(server)))
    assert probe.stable().status is Status.PASS
    assert [c().status for c in (probe.scrape, probe.parse, probe.lint, probe.required, probe.stable)] == [
        Status.PASS] * 5
    assert "5 counter series, none went backwards" in probe.stable().message  # 2 counters, 2 buckets, 1 count


def test_quiet_text_shows_failures_warnings_and_five_items_while_json_has_them_all(server, tmp_path):
    """77 lint problems were one 2,245-character line: text shows the count and the first five,
    --quiet only what is not a pass, JSON every problem and each check's own duration."""
    families = "".join(f"# TYPE flash_green_thing{i}_milliseconds gauge\nflash_green_thing{i}_milliseconds 3\n"
                       for i in range(20))
    server.serve_metrics(exposition(extra=families))
    healthy(server)
    env_file, api_key = _env_file(tmp_path, server)
    args = ("--stage", "metrics", "--env-file", env_file, "--http-timeout", "2", "--metrics-interval", "0.1")
    text = run_script("preflight_check.py", *args)
    quiet = run_script("preflight_check.py", *args, "--quiet")
    as_json = run_script("preflight_check.py", *args, "--format", "json")
    assert_no_secrets([api_key], text.stdout, quiet.stdout, as_json.stdout, text.stderr)
    assert text.returncode == quiet.returncode == as_json.returncode == 0, text.stdout + text.stderr
    lint = next(line for line in text.stdout.splitlines() if line.startswith("WARN metrics.lint"))
    assert lint.startswith("WARN metrics.lint 40 problems in 20 metric families"), lint
    assert lint.endswith("; and 35 more (--format json lists all 40)") and lint.count(" (line ") == 5, lint
    assert len(lint) < 800, len(lint)
    assert quiet.stdout.splitlines() == [lint, "preflight: 6 passed, 0 failed, 0 skipped"], quiet.stdout
    checks = {c["id"]: c for c in json.loads(as_json.stdout)["checks"]}
    assert len(checks["metrics.lint"]["items"]) == 40
    assert "flash_green_thing19_milliseconds no help text" in " ".join(checks["metrics.lint"]["items"])
    # Each check's own time: the two scrapes 0.1 s apart are the stable check's, not everyone's.
    durations = {k: c["duration"] for k, c in checks.items()}
    assert durations["metrics.stable"] >= 0.1 and durations["metrics.lint"] < 0.1, durations
