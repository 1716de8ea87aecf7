"""Database step: reachability, server version, pg_dump, TLS, Alembic revision, read-only access.

The database is the env's (credentials.database_endpoint: DATABASE_URL or DB_*, the password
from the env or the secret bundle); every connection has a deadline (pg.PgEndpoint.connect).

- ``run(ctx, read_only=False) -> list[Finding]``: one finding per check (CHECKS, plus
  db.read_only when ``read_only``); the preflight ``db`` stage is ``run(ctx)``;
- ``check_read_only(endpoint) -> Finding``; ``pg_dump_verdict(text, server_version_num)`` (pure).
"""
from __future__ import annotations

import re
import statistics
import subprocess
import time
from collections.abc import Callable
from dataclasses import replace

from flash_green_ops import pgbin, redact
from flash_green_ops.alembic_state import alembic_revisions, expected_alembic_heads
from flash_green_ops.context import RunContext
from flash_green_ops.contract import Contract
from flash_green_ops.credentials import database_endpoint
from flash_green_ops.findings import Finding, failed, passed, skipped, timed, warned
from flash_green_ops.pg import DatabaseConfigError, DatabaseUnreachable, PgEndpoint

CHECKS = ("db.reachable", "db.version", "db.pg_dump", "db.tls", "db.alembic")
READ_ONLY_CHECK = "db.read_only"


def check_ids(contract: Contract) -> tuple[str, ...]:
    return (*CHECKS, READ_ONLY_CHECK)


# --------------------------------------------------------------------------------------------
# Pure helpers (testable without a server)


