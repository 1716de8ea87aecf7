"""The steps in the runbook's order, and a run of them: the preflight's stages.

A step's module is imported when its stage runs (the modules are not small, and each imports
its heavy libraries, psycopg, hvac, boto3, requests, inside the functions that use them), so
``--stage env`` loads none of the others (tests/test_imports.py checks it).
"""
from __future__ import annotations

import importlib
import time
from collections.abc import Callable, Sequence
from dataclasses import replace

from flash_green_ops import envspec
from flash_green_ops.context import RunContext, make_context
from flash_green_ops.contract import Contract, load_contract
from flash_green_ops.envfile import EnvSource
from flash_green_ops.findings import Finding, Status, skipped
from flash_green_ops.settings import Settings


def _step(module: str) -> Callable[[RunContext], list[Finding]]:
    """The ``run`` of ``module``, imported on the first call."""
    def run(ctx: RunContext) -> list[Finding]:
        return importlib.import_module(module).run(ctx)

    return run


# stage name -> the step's entry point (a RunContext in, findings out), in the runbook's order.
STAGES: dict[str, Callable[[RunContext], list[Finding]]] = {
    "env": envspec.run,
    "tls": _step("flash_green_ops.tls"),
    "secrets": _step("flash_green_ops.secrets"),
    "db": _step("flash_green_ops.database"),
    "metrics": _step("flash_green_ops.metrics"),
    "adapters": _step("flash_green_ops.adapters"),
}
# The service is not running yet at preflight time, so metrics is opt-in; the adapters' endpoints
# are the nightly run's business (an outage upstream must not block a deploy), opt-in too.
DEFAULT_STAGES = ("env", "tls", "secrets", "db")
# A certificate about to expire, or even expired, is reported by the preflight but does not block
# the deploy: the deploy does not change it, and blocking it would block the very fix. The
# nightly runbook tests (ops_tests/test_tls.py) fail on it instead. Right after env, so the
# warnings show whatever fails later.
WARNING_ONLY_STAGES = ("tls",)


def load_runbook_contract(path=None) -> Contract:
    """The env contract, its rules checked against the kinds the env step can evaluate."""
    return load_contract(path, rule_params=envspec.PARAMS)


def new_context(source: EnvSource, contract: Contract, settings: Settings) -> RunContext:
    """A run's context, with the secrets step as the loader of the secret bundle (DB_PASSWORD)."""
    return make_context(source, contract, settings, bundle_loader=STAGES["secrets"])


def as_warning(finding: Finding) -> Finding:
    if finding.status is not Status.FAIL:
        return finding
    return replace(finding, status=Status.WARN, message=f"{finding.message} (a warning in the preflight; "
                   f"the nightly run fails it)")


def run_stages(ctx: RunContext, stages: Sequence[str]) -> list[Finding]:
    """Run ``stages`` in the canonical order; after a failing stage, later ones are skipped.
    Checks this environment does not have (the other secret backend's) are left out."""
    findings: list[Finding] = []
    failed_stage = None
    for name, step in STAGES.items():
        if name not in stages:
            continue
        if failed_stage:
            findings.append(skipped(f"{name}.stage", f"skipped: stage {failed_stage} failed").with_stage(name))
            continue
        started = time.monotonic()
        results = [f for f in step(ctx) if f.applies]
        if name in WARNING_ONLY_STAGES:
            results = [as_warning(f) for f in results]
        elapsed = time.monotonic() - started
        # A check that did not time itself gets its share of the stage's time.
        findings += [f.with_stage(name, f.duration or elapsed / len(results)) for f in results]
        if any(f.status is Status.FAIL for f in results):
            failed_stage = name
    return findings
