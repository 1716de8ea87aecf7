"""Findings as an operator reads them (text) and a machine reads them (JSON), and the exit code."""
from __future__ import annotations

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


def render_json(findings: Sequence[Finding], *, environment: str, source: str, summary_line: str | None = None) -> str:
    document = {
        "environment": environment,
        "source": redact.mask(source),
        "exit_code": exit_code(findings),
        "summary": summary(findings) if summary_line is None else summary_line,
        "checks": [
            # Masked before encoding: JSON escaping could hide a secret from a later mask.
            {"id": f.check, "stage": f.stage, "status": f.status.value,
             "message": redact.mask(f.message), "items": [redact.mask(i) for i in f.items],
             "where": f.where and redact.mask(f.where), "duration": round(f.duration, 6)}
            for f in findings
        ],
    }
    import json  # here: the text report, the usual one, needs none

    return redact.mask(json.dumps(document, indent=2)) + "\n"


def render_junit(findings: Sequence[Finding], *, suite: str, summary_line: str | None = None) -> str:
    """JUnit XML as CI systems read it (Jenkins, GitLab, GitHub reporters): one testcase per
    check (classname its stage), FAIL a <failure>, SKIP a <skipped>, WARN a pass whose
    <system-out> says the warning; every text masked before it is encoded."""
    import xml.etree.ElementTree as ET  # lazy: only --format junit needs it (every run imports this module)

    count = {s: sum(f.status is s for f in findings) for s in Status}
    root = ET.Element("testsuites")
    total = sum(f.duration for f in findings)
    tree = ET.SubElement(root, "testsuite", name=suite, tests=str(len(findings)),
                         failures=str(count[Status.FAIL]), errors="0", skipped=str(count[Status.SKIP]),
                         time=f"{total:.6f}")
    for f in findings:
        case = ET.SubElement(tree, "testcase", classname=f"{suite}.{f.stage or f.check.split('.')[0]}",
                             name=f.check, time=f"{f.duration:.6f}")
        text = redact.mask(describe(f, None))
        if f.status is Status.FAIL:
            ET.SubElement(case, "failure", message=redact.mask(f.message)).text = text
        elif f.status is Status.SKIP:
            ET.SubElement(case, "skipped", message=text)
        elif f.status is Status.WARN:
            ET.SubElement(case, "system-out").text = f"WARN {text}"
    ET.SubElement(tree, "system-out").text = redact.mask(summary(findings) if summary_line is None else summary_line)
    ET.indent(root)
    return redact.mask(ET.tostring(root, encoding="unicode", xml_declaration=True)) + "\n"
