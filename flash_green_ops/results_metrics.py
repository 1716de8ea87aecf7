"""A run's results as Prometheus metrics: a node_exporter textfile-collector file (--metrics-out)
and a push to a Pushgateway (--pushgateway), the same four families for the preflight and pytest.

- ``flash_green_ops_check_success{check, step, environment}``: 1 passed (warnings too), 0 failed;
  a skipped check is left out, so "not run" never reads as "failed" (or as "passed").
- ``flash_green_ops_check_duration_seconds{check, step, environment}``: of the checks above.
- ``flash_green_ops_run_success{environment, suite}``: 1 when the run's exit code is 0.
- ``flash_green_ops_last_run_timestamp_seconds{environment, suite}``: when the run ended, pass or
  fail (the "nightly run missing" alert reads it; ``run_success`` says how it went).

prometheus_client writes the exposition, the file (to a temporary name in the same directory,
then renamed: the collector never reads half a file) and the push (PUT: the group, ``job`` =
the suite and ``environment``, is replaced whole, so a check gone since the last run goes too).
Every label value passes through redact.mask: no label ever holds a secret.
"""
from __future__ import annotations

import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple
from urllib.parse import unquote

from flash_green_ops import redact, urls
from flash_green_ops.errors import OpsError, UsageError
from flash_green_ops.settings import Option

PREFIX = "flash_green_ops"
PASSED, FAILED, SKIPPED = "passed", "failed", "skipped"

OPTIONS = (
    Option("--metrics-out", "write the run's results as a node_exporter textfile-collector file "
                            "(written whole, atomically; name it *.prom)", metavar="PATH"),
    Option("--pushgateway", "push the run's results to this Prometheus Pushgateway "
                            "(http://host:port; grouped by job=the suite and environment)", metavar="URL"),
    Option("--metrics-suite", "the suite label of the run's results (the nightly run: nightly)",
           metavar="NAME"),
)


class CheckResult(NamedTuple):
    check: str
    step: str
    environment: str
    outcome: str  # PASSED, FAILED or SKIPPED
    duration: float = 0.0


@dataclass(frozen=True)
class Destinations:
    """Where a run's results go; both empty means nowhere (no metrics are built)."""

    metrics_out: Path | None = None
    pushgateway: str | None = None

    def __bool__(self) -> bool:
        return bool(self.metrics_out or self.pushgateway)


def destinations(metrics_out: str | None, pushgateway: str | None) -> Destinations:
    """Check the options before the run (UsageError: exit 2), so a typo costs no run."""
    path = None
    if metrics_out:
        path = Path(metrics_out)
        try:
            if path.is_dir():
                raise UsageError(f"--metrics-out {redact.mask(path)} is a directory; name the file (e.g. ops.prom)")
            if not path.parent.is_dir():
                raise UsageError(f"--metrics-out {redact.mask(path)}: directory {redact.mask(path.parent)} "
                                 f"does not exist")
        except OSError as exc:  # a name too long, a loop of links
            raise UsageError(f"--metrics-out {redact.mask(path)}: {exc.strerror or exc}") from None
        if not os.access(path.parent, os.W_OK | os.X_OK):
            raise UsageError(f"--metrics-out {redact.mask(path)}: directory {redact.mask(path.parent)} "
                             f"is not writable")
    if pushgateway:
        try:
            parts = urls.split(pushgateway)
            parts.port  # noqa: B018 - parsing the port is the check
        except ValueError:
            parts = None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
            raise UsageError(f"--pushgateway {urls.display_url(pushgateway)!r} is not an http(s)://host[:port] URL")
        if reserved := urls.unencoded_in_password(pushgateway):
            # Else the push would go to "user" as a host name, the password's start as its port.
            raise UsageError(f"--pushgateway {urls.display_url(pushgateway)!r}: its password holds an unencoded "
                             f"{' and '.join(map(repr, reserved))}: {urls.FIX}")
        redact.register_url(pushgateway)  # http://user:password@host: never printed
    return Destinations(path, pushgateway or None)