def server_major(server_version_num: int) -> tuple[int, ...]:
    """150018 -> (15,); 90624 -> (9, 6): PostgreSQL's major version as a comparable tuple."""
    if server_version_num >= 100000:
        return (server_version_num // 10000,)
    return (server_version_num // 10000, server_version_num // 100 % 100)


def pg_dump_major(version_text: str) -> tuple[int, ...] | None:
    """The major version from ``pg_dump --version`` output ("pg_dump (PostgreSQL) 15.18 (Debian...)")."""
    match = re.search(r"\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?", version_text)
    if not match:
        return None
    major = int(match.group(1))
    return (major,) if major >= 10 else (major, int(match.group(2) or 0))


def _fmt(version: tuple[int, ...]) -> str:
    return ".".join(map(str, version))


def pg_dump_verdict(version_text: str, server_version_num: int) -> tuple[bool, str]:
    """Whether this pg_dump can dump this server, and why. pg_dump refuses servers of a newer
    major version than its own ("aborting because of server version mismatch")."""
    server = server_major(server_version_num)
    dump = pg_dump_major(version_text)
    if dump is None:
        return False, f"cannot tell pg_dump's version from its output {version_text.strip()[:80]!r}"
    if dump < server:
        return False, (f"pg_dump {_fmt(dump)} is older than the server's PostgreSQL {_fmt(server)}: it "
                       f"cannot dump this server; install pg_dump {_fmt(server)} or newer "
                       f"(postgresql-client-{_fmt(server)}) and put it first on PATH")
    return True, f"pg_dump {_fmt(dump)} can dump PostgreSQL {_fmt(server)} (same or newer major version)"


# --------------------------------------------------------------------------------------------
# The checks


def _statement_timeout_ms(endpoint: PgEndpoint) -> int:
    # The checks' statements are tiny; a server that takes longer than this is itself a finding.
    return int(max(endpoint.connect_timeout, 5) * 1000)


def _reachable(endpoint: PgEndpoint, conn, connect_seconds: float) -> Finding:
    rounds = []
    for _ in range(3):
        started = time.perf_counter()
        conn.execute("SELECT 1").fetchone()
        rounds.append(time.perf_counter() - started)
    return passed("db.reachable",
                  f"connected to {endpoint.label} as user {endpoint.user or '(default)'} in "
                  f"{connect_seconds * 1000:.1f} ms; SELECT 1 round trip {statistics.median(rounds) * 1000:.2f} ms "
                  f"(median of 3)", endpoint.where)


def _version(endpoint: PgEndpoint, conn) -> Finding:
    text = conn.execute("SHOW server_version").fetchone()[0]
    return passed("db.version", f"server is PostgreSQL {text} (server_version_num {conn.info.server_version})",
                  endpoint.where)


def _pg_dump(endpoint: PgEndpoint, conn) -> Finding:
    path = pgbin.find("pg_dump")  # the very pg_dump the backup step will run
    if not path:
        return failed("db.pg_dump", f"pg_dump is not on PATH nor in {pgbin.BIN_GLOB}: backups need it; "
                      "install the PostgreSQL client package matching the server's major version")
    try:
        result = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10,
                                stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError) as exc:
        return failed("db.pg_dump", f"{path} --version could not run: {exc}")
    ok, message = pg_dump_verdict(result.stdout or result.stderr, conn.info.server_version)
    return (passed if ok else failed)("db.pg_dump", f"{message} ({path})", path)


def _tls(endpoint: PgEndpoint, conn, production: bool) -> Finding:
    row = conn.execute("SELECT ssl, version, cipher FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetchone()
    encrypted = bool(row and row[0])
    if encrypted:
        return passed("db.tls", f"connection to {endpoint.label} is encrypted ({row[1]}, {row[2]}; "
                      f"sslmode={endpoint.sslmode})", endpoint.where)
    if production:
        return failed("db.tls", f"connection to {endpoint.label} is NOT encrypted (pg_stat_ssl.ssl is false "
                      f"for this session; sslmode={endpoint.sslmode}): production requires TLS; enable ssl "
                      f"on the server and set sslmode=require (or verify-full) in {endpoint.source_key}",
                      endpoint.where)
    return passed("db.tls", f"connection to {endpoint.label} is not encrypted (sslmode={endpoint.sslmode}); "
                  f"allowed outside production", endpoint.where)


def _alembic(endpoint: PgEndpoint, conn, ctx_settings) -> Finding:
    try:
        expected, origin = expected_alembic_heads(ctx_settings.alembic_head, ctx_settings.alembic_config)
    except ValueError as exc:
        return failed("db.alembic", str(exc))
    # The same table the backup manifest records: looked for in every schema, public first.
    found = alembic_revisions(conn)
    if found is None:
        if expected is None:
            return skipped("db.alembic", f"{endpoint.label} has no alembic_version table and no revision "
                           f"is expected (--alembic-head / --alembic-config): nothing to compare")
        return failed("db.alembic", f"{endpoint.label} has no alembic_version table, expected revision "
                      f"{', '.join(sorted(expected))} ({origin}): run the migrations (alembic upgrade head) "
                      f"or point {endpoint.source_key} at the right database", endpoint.where)
    found_text = ", ".join(sorted(found)) or "(none: the table is empty)"
    if expected is None:
        return passed("db.alembic", f"{endpoint.label} is at Alembic revision {found_text}", endpoint.where)
    if found != expected:
        return failed("db.alembic", f"{endpoint.label} is at Alembic revision {found_text}, expected "
                      f"{', '.join(sorted(expected))} ({origin}): run `alembic upgrade head` with the "
                      f"release being deployed, or deploy the release that matches the database",
                      endpoint.where)
    return passed("db.alembic", f"{endpoint.label} is at Alembic revision {found_text}, as expected ({origin})",
                  endpoint.where)


def check_read_only(endpoint: PgEndpoint) -> Finding:
    """A session with default_transaction_read_only=on can read every table of schema public.

    Used after a restore, before trading resumes: the application's reporting role is
    read-only and must see every table. Reads one row of each table, so it costs O(tables).
    """
    import psycopg
    from psycopg import sql

    check = READ_ONLY_CHECK
    try:
        conn = endpoint.connect(autocommit=False)
    except DatabaseUnreachable as exc:
        return failed(check, str(exc), endpoint.where)
    with conn:
        conn.execute(f"SET statement_timeout = {_statement_timeout_ms(endpoint)}")
        conn.execute("SET default_transaction_read_only = on")
        conn.commit()
        mode = conn.execute("SHOW transaction_read_only").fetchone()[0]
        conn.rollback()
        if mode != "on":
            return failed(check, f"SET default_transaction_read_only = on did not make the session read-only "
                          f"on {endpoint.label} (transaction_read_only = {mode})", endpoint.where)
        tables = [row[0] for row in conn.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') ORDER BY c.relname")]
        conn.rollback()
        problems = []
        for table in tables:
            try:
                conn.execute(sql.SQL("SELECT 1 FROM {}.{} LIMIT 1").format(
                    sql.Identifier("public"), sql.Identifier(table))).fetchall()
            except psycopg.Error as exc:
                problems.append(f"{table} ({' '.join(str(exc).split())})")
            finally:
                conn.rollback()
    if not tables:
        return warned(check, f"schema public of {endpoint.label} has no tables: nothing to read "
                      f"(after a restore this means the restore is empty)", endpoint.where)
    if problems:
        return failed(check, f"a read-only session on {endpoint.label} cannot read {len(problems)} of "
                      f"{len(tables)} tables in schema public: {'; '.join(problems[:10])}"
                      f"{' …' if len(problems) > 10 else ''}: grant SELECT to user {endpoint.user}",
                      endpoint.where)
    shown = ", ".join(tables[:10]) + (f" and {len(tables) - 10} more" if len(tables) > 10 else "")
    return passed(check, f"a read-only session (default_transaction_read_only=on) on {endpoint.label} "
                  f"read all {len(tables)} tables of schema public: {shown}", endpoint.where)


def run(ctx: RunContext, read_only: bool = False) -> list[Finding]:
    """One finding per check (CHECKS, plus db.read_only when ``read_only``: after a restore).

    Once db.reachable fails, every other check is a SKIP that says why.
    """
    import psycopg

    names = CHECKS + ((READ_ONLY_CHECK,) if read_only else ())
    try:
        endpoint = database_endpoint(ctx)
    except DatabaseConfigError as exc:
        return [failed("db.reachable", str(exc), ctx.source.where())] + [
            skipped(n, "skipped: no usable database settings (see db.reachable)") for n in names[1:]]
    started = time.monotonic()
    try:
        conn = endpoint.connect()
    except (DatabaseUnreachable, DatabaseConfigError) as exc:
        finding = replace(failed("db.reachable", str(exc), endpoint.where), duration=time.monotonic() - started)
        return [finding] + [skipped(n, f"skipped: cannot connect to {endpoint.label} (see db.reachable)")
                            for n in names[1:]]
    connect_seconds = time.monotonic() - started
    findings: list[Finding] = []
    with conn:
        # Queries get a deadline too; the probe's statements are all tiny.
        conn.execute(f"SET statement_timeout = {_statement_timeout_ms(endpoint)}")
        steps: list[tuple[str, Callable[[], Finding]]] = [
            ("db.reachable", lambda: _reachable(endpoint, conn, connect_seconds)),
            ("db.version", lambda: _version(endpoint, conn)),
            ("db.pg_dump", lambda: _pg_dump(endpoint, conn)),
            ("db.tls", lambda: _tls(endpoint, conn, ctx.is_production)),
            ("db.alembic", lambda: _alembic(endpoint, conn, ctx.settings)),
        ]
        for name, step in steps:
            try:
                findings.append(timed(step))
            except psycopg.Error as exc:
                findings.append(failed(name, f"query on {endpoint.label} failed: "
                                       f"{redact.mask(' '.join(str(exc).split()))}", endpoint.where))
    if read_only:
        findings.append(timed(lambda: check_read_only(endpoint)))
    findings[0] = replace(findings[0], duration=findings[0].duration + connect_seconds)
    return [replace(f, message=redact.mask(f.message)) for f in findings]
