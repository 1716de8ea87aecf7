"""Database step: connection settings, and the probe (reachability, version, pg_dump, TLS, Alembic).

Connection settings come from ``DATABASE_URL`` or the ``DB_*`` trio (contract.toml), parsed
by psycopg's conninfo helpers (libpq's own rules), with ``DB_PASSWORD`` from the secret bundle
when the env has none. Every connection has a deadline: see :meth:`ConnSettings.connect`.

Public API, reused by later steps (backup, restore, post-restore validation):

- ``connection_settings(ctx) -> ConnSettings``; ``settings.display`` ("host:port/dbname"),
  ``settings.connect(**extra)``, ``settings.with_dbname(name)``;
- ``probe(ctx, read_only=False) -> list[Finding]``; ``check_read_only(settings) -> Finding``;
- ``pg_dump_verdict(pg_dump_version_text, server_version_num) -> (ok, message)`` (pure);
- ``preflight(ctx)``: the preflight ``db`` stage.
"""
from __future__ import annotations

import math
import re
import socket
import statistics
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from ipaddress import ip_address
from pathlib import Path

from flash_green_ops import pgbin, redact
from flash_green_ops.context import RunContext
from flash_green_ops.findings import Finding, failed, passed, skipped, warned

CHECKS = ("db.reachable", "db.version", "db.pg_dump", "db.tls", "db.alembic")
READ_ONLY_CHECK = "db.read_only"

# libpq (and psycopg, which enforces it) will not wait less than this per connection attempt.
LIBPQ_MIN_CONNECT_TIMEOUT = 2
_LATER_ATTEMPT_MIN_REMAINING = LIBPQ_MIN_CONNECT_TIMEOUT - 0.9
# Arguments of psycopg.connect that are not conninfo parameters.
_PSYCOPG_ARGS = frozenset({"autocommit", "prepare_threshold", "context", "row_factory", "cursor_factory"})


class DatabaseConfigError(Exception):
    """The env does not describe a database libpq can use (message masked, names the key)."""


class DatabaseUnreachable(Exception):
    """A connection failed: the message names host, port and cause (masked; never the password)."""

    def __init__(self, message: str, *, host: str, port: str, cause: str):
        super().__init__(redact.mask(message))
        self.host, self.port, self.cause = host, port, redact.mask(cause)


# --------------------------------------------------------------------------------------------
# Connection settings


