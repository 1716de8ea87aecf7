"""Runbook step 1: the environment file is complete and sane.

One test per rule of the contract (flash_green_ops/contract.toml), so a JUnit report lists each rule;
a failure names the variable, the file and line, and the fix.
"""
import pytest

from fixtures.asserts import check_findings
from fixtures.plugin import contract_of
from flash_green_ops import envspec

pytestmark = [pytest.mark.env, pytest.mark.preflight]


def pytest_generate_tests(metafunc):
    if "env_rule" in metafunc.fixturenames:
        rule_ids = [rule.id for rule in contract_of(metafunc.config).rules]
        metafunc.parametrize("env_rule", rule_ids, ids=rule_ids)


def test_env_rule(runbook_context, env_rule):
    check_findings(envspec.evaluate(runbook_context, [env_rule]))
