"""Runbook step 1: the environment file is complete and sane.

One item per rule of the contract (flash_green_ops/contract.toml), so a JUnit report lists each
rule; a failure names the variable, the file and line, and the fix.
"""
import pytest

from fixtures.asserts import check_findings_of
from flash_green_ops import envspec

pytestmark = [pytest.mark.env, pytest.mark.preflight]
CHECKS = envspec.check_ids  # env.<rule id>, one per rule of the contract


@pytest.fixture(scope="module")
def step_findings(runbook_context):
    return envspec.run(runbook_context)


def test_env(check_id, step_findings):
    check_findings_of(step_findings, check_id)