@dataclass(frozen=True)
class ConnSettings:
    """Where and how to connect. ``params`` are libpq conninfo parameters (password included:
    never print them; the password is registered with flash_green_ops.redact)."""

    params: dict[str, str] = field(repr=False)
    connect_timeout: float
    source_key: str  # DATABASE_URL or DB_HOST: which form of the env was used
    where: str  # "file line N" of that key

    @property
    def host(self) -> str:
        return self.params.get("host") or self.params.get("hostaddr") or "the default unix socket"

    @property
    def port(self) -> str:
        return self.params.get("port") or "5432"

    @property
    def dbname(self) -> str:
        return self.params.get("dbname") or self.params.get("user") or ""

    @property
    def user(self) -> str:
        return self.params.get("user") or ""

    @property
    def sslmode(self) -> str:
        return self.params.get("sslmode") or "prefer"  # libpq's default

    @property
    def display(self) -> str:
        """``host:port/dbname``, masked: safe for any message."""
        return redact.mask(f"{self.host}:{self.port}/{self.dbname}")

    def with_dbname(self, dbname: str) -> ConnSettings:
        return replace(self, params={**self.params, "dbname": dbname})

    def conninfo(self, **extra: str) -> str:
        """The libpq conninfo string (holds the password: for libraries, never for output)."""
        from psycopg.conninfo import make_conninfo

        return make_conninfo("", **{**self.params, **extra})

    def connect(self, **extra):
        """A psycopg connection, or DatabaseUnreachable within connect_timeout (+ libpq's rounding).

        Why not just psycopg.connect(connect_timeout=N): psycopg gives *each* address the full
        timeout, so a name resolving to two silent addresses (or a host list) waits N per
        address, and its name resolution has no deadline at all. Here one deadline covers name
        resolution (in a worker thread) and every attempt; each attempt gets what remains.
        ``extra``: psycopg.connect arguments (autocommit=...) or conninfo parameters.
        libpq waits whole seconds and at least 2 s per attempt, so a timeout below 2 s acts as 2 s.
        """
        import psycopg

        deadline = time.monotonic() + self.connect_timeout
        kwargs = {k: v for k, v in extra.items() if k in _PSYCOPG_ARGS}
        params = {**self.params, **{k: str(v) for k, v in extra.items() if k not in _PSYCOPG_ARGS}}
        errors: list[str] = []
        tried = 0
        for attempt in _split_hosts(params):
            host, port = attempt.get("host") or "", attempt.get("port") or "5432"
            try:
                addresses = _resolve(attempt, deadline)
            except (OSError, TimeoutError) as exc:
                errors.append(f"{host}:{port}: cannot resolve host name ({_os_error_text(exc)})")
                continue
            for address in addresses:
                remaining = deadline - time.monotonic()
                # The first attempt always runs (libpq's 2 s minimum rounds a smaller timeout up);
                # a later one only while enough remains that its 2 s minimum ends before the
                # deadline plus one second.
                if tried and remaining < _LATER_ATTEMPT_MIN_REMAINING:
                    errors.append(f"{host}:{port}{_addr(address, host)}: not tried, the "
                                  f"{self.connect_timeout:g} s connect timeout was used up")
                    continue
                # libpq counts whole seconds: rounding overshoots the deadline by 0.5 s at most.
                timeout = max(LIBPQ_MIN_CONNECT_TIMEOUT, math.floor(remaining + 0.5))
                conn_params = {**attempt, "connect_timeout": str(timeout)}
                if address:
                    conn_params["hostaddr"] = address
                tried += 1
                try:
                    conn = psycopg.connect(**conn_params, **kwargs)
                except psycopg.errors.ConnectionTimeout:
                    errors.append(f"{host}:{port}{_addr(address, host)}: no answer within {timeout} s "
                                  f"(connect timeout): something accepts or drops the connection "
                                  f"but no PostgreSQL server answers")
                except psycopg.Error as exc:
                    errors.append(f"{host}:{port}{_addr(address, host)}: {_libpq_cause(exc)}")
                else:
                    return conn
        cause = "; ".join(errors) or "no host to connect to"
        raise DatabaseUnreachable(
            f"cannot connect to PostgreSQL at {self.display} as user {self.user or '(default)'} "
            f"({self.source_key}, {self.where}): "
            f"{cause.rstrip('.?')}. Fix: {_hint(cause, self)}",
            host=self.host, port=self.port, cause=cause)


def _addr(address: str | None, host: str) -> str:
    return f" ({address})" if address and address != host else ""


def _split_hosts(params: dict[str, str]) -> list[dict[str, str]]:
    """libpq's multi-host form (host=a,b port=1,2): one attempt per host, in order."""
    hosts = (params.get("host") or "").split(",")
    hostaddrs = (params.get("hostaddr") or "").split(",") if params.get("hostaddr") else []
    ports = (params.get("port") or "").split(",")
    if len(hosts) == 1 and len(hostaddrs) <= 1:
        return [dict(params)]
    if len(ports) == 1:
        ports = ports * len(hosts)
    if len(ports) != len(hosts) or (hostaddrs and len(hostaddrs) != len(hosts)):
        raise DatabaseConfigError(
            f"{len(hosts)} hosts but {len(ports)} ports (or hostaddrs): give one port, or one per host")
    attempts = []
    for i, host in enumerate(hosts):
        attempt = {**params, "host": host, "port": ports[i]}
        if hostaddrs:
            attempt["hostaddr"] = hostaddrs[i]
        attempts.append({k: v for k, v in attempt.items() if v != ""})
    return attempts


