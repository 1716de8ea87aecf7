"""What the command lines in scripts/ share: options, loading the env, one-line errors, exit codes."""
from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from flash_green_ops import redact
from flash_green_ops.context import InvocationError, RunContext, make_context
from flash_green_ops.contract import ContractError, load_contract
from flash_green_ops.envfile import EnvFileError, from_environ, read_env_file
from flash_green_ops.settings import ENVIRONMENTS, Settings, parse_duration

EXIT_USAGE = 2


class Parser(argparse.ArgumentParser):
    """argparse, but a bad invocation is one line on stderr and exit 2 (no usage dump)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {redact.mask(message)} (see --help)\n")


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0: {text!r}")
    return value


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more: {text!r}")
    return value


def duration(text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_env_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--env-file", metavar="PATH",
                        help="env file to check (default: the process environment)")
    parser.add_argument("--environment", metavar="E",
                        help=f"one of {', '.join(ENVIRONMENTS)} (default: APP_ENV, else staging)")
    parser.add_argument("--contract", metavar="PATH", help="contract file (default: the packaged one)")


def add_db_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db-connect-timeout", type=positive_float, metavar="SECONDS",
                        help="database connect timeout (default 5)")
    parser.add_argument("--alembic-head", metavar="REV", help="expected Alembic revision")
    parser.add_argument("--alembic-config", metavar="PATH",
                        help="alembic.ini whose script directory's head is expected")


def add_secrets_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--secrets-timeout", type=positive_float, metavar="SECONDS",
                        help="secret backend timeout (default 5)")
    parser.add_argument("--vault-min-ttl", type=duration, metavar="DURATION",
                        help="warn when the Vault token expires within this (default 24h)")


def add_metrics_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--http-timeout", type=positive_float, metavar="SECONDS",
                        help="HTTP timeout for scrapes and health (default 5)")
    parser.add_argument("--metrics-interval", type=positive_float, metavar="SECONDS",
                        help="time between the two scrapes (default 1)")
    parser.add_argument("--metrics-strict", action="store_true", default=None,
                        help="lint problems fail instead of warn")


def load_context(args: argparse.Namespace) -> RunContext:
    """The env (file or process environment), contract and settings of an invocation."""
    contract = load_contract(args.contract)
    source = read_env_file(args.env_file) if args.env_file else from_environ()
    return make_context(source, contract, Settings.from_mapping(vars(args)))


def run(main: Callable[[Sequence[str] | None], int], argv: Sequence[str] | None = None) -> int:
    """Call ``main``; bad input becomes one masked line and exit 2, never a traceback."""
    try:
        return main(argv)
    except (InvocationError, EnvFileError, ContractError) as exc:
        prog = sys.argv[0].rsplit("/", 1)[-1]
        sys.stderr.write(f"{prog}: error: {redact.mask(exc)}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130
