"""The self-test that keeps the env templates and the contract in agreement."""
import re

import pytest

from flash_green_ops.contract import load_contract
from tests.conftest import REPO

CONTRACT = load_contract()
TEMPLATES = ["env.staging.example", "env.production.example"]
ASSIGNMENT = re.compile(r"^(?:#\s*)?([A-Z][A-Z0-9_]*)=")


def documented(template: str) -> dict[str, str]:
    """KEY -> the comment line right above its (possibly commented-out) assignment."""
    lines = (REPO / template).read_text(encoding="utf-8").splitlines()
    docs = {}
    for previous, line in zip([""] + lines, lines):
        match = ASSIGNMENT.match(line)
        if match:
            docs[match.group(1)] = previous if previous.startswith("# ") and not ASSIGNMENT.match(previous) else ""
    return docs


@pytest.mark.parametrize("template", TEMPLATES)
def test_template_documents_every_contract_variable_with_a_comment(template):
    docs = documented(template)
    assert sorted(set(CONTRACT.variables) - set(docs)) == [], "variables missing from the template"
    assert sorted(k for k, doc in docs.items() if not doc) == [], "assignments without a comment line above"


@pytest.mark.parametrize("template", TEMPLATES)
def test_template_holds_only_contract_variables(template):
    assert sorted(set(documented(template)) - set(CONTRACT.variables)) == []


def test_the_contract_names_the_templates_it_compares_with():
    assert {p.name for p in CONTRACT.template_paths} == set(TEMPLATES)
    assert all(p.exists() for p in CONTRACT.template_paths)
