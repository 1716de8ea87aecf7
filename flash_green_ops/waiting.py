"""Wait-until mode (goss's ``validate --retry-timeout``): repeat the checks until every one
passes or the time is up, for init containers and pre-deploy hooks that start with the
services they check."""
from __future__ import annotations

import time
from collections.abc import Callable

from flash_green_ops.findings import Finding, Status
from flash_green_ops.report import exit_code


def until_passing(attempt: Callable[[float], list[Finding]], timeout: float, interval: float,
                  progress: Callable[[str], None]) -> list[Finding]:
    """Call ``attempt(deadline)`` (a time.monotonic() value, ``timeout`` seconds from now)
    every ``interval`` seconds until its findings have no failure, or until the next attempt
    would start after the deadline; the last attempt's findings. ``progress`` gets one line
    per attempt. The attempt caps each network call to the time left when it starts and
    starts none after the deadline (Settings.timeout), so the total overshoots ``timeout``
    by one call's timeout at most."""
    from tenacity import Retrying, retry_if_result, stop_before_delay, wait_fixed

    deadline = time.monotonic() + timeout
    number = 0

    def one() -> list[Finding]:
        nonlocal number
        number += 1
        findings = attempt(deadline)
        failed = [f.check for f in findings if f.status is Status.FAIL]
        left = max(deadline - time.monotonic(), 0.0)
        progress(f"attempt {number}: " + (f"{len(failed)} failed ({', '.join(failed)}), {left:.0f} s left"
                                          if failed else "every check passed"))
        return findings

    retrying = Retrying(stop=stop_before_delay(timeout), wait=wait_fixed(interval),
                        retry=retry_if_result(lambda findings: exit_code(findings) != 0),
                        retry_error_callback=lambda state: state.outcome.result())  # the last, not an error
    return retrying(one)
