"""flash_green_ops/metrics/promlint.py agrees with the reference linter, ``promtool check metrics``.

Both run on the same inputs: node_exporter's real expositions (tests/data/), client_golang's
own promlint test inputs (tests/data/upstream/) and a set of broken ones written here. They
must reach the same verdict (clean / lint problems / does not parse), report the same problem
list (metric, text, how many times), and put a parse error on the same line.

promtool comes from Debian's ``prometheus`` package. Without it these tests skip, except under
CI (the CI variable set), which installs it: there a missing promtool is a failure.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections import Counter

import pytest

from flash_green_ops.metrics.exposition import ExpositionError
from flash_green_ops.metrics.promlint import CURRENT, LEGACY, lint_text
from tests.conftest import REPO, skip_unless_ci

SAMPLES = REPO / "tests" / "data"
UPSTREAM = json.loads((SAMPLES / "upstream" / "client_golang_promlint.json").read_text())["cases"]
SAMPLE_FILES = ["node_exporter_e2e.prom", "node_exporter_e2e_darwin.prom", "node_exporter_e2e_freebsd.prom"]

CLEAN, PROBLEMS, UNPARSEABLE = "clean", "lint problems", "does not parse"


# Each names what it breaks. h(name, type) writes the HELP and TYPE lines.
def h(name: str, typ: str | None = None, help_text: str = "Some help.") -> str:
    return f"# HELP {name} {help_text}\n" + (f"# TYPE {name} {typ}\n" if typ else "")


BROKEN = {
    "counter_without_total": h("http_requests", "counter") + 'http_requests{code="200"} 3\n',
    "camel_case_name_and_label": h("httpRequests_total", "counter") + "httpRequests_total 3\n"
                                 + h("ok_total", "counter") + 'ok_total{statusCode="200"} 1\n',
    "non_base_units": h("request_latency_milliseconds", "gauge") + "request_latency_milliseconds 3\n"
                      + h("link_speed_megabits", "gauge") + "link_speed_megabits 1\n"
                      + h("uptime_hours", "gauge") + "uptime_hours 1\n"
                      + h("body_kilobytes", "gauge") + "body_kilobytes 1\n"
                      + h("good_seconds", "gauge") + "good_seconds 1\n",
    "no_help": "# TYPE queue_depth gauge\nqueue_depth 3\nstray_metric 1\n" + h("fine", "gauge") + "fine 1\n",
    "reserved_suffixes_and_labels": h("a_total", "gauge") + "a_total 1\n" + h("b_count", "gauge") + "b_count 1\n"
                                    + h("c_sum", "gauge") + "c_sum 1\n"
                                    + h("d_bucket", "summary") + 'd_bucket{quantile="0.5"} 1\n'
                                    + h("e", "gauge") + 'e{le="1"} 1\ne{quantile="0.5"} 1\n',
    "type_in_name": h("foo_gauge", "gauge") + "foo_gauge 1\n" + h("bar_counter_total", "counter")
                    + "bar_counter_total 1\n" + h("baz_histogram") + "baz_histogram 1\n",
    "colons": h("job:requests:rate5m", "gauge") + "job:requests:rate5m 1\n",
    "abbreviated_units": h("latency_ms", "gauge") + "latency_ms 1\n" + h("disk_kb_used", "gauge")
                         + "disk_kb_used 1\n" + h("uptime_sec", "gauge") + "uptime_sec 1\n",
    "untyped_total_is_fine": h("legacy_total") + "legacy_total 1\n",
    "duplicate_series": h("jobs_total", "counter") + 'jobs_total{queue="a"} 1\njobs_total{queue="a"} 2\n',
    "well_formed_histogram_summary_split_family": (
        h("rpc_duration_seconds", "histogram") + 'rpc_duration_seconds_bucket{le="0.1"} 1\n'
        + 'rpc_duration_seconds_bucket{le="+Inf"} 2\nrpc_duration_seconds_sum 0.3\nrpc_duration_seconds_count 2\n'
        + h("rpc_size_bytes", "summary") + 'rpc_size_bytes{quantile="0.5"} 10\nrpc_size_bytes_sum 20\n'
        + "rpc_size_bytes_count 2\n" + h("x_total", "counter") + 'x_total{a="1"} 1\n' + h("y", "gauge")
        + "y 1\n" + 'x_total{a="2"} 2 1700000000000\n'),
    # Parse errors: promtool exits 1 and names the line.
    "bad_value": h("a", "gauge") + "a 1\nb 1.2.3\n",
    "unclosed_labels": h("a", "gauge") + 'a{x="1" 1\n',
    "duplicate_label_name": h("a", "gauge") + 'a{x="1",x="2"} 1\n',
    "second_type_line": h("a", "gauge") + "# TYPE a counter\na 1\n",
    "type_after_samples": h("a") + "a 1\n# TYPE a gauge\n",
    "second_help_line": h("a") + "# HELP a again\na 1\n",
    "unknown_type": h("a", "info") + "a 1\n",
    "histogram_le_not_a_number": h("h", "histogram") + 'h_bucket{le="0.1"} 1\nh_bucket{le="abc"} 1\nh_count 1\n',
    "summary_quantile_not_a_number": h("s", "summary") + 's{quantile="x"} 1\n',
    "name_only_in_labels": h("a") + 'a 1\n{__name__="a"} 2\n',
    "invalid_escape_in_label": h("a") + 'a{x="a\\q"} 1\n',
    "invalid_escape_in_help": "# HELP a A \\q help.\na 1\n",
    "float_timestamp": h("a") + "a 1 1.5\n",
    "spurious_after_timestamp": h("a") + "a 1 2 3\n",
    "blank_after_value": h("a") + "a 1 \n",
    "crlf_line_ends": "# HELP a A.\r\n# TYPE a gauge\r\na 1\r\n",
    "cr_after_a_value": h("a", "gauge") + "a 1\r\n",  # float("1\r") is 1.0 in Python, an error in Go
    "vertical_tab_after_a_value": h("a", "gauge") + "a 1\x0b\n",
    "blank_inside_name": h("a") + 'a\tb{x="1"} 1\n',
    "glued_name": h("a") + 'a=b{x="1"} 1\n',
    "colon_in_label_name": h("a") + 'a{:x="1"} 1\n',
    "quoted_utf8_label_name": h("a") + 'a{"x.y"="1"} 1\n',
    "no_final_newline": h("a") + "a 1",
    # Lines Prometheus skips, and a type prometheus_client does not know.
    "type_line_without_type": h("a") + "# TYPE a\na 1\n",
    "blank_and_indented_lines": "\n  \n" + h("a") + "\t a 1\n",
    "gauge_histogram": h("g", "gauge_histogram") + 'g_bucket{le="1"} 1\n',
    # Counting: promlint reports once per series (a summary's quantiles with their _sum and
    # _count, a histogram's buckets, sharing their other labels), once per sample otherwise.
    "summary_quantiles_with_a_stray_le": h("rpc_seconds", "summary") + "".join(
        f'rpc_seconds{{quantile="{q}",le="0.01"}} 1\n' for q in ("0", "0.25", "0.5", "0.75", "1"))
        + 'rpc_seconds_sum{le="0.01"} 2\nrpc_seconds_count{le="0.01"} 5\n',
    "histogram_buckets_with_quantile_and_camel_labels": h("lat_seconds", "histogram") + "".join(
        f'lat_seconds_bucket{{quantile="0.5",httpCode="{c}",le="{b}"}} 1\n' for c in ("200", "500")
        for b in ("1", "+Inf")),
    "gauge_with_le_on_every_sample": h("temp", "gauge") + 'temp{le="1"} 1\ntemp{le="2"} 1\ntemp{le="3"} 1\n',
    "camel_label_on_every_counter_sample": h("a_total", "counter") + 'a_total{myCode="1"} 1\na_total{myCode="2"} 1\n',
    # Values beyond the float range are parse errors (Go's ParseFloat), never an overflow.
    "value_beyond_float_range_exponent": h("a") + "a 1e309\n",
    "value_beyond_float_range_integer": h("a") + "a 1" + "0" * 309 + "\n",
    "signed_nan": h("a") + "a -NaN\n",
}


def promtool() -> str:
    path = shutil.which("promtool")
    if path:
        return path
    skip_unless_ci("promtool is not installed (Debian package prometheus): cannot compare with it")


def ruleset_for(version: tuple[int, ...]) -> str:
    """promtool 2.x carries client_golang's promlint of the 1.14 era (verified: 2.42); 3.x the
    current rules. PROMLINT_RULESET overrides, for a promtool built otherwise."""
    override = os.environ.get("PROMLINT_RULESET")
    if override:
        return override
    return CURRENT if version >= (3,) else LEGACY


def promtool_version(binary: str) -> tuple[int, ...]:
    output = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=30).stdout
    match = re.search(r"version (\d+)\.(\d+)\.(\d+)", output)
    assert match, f"cannot read promtool's version from {output!r}"
    return tuple(int(x) for x in match.groups())


def run_promtool(binary: str, text: str) -> tuple[str, Counter, int | None]:
    """(verdict, Counter of (metric, text), the parse error's line)."""
    result = subprocess.run([binary, "check", "metrics"], input=text, capture_output=True, text=True,
                            timeout=60)
    if result.returncode == 1:
        line = re.search(r"parsing error in line (\d+)", result.stderr)
        return UNPARSEABLE, Counter(), int(line.group(1)) if line else None
    assert result.returncode in (0, 3), f"promtool exited {result.returncode}: {result.stderr}"
    problems = Counter(tuple(line.split(" ", 1)) for line in result.stderr.splitlines() if line.strip())
    return (PROBLEMS if result.returncode == 3 else CLEAN), problems, None


def run_ours(text: str, ruleset: str) -> tuple[str, Counter, int | None]:
    try:
        problems = lint_text(text, ruleset=ruleset)
    except ExpositionError as exc:
        return UNPARSEABLE, Counter(), exc.line
    return (PROBLEMS if problems else CLEAN), Counter((p.metric, p.text) for p in problems), None


@pytest.fixture(scope="module")
def reference():
    binary = promtool()
    return binary, ruleset_for(promtool_version(binary))


@pytest.mark.parametrize("sample", SAMPLE_FILES)
def test_agrees_on_node_exporter_samples(reference, sample):
    path = SAMPLES / sample
    binary, ruleset = reference
    text = path.read_text()
    theirs, ours = run_promtool(binary, text), run_ours(text, ruleset)
    assert ours == theirs
    if sample == "node_exporter_e2e.prom":  # as tests/data/README.md describes it
        assert theirs[0] == PROBLEMS and sum(theirs[1].values()) == 77
    else:
        assert theirs[0] == CLEAN


@pytest.mark.parametrize("case", list(BROKEN))
def test_agrees_on_broken_expositions(reference, case):
    binary, ruleset = reference
    theirs, ours = run_promtool(binary, BROKEN[case]), run_ours(BROKEN[case], ruleset)
    assert ours == theirs, f"{case}: promtool says {theirs}, we say {ours}"


@pytest.mark.parametrize("case", UPSTREAM, ids=lambda c: f"{c['test']}:{c['name']}")
def test_agrees_on_client_golangs_own_promlint_inputs(reference, case):
    binary, ruleset = reference
    theirs, ours = run_promtool(binary, case["in"]), run_ours(case["in"], ruleset)
    assert ours == theirs


def test_counting_differs_from_a_name_set(reference):
    """Guards the counting cases: promtool reports the summary's stray le once, the gauge's
    three times; a comparison of name sets could not tell."""
    binary, _ = reference
    assert run_promtool(binary, BROKEN["summary_quantiles_with_a_stray_le"])[1] == Counter(
        {("rpc_seconds", 'non-histogram metrics should not have "le" label'): 1})
    assert run_promtool(binary, BROKEN["gauge_with_le_on_every_sample"])[1] == Counter(
        {("temp", 'non-histogram metrics should not have "le" label'): 3})


def test_the_cases_cover_every_verdict_and_lint_rule(reference):
    """Guards the cases themselves: each verdict occurs, and each promlint rule is provoked."""
    binary, ruleset = reference
    verdicts = {run_promtool(binary, text)[0] for text in BROKEN.values()}
    assert verdicts == {CLEAN, PROBLEMS, UNPARSEABLE}
    texts = {p.text.split(" (")[0] for t in BROKEN.values() if run_ours(t, ruleset)[0] == PROBLEMS
             for p in lint_text(t, ruleset=ruleset)}
    for fragment in ("no help text", "use base unit", 'should have "_total"', 'should not have "_total"',
                     '"_bucket" suffix', '"_count" suffix', '"_sum" suffix', '"le" label', '"quantile" label',
                     "should not include type", "should not contain ':'", "'snake_case'",
                     "abbreviated units"):
        assert any(fragment in t for t in texts), fragment
