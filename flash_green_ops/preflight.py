"""The steps in the runbook's order, and a run of them: the preflight's stages.

A step's module is imported when its stage runs (the modules are not small, and each imports
its heavy libraries, psycopg, hvac, boto3, requests, inside the functions that use them), so
``--stage env`` loads none of the others (tests/test_imports.py checks it).
"""
from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from flash_green_ops import envspec
from flash_green_ops.context import RunContext, make_context
from flash_green_ops.contract import Contract, load_contract
from flash_green_ops.envfile import EnvSource
from flash_green_ops.errors import DeadlinePassed, UsageError
from flash_green_ops.findings import Finding, Status, failed, skipped
from flash_green_ops.settings import Settings


def _step(module: str, function: str = "run") -> Callable:
    """``module``'s ``function`` (its ``run``, its ``check_ids``), imported on the first call."""
    def call(arg):
        return getattr(importlib.import_module(module), function)(arg)

    return call


# stage name -> the step's entry point (a RunContext in, findings out), in the runbook's order.
STAGES: dict[str, Callable[[RunContext], list[Finding]]] = {
    "env": envspec.run,
    "tls": _step("flash_green_ops.tls"),
    "secrets": _step("flash_green_ops.secrets"),
    "db": _step("flash_green_ops.database"),
    "metrics": _step("flash_green_ops.metrics"),
    "adapters": _step("flash_green_ops.adapters"),
}
# stage name -> the ids of its checks (for --skip and --only).
STAGE_CHECKS: dict[str, Callable[[Contract], tuple[str, ...]]] = {
    "env": envspec.check_ids,
    "tls": _step("flash_green_ops.tls", "check_ids"),
    "secrets": _step("flash_green_ops.secrets", "check_ids"),
    "db": _step("flash_green_ops.database", "check_ids"),
    "metrics": _step("flash_green_ops.metrics", "check_ids"),
    "adapters": _step("flash_green_ops.adapters", "check_ids"),
}
# The service is not running yet at preflight time, so metrics is opt-in; the adapters' endpoints
# are the nightly run's business (an outage upstream must not block a deploy), opt-in too.
DEFAULT_STAGES = ("env", "tls", "secrets", "db")
# A certificate about to expire, or even expired, is reported by the preflight but does not block
# the deploy: the deploy does not change it, and blocking it would block the very fix. The
# nightly runbook tests (ops_tests/test_tls.py) fail on it instead. Right after env, so the
# warnings show whatever fails later.
WARNING_ONLY_STAGES = ("tls",)


@dataclass(frozen=True)
class Selection:
    """--skip CHECK_ID[=REASON] (a SKIP saying the reason) and --only CHECK_ID (every other
    check left out); a stage none of whose checks is selected does not run."""

    skip: Mapping[str, str] = field(default_factory=dict)
    only: frozenset[str] = frozenset()

    def reports(self, check: str) -> bool:
        return check in self.skip or not self.only or check in self.only

    def apply(self, finding: Finding) -> Finding | None:
        if finding.check in self.skip:
            return replace(finding, status=Status.SKIP, message=f"skipped by --skip: {self.skip[finding.check]}",
                           items=())
        return finding if self.reports(finding.check) else None


def select_checks(contract: Contract, skip: Sequence[str] = (), only: Sequence[str] = ()) -> Selection:
    """The Selection of --skip and --only; an unknown id is a UsageError listing the valid ones."""
    if not skip and not only:
        return Selection()  # nothing to check: no stage's module is imported for its ids
    valid = [c for stage_checks in STAGE_CHECKS.values() for c in stage_checks(contract)]
    reasons = {}
    for item in skip:
        check, _, reason = item.partition("=")
        reasons[check.strip()] = reason.strip() or "no reason given"
    for option, ids in (("--skip", reasons), ("--only", only)):
        unknown = [c for c in ids if c not in valid]
        if unknown:
            raise UsageError(f"{option} {', '.join(unknown)}: no such check; the checks are: {', '.join(valid)}")
    return Selection(reasons, frozenset(only))


def depends_on(stage: str, ctx: RunContext) -> tuple[str, ...]:
    """The earlier stages whose failure makes ``stage`` meaningless, so it is skipped after
    one of them failed; any other stage still runs (goss runs every check): a secrets failure
    must not hide an unreachable database. Every stage reads the env the env stage judged;
    the database step needs the secrets step only for a password the env does not give."""
    if stage == "env":
        return ()
    if stage == "db":
        from flash_green_ops.credentials import env_gives_password  # here: only the db stage needs it

        if not env_gives_password(ctx):
            return ("env", "secrets")
    return ("env",)


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


def run_stages(ctx: RunContext, stages: Sequence[str], selection: Selection = Selection()) -> list[Finding]:
    """Run ``stages`` in the canonical order; a stage that depends on a failed one
    (depends_on) is skipped, saying which. Checks this environment does not have (the other
    secret backend's) are left out, and those ``selection`` leaves out."""
    findings: list[Finding] = []
    failed_stages: list[str] = []
    for name, step in STAGES.items():
        if name not in stages or not any(map(selection.reports, STAGE_CHECKS[name](ctx.contract))):
            continue
        blocking = [s for s in depends_on(name, ctx) if s in failed_stages]
        if blocking:
            why = f"stage {blocking[0]} failed"
            if blocking[0] == "secrets":
                why += " and the database password is to come from the secret bundle (none in the env)"
            findings.append(skipped(f"{name}.stage", f"skipped: {why}").with_stage(name))
            failed_stages.append(name)  # what depends on it cannot run either
            continue
        try:
            results = [f for f in map(selection.apply, step(ctx)) if f is not None and f.applies]
        except DeadlinePassed as exc:  # wait-until mode's last attempt ran out of time mid-stage
            results = [failed(f"{name}.stage", str(exc))]
        if name in WARNING_ONLY_STAGES:
            results = [as_warning(f) for f in results]
        # Each check's own time (steps time their checks): a skip took none.
        findings += [f.with_stage(name) for f in results]
        if any(f.status is Status.FAIL for f in results):
            failed_stages.append(name)
    return findings
