"""Running an Alembic project's migrations through Alembic's own API (never a shelled-out
``alembic``), on a connection we open: the password stays in this process (PgEndpoint), never
in a URL, a file or a command line.

The one code path for every migration the suite runs: the rollback rehearsal, the targets'
Flash Green database, and the container entrypoint's phase (commands/migrate.py). The project's
env.py must use the connection in ``config.attributes["connection"]`` when it is there (Alembic's
cookbook recipe "Sharing a Connection across one or more programmatic migration commands"; it may
fall back to its own engine otherwise); Flash Green's own project (``flashgreen_schema/``,
shipped in the package) does, and has no fallback: it reads no URL.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

from flash_green_ops.pg import PgEndpoint

# Flash Green's schema, shipped as package data so the targets and the rehearsal need nothing more.
PACKAGED_CONFIG = Path(__file__).with_name("flashgreen_schema") / "alembic.ini"
APP_NAME = "flashgreen-migrations"
CANCEL_TIMEOUT = 5.0  # seconds a cancel request may take (psycopg's cancel() has no bound)


class Timeout(Exception):
    """A migration command ran past its bound and was cancelled."""


def config(path: str | Path | None = None, connection=None):
    """An alembic Config for the project at ``path`` (default: Flash Green's), with ``connection``
    (a SQLAlchemy Connection) for env.py."""
    from alembic.config import Config

    cfg = Config(str(path or PACKAGED_CONFIG))
    cfg.attributes["connection"] = connection
    return cfg


def script_directory(path: str | Path | None = None):
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(config(path))


@contextmanager
def connection(endpoint: PgEndpoint):
    """A SQLAlchemy connection (psycopg 3 dialect) in a transaction committed on success; yields
    (connection, cancel) where ``cancel()`` cancels the statement running on it (thread-safe;
    bounded like the backup's cancels: a server that does not answer the cancel request cannot
    hold the caller's timer forever)."""
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    raw = []

    def connect():
        # PgEndpoint.connect: the deadline connect, the password from memory.
        raw.append(endpoint.connect(APP_NAME, autocommit=False))
        return raw[-1]

    engine = create_engine("postgresql+psycopg://", creator=connect, poolclass=NullPool)
    try:
        with engine.begin() as conn:
            yield conn, lambda: [c.cancel_safe(timeout=CANCEL_TIMEOUT) for c in raw if not c.closed]
    finally:
        engine.dispose()


def run(endpoint: PgEndpoint, action: Callable, path: str | Path | None = None, timeout: float | None = None) -> None:
    """``action(cfg)`` (e.g. ``lambda cfg: alembic.command.upgrade(cfg, "head")``) on ``endpoint``,
    committed when it returns. With ``timeout``, a statement still running after that many
    seconds is cancelled and Timeout raised (the transaction rolls back)."""
    with connection(endpoint) as (conn, cancel):
        fired = threading.Event()

        def expire():
            fired.set()
            cancel()

        timer = threading.Timer(timeout, expire) if timeout else None
        if timer:
            timer.daemon = True
            timer.start()
        try:
            action(config(path, conn))
        except Exception:
            if fired.is_set():
                raise Timeout(f"cancelled after {timeout:g} s") from None
            raise
        finally:
            if timer:
                timer.cancel()
        if fired.is_set():  # cancelled between statements: nothing to cancel, but the bound is spent
            raise Timeout(f"cancelled after {timeout:g} s")


def upgrade(endpoint: PgEndpoint, revision: str = "head", path: str | Path | None = None,
            timeout: float | None = None) -> None:
    from alembic import command

    run(endpoint, lambda cfg: command.upgrade(cfg, revision), path, timeout)


def downgrade(endpoint: PgEndpoint, revision: str = "-1", path: str | Path | None = None,
              timeout: float | None = None) -> None:
    from alembic import command

    run(endpoint, lambda cfg: command.downgrade(cfg, revision), path, timeout)
