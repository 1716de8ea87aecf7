"""Parsing and linting exposition text: pure functions, no server (flash_green_ops/metrics/exposition.py, promlint.py)."""
from __future__ import annotations

import pytest

from flash_green_ops.metrics.exposition import OPENMETRICS, TEXT, ExpositionError, format_of, parse
from flash_green_ops.metrics.promlint import CURRENT, LEGACY, Problem, lint_text, metric_unit

GOOD = (
    "# HELP jobs_total Jobs done.\n# TYPE jobs_total counter\n"
    'jobs_total{queue="a"} 1\njobs_total{queue="b"} 2\n'
    "# HELP rpc_seconds RPC time.\n# TYPE rpc_seconds histogram\n"
    'rpc_seconds_bucket{le="1"} 1\nrpc_seconds_bucket{le="+Inf"} 1\nrpc_seconds_sum 0.5\nrpc_seconds_count 1\n'
)


def test_families_are_grouped_as_prometheus_groups_them():
    exposition = parse(GOOD + 'jobs_total{queue="c"} 3\n')  # the counter again, after the histogram
    assert [(f.name, f.type, f.help, f.line) for f in exposition.families] == [
        ("jobs_total", "counter", True, 1), ("rpc_seconds", "histogram", True, 5)]
    jobs = exposition.family("jobs_total")
    assert [(s.name, s.labels, s.value, s.line) for s in jobs.samples] == [
        ("jobs_total", {"queue": "a"}, 1.0, 3), ("jobs_total", {"queue": "b"}, 2.0, 4),
        ("jobs_total", {"queue": "c"}, 3.0, 11)]
    assert [s.name for s in exposition.family("rpc_seconds").samples] == [
        "rpc_seconds_bucket", "rpc_seconds_bucket", "rpc_seconds_sum", "rpc_seconds_count"]


def test_a_counter_declared_without_total_keeps_its_exposed_name():
    # prometheus_client's parser would rename the sample to requests_total; Prometheus does not.
    family = parse("# HELP requests R.\n# TYPE requests counter\nrequests 1\n").families[0]
    assert family.name == "requests" and family.samples[0].name == "requests"
    assert lint_text("# HELP requests R.\n# TYPE requests counter\nrequests 1\n") == [
        Problem("requests", 'counter metrics should have "_total" suffix', 1)]


def test_openmetrics_counters_are_named_as_exposed():
    text = "# HELP jobs Jobs.\n# TYPE jobs counter\njobs_total 1\njobs_created 1.7e9\n# EOF\n"
    exposition = parse(text, OPENMETRICS)
    assert [(f.name, f.type, f.help) for f in exposition.families] == [("jobs_total", "counter", True)]
    assert lint_text(text, OPENMETRICS) == []


@pytest.mark.parametrize("text, line, reason, quoted", [
    (GOOD + "rpc_seconds_count one\n", 11, "expected float as value, got 'one'", "rpc_seconds_count one"),
    ("# HELP a A.\n\n\na{x=\"1\",x=\"2\"} 1\n", 4, "duplicate label names for metric 'a'", 'a{x="1",x="2"} 1'),
    ("# HELP a A.\n# TYPE a gauge\n# TYPE a gauge\n", 3, "second TYPE line for metric name 'a'", "# TYPE a gauge"),
    ("# HELP a A.\n# TYPE a stateset\na 1\n", 2, "unknown metric type 'stateset'", "# TYPE a stateset"),
    ('# TYPE h histogram\nh_bucket{le="x"} 1\n', 2, "expected float as value for 'le' label", 'h_bucket{le="x"} 1'),
    ("# HELP a A.\na 1 1.5\n", 2, "expected integer as timestamp, got '1.5'", "a 1 1.5"),
])
def test_a_parse_error_names_the_line_and_quotes_it(text, line, reason, quoted):
    with pytest.raises(ExpositionError) as caught:
        parse(text)
    assert (caught.value.line, caught.value.text) == (line, quoted)
    assert reason in caught.value.reason
    assert str(caught.value).startswith(f"line {line}: ")


def test_openmetrics_parse_errors_name_the_line():
    with pytest.raises(ExpositionError) as caught:
        parse("# HELP a A.\n# TYPE a gauge\na 1\n\na 2\n# EOF\n", OPENMETRICS)
    assert caught.value.line == 4 and "Received blank line" in caught.value.reason
    with pytest.raises(ExpositionError) as caught:
        parse("# HELP a A.\n# TYPE a gauge\na 1\n", OPENMETRICS)
    assert caught.value.line == 3 and "Missing # EOF" in caught.value.reason


def test_a_body_that_is_not_utf8_names_the_line():
    with pytest.raises(ExpositionError) as caught:
        parse(b"# HELP a A.\na 1\nb\xff 2\n")
    assert caught.value.line == 3 and caught.value.reason == "not UTF-8"


