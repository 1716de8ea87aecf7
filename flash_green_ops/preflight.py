"""Run runbook stages in order, render their findings as text or JSON, pick the exit code."""
from __future__ import annotations

import importlib
import json
import time
from collections.abc import Callable, Sequence

from flash_green_ops import redact
from flash_green_ops.context import RunContext
from flash_green_ops.findings import Finding, Status, skipped

# stage name -> "module:function"; each function takes a RunContext and returns findings.
# Modules are imported only when their stage runs: preflight runs at every pod start.
STAGES: dict[str, str] = {
    "env": "flash_green_ops.envspec:preflight",
    "secrets": "flash_green_ops.secrets:preflight",
    "db": "flash_green_ops.database:preflight",
    "metrics": "flash_green_ops.metrics:preflight",
}
# The service is not running yet at preflight time, so metrics is opt-in.
DEFAULT_STAGES = ("env", "secrets", "db")

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _load_stage(name: str) -> Callable[[RunContext], list[Finding]] | None:
    module_name, _, function = STAGES[name].partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:  # the step itself has not landed; anything else is a bug
            return None
        raise
    return getattr(module, function, None)


def run_stages(ctx: RunContext, stages: Sequence[str]) -> list[Finding]:
    """Run ``stages`` in the canonical order; after a failing stage, later ones are skipped."""
    findings: list[Finding] = []
    failed_stage = None
    for name in (s for s in STAGES if s in stages):
        if failed_stage:
            findings.append(skipped(f"{name}.stage", f"skipped: stage {failed_stage} failed").with_stage(name))
            continue
        stage = _load_stage(name)
        if stage is None:
            findings.append(skipped(f"{name}.stage", f"stage {name} is not implemented yet").with_stage(name))
            continue
        started = time.monotonic()
        results = stage(ctx)
        elapsed = time.monotonic() - started
        for finding in results:
            # A check that did not time itself gets its share of the stage's time.
            duration = finding.duration or elapsed / max(len(results), 1)
            findings.append(finding.with_stage(name, duration))
        if any(f.status is Status.FAIL for f in results):
            failed_stage = name
    return findings


def exit_code(findings: Sequence[Finding]) -> int:
    return EXIT_FAILED if any(f.status is Status.FAIL for f in findings) else EXIT_OK


def summary(findings: Sequence[Finding]) -> str:
    count = {s: sum(f.status is s for f in findings) for s in Status}
    # Warnings are passes with something to say; they count as passed, and are listed.
    return (f"preflight: {count[Status.PASS] + count[Status.WARN]} passed, "
            f"{count[Status.FAIL]} failed, {count[Status.SKIP]} skipped")


def render_text(findings: Sequence[Finding], summary_line: str | None = None) -> str:
    """One line per finding, then ``summary_line`` (default: preflight's summary)."""
    lines = [f"{f.status.value} {f.check} {f.message}" for f in findings]
    lines.append(summary(findings) if summary_line is None else summary_line)
    return redact.mask("\n".join(lines)) + "\n"


def render_json(findings: Sequence[Finding], *, environment: str, source: str) -> str:
    document = {
        "environment": environment,
        "source": redact.mask(source),
        "exit_code": exit_code(findings),
        "summary": summary(findings),
        "checks": [
            # Masked before encoding: JSON escaping could hide a secret from a later mask.
            {"id": f.check, "stage": f.stage, "status": f.status.value,
             "message": redact.mask(f.message), "where": f.where and redact.mask(f.where),
             "duration": round(f.duration, 6)}
            for f in findings
        ],
    }
    return redact.mask(json.dumps(document, indent=2)) + "\n"
