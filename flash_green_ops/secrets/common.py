"""What the Vault and AWS backends share: the bundle's keys, masking what was read, timing a check."""
from __future__ import annotations

import json
from collections.abc import Callable

from flash_green_ops import redact
from flash_green_ops.findings import Finding, failed, passed, skipped, timed


def human_duration(seconds: float) -> str:
    """``2d 3h``, ``5h``, ``4m 10s``, ``42s``: the two largest units, as an operator reads it."""
    seconds = max(int(seconds), 0)
    units = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))
    for index, (name, size) in enumerate(units):
        if seconds >= size or size == 1:
            count, rest = divmod(seconds, size)
            text = f"{count}{name}"
            if index + 1 < len(units):
                smaller_name, smaller_size = units[index + 1]
                if rest // smaller_size:
                    text += f" {rest // smaller_size}{smaller_name}"
            return text
    raise AssertionError("unreachable: the last unit is one second")


def seconds(value: float) -> str:
    return f"{round(value, 2):g}s"  # a timeout capped to the time left is 2.99s, not 2.98734s


def register_bundle(data: object) -> None:
    """Register every value of a loaded bundle (nested ones too) before anything else runs."""
    if isinstance(data, dict):
        for value in data.values():
            register_bundle(value)
        redact.register(json.dumps(data))
    elif isinstance(data, list):
        for value in data:
            register_bundle(value)
    elif data is not None and not isinstance(data, bool):
        redact.register(str(data))


def as_text(value: object) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value) if isinstance(value, (dict, list)) else str(value)


def check_bundle_keys(data: dict, required: tuple[str, ...], what: str, fix: str, where: str) -> Finding:
    """Every required key present and non-empty; the message names keys only, never values."""
    missing = [k for k in required if k not in data]
    empty = [k for k in required if k in data and (data[k] is None or as_text(data[k]).strip() == "")]
    problems = []
    if missing:
        problems.append(f"lacks {', '.join(missing)}")
    if empty:
        problems.append(f"has an empty {', '.join(empty)}")
    if problems:
        return failed("secrets.bundle",
                      f"{what} {' and '.join(problems)}: expected every key of the contract's "
                      f"secret_keys ({', '.join(required)}) present and non-empty; {fix}", where)
    return passed("secrets.bundle",
                  f"{what} holds {', '.join(required)}, each non-empty ({len(data)} keys in all)", where)


def timed_check(check_id: str, where: str | None, check: Callable[[], tuple[Finding, object]]) -> tuple[Finding, object]:
    """Run one check, timing it. A backend answering in a shape nobody expected (a proxy's
    page, a truncated body) is the environment's fault: a FAIL that names the error's type,
    not a traceback."""

    def guarded() -> tuple[Finding, object]:
        try:
            return check()
        except Exception as exc:  # noqa: BLE001 - turned into a finding, masked
            return failed(check_id, redact.mask(
                f"unexpected answer while checking ({type(exc).__name__}: {exc}): expected the documented API "
                f"of the secret backend; check the address in the env file"), where), None

    return timed(guarded)


def skip_rest(checks: tuple[str, ...], after: Finding, where: str | None) -> list[Finding]:
    return [skipped(c, f"skipped: {after.check} failed", where) for c in checks]