def _is_ip(text: str) -> bool:
    try:
        ip_address(text)
    except ValueError:
        return False
    return True


def _resolve(attempt: dict[str, str], deadline: float) -> list[str | None]:
    """The addresses to try for one host; None means "let libpq decide" (unix socket, hostaddr)."""
    host = attempt.get("host") or ""
    if attempt.get("hostaddr") or not host or host.startswith(("/", "@")):
        return [None]
    if _is_ip(host):
        return [host]
    # getaddrinfo has no timeout of its own and a broken resolver can stall for many seconds;
    # a daemon thread bounds the wait (the stuck lookup, if any, dies with the process).
    outcome: dict = {}

    def lookup() -> None:
        try:
            outcome["infos"] = socket.getaddrinfo(host, attempt.get("port") or 5432,
                                                  type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
        except OSError as exc:
            outcome["error"] = exc

    worker = threading.Thread(target=lookup, name=f"resolve {host}", daemon=True)
    worker.start()
    worker.join(max(0.0, deadline - time.monotonic()))
    if worker.is_alive():
        raise TimeoutError("no answer from the resolver within the connect timeout")
    if "error" in outcome:
        raise outcome["error"]
    addresses = []
    for info in outcome["infos"]:
        if info[4][0] not in addresses:  # localhost may resolve to the same address twice
            addresses.append(info[4][0])
    return addresses


def _os_error_text(exc: BaseException) -> str:
    if isinstance(exc, socket.gaierror):
        return exc.strerror or str(exc)
    return str(exc)


_SERVER_PREFIX = re.compile(r'(?:connection failed: )?connection to server (?:at|on) "[^"]*"(?: \([^)]*\))?, port \d+ failed: ')


def _libpq_cause(exc: Exception) -> str:
    """libpq's reason on one line, without its "connection to server at ..." prefixes (we name
    host and port ourselves) and without repeats (sslmode=prefer tries twice, same reason)."""
    reasons = []
    for part in _SERVER_PREFIX.split(str(exc)):
        text = "; ".join(" ".join(line.split()) for line in part.splitlines() if line.strip())
        if text and text not in reasons:
            reasons.append(text)
    return redact.mask("; ".join(reasons) or type(exc).__name__)


def _hint(cause: str, settings: ConnSettings) -> str:
    lowered = cause.lower()
    if "password authentication failed" in lowered or "no password supplied" in lowered:
        return ("check the password for this user (the password in DATABASE_URL, DB_PASSWORD, or "
                "DB_PASSWORD in the secret bundle)")
    if "does not exist" in lowered and "database" in lowered:
        return f"create the database or correct its name ({settings.source_key})"
    if "resolve" in lowered:
        return f"correct the host name in {settings.source_key}, or check DNS from this machine"
    if "refused" in lowered:
        return "check host and port, and that the server is running and listening on that address"
    if "no answer within" in lowered or "used up" in lowered:
        return ("check that host and port point at PostgreSQL and that no firewall drops the traffic; "
                "raise --db-connect-timeout only for a slow link")
    if "ssl" in lowered:
        return "enable TLS on the server, or correct sslmode"
    if "pg_hba.conf" in lowered:
        return "allow this client in the server's pg_hba.conf"
    return "check the connection settings and the server's log"


def _bundle(ctx: RunContext) -> dict[str, str] | None:
    """The secret bundle: the secrets stage's, or loaded now when the db step runs alone
    (``--stage db``). No bundle is not an error here: the connection then fails on its own
    terms (no password supplied), which names the real problem."""
    if ctx.bundle is not None:
        return ctx.bundle
    from flash_green_ops import secrets  # lazy: hvac / boto3 only when a backend is configured

    try:
        return secrets.load_bundle(ctx)
    except secrets.BundleUnavailable:
        return None


def connection_settings(ctx: RunContext) -> ConnSettings:
    """The database the env describes: DATABASE_URL wins over the DB_* trio (as the contract says).

    DB_PASSWORD comes from the secret bundle (ctx.bundle) when the env gives no password.
    Raises DatabaseConfigError when neither form is usable.
    """
    from psycopg import ProgrammingError
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    values = ctx.values
    url = (values.get("DATABASE_URL") or "").strip()
    if url:
        key = "DATABASE_URL"
        try:
            params = conninfo_to_dict(url)
        except ProgrammingError as exc:
            raise DatabaseConfigError(
                f"DATABASE_URL ({ctx.source.where(key)}) is not a connection URL libpq accepts: "
                f"{redact.mask(' '.join(str(exc).split()))}; use postgresql://user:password@host:port/dbname"
            ) from None
    else:
        key = "DB_HOST"
        trio = {"DB_HOST": "host", "DB_NAME": "dbname", "DB_USER": "user"}
        missing = [k for k in trio if not (values.get(k) or "").strip()]
        if missing:
            raise DatabaseConfigError(
                f"no database configured in {ctx.source.where()}: set DATABASE_URL, or DB_HOST, DB_NAME "
                f"and DB_USER (missing: {', '.join(missing)})")
        optional = {"DB_PORT": "port", "DB_PASSWORD": "password", "DB_SSLMODE": "sslmode"}
        given = {param: values[k].strip() for k, param in {**trio, **optional}.items()
                 if (values.get(k) or "").strip()}
        try:
            params = conninfo_to_dict(make_conninfo("", **given))
        except ProgrammingError as exc:
            raise DatabaseConfigError(
                f"DB_* settings ({ctx.source.where(key)}) are not valid libpq parameters: "
                f"{redact.mask(' '.join(str(exc).split()))}") from None
    params = {k: str(v) for k, v in params.items()}
    if not params.get("password"):
        bundle = _bundle(ctx)
        if bundle and bundle.get("DB_PASSWORD"):
            params["password"] = bundle["DB_PASSWORD"]
    # Whatever its source, the password is secret. The env's and the bundle's are registered
    # when read; this covers a bundle handed over as text (a boolean value, a test's ctx.bundle).
    redact.register(params.get("password"))
    params.pop("connect_timeout", None)  # ours, from --db-connect-timeout, governs
    return ConnSettings(params=params, connect_timeout=float(ctx.settings.db_connect_timeout),
                        source_key=key, where=ctx.source.where(key))


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


def _statement_timeout_ms(settings: ConnSettings) -> int:
    # The checks' statements are tiny; a server that takes longer than this is itself a finding.
    return int(max(settings.connect_timeout, 5) * 1000)


def _timed(check: Callable[[], Finding]) -> Finding:
    started = time.monotonic()
    finding = check()
    return replace(finding, duration=time.monotonic() - started)


def _reachable(settings: ConnSettings, conn, connect_seconds: float) -> Finding:
    rounds = []
    for _ in range(3):
        started = time.perf_counter()
        conn.execute("SELECT 1").fetchone()
        rounds.append(time.perf_counter() - started)
    return passed("db.reachable",
                  f"connected to {settings.display} as user {settings.user or '(default)'} in "
                  f"{connect_seconds * 1000:.1f} ms; SELECT 1 round trip {statistics.median(rounds) * 1000:.2f} ms "
                  f"(median of 3)", settings.where)


def _version(settings: ConnSettings, conn) -> Finding:
    text = conn.execute("SHOW server_version").fetchone()[0]
    return passed("db.version", f"server is PostgreSQL {text} (server_version_num {conn.info.server_version})",
                  settings.where)


def _pg_dump(settings: ConnSettings, conn) -> Finding:
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


def _tls(settings: ConnSettings, conn, production: bool) -> Finding:
    row = conn.execute("SELECT ssl, version, cipher FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetchone()
    encrypted = bool(row and row[0])
    if encrypted:
        return passed("db.tls", f"connection to {settings.display} is encrypted ({row[1]}, {row[2]}; "
                      f"sslmode={settings.sslmode})", settings.where)
    if production:
        return failed("db.tls", f"connection to {settings.display} is NOT encrypted (pg_stat_ssl.ssl is false "
                      f"for this session; sslmode={settings.sslmode}): production requires TLS; enable ssl "
                      f"on the server and set sslmode=require (or verify-full) in {settings.source_key}",
                      settings.where)
    return passed("db.tls", f"connection to {settings.display} is not encrypted (sslmode={settings.sslmode}); "
                  f"allowed outside production", settings.where)


def expected_alembic_heads(head: str | None, config: Path | str | None) -> tuple[set[str] | None, str]:
    """What revision(s) the database should be at, and where that came from.

    --alembic-head wins over --alembic-config; the config's heads are read with Alembic's own
    ScriptDirectory (script_location resolved as Alembic does). Raises ValueError with a
    one-line reason when the config cannot be read.
    """
    if head:
        return {head.strip()}, f"--alembic-head {head.strip()}"
    if not config:
        return None, ""
    path = Path(config)
    if not path.is_file():
        raise ValueError(f"--alembic-config {path}: no such file")
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    try:
        heads = ScriptDirectory.from_config(Config(str(path))).get_heads()
    except Exception as exc:  # Alembic raises CommandError, but a broken migration file raises anything
        raise ValueError(f"--alembic-config {path}: cannot read the Alembic script directory "
                         f"({type(exc).__name__}: {' '.join(str(exc).split())})") from None
    if not heads:
        raise ValueError(f"--alembic-config {path}: the script directory has no revisions")
    return set(heads), f"head of --alembic-config {path}"


def _alembic(settings: ConnSettings, conn, ctx_settings) -> Finding:
    from psycopg import sql

    from flash_green_ops.manifest import ALEMBIC_SQL  # lazy, as psycopg: only when a server answered

    try:
        expected, origin = expected_alembic_heads(ctx_settings.alembic_head, ctx_settings.alembic_config)
    except ValueError as exc:
        return failed("db.alembic", str(exc))
    # The same table the backup manifest records (flash_green_ops.manifest): looked for in every schema,
    # public first, not only on the search_path.
    schema = conn.execute(ALEMBIC_SQL).fetchone()
    if schema is None:
        if expected is None:
            return skipped("db.alembic", f"{settings.display} has no alembic_version table and no revision "
                           f"is expected (--alembic-head / --alembic-config): nothing to compare")
        return failed("db.alembic", f"{settings.display} has no alembic_version table, expected revision "
                      f"{', '.join(sorted(expected))} ({origin}): run the migrations (alembic upgrade head) "
                      f"or point {settings.source_key} at the right database", settings.where)
    found = {row[0] for row in conn.execute(
        sql.SQL("SELECT version_num FROM {}").format(sql.Identifier(schema[0], "alembic_version")))}
    found_text = ", ".join(sorted(found)) or "(none: the table is empty)"
    if expected is None:
        return passed("db.alembic", f"{settings.display} is at Alembic revision {found_text}", settings.where)
    if found != expected:
        return failed("db.alembic", f"{settings.display} is at Alembic revision {found_text}, expected "
                      f"{', '.join(sorted(expected))} ({origin}): run `alembic upgrade head` with the "
                      f"release being deployed, or deploy the release that matches the database",
                      settings.where)
    return passed("db.alembic", f"{settings.display} is at Alembic revision {found_text}, as expected ({origin})",
                  settings.where)


def check_read_only(settings: ConnSettings) -> Finding:
    """A session with default_transaction_read_only=on can read every table of schema public.

    Used after a restore, before trading resumes: the application's reporting role is
    read-only and must see every table. Reads one row of each table, so it costs O(tables).
    """
    import psycopg
    from psycopg import sql

    check = READ_ONLY_CHECK
    try:
        conn = settings.connect()
    except DatabaseUnreachable as exc:
        return failed(check, str(exc), settings.where)
    with conn:
        conn.execute(f"SET statement_timeout = {_statement_timeout_ms(settings)}")
        conn.execute("SET default_transaction_read_only = on")
        conn.commit()
        mode = conn.execute("SHOW transaction_read_only").fetchone()[0]
        conn.rollback()
        if mode != "on":
            return failed(check, f"SET default_transaction_read_only = on did not make the session read-only "
                          f"on {settings.display} (transaction_read_only = {mode})", settings.where)
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
        return warned(check, f"schema public of {settings.display} has no tables: nothing to read "
                      f"(after a restore this means the restore is empty)", settings.where)
    if problems:
        return failed(check, f"a read-only session on {settings.display} cannot read {len(problems)} of "
                      f"{len(tables)} tables in schema public: {'; '.join(problems[:10])}"
                      f"{' …' if len(problems) > 10 else ''}: grant SELECT to user {settings.user}",
                      settings.where)
    shown = ", ".join(tables[:10]) + (f" and {len(tables) - 10} more" if len(tables) > 10 else "")
    return passed(check, f"a read-only session (default_transaction_read_only=on) on {settings.display} "
                  f"read all {len(tables)} tables of schema public: {shown}", settings.where)


def probe(ctx: RunContext, read_only: bool = False) -> list[Finding]:
    """One finding per check (CHECKS, plus db.read_only when ``read_only``).

    Once db.reachable fails, every other check is a SKIP that says why.
    """
    import psycopg

    names = CHECKS + ((READ_ONLY_CHECK,) if read_only else ())
    try:
        settings = connection_settings(ctx)
    except DatabaseConfigError as exc:
        return [failed("db.reachable", str(exc), ctx.source.where())] + [
            skipped(n, "skipped: no usable database settings (see db.reachable)") for n in names[1:]]
    started = time.monotonic()
    try:
        conn = settings.connect(autocommit=True)
    except (DatabaseUnreachable, DatabaseConfigError) as exc:
        finding = replace(failed("db.reachable", str(exc), settings.where), duration=time.monotonic() - started)
        return [finding] + [skipped(n, f"skipped: cannot connect to {settings.display} (see db.reachable)")
                            for n in names[1:]]
    connect_seconds = time.monotonic() - started
    findings: list[Finding] = []
    with conn:
        # Queries get a deadline too; the probe's statements are all tiny.
        conn.execute(f"SET statement_timeout = {_statement_timeout_ms(settings)}")
        steps: list[tuple[str, Callable[[], Finding]]] = [
            ("db.reachable", lambda: _reachable(settings, conn, connect_seconds)),
            ("db.version", lambda: _version(settings, conn)),
            ("db.pg_dump", lambda: _pg_dump(settings, conn)),
            ("db.tls", lambda: _tls(settings, conn, ctx.is_production)),
            ("db.alembic", lambda: _alembic(settings, conn, ctx.settings)),
        ]
        for name, step in steps:
            try:
                findings.append(_timed(step))
            except psycopg.Error as exc:
                findings.append(failed(name, f"query on {settings.display} failed: "
                                       f"{redact.mask(' '.join(str(exc).split()))}", settings.where))
    if read_only:
        findings.append(_timed(lambda: check_read_only(settings)))
    findings[0] = replace(findings[0], duration=findings[0].duration + connect_seconds)
    return [replace(f, message=redact.mask(f.message)) for f in findings]


def preflight(ctx: RunContext) -> list[Finding]:
    """The preflight ``db`` stage: the probe without the (post-restore) read-only check."""
    return probe(ctx)


__all__ = [
    "CHECKS", "READ_ONLY_CHECK", "ConnSettings", "DatabaseConfigError", "DatabaseUnreachable",
    "check_read_only", "connection_settings", "expected_alembic_heads", "pg_dump_major", "pg_dump_verdict",
    "preflight", "probe", "server_major",
]
