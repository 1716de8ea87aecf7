"""What the command lines share: the parser, loading the env, one-line errors, exit codes, and
SIGTERM/SIGINT taken as an interruption (exit 128 + the signal number) after the cleanup ran."""
from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from flash_green_ops import redact, report, settings
from flash_green_ops.context import RunContext
from flash_green_ops.envfile import from_environ, read_env_file
from flash_green_ops.errors import OpsError, UsageError
from flash_green_ops.findings import Finding
from flash_green_ops.report import EXIT_FAILED, EXIT_USAGE
from flash_green_ops.settings import Settings


def prog() -> str:
    """The name the command was called by: ``preflight_check.py``, or ``flash-green-preflight``."""
    return Path(sys.argv[0]).name or "flash-green-ops"


def version() -> str:
    from importlib.metadata import PackageNotFoundError, version as installed_version

    try:
        return installed_version("flash-green-ops")
    except PackageNotFoundError:  # a checkout on PYTHONPATH, never installed
        return "unknown (not installed)"


class _Version(argparse.Action):
    """argparse's "version" action, but the installed version is looked up only when asked
    (importlib.metadata reads the installation's files at every start otherwise)."""

    def __init__(self, option_strings, dest, **kwargs):
        super().__init__(option_strings, dest, nargs=0, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        sys.stdout.write(f"{parser.prog} (flash-green-ops) {version()}\n")
        parser.exit(0)


class Parser(argparse.ArgumentParser):
    """argparse, but a bad invocation is one line on stderr and exit 2 (no usage dump); every
    command has --version."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.add_argument("--version", action=_Version, help="print the version and exit")

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {redact.mask(message)} (see --help)\n")


def add_output_options(parser: argparse.ArgumentParser) -> None:
    """--format text|json|junit and --quiet, for every command that reports findings."""
    parser.add_argument("--format", choices=["text", "json", "junit"], default="text",
                        help="text (default), json (every check, all items) or junit (JUnit XML for CI)")
    parser.add_argument("--quiet", action="store_true", help="text: print only failures, warnings and the summary")


def write_report(findings: list[Finding], args: argparse.Namespace, ctx: RunContext, suite: str,
                 summary_line: str | None = None) -> int:
    """Print ``findings`` as --format and --quiet ask (``suite``: the JUnit test suite's name,
    the same whichever spelling of the command ran); returns the exit code they mean."""
    if args.format == "json":
        sys.stdout.write(report.render_json(findings, environment=ctx.environment, source=ctx.source.name,
                                            summary_line=summary_line))
    elif args.format == "junit":
        sys.stdout.write(report.render_junit(findings, suite=suite, summary_line=summary_line))
    else:
        sys.stdout.write(report.render_text(findings, summary_line, quiet=args.quiet))
    return report.exit_code(findings)


DEFAULT_RETRY_INTERVAL = 5.0  # seconds between attempts of wait-until mode


def add_retry_options(parser: argparse.ArgumentParser) -> None:
    """--retry-timeout and --retry-interval (goss's validate --retry-timeout)."""
    parser.add_argument("--retry-timeout", type=settings.positive_duration, metavar="DURATION",
                        help="wait-until mode: repeat until every check passes or this is up "
                             "(120, 120s, 2m), one progress line per attempt on stderr")
    parser.add_argument("--retry-interval", type=settings.positive_duration, metavar="DURATION",
                        help="time between attempts (default 5s; needs --retry-timeout)")


def with_retries(attempt: Callable[[float | None], list[Finding]], args: argparse.Namespace) -> list[Finding]:
    """``attempt(None)`` once, or, with --retry-timeout, until it passes or the time is up
    (``attempt(deadline)``: its network calls end by it, give or take one call's timeout)."""
    if args.retry_timeout is None:
        if args.retry_interval is not None:
            raise UsageError("--retry-interval needs --retry-timeout")
        return attempt(None)
    from flash_green_ops.waiting import until_passing

    def progress(line: str) -> None:
        sys.stderr.write(redact.mask(f"{prog()}: {line}") + "\n")
        sys.stderr.flush()

    interval = DEFAULT_RETRY_INTERVAL if args.retry_interval is None else args.retry_interval
    return until_passing(attempt, args.retry_timeout, interval, progress)


def load_context(args: argparse.Namespace, deadline: float | None = None) -> RunContext:
    """The env (file or process environment), contract and settings of an invocation; with
    ``deadline`` (an attempt of wait-until mode), each network call is capped to the time left
    until it (Settings.timeout)."""
    from flash_green_ops import preflight  # the steps: only once the arguments were good

    contract = preflight.load_runbook_contract(args.contract)
    source = read_env_file(args.env_file) if args.env_file else from_environ()
    run_settings = replace(Settings.from_mapping(vars(args)), deadline=deadline)
    return preflight.new_context(source, contract, run_settings)


# Kubernetes, systemd and timeout(1) stop a job with SIGTERM; a terminal with SIGINT.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class Interrupted(KeyboardInterrupt):
    """A stop signal, raised in the main thread wherever it is waiting. A KeyboardInterrupt, so
    every cleanup written for Ctrl-C runs for SIGTERM too: psycopg cancels the running query,
    the backup stops its children and removes its partial file, try/finally blocks run."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def _interrupt(signum, frame) -> None:
    # Once: a second signal (systemd's, then the operator's Ctrl-C) must not cut the cleanup short.
    for sig in STOP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
    raise Interrupted(signum)


def run(main: Callable[[Sequence[str] | None], int], argv: Sequence[str] | None = None) -> int:
    """Call ``main``; a UsageError is one masked line and exit 2, any other OpsError one line and
    exit 1, SIGTERM or SIGINT one line and 128 + the signal number once the cleanup ran; never a
    traceback."""
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = {sig: signal.signal(sig, _interrupt) for sig in STOP_SIGNALS} if in_main_thread else {}
    try:
        return main(argv)
    except UsageError as exc:
        sys.stderr.write(f"{prog()}: error: {redact.mask(exc)}\n")
        return EXIT_USAGE
    except OpsError as exc:
        sys.stderr.write(f"{prog()}: {redact.mask(exc)}\n")
        return EXIT_FAILED
    except KeyboardInterrupt as exc:
        signum = getattr(exc, "signum", signal.SIGINT)
        sys.stderr.write(f"{prog()}: interrupted by {signal.Signals(signum).name}: stopped, its child "
                         f"processes, sessions and partial files are gone\n")
        return 128 + signum
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
