"""The rules of ``promtool check metrics``, as pure functions over parsed exposition text.

promtool's checks are client_golang's ``prometheus/testutil/promlint``: a fixed list of rules,
each run once per metric family, each problem reported as ``<metric> <text>``. The rules, the
unit tables and the problem texts below are promlint's own, so a finding here reads like
promtool's output. Two versions are kept, because operators run both:

* ``CURRENT``: client_golang >= 1.20 (Prometheus 3.x's promtool). Adds "metric not unique"
  (duplicate series) and reports a type in the name only for the family's own type.
* ``LEGACY``: client_golang 1.14, as in Debian 12's promtool 2.42: no duplicate rule; any
  type name (counter, gauge, summary, histogram, gauge_histogram) in any typed or untyped name.

Problems are counted as promlint counts them: once per family, or (le, quantile, camelCase
labels, duplicates) once per series, where a histogram's buckets or a summary's quantiles and
their _sum and _count sharing the other labels are one series (exposition.Family.series).
Texts are promlint's own; what we add (the duplicate's lines) is ``Problem.detail``, beside.

Where promlint's outcome depends on Go's random map order (1.14: a name with two unit words),
the deterministic order of later versions (the first unit word in the name) is used.
Duplicate series are detected on the label *set* (promlint compares label lists in the order
written, so it misses ``a{x="1",y="2"}`` beside ``a{y="2",x="1"}``, which is the same series).
"""
from __future__ import annotations

import functools
import re
from typing import NamedTuple

from flash_green_ops.metrics.exposition import CURRENT, LEGACY, RULESETS, TEXT, Family, Series, parse, series_key

__all__ = ["CURRENT", "LEGACY", "RULESETS", "Problem", "lint_families", "lint_text", "metric_unit"]

# promlint's units table: unit -> its base unit.
UNITS = {
    "amperes": "amperes", "bytes": "bytes", "celsius": "celsius", "grams": "grams",
    "joules": "joules", "kelvin": "kelvin", "meters": "meters", "metres": "metres",
    "seconds": "seconds", "volts": "volts",
    "minutes": "seconds", "hours": "seconds", "days": "seconds", "weeks": "seconds",
    "kelvins": "kelvin", "fahrenheit": "celsius", "rankine": "celsius",
    "inches": "meters", "yards": "meters", "miles": "meters",
    "bits": "bytes",
    "calories": "joules",
    "pounds": "grams", "ounces": "grams",
}
UNIT_PREFIXES = ("pico", "nano", "micro", "milli", "centi", "deci", "deca", "hecto", "kilo", "kibi",
                 "mega", "mibi", "giga", "gibi", "tera", "tebi", "peta", "pebi")
UNIT_ABBREVIATIONS = ("s", "ms", "us", "ns", "sec", "b", "kb", "mb", "gb", "tb", "pb", "m", "h", "d")
# dto.MetricType names other than UNTYPED, lower-cased (the legacy type-in-name rule).
TYPE_NAMES = ("counter", "gauge", "summary", "histogram", "gauge_histogram")
_CAMEL_CASE = re.compile(r"[a-z][A-Z]")
# Every word metric_unit recognises -> (the word, its base unit): a unit, or a prefixed unit.
_UNIT_WORDS = {prefix + unit: (prefix + unit, base) for unit, base in UNITS.items()
               for prefix in ("", *UNIT_PREFIXES) if prefix + unit not in UNITS or not prefix}
# An abbreviation as a whole word ("_ms_" or a final "_ms"); the lookahead lets "_s_ms" find both.
_ABBREVIATION = re.compile(r"_(%s)(?=_|$)" % "|".join(UNIT_ABBREVIATIONS))


class Problem(NamedTuple):
    metric: str
    text: str  # promlint's text, verbatim
    line: int = 0
    detail: str = ""  # ours, e.g. which lines a duplicate series is on

    def __str__(self) -> str:  # promtool's own output line
        return f"{self.metric} {self.text}"


def lint_text(text: str | bytes, fmt: str = TEXT, ruleset: str = CURRENT) -> list[Problem]:
    """Lint exposition text; raises exposition.ExpositionError when it does not parse (by the
    same rule set's reading)."""
    _known(ruleset)
    return lint_families(parse(text, fmt, ruleset).families, ruleset)


