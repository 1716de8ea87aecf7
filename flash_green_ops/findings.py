"""What a check reports: findings, not exceptions, for what the environment got wrong."""
from __future__ import annotations

import enum
from dataclasses import dataclass, replace


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

