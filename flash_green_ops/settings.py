"""The options the command lines and the pytest plugin share: declared once here, fed to both
(argparse's ``add_argument`` and pytest's ``addoption`` take the same keywords), and resolved
once into a frozen dataclass. ``--db-connect-timeout`` is ``db_connect_timeout`` everywhere, so a
value means the same thing wherever an operator sets it.
"""
from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import NamedTuple

from flash_green_ops.errors import DeadlinePassed


@dataclass(frozen=True)
class Settings:
    environment: str | None = None  # from --environment; None means "ask the env file"
    db_connect_timeout: float = 5.0
    alembic_head: str | None = None
    alembic_config: Path | None = None
    secrets_timeout: float = 5.0
    vault_min_ttl: float = 24 * 3600.0  # seconds
    http_timeout: float = 5.0
    metrics_interval: float = 1.0
    metrics_strict: bool = False
    metrics_rules: str = "current"  # promlint.RULESETS: today's Prometheus, or promtool 2.42's
    web3_max_block_age: float = 300.0  # seconds: an older latest block means the node is not synced
    cert_min_days: float = 14.0  # a certificate expiring sooner is a warning
    invariants: Path | None = None  # None: the packaged invariants.toml
    invariant_timeout: float = 30.0
    # Wait-until mode (--retry-timeout): the time.monotonic() by which an attempt must end.
    # None (every other run): each call gets its full configured timeout.
    deadline: float | None = None

    def timeout(self, name: str) -> float:
        """The timeout (or wait) ``name`` for a network call starting now: as configured, but
        no longer than the time left until ``deadline``, so an attempt of several calls in a
        row overshoots the deadline by one call's timeout at most. Once the deadline has
        passed no call starts: DeadlinePassed."""
        configured = getattr(self, name)
        if self.deadline is None:
            return configured
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise DeadlinePassed(f"not finished: the --retry-timeout deadline passed before its next network "
                                 f"call (--{name.replace('_', '-')}), so its remaining checks did not run")
        return min(configured, left)

    @classmethod
    def from_mapping(cls, options: dict) -> Settings:
        """Build from argparse/pytest option values, ignoring keys that are not settings."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in options.items() if k in names and v is not None})


def parse_duration(text: str) -> float:
    """``90``, ``90s``, ``15m``, ``24h`` or ``2d`` as seconds (--vault-min-ttl, --web3-max-block-age)."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    text = text.strip().lower()
    scale = units.get(text[-1:], None)
    number = text[:-1] if scale else text
    try:
        value = float(number) * (scale or 1)
        if math.isnan(value):  # float() reads "nan": every comparison with it is false
            raise ValueError
    except ValueError:
        raise ValueError(f"not a duration: {text!r} (use e.g. 90s, 15m, 24h, 2d)") from None
    if value < 0:
        raise ValueError(f"not a duration: {text!r} (must not be negative)")
    return value


# -- option values (argparse types: a bad value is argparse's one-line usage error) -----------

def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0: {text!r}")
    return value


def non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more: {text!r}")
    return value


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more: {text!r}")
    return value


METRICS_RULES = ("current", "client_golang-1.14")  # metrics/promlint.RULESETS (not imported: env stage)


def metrics_rules(text: str) -> str:
    if text not in METRICS_RULES:
        raise argparse.ArgumentTypeError(f"{text!r} is not one of {', '.join(METRICS_RULES)}")
    return text


def duration(text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def positive_duration(text: str) -> float:
    value = duration(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0: {text!r}")
    return value


# -- the shared options, by step ----------------------------------------------------------------

class Option(NamedTuple):
    flag: str
    help: str
    type: Callable | None = None
    metavar: str | None = None
    action: str | None = None

    def keywords(self) -> dict:
        given = {"help": self.help, "type": self.type, "metavar": self.metavar, "action": self.action}
        keywords = {k: v for k, v in given.items() if v is not None}
        if self.action == "store_true":
            keywords["default"] = None  # unset, so Settings keeps its own default
        return keywords


ENV_OPTIONS = (
    Option("--env-file", "env file of the environment to check (command lines: default the process "
                         "environment; pytest: implies --target live)", metavar="PATH"),
    Option("--environment", "one of the contract's environments, staging or production "
                            "(default: APP_ENV, else staging)", metavar="E"),
    Option("--contract", "the env contract (default: the packaged contract.toml)", metavar="PATH"),
)
DB_OPTIONS = (
    Option("--db-connect-timeout", "database connect timeout (default 5)", positive_float, "SECONDS"),
    Option("--alembic-head", "the Alembic revision the database must be at", metavar="REV"),
    Option("--alembic-config", "alembic.ini whose script directory's head the database must be at",
           metavar="PATH"),
)
SECRETS_OPTIONS = (
    Option("--secrets-timeout", "secret backend timeout (default 5)", positive_float, "SECONDS"),
    Option("--vault-min-ttl", "warn when the Vault token expires within this (90s, 15m, 24h, 2d; default 24h)",
           duration, "DURATION"),
)
METRICS_OPTIONS = (
    Option("--http-timeout", "timeout of scrapes, health, adapter calls and TLS handshakes (default 5)",
           positive_float, "SECONDS"),
    Option("--metrics-interval", "time between the two scrapes (default 1)", positive_float, "SECONDS"),
    Option("--metrics-strict", "lint problems fail instead of warn", action="store_true"),
    Option("--metrics-rules", "whose verdicts on the exposition: current (today's Prometheus: UTF-8 names, "
                              "gauge histograms) or client_golang-1.14 (promtool 2.42, e.g. Debian 12's); "
                              "default current", metrics_rules, "RULES"),
)
ADAPTER_OPTIONS = (
    Option("--web3-max-block-age", "fail when the web3 node's latest block is older than this "
                                   "(90s, 15m; default 5m)", duration, "DURATION"),
)
TLS_OPTIONS = (
    Option("--cert-min-days", "warn when a certificate expires within this many days (default 14)",
           non_negative_float, "DAYS"),
)
RECONCILE_OPTIONS = (
    Option("--invariants", "reconciliation invariants file (default: the packaged invariants.toml)", metavar="PATH"),
    Option("--invariant-timeout", "statement timeout of each invariant's query (default 30)", positive_float,
           "SECONDS"),
)
# The preflight's options (RECONCILE_OPTIONS are the reconcile command's and pytest's).
ALL_OPTIONS = ENV_OPTIONS + DB_OPTIONS + SECRETS_OPTIONS + METRICS_OPTIONS + ADAPTER_OPTIONS + TLS_OPTIONS


def add_options(add: Callable, options=ALL_OPTIONS) -> None:
    """``add``: argparse's ``parser.add_argument`` or pytest's ``group.addoption``."""
    for option in options:
        add(option.flag, **option.keywords())
