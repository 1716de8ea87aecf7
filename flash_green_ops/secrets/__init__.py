"""Secrets step: load the secret bundle from Vault (hvac) or AWS Secrets Manager (boto3).

Each check is one finding (``secrets.<name>``); a check that cannot run because an earlier one
failed is a SKIP that says which. Every value read from a backend is registered with
``redact`` the moment it arrives, and messages name keys, paths, secret IDs and HTTP statuses
only. hvac and boto3 are imported when their backend is used: preflight runs at pod start.

    run(ctx)          the step: backend choice, then the backend's checks (the other backend's
                      are not_applicable); sets ctx.bundle (or ctx.bundle_error, why there is none),
                      so it is also RunContext.bundle_loader: the bundle for later steps (DB_PASSWORD)
"""
from __future__ import annotations

from dataclasses import dataclass

from flash_green_ops import redact
from flash_green_ops.context import RunContext
from flash_green_ops.contract import Contract
from flash_green_ops.findings import Finding, Status, failed, not_applicable, passed, skipped
from flash_green_ops.secrets import aws, vault
from flash_green_ops.secrets.common import as_text, human_duration

BACKENDS = {"vault": ("Vault", vault.KEYS), "aws": ("AWS Secrets Manager", aws.KEYS)}
SELECTOR = "SECRETS_BACKEND"
CHECKS = ("secrets.backend", *dict.fromkeys((*vault.CHECKS, *aws.CHECKS)))
_BACKEND_CHECKS = {"vault": vault, "aws": aws}

__all__ = ["BACKENDS", "CHECKS", "BackendChoice", "check_ids", "choose_backend", "human_duration",
           "run"]


def check_ids(contract: Contract) -> tuple[str, ...]:
    return CHECKS


@dataclass(frozen=True)
class BackendChoice:
    backend: str | None  # "vault", "aws", or None: nothing to load
    finding: Finding


def choose_backend(ctx: RunContext) -> BackendChoice:
    """Which backend to read, per the contract's secret-backend rules (contract.toml, rule secret-backend)."""
    src = ctx.source
    configured = [b for b, (_, keys) in BACKENDS.items() if any(src.is_set(k) for k in keys)]
    selector = (src.get(SELECTOR) or "").strip()
    where = src.where(SELECTOR) if selector else src.name

    if selector and selector not in BACKENDS:
        return BackendChoice(None, failed(
            "secrets.backend", f"{SELECTOR} is {selector!r} ({where}): expected vault or aws", where))
    if selector:
        chosen, how = selector, f"{SELECTOR}={selector} ({where}) chooses it"
    elif len(configured) == 2:
        return BackendChoice(None, failed(
            "secrets.backend",
            f"both Vault ({', '.join(vault.KEYS)}) and AWS ({', '.join(aws.KEYS)}) are configured in "
            f"{src.name} and {SELECTOR} is not set: set {SELECTOR}=vault or {SELECTOR}=aws", src.name))
    elif configured:
        chosen, how = configured[0], "the only backend configured"
    elif ctx.is_production:
        return BackendChoice(None, failed(
            "secrets.backend",
            f"no secret backend configured in {src.name}: production needs exactly one; set "
            f"{', '.join(vault.KEYS)} or {', '.join(aws.KEYS)}", src.name))
    else:
        return BackendChoice(None, skipped("secrets.backend", "no secret backend configured", src.name))

    label, keys = BACKENDS[chosen]
    missing = [k for k in keys if not src.is_set(k)]
    if missing:
        return BackendChoice(None, failed(
            "secrets.backend",
            f"{label} is selected ({how}) but {', '.join(missing)} "
            f"{'is' if len(missing) == 1 else 'are'} missing in {src.name}: set {', '.join(keys)}",
            src.name))
    return BackendChoice(chosen, passed("secrets.backend", f"using {label}: {how}", where))


def run(ctx: RunContext) -> list[Finding]:
    """The secrets step: one finding per check. ctx.bundle then holds the bundle, or
    ctx.bundle_error says why there is none (the first failed or skipped check, masked)."""
    choice = choose_backend(ctx)
    findings = [choice.finding]
    bundle = None
    if choice.backend is not None:
        backend_findings, bundle = _BACKEND_CHECKS[choice.backend].checks(ctx)
        findings += backend_findings
        why = f"not a check of {BACKENDS[choice.backend][0]}"
    else:
        why = "needs a secret backend"
    reported = {f.check for f in findings}
    findings += [not_applicable(check, f"{check} {why}: {choice.finding.message}")
                 for check in CHECKS if check not in reported]
    if bundle is not None:
        ctx.bundle, ctx.bundle_error = {k: as_text(v) for k, v in bundle.items()}, None
    else:
        reason = next((f for f in findings if f.status is Status.FAIL), findings[0])
        ctx.bundle_error = redact.mask(f"{reason.check}: {reason.message}")
    return findings
