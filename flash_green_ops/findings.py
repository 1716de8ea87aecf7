"""What a check reports: findings, not exceptions, for what the environment got wrong."""
from __future__ import annotations

import enum
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TypeVar

T = TypeVar("T")


class Status(str, enum.Enum):
    PASS = "PASS"
    FAIL = "FAIL"
    WARN = "WARN"
    SKIP = "SKIP"


@dataclass(frozen=True)
class Finding:
    """One check's verdict.

    ``message`` is complete on its own (expected, found, where, fix) and already masked;
    ``where`` repeats the location (``file line N`` or a URL) for machine readers.
    """

    check: str
    status: Status
    message: str
    where: str | None = None
    stage: str = ""
    duration: float = 0.0
    # False for a check this environment does not have (the other secret backend's): a pytest
    # item reports it as a skip with the reason; the preflight leaves it out.
    applies: bool = True
    # What the message counts, one line each (the lint's problems): text output shows the first
    # few and how many more, JSON and pytest all of them (report.describe).
    items: tuple[str, ...] = ()

    def with_stage(self, stage: str, duration: float | None = None) -> Finding:
        return replace(self, stage=stage, duration=self.duration if duration is None else duration)


def passed(check: str, message: str, where: str | None = None) -> Finding:
    return Finding(check, Status.PASS, message, where)


def failed(check: str, message: str, where: str | None = None) -> Finding:
    return Finding(check, Status.FAIL, message, where)


def warned(check: str, message: str, where: str | None = None) -> Finding:
    return Finding(check, Status.WARN, message, where)


def skipped(check: str, message: str, where: str | None = None) -> Finding:
    return Finding(check, Status.SKIP, message, where)


def not_applicable(check: str, message: str, where: str | None = None) -> Finding:
    return Finding(check, Status.SKIP, message, where, applies=False)


def timed(check: Callable[[], T]) -> T:
    """Run one check and put the time it took on its Finding: what ``check`` returns is a
    Finding, or a tuple whose first item is one (a check that also hands back what it read)."""
    started = time.monotonic()
    result = check()
    elapsed = time.monotonic() - started
    if isinstance(result, tuple):
        return (replace(result[0], duration=elapsed), *result[1:])  # type: ignore[return-value]
    return replace(result, duration=elapsed)  # type: ignore[type-var]
