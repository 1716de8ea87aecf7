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


SHOWN_ITEMS = 5  # a finding's items in text output; the rest are counted (JSON has them all)


def describe(finding: Finding, limit: int | None = SHOWN_ITEMS) -> str:
    """The message, then the finding's items: the first ``limit`` (None: all) and how many more."""
    if not finding.items:
        return finding.message
    shown = finding.items if limit is None else finding.items[:limit]
    more = len(finding.items) - len(shown)
    return (f"{finding.message}: {'; '.join(shown)}"
            + (f"; and {more} more (--format json lists all {len(finding.items)})" if more else ""))


def render_text(findings: Sequence[Finding], summary_line: str | None = None, *, quiet: bool = False) -> str:
    """One line per finding (``quiet``: failures and warnings only), then ``summary_line``
    (default: preflight's summary)."""
    shown = [f for f in findings if not quiet or f.status in (Status.FAIL, Status.WARN)]
    lines = [f"{f.status.value} {f.check} {describe(f)}" for f in shown]
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
             "message": redact.mask(f.message), "items": [redact.mask(i) for i in f.items],
             "where": f.where and redact.mask(f.where), "duration": round(f.duration, 6)}
            for f in findings
        ],
    }
    return redact.mask(json.dumps(document, indent=2)) + "\n"