def lint_families(families: list[Family], ruleset: str = CURRENT) -> list[Problem]:
    _known(ruleset)
    rules = [_help, _units, _counter, _histogram_summary_reserved,
             _type_in_name_legacy if ruleset == LEGACY else _type_in_name,
             _reserved_chars, _camel_case, _unit_abbreviations]
    if ruleset == CURRENT:
        rules.append(_duplicates)
    problems = []
    for family in families:
        series = family.series()  # once: the rules that look at labels share it
        for rule in rules:
            for found in rule(family, series):
                text, line, detail = found if len(found) == 3 else (*found, "")
                problems.append(Problem(family.name, text, line or family.line, detail))
    # promlint sorts by metric name, then text.
    return sorted(problems, key=lambda p: (p.metric, p.text, p.line))


def _known(ruleset: str) -> None:
    if ruleset not in RULESETS:
        raise ValueError(f"unknown promlint ruleset {ruleset!r}: use one of {', '.join(RULESETS)}")


# Each rule takes the family and its series (Family.series) and yields (text, line) or
# (text, line, detail); line 0 means "the family's first line".

def _help(f: Family, series: list[Series]):
    if not f.help:
        yield "no help text", 0


def metric_unit(name: str) -> tuple[str, str] | None:
    """The first unit word in ``name`` and its base unit (promlint's metricUnits)."""
    for word in name.split("_"):
        found = _UNIT_WORDS.get(word)
        if found:
            return found
    return None


def _units(f: Family, series: list[Series]):
    found = metric_unit(f.name)
    if found and found[0] != found[1]:
        yield f'use base unit "{found[1]}" instead of "{found[0]}"', 0


def _counter(f: Family, series: list[Series]):
    has_total = f.name.endswith("_total")
    if f.type == "counter" and not has_total:
        yield 'counter metrics should have "_total" suffix', 0
    elif f.type not in ("counter", "untyped") and has_total:
        yield 'non-counter metrics should not have "_total" suffix', 0


def _histogram_summary_reserved(f: Family, series: list[Series]):
    if f.type == "untyped":
        return
    histogram, summary = f.type in ("histogram", "gaugehistogram"), f.type == "summary"
    if not histogram and f.name.endswith("_bucket"):
        yield 'non-histogram metrics should not have "_bucket" suffix', 0
    if not histogram and not summary and f.name.endswith("_count"):
        yield 'non-histogram and non-summary metrics should not have "_count" suffix', 0
    if not histogram and not summary and f.name.endswith("_sum"):
        yield 'non-histogram and non-summary metrics should not have "_sum" suffix', 0
    for one in series:
        if not histogram and "le" in one.label_names:
            yield 'non-histogram metrics should not have "le" label', one.line
        if not summary and "quantile" in one.label_names:
            yield 'non-summary metrics should not have "quantile" label', one.line


def _contains_word(name: str, word: str) -> bool:
    return f"_{word}_" in name or name.endswith(f"_{word}")


def _type_in_name(f: Family, series: list[Series]):
    typename = "gauge_histogram" if f.type == "gaugehistogram" else f.type  # dto's name, lower-case
    if f.type != "untyped" and _contains_word(f.name.lower(), typename):
        yield f"metric name should not include type '{typename}'", 0


def _type_in_name_legacy(f: Family, series: list[Series]):
    for typename in TYPE_NAMES:
        if _contains_word(f.name.lower(), typename):
            yield f"metric name should not include type '{typename}'", 0


def _reserved_chars(f: Family, series: list[Series]):
    if ":" in f.name:
        yield "metric names should not contain ':'", 0


def _camel_case(f: Family, series: list[Series]):
    if _CAMEL_CASE.search(f.name):
        yield "metric names should be written in 'snake_case' not 'camelCase'", 0
    for one in series:
        for _ in range(_camel_case_labels(one.label_names)):
            yield "label names should be written in 'snake_case' not 'camelCase'", one.line


@functools.lru_cache(maxsize=4096)
def _camel_case_labels(label_names: frozenset[str]) -> int:
    """How many of these label names are camelCase (asked once per set: series share their sets)."""
    return sum(1 for name in label_names if _CAMEL_CASE.search(name))


def _unit_abbreviations(f: Family, series: list[Series]):
    # One problem per abbreviation found, as promlint loops over its list.
    for _ in set(_ABBREVIATION.findall(f.name.lower())):
        yield "metric names should not contain abbreviated units", 0


def _duplicates(f: Family, series: list[Series]):
    seen: dict[int, int] = {}  # the series' key -> its first line
    for one in series:
        if one.key in seen:
            shown = series_key(one.name, f.series_labels(one))
            yield "metric not unique", one.line, f"{shown} on lines {seen[one.key]} and {one.line}"
        else:
            seen[one.key] = one.line
