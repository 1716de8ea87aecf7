"""The Prometheus projects' own test inputs (tests/data/upstream/, Apache-2.0, source commits
recorded in each file), with their expected outcomes: promlint's problem lists, expfmt's
parse-or-error with the line, the OpenMetrics parser's refusals."""
from __future__ import annotations

import json
import re
from collections import Counter

import pytest

from flash_green_ops.metrics.exposition import CURRENT, LEGACY, OPENMETRICS, ExpositionError, parse
from flash_green_ops.metrics.promlint import lint_text
from tests.conftest import REPO

UPSTREAM = REPO / "tests" / "data" / "upstream"


def load(name: str) -> dict:
    return json.loads((UPSTREAM / name).read_text(encoding="utf-8"))


PROMLINT = load("client_golang_promlint.json")
TEXT_PARSE = load("prometheus_common_text_parse.json")
OM_PARSE = load("prometheus_openmetrics_parse_errors.json")


def test_every_file_names_its_source_commit_and_licence():
    for document in (PROMLINT, TEXT_PARSE, OM_PARSE):
        assert re.fullmatch(r"[0-9a-f]{40}", document["commit"]) and document["license"].startswith("Apache-2.0")
    assert "Apache License" in (UPSTREAM / "LICENSE-APACHE-2.0").read_text()


@pytest.mark.parametrize("case", PROMLINT["cases"], ids=lambda c: f"{c['test']}:{c['name']}")
def test_promlint_problem_lists_are_upstreams(case):
    """Whole lists: each (metric, text) as often as promlint reports it."""
    ours = Counter((p.metric, p.text) for p in lint_text(case["in"], ruleset=CURRENT))
    assert ours == Counter(map(tuple, case["problems"]))


@pytest.mark.parametrize("case", TEXT_PARSE["parses"], ids=lambda c: f"{c['scenario']}")
def test_what_expfmt_parses_parses(case):
    families = parse(case["in"], rules=CURRENT).families
    assert bool(families) is (case["scenario"] != 0)  # scenario 0 is blank lines only: no family


def _body(case: dict) -> bytes:
    return case["in"].encode() if "in" in case else case["in_latin1_bytes"].encode("latin-1")


@pytest.mark.parametrize("case", TEXT_PARSE["errors"], ids=lambda c: f"{c['scenario']}")
def test_what_expfmt_refuses_is_refused_on_its_line(case):
    if not case["errUTF8"]:  # refused only by legacy name validation: today's rules accept it
        assert parse(_body(case), rules=CURRENT).families
        with pytest.raises(ExpositionError) as caught:
            parse(_body(case), rules=LEGACY)
        assert caught.value.line == int(re.search(r"line (\d+)", case["errLegacy"]).group(1))
        return
    with pytest.raises(ExpositionError) as caught:
        parse(_body(case), rules=CURRENT)
    assert caught.value.line == int(re.search(r"line (\d+)", case["errUTF8"]).group(1)), case["errUTF8"]


@pytest.mark.parametrize("text", OM_PARSE["parses"])
def test_what_prometheus_openmetrics_parser_accepts_parses(text):
    assert parse(text, OPENMETRICS).families == []


@pytest.mark.parametrize("case", OM_PARSE["errors"], ids=lambda c: c["err"][:60])
def test_what_prometheus_openmetrics_parser_refuses_is_refused_with_a_line(case):
    with pytest.raises(ExpositionError) as caught:
        parse(case["in"], OPENMETRICS)
    assert caught.value.line >= 1
