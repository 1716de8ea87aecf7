"""Findings as an operator reads them (text) and a machine reads them (JSON), and the exit code."""
from __future__ import annotations

import json
from collections.abc import Sequence

from flash_green_ops import redact
from flash_green_ops.findings import Finding, Status

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


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