def outcome_of(statuses: Iterable[str]) -> str:
    """One check's outcome from its findings' or phases' outcomes: a failure wins, then a pass."""
    statuses = set(statuses)
    return FAILED if FAILED in statuses else PASSED if PASSED in statuses else SKIPPED


def build_registry(results: Iterable[CheckResult], *, runs: dict[str, bool], suite: str,
                   finished: float | None = None):
    """The four families in a fresh CollectorRegistry (nothing of the process's own metrics):
    ``runs`` maps each environment of the run to whether its run passed."""
    from prometheus_client import CollectorRegistry, Gauge

    registry = CollectorRegistry()
    labels = ("check", "step", "environment")
    success = Gauge(f"{PREFIX}_check_success", "Whether the check passed (1) or failed (0); skipped "
                    "checks are absent.", labels, registry=registry)
    duration = Gauge(f"{PREFIX}_check_duration_seconds", "How long the check took.", labels, registry=registry)
    # A check reported more than once (a step's findings, pytest's phases) is one series.
    by_key: dict[tuple[str, str, str], list[CheckResult]] = {}
    for result in results:
        key = (redact.mask(result.check), redact.mask(result.step), redact.mask(result.environment))
        by_key.setdefault(key, []).append(result)
    for key, same in by_key.items():
        outcome = outcome_of(r.outcome for r in same)
        if outcome == SKIPPED:
            continue
        success.labels(*key).set(1 if outcome == PASSED else 0)
        duration.labels(*key).set(sum(max(r.duration, 0.0) for r in same))
    labels = ("environment", "suite")
    success = Gauge(f"{PREFIX}_run_success", "Whether the run passed (exit code 0).", labels, registry=registry)
    ended = Gauge(f"{PREFIX}_last_run_timestamp_seconds", "When the run ended (Unix time), whatever its result.",
                  labels, registry=registry)
    for environment, passed in runs.items():
        key = (redact.mask(environment), redact.mask(suite))
        success.labels(*key).set(1 if passed else 0)
        ended.labels(*key).set(time.time() if finished is None else finished)
    return registry


def publish(where: Destinations, results: list[CheckResult], *, runs: dict[str, bool], suite: str,
            timeout: float = 10.0) -> None:
    """Write every environment's results to the file, then push each environment's to its group;
    an OpsError (one masked line) names what could not be done."""
    from prometheus_client import push_to_gateway, write_to_textfile

    finished = time.time()
    if where.metrics_out:
        try:
            write_to_textfile(str(where.metrics_out), build_registry(results, runs=runs, suite=suite,
                                                                     finished=finished))
        except OSError as exc:
            raise OpsError(redact.mask(f"could not write --metrics-out {where.metrics_out}: "
                                       f"{exc.strerror or exc}")) from None
    if where.pushgateway:
        url, handler = _gateway_and_handler(where.pushgateway)
        for environment, passed in runs.items():
            registry = build_registry([r for r in results if r.environment == environment],
                                      runs={environment: passed}, suite=suite, finished=finished)
            try:
                push_to_gateway(url, job=redact.mask(suite), registry=registry, timeout=timeout, handler=handler,
                                grouping_key={"environment": redact.mask(environment)})
            except Exception as exc:  # urllib's URLError/HTTPError, a timeout: one line, never a traceback
                reason = getattr(exc, "reason", None) or exc
                raise OpsError(redact.mask(f"could not push to --pushgateway {urls.display_url(where.pushgateway)}: "
                                           f"{type(exc).__name__}: {reason}")) from None


def _gateway_and_handler(url: str):
    """``http://user:password@host`` as prometheus_client takes it: the URL without the user
    information, and its basic-auth handler carrying the credentials (urllib would read them
    as part of the host name)."""
    from prometheus_client.exposition import basic_auth_handler, default_handler

    parts = urls.split(url)
    if parts.username is None:
        return url, default_handler
    netloc = parts.netloc.rpartition("@")[2]
    username, password = unquote(parts.username), unquote(parts.password or "")

    def handler(url, method, timeout, headers, data):
        return basic_auth_handler(url, method, timeout, headers, data, username, password)

    return parts._replace(netloc=netloc).geturl(), handler
