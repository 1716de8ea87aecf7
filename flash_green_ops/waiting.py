"""Wait-until mode (goss's ``validate --retry-timeout``): repeat the checks until every one
passes or the time is up, for init containers and pre-deploy hooks that start with the
services they check."""
from __future__ import annotations

import time
from collections.abc import Callable

from flash_green_ops.findings import Finding, Status
from flash_green_ops.report import exit_code

# An attempt's network timeouts are capped to the time left, but never below this: a zero
# timeout means "no limit" to libpq.
MIN_ATTEMPT_TIMEOUT = 0.5


def until_passing(attempt: Callable[[float], list[Finding]], timeout: float, interval: float,
                  progress: Callable[[str], None]) -> list[Finding]:
    """Call ``attempt(seconds left)`` every ``interval`` seconds until its findings have no
    failure, or until the next attempt would start after ``timeout`` seconds; the last
    attempt's findings. ``progress`` gets one line per attempt. The attempt caps its own
    network timeouts to the time it is given, so the total overshoots ``timeout`` by at
    most one of them."""
    from tenacity import Retrying, retry_if_result, stop_before_delay, wait_fixed

    deadline = time.monotonic() + timeout
    number = 0

    def one() -> list[Finding]:
        nonlocal number
        number += 1
        findings = attempt(max(deadline - time.monotonic(), MIN_ATTEMPT_TIMEOUT))
        failed = [f.check for f in findings if f.status is Status.FAIL]
        left = max(deadline - time.monotonic(), 0.0)
        progress(f"attempt {number}: " + (f"{len(failed)} failed ({', '.join(failed)}), {left:.0f} s left"
                                          if failed else "every check passed"))
        return findings

    retrying = Retrying(stop=stop_before_delay(timeout), wait=wait_fixed(interval),
                        retry=retry_if_result(lambda findings: exit_code(findings) != 0),
                        retry_error_callback=lambda state: state.outcome.result())  # the last, not an error
    return retrying(one)
