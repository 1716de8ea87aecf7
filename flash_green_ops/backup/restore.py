"""Restore a dump into an empty database: never into the database it was taken from."""
from __future__ import annotations

import math
import os
import time
from pathlib import Path

from flash_green_ops import redact
from flash_green_ops.backup.clients import (APP_NAME, DEFAULT_LOCK_WAIT_TIMEOUT, BackupError, dump_format,
                                            restore_args, run_client)
from flash_green_ops.backup.manifest import IDENTITY_SQL, RELATION_COUNT_SQL, Manifest
from flash_green_ops.errors import UsageError
from flash_green_ops.pg import PgEndpoint


def server_identity(endpoint: PgEndpoint, timeout: float = DEFAULT_LOCK_WAIT_TIMEOUT) -> dict:
    """System identifier (when readable), database name and OID, and how many user relations.

    Catalog reads only: no table lock, so an ALTER TABLE left open elsewhere does not block
    them. Bounded anyway by ``timeout`` seconds (lock_timeout and statement_timeout: a locked
    catalog, a stalled server), so nothing here waits forever.
    """
    from psycopg import errors

    try:
        conn = endpoint.connect(f"{APP_NAME}-check")
    except Exception as exc:
        raise BackupError(redact.mask(f"cannot connect to {endpoint.label}: {exc}")) from None
    with conn:
        try:
            # statement_timeout the larger, so a lock wait is reported as one (lock timeout).
            for setting, seconds in (("lock_timeout", timeout), ("statement_timeout", 2 * timeout)):
                conn.execute("SELECT pg_catalog.set_config(%s, %s, false)", (setting, f"{math.ceil(seconds * 1000)}ms"))
            _, _, dbname, db_oid, _, system_id = conn.execute(IDENTITY_SQL).fetchone()
            relations = conn.execute(RELATION_COUNT_SQL).fetchone()[0]
        except Exception as exc:
            cause = (str(exc).splitlines() or [type(exc).__name__])[0]  # not the LINE n: context
            if isinstance(exc, errors.LockNotAvailable):
                cause += (f": gave up after {timeout:g} s; another session holds a lock on the system "
                          f"catalogs (see pg_locks); end it or retry later")
            elif isinstance(exc, errors.QueryCanceled):
                cause += f": gave up after {2 * timeout:g} s; the server is overloaded, retry later"
            raise BackupError(redact.mask(f"cannot tell which database {endpoint.label} is: {cause}")) from None
    return {"system_identifier": system_id, "database": dbname, "database_oid": db_oid, "relations": relations}


def same_database(server: dict, identity: dict) -> bool:
    """Whether ``identity`` (server_identity) is the database ``server`` (a manifest's
    "server" entry, or another server_identity) describes."""
    same_server = (server.get("system_identifier") is not None
                   and server.get("system_identifier") == identity["system_identifier"])
    return same_server and (server.get("database_oid") == identity["database_oid"]
                            or server.get("database") == identity["database"])


def same_server(a: PgEndpoint, b: PgEndpoint) -> bool:
    """Whether ``a`` and ``b`` reach the same PostgreSQL server: by system identifier when both
    servers tell it (a reader without pg_control_system() is not told), else by host and port
    (libpq's default 5432 when none is given)."""
    a_id = server_identity(a)["system_identifier"]
    b_id = server_identity(b)["system_identifier"] if a_id else None  # not asked when a's is unknown
    if a_id and b_id:
        return a_id == b_id
    return (a.options.get("host"), a.options.get("port", "5432")) == (b.options.get("host"), b.options.get("port", "5432"))


def check_restore_target(target: PgEndpoint, manifest: Manifest | None = None,
                         source_identity: dict | None = None,
                         timeout: float = DEFAULT_LOCK_WAIT_TIMEOUT) -> None:
    """Refuse the source database itself, and a database that already has tables."""
    identity = server_identity(target, timeout)
    source = manifest.data["server"] if manifest is not None else source_identity
    if source is not None and same_database(source, identity):
        raise BackupError(f"refusing to restore into {target.label}: it is the database the backup was taken "
                          f"from; restore into a scratch database or another server")
    if identity["relations"]:
        raise BackupError(f"refusing to restore into {target.label}: it already holds {identity['relations']} "
                          f"tables or views; restore into an empty database")


def restore(target: PgEndpoint, dump: str | os.PathLike, *, manifest: Manifest | None = None, jobs: int = 1,
            no_owner: bool = False, bin_dir: str | os.PathLike | None = None) -> float:
    """Restore ``dump`` into the (empty) database ``target``; returns the seconds it took.

    Plain dumps go through ``psql -v ON_ERROR_STOP=1 -f`` (what the runbook does), custom and
    directory dumps through ``pg_restore --exit-on-error [--jobs N]``. Refuses to restore into
    the database the manifest was taken from, and into a database that already has tables.
    """
    dump = Path(dump)
    if not dump.exists():
        raise UsageError(f"{dump}: no such dump")
    check_restore_target(target, manifest=manifest)
    fmt = dump_format(dump)
    started = time.monotonic()
    args = restore_args(target, fmt, dump, jobs=jobs, no_owner=no_owner, bin_dir=bin_dir)
    run_client(args, target, "psql restore" if fmt == "plain" else "pg_restore")
    return time.monotonic() - started
