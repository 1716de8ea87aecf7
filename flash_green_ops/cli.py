"""What the command lines share: the parser, loading the env, one-line errors, exit codes."""
from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from flash_green_ops import redact
from flash_green_ops.context import RunContext
from flash_green_ops.envfile import from_environ, read_env_file
from flash_green_ops.errors import OpsError, UsageError
from flash_green_ops.report import EXIT_FAILED, EXIT_USAGE
from flash_green_ops.settings import Settings


def prog() -> str:
    """The name the command was called by: ``preflight_check.py``, or ``flash-green-preflight``."""
    return Path(sys.argv[0]).name or "flash-green-ops"


class Parser(argparse.ArgumentParser):
    """argparse, but a bad invocation is one line on stderr and exit 2 (no usage dump)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {redact.mask(message)} (see --help)\n")


def load_context(args: argparse.Namespace) -> RunContext:
    """The env (file or process environment), contract and settings of an invocation."""
    from flash_green_ops import preflight  # the steps: only once the arguments were good

    contract = preflight.load_runbook_contract(args.contract)
    source = read_env_file(args.env_file) if args.env_file else from_environ()
    return preflight.new_context(source, contract, Settings.from_mapping(vars(args)))


def run(main: Callable[[Sequence[str] | None], int], argv: Sequence[str] | None = None) -> int:
    """Call ``main``; a UsageError is one masked line and exit 2, any other OpsError one line and
    exit 1, never a traceback."""
    try:
        return main(argv)
    except UsageError as exc:
        sys.stderr.write(f"{prog()}: error: {redact.mask(exc)}\n")
        return EXIT_USAGE
    except OpsError as exc:
        sys.stderr.write(f"{prog()}: {redact.mask(exc)}\n")
        return EXIT_FAILED
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130