def reading(exposition) -> list:
    """Everything a parse read: families, types, help, lines, and every sample whole."""
    return [(f.name, f.type, f.help, f.line, [tuple(s) for s in f.samples]) for f in exposition.families]


def test_bytes_read_as_their_text_across_runs_and_pieces():
    # A body of bytes is read in runs: ASCII lines together, about 64 KiB at a time, each line
    # with other bytes alone. Here such lines follow each other (a HELP, samples), on both
    # sides of a piece's end: the bytes must read exactly as their text, line numbers, labels
    # (read again from the body at their offsets) and all.
    body = "".join(
        f"# HELP m{i}_total Caf\u00e9 {i}.\n# TYPE m{i}_total counter\n"
        + "".join(f'm{i}_total{{x="{j}",y="\u00e9{j}"}} {j}\n' if j % 3 else f'm{i}_total{{x="{j}"}} {j}\n'
                  for j in range(30))
        for i in range(300))
    assert len(body.encode()) > 3 * 64 * 1024
    as_text = reading(parse(body))
    assert reading(parse(body.encode())) == as_text
    assert reading(parse(bytearray(body.encode()))) == as_text
    assert as_text[299][4][2] == ("m299_total", {"x": "2", "y": "\u00e92"}, 2.0, 299 * 32 + 5)


def test_format_follows_the_content_type():
    assert format_of("application/openmetrics-text; version=1.0.0") == OPENMETRICS
    assert format_of("text/plain; version=0.0.4") == TEXT
    assert format_of("") == TEXT


def test_duplicate_series_are_flagged_by_the_current_rules_only():
    text = ('# HELP jobs_total J.\n# TYPE jobs_total counter\njobs_total{a="1",b="2"} 1\n'
            'jobs_total{b="2",a="1"} 2\n')
    assert lint_text(text, ruleset=CURRENT) == [
        Problem("jobs_total", "metric not unique", 4, 'jobs_total{a="1",b="2"} on lines 3 and 4')]
    assert lint_text(text, ruleset=LEGACY) == []


def test_type_in_name_current_checks_the_own_type_legacy_every_type():
    text = "# HELP x_gauge_counter_total G.\n# TYPE x_gauge_counter_total counter\nx_gauge_counter_total 1\n"
    assert [p.text for p in lint_text(text, ruleset=CURRENT)] == ["metric name should not include type 'counter'"]
    assert [p.text for p in lint_text(text, ruleset=LEGACY)] == [
        "metric name should not include type 'counter'", "metric name should not include type 'gauge'"]


def test_units_follow_promlints_table():
    assert metric_unit("disk_read_kilobytes_total") == ("kilobytes", "bytes")
    assert metric_unit("room_temperature_fahrenheit") == ("fahrenheit", "celsius")
    assert metric_unit("thermometers_total") is None  # "meters" only as a whole word
    assert metric_unit("queue_wait_seconds_milliseconds") == ("seconds", "seconds")  # the first unit word


def test_unknown_ruleset_is_refused():
    with pytest.raises(ValueError, match="unknown promlint ruleset"):
        lint_text(GOOD, ruleset="2.0")


def test_a_clean_exposition_has_no_problems():
    assert lint_text(GOOD) == [] and lint_text(GOOD, ruleset=LEGACY) == []


# -- issue 18: hostile values never escape as another exception ----------------------------------

HUGE = "1" + "0" * 309  # above the float range, written as an integer


@pytest.mark.parametrize("rules", [CURRENT, LEGACY])
def test_an_integer_above_the_float_range_is_a_parse_error_in_the_text_format(rules):
    with pytest.raises(ExpositionError) as caught:
        parse(f"# HELP a A.\n# TYPE a gauge\na {HUGE}\n", TEXT, rules)
    assert caught.value.line == 3 and caught.value.reason.startswith("expected float as value, got '1000")


def test_an_integer_above_the_float_range_is_a_parse_error_in_openmetrics():
    with pytest.raises(ExpositionError) as caught:
        parse(f"# TYPE a gauge\na {HUGE}\n# EOF\n", OPENMETRICS)
    assert caught.value.line == 2 and "float range" in caught.value.reason


def test_an_empty_openmetrics_body_is_reported_on_line_1():
    with pytest.raises(ExpositionError) as caught:
        parse(b"", OPENMETRICS)
    assert caught.value.line == 1 and "Missing # EOF" in caught.value.reason
    assert str(caught.value).startswith("line 1: ")


# -- today's Prometheus against promtool 2.42's reading ------------------------------------------

