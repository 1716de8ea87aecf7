"""The options the command lines and the pytest plugin share: declared once here, fed to both
(argparse's ``add_argument`` and pytest's ``addoption`` take the same keywords), and resolved
once into a frozen dataclass. ``--db-connect-timeout`` is ``db_connect_timeout`` everywhere, so a
value means the same thing wherever an operator sets it.
"""
from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path


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
    invariants: Path | None = None  # None: the packaged invariants.toml
    invariant_timeout: float = 30.0

    @classmethod
    def from_mapping(cls, options: dict) -> Settings:
        """Build from argparse/pytest option values, ignoring keys that are not settings."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in options.items() if k in names and v is not None})


def parse_duration(text: str) -> float:
    """``90``, ``90s``, ``15m``, ``24h`` or ``2d`` as seconds (for --vault-min-ttl)."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    text = text.strip().lower()
    scale = units.get(text[-1:], None)
    number = text[:-1] if scale else text
    try:
        value = float(number) * (scale or 1)
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


# -- the shared options, by step ----------------------------------------------------------------

@dataclass(frozen=True)
class Option:
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
    Option("--http-timeout", "HTTP timeout for scrapes and health (default 5)", positive_float, "SECONDS"),
    Option("--metrics-interval", "time between the two scrapes (default 1)", positive_float, "SECONDS"),
    Option("--metrics-strict", "lint problems fail instead of warn", action="store_true"),
)
RECONCILE_OPTIONS = (
    Option("--invariants", "reconciliation invariants file (default: the packaged invariants.toml)", metavar="PATH"),
    Option("--invariant-timeout", "statement timeout of each invariant's query (default 30)", positive_float,
           "SECONDS"),
)
ALL_OPTIONS = ENV_OPTIONS + DB_OPTIONS + SECRETS_OPTIONS + METRICS_OPTIONS  # the preflight's


def add_options(add: Callable, options=ALL_OPTIONS) -> None:
    """``add``: argparse's ``parser.add_argument`` or pytest's ``group.addoption``."""
    for option in options:
        add(option.flag, **option.keywords())