def test_utf8_quoted_names_parse_by_the_current_rules_only():
    text = ('# HELP "my.metric" Dotted.\n# TYPE "my.metric" counter\n{"my.metric",code="200"} 3\n'
            '{"my.metric","http.code"="500"} 1\n')
    family = parse(text, TEXT, CURRENT).families[0]
    assert (family.name, family.type, family.help) == ("my.metric", "counter", True)
    assert [(s.labels, s.value, s.line) for s in family.samples] == [
        ({"code": "200"}, 3.0, 3), ({"http.code": "500"}, 1.0, 4)]
    with pytest.raises(ExpositionError) as caught:
        parse(text, TEXT, LEGACY)
    assert caught.value.line == 1


def test_a_gauge_histogram_is_one_family_by_the_current_rules():
    for spelling in ("gaugehistogram", "gauge_histogram"):
        text = (f"# HELP q_bytes Queue.\n# TYPE q_bytes {spelling}\n"
                'q_bytes_bucket{le="1"} 2\nq_bytes_bucket{le="+Inf"} 3\nq_bytes_gsum 4\nq_bytes_gcount 3\n')
        families = parse(text, TEXT, CURRENT).families
        assert [(f.name, f.type, len(f.samples)) for f in families] == [("q_bytes", "gaugehistogram", 4)]
        assert lint_text(text, ruleset=CURRENT) == []
    # promtool 2.42 knows only expfmt's spelling, and reads the samples as families of their own.
    assert {f.name: f.type for f in parse(text, TEXT, LEGACY).families} == {
        "q_bytes_bucket": "untyped", "q_bytes_gsum": "untyped", "q_bytes_gcount": "untyped"}
    with pytest.raises(ExpositionError, match="unknown metric type 'gaugehistogram'"):
        parse(text.replace("gauge_histogram", "gaugehistogram"), TEXT, LEGACY)


@pytest.mark.parametrize("line, reason", [
    ('h_bucket{le="+Inf"} -1', "negative bucket population for histogram 'h'"),
    ("h_count -2", "negative count for histogram 'h'"),
])
def test_negative_histogram_buckets_and_counts_are_refused_by_the_current_rules(line, reason):
    text = f'# HELP h H.\n# TYPE h histogram\nh_bucket{{le="1"}} 0\n{line}\n'
    with pytest.raises(ExpositionError) as caught:
        parse(text, TEXT, CURRENT)
    assert (caught.value.line, caught.value.reason) == (4, reason)
    assert parse(text, TEXT, LEGACY).families[0].type == "histogram"


# -- promlint's counting and wording -------------------------------------------------------------

def test_a_summary_with_a_stray_le_is_one_problem_not_one_per_quantile():
    text = "# HELP rpc_seconds R.\n# TYPE rpc_seconds summary\n" + "".join(
        f'rpc_seconds{{quantile="{q}",le="0.01",myLabel="x"}} 1\n' for q in ("0", "0.25", "0.5", "0.75", "1"))
    assert [(p.text, p.line) for p in lint_text(text)] == [
        ("label names should be written in 'snake_case' not 'camelCase'", 3),
        ('non-histogram metrics should not have "le" label', 3)]
    gauge = '# HELP g G.\n# TYPE g gauge\ng{le="1"} 1\ng{le="2"} 1\n'
    assert [p.line for p in lint_text(gauge)] == [3, 4]  # each gauge sample is a series


def test_the_duplicate_detail_is_beside_promlints_text():
    problem = lint_text('# HELP a_total A.\n# TYPE a_total counter\na_total{x="1"} 1\na_total{x="1"} 2\n')[0]
    assert str(problem) == "a_total metric not unique"  # promtool's own output line
    assert problem.detail == 'a_total{x="1"} on lines 3 and 4'


# -- the second scrape: only what the stability check reads ----------------------------------------

def test_only_reads_the_sample_lines_of_those_names():
    text = ("# HELP c_total C.\n# TYPE c_total counter\nc_total 5\n"
            "# HELP g G.\n# TYPE g gauge\ng{broken 1\n"  # the gauge's line does not parse
            "# TYPE h histogram\n# TYPE h bogus\n"  # nor do the TYPE lines, read together
            'h_bucket{le="1"} 2\nh_bucket{le="+Inf"} 3\nh_count 3\n')
    with pytest.raises(ExpositionError):
        parse(text)
    for body in (text, text.encode()):
        families = parse(body, only={"c_total", "h_bucket"}).families
        assert [(f.name, [(s.labels, s.value, s.line) for s in f.samples]) for f in families] == [
            ("c_total", [({}, 5.0, 3)]), ("h_bucket", [({"le": "1"}, 2.0, 9), ({"le": "+Inf"}, 3.0, 10)])]


def test_a_released_exposition_keeps_families_and_counts_but_not_samples():
    exposition = parse(GOOD)
    exposition.release()
    assert [(f.name, len(f)) for f in exposition.families] == [("jobs_total", 2), ("rpc_seconds", 4)]
    with pytest.raises(RuntimeError, match="released"):
        exposition.families[0].samples
