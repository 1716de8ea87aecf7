"""Snapshot-consistent backup with a manifest, restore, and verification of a restored database.

Backup: one REPEATABLE READ, READ ONLY transaction exports its snapshot; ``pg_dump
--snapshot=<id>`` dumps from it while the manifest (flash_green_ops/manifest.py) is computed inside the
same transaction, so the manifest describes exactly the dumped rows even while writes go on.
The dump goes to a temporary name next to PATH and is renamed only when pg_dump succeeded; the
manifest (``PATH.manifest.json``) is written last. A failed backup leaves neither at PATH.

Passwords never reach a command line (``/proc/*/cmdline`` is world-readable): the conninfo given
to pg_dump, psql and pg_restore has no password; it travels in the child's environment
(PGPASSWORD, readable only by the same user).

Lock waits are bounded: pg_dump gets ``--lock-wait-timeout``, the manifest sessions and the
round trip's identity checks ``lock_timeout`` (default 60 s), so a session holding an exclusive
lock (an ALTER TABLE left open at 3 a.m.) fails the backup with a message instead of blocking
it forever. Dumping and restoring themselves are not bounded: a large restore legitimately
takes hours.
"""
from __future__ import annotations

import contextlib
import hashlib
import math
import os
import secrets
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from flash_green_ops import pgbin, redact
from flash_green_ops.context import InvocationError
from flash_green_ops.findings import Finding, failed, passed
from flash_green_ops.manifest import (Manifest, ManifestError, begin_snapshot, compare, configure_session,
                              describe)

FORMATS = ("plain", "custom", "directory")
_PG_FORMAT_FLAG = {"plain": "p", "custom": "c", "directory": "d"}
APP_NAME = "flashgreen-backup"
DEFAULT_LOCK_WAIT_TIMEOUT = 60.0  # seconds; scripts/backup.py --lock-wait-timeout
_READ_BUFFER = 1 << 20


class BackupError(Exception):
    """The backup or restore failed; the message (masked) says what and where."""


__all__ = ["BackupError", "DEFAULT_LOCK_WAIT_TIMEOUT", "Endpoint", "FORMATS", "ManifestError", "backup",
           "restore", "restore_args", "verify", "check_dump", "program"]


# --------------------------------------------------------------------------------------------
# Where to connect


@dataclass(frozen=True)
class Endpoint:
    """A database to connect to: libpq keywords *without* the password, and the password apart.

    ``conninfo`` (what child processes get on their command line) therefore never holds it;
    ``child_env()`` passes it as PGPASSWORD, and ``connect()`` hands it to psycopg directly.
    ``source_key`` and ``where`` say where the settings came from (an env key and its file
    line, an option such as --restore-url), for connection errors' "fix it there".
    """

    params: tuple[tuple[str, str], ...]
    password: str | None = field(default=None, repr=False)
    connect_timeout: float = 5.0
    source_key: str = field(default="the connection URL", compare=False)
    where: str | None = field(default=None, compare=False)  # None: the label (host:port/dbname)

    @classmethod
    def from_conninfo(cls, conninfo: str, password: str | None = None, connect_timeout: float = 5.0,
                      source_key: str = "the connection URL") -> Endpoint:
        """From a URL or key=value conninfo; its own password wins over ``password``.
        ``source_key``: where the URL came from (e.g. "--restore-url"), named in errors."""
        from psycopg.conninfo import conninfo_to_dict

        params = {k: str(v) for k, v in conninfo_to_dict(conninfo).items()}
        password = params.pop("password", None) or password
        redact.register(password)
        params.pop("connect_timeout", None)  # ours, from --db-connect-timeout
        return cls(tuple(sorted(params.items())), password, connect_timeout, source_key)

    @property
    def options(self) -> dict[str, str]:
        return dict(self.params)

    @property
    def dbname(self) -> str | None:
        return self.options.get("dbname")

    def with_params(self, **changes: str | None) -> Endpoint:
        """Another database/user/option on the same server (None removes a keyword)."""
        params = self.options
        for key, value in changes.items():
            if value is None:
                params.pop(key, None)
            else:
                params[key] = str(value)
        return replace(self, params=tuple(sorted(params.items())))

    @property
    def label(self) -> str:
        """host:port/dbname, for messages (never the password)."""
        o = self.options
        host = o.get("host") or o.get("hostaddr") or "local socket"
        return f"{host}:{o.get('port', '5432')}/{o.get('dbname') or o.get('user') or '?'}"

    def _timeout_seconds(self) -> int:
        # libpq takes whole seconds and treats 1 as 2; round up so we never wait less than asked.
        return max(2, math.ceil(self.connect_timeout))

    def _session_params(self, application_name: str | None, read_only: bool) -> dict[str, str]:
        """The keywords (no password) with the session's name and, if asked, read-only mode."""
        params = self.options
        if application_name:
            params["application_name"] = application_name
        if read_only:
            params["options"] = (params.get("options", "") + " -c default_transaction_read_only=on").strip()
        return params

    def conninfo(self, application_name: str | None = None, read_only: bool = False) -> str:
        """For child processes' command lines: no password, by construction."""
        from psycopg.conninfo import make_conninfo

        params = self._session_params(application_name, read_only)
        params["connect_timeout"] = str(self._timeout_seconds())
        return make_conninfo(**params)

    def child_env(self) -> dict[str, str]:
        """The environment for a client program. Without a password of our own, an inherited
        PGPASSWORD stays: libpq (psycopg in this process too) uses it, so must the children."""
        env = os.environ.copy()
        if self.password:
            env["PGPASSWORD"] = self.password
        return env

    def connect(self, application_name: str = APP_NAME, read_only: bool = False, **kwargs):
        """A psycopg connection (autocommit; callers open transactions explicitly).

        Through flash_green_ops.database's ConnSettings.connect: one deadline for name resolution and
        every address, and DatabaseUnreachable naming host, port, cause and where the settings
        came from on failure.
        """
        from flash_green_ops.database import ConnSettings

        params = self._session_params(application_name, read_only)
        if self.password:
            params["password"] = self.password
        kwargs.setdefault("autocommit", True)
        settings = ConnSettings(params=params, connect_timeout=self.connect_timeout, source_key=self.source_key,
                                where=self.where or self.label)
        return settings.connect(**kwargs)

    @classmethod
    def from_settings(cls, settings) -> Endpoint:
        """From flash_green_ops.database.ConnSettings (the env's DATABASE_URL / DB_* / bundle password)."""
        params = {k: str(v) for k, v in settings.params.items()}
        password = params.pop("password", None)
        return cls(tuple(sorted(params.items())), password, settings.connect_timeout, settings.source_key,
                   settings.where)


# --------------------------------------------------------------------------------------------
# PostgreSQL client programs


def program(name: str, bin_dir: str | os.PathLike | None = None) -> str:
    """pg_dump/psql/pg_restore, as flash_green_ops.pgbin.find looks for it (the database step's pg_dump
    check uses the same search); raises when there is none."""
    found = pgbin.find(name, bin_dir)
    if found:
        return found
    if bin_dir:
        raise InvocationError(f"{name}: not found in {bin_dir}")
    raise BackupError(f"{name} not found on PATH nor in {pgbin.BIN_GLOB}: install the PostgreSQL client "
                      f"package (postgresql-client) of the server's major version or newer")


def _run_client(args: list[str], endpoint: Endpoint, what: str) -> None:
    """Run a client program to its end (no time limit: a restore may take hours); its stderr
    goes to a temp file (bounded memory), tail on failure."""
    with tempfile.TemporaryFile() as err:
        try:
            proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                                    env=endpoint.child_env())
        except OSError as exc:
            raise BackupError(f"{what} could not run: {exc}") from None
        try:
            rc = proc.wait()
        except BaseException:  # Ctrl-C, SIGTERM (as KeyboardInterrupt): the child goes too
            proc.kill()
            proc.wait()
            raise
        if rc != 0:
            raise BackupError(redact.mask(f"{what} failed (exit {rc}) on {endpoint.label}: {_tail(err)}"))


def _tail(stream, limit: int = 2000) -> str:
    stream.seek(0, os.SEEK_END)
    size = stream.tell()
    stream.seek(max(0, size - limit))
    text = stream.read().decode("utf-8", "replace").strip()
    return " | ".join(line for line in text.splitlines() if line.strip()) or "no error output"


# --------------------------------------------------------------------------------------------
# Dump files


def file_digest(path: Path) -> tuple[int, str]:
    """Size and SHA-256 of a dump, streamed. A directory dump's digest covers every file:
    for each in sorted relative-path order, ``path NUL size NUL`` then its bytes."""
    digest = hashlib.sha256()
    if path.is_dir():
        total = 0
        for file in sorted(p for p in path.rglob("*") if p.is_file()):
            size = file.stat().st_size
            digest.update(f"{file.relative_to(path).as_posix()}\0{size}\0".encode())
            _feed(digest, file)
            total += size
        return total, digest.hexdigest()
    size = _feed(digest, path)
    return size, digest.hexdigest()


def _feed(digest, path: Path) -> int:
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(_READ_BUFFER):
            digest.update(chunk)
            size += len(chunk)
    return size


def dump_format(path: Path) -> str:
    """What pg_dump wrote at ``path``: directory (toc.dat inside), custom (PGDMP magic) or plain."""
    if path.is_dir():
        return "directory"
    with open(path, "rb") as f:
        return "custom" if f.read(5) == b"PGDMP" else "plain"


def manifest_path_for(output: Path) -> Path:
    return output.with_name(output.name + ".manifest.json")


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


# --------------------------------------------------------------------------------------------
# Backup


@dataclass
class BackupResult:
    path: Path
    manifest_path: Path
    manifest: Manifest
    seconds: float


def check_backup_invocation(output: Path, fmt: str, jobs: int, compress: str | None = None,
                            lock_wait_timeout: float = DEFAULT_LOCK_WAIT_TIMEOUT) -> None:
    if compress is not None and fmt == "plain":
        raise InvocationError("--compress needs --format custom or directory: a plain dump stays plain SQL, "
                              "restorable with psql < PATH as the runbook says")
    if fmt not in FORMATS:
        raise InvocationError(f"--format {fmt!r} is not one of {', '.join(FORMATS)}")
    if jobs < 1:
        raise InvocationError(f"--jobs {jobs}: must be 1 or more")
    if jobs > 1 and fmt != "directory":
        raise InvocationError(f"--jobs {jobs} needs --format directory: pg_dump dumps in parallel only to a directory")
    if not lock_wait_timeout > 0:
        raise InvocationError(f"--lock-wait-timeout {lock_wait_timeout}: must be greater than 0")
    if not output.parent.is_dir():
        raise InvocationError(f"--output {output}: directory {output.parent} does not exist")
    _check_writable(output.parent)
    for existing in (output, manifest_path_for(output)):
        if existing.exists() or existing.is_symlink():
            raise InvocationError(f"{existing} already exists: choose another --output or move it away "
                                  f"(a backup never overwrites one)")


def _check_writable(directory: Path) -> None:
    """Create (and drop) a nameless file there: os.access() says yes to root even where
    writing fails, and only a real attempt sees a read-only mount."""
    try:
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError as exc:
        raise InvocationError(f"--output: cannot create files in {directory}: {exc.strerror or exc}; "
                              f"choose a directory this user can write to") from None


def backup(source: Endpoint, output: str | os.PathLike, *, fmt: str = "plain", jobs: int = 1,
           hash_workers: int | None = None, compress: str | None = None,
           bin_dir: str | os.PathLike | None = None, restore_into: Endpoint | None = None,
           no_owner: bool = False, lock_wait_timeout: float = DEFAULT_LOCK_WAIT_TIMEOUT) -> BackupResult:
    """Dump ``source`` to ``output`` with ``PATH.manifest.json`` (see the module docstring).

    ``hash_workers`` connections (default: ``jobs``) compute the manifest, all in the dump's
    snapshot. ``lock_wait_timeout`` (seconds) bounds every wait for a table lock, pg_dump's
    and the manifest's. Raises InvocationError for bad arguments, BackupError when the backup
    failed (a file that cannot be written included); either way nothing is left at ``output``.

    Plain (and, for a round trip, custom) dumps stream through this process: pg_dump's output
    is hashed and written to the file as it comes, so the dump is read once. With
    ``restore_into`` (an empty database, never the source) the same bytes also feed psql
    (plain) or pg_restore (custom) as they are written: the round trip restores exactly the
    backup's bytes, in the time of the slower of dump and restore, as ``pg_dump | psql`` does.
    """
    output = Path(output)
    check_backup_invocation(output, fmt, jobs, compress, lock_wait_timeout)
    if restore_into is not None and fmt == "directory":
        raise InvocationError("a round trip streams the dump into the restore: use --format plain or custom")
    manifest_path = manifest_path_for(output)
    pg_dump = program("pg_dump", bin_dir)
    loader_args = None  # the round trip's psql/pg_restore, reading the dump on stdin
    if restore_into is not None:
        loader_args = restore_args(restore_into, fmt, no_owner=no_owner, bin_dir=bin_dir)
    if restore_into is not None:
        _check_restore_target(restore_into, source_identity=server_identity(source, lock_wait_timeout),
                              timeout=lock_wait_timeout)
    stream = fmt == "plain" or restore_into is not None
    tmp = output.with_name(f".{output.name}.partial-{os.getpid()}-{secrets.token_hex(4)}")
    started = time.monotonic()
    lock_ms = math.ceil(lock_wait_timeout * 1000)

    def manifest_session():
        session = source.connect(f"{APP_NAME}-manifest")
        try:
            configure_session(session, lock_timeout_ms=lock_ms)
        except BaseException:
            session.close()
            raise
        return session

    conn = proc = loader = None
    renamed = False
    runner: _ManifestRunner | None = None
    try:
        try:
            conn = manifest_session()
            begin_snapshot(conn)
            snapshot = conn.execute("SELECT pg_catalog.pg_export_snapshot()").fetchone()[0]
        except Exception as exc:
            raise BackupError(redact.mask(f"cannot open the backup snapshot on {source.label}: {exc}")) from None
        args = [pg_dump, f"--snapshot={snapshot}", f"--format={_PG_FORMAT_FLAG[fmt]}", "--no-password",
                f"--lock-wait-timeout={lock_ms}"]  # milliseconds, as SET lock_timeout reads a number
        if not stream:
            args.append(f"--file={tmp}")
        if jobs > 1:
            args.append(f"--jobs={jobs}")
        if compress is not None:
            args.append(f"--compress={compress}")
        args += ["--dbname", source.conninfo(f"{APP_NAME}-pg_dump")]
        with tempfile.TemporaryFile() as err, tempfile.TemporaryFile() as loader_err:
            # umask 077: a dump holds the whole database; only its owner may read it.
            try:
                proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stderr=err, env=source.child_env(),
                                        stdout=subprocess.PIPE if stream else subprocess.DEVNULL, umask=0o077)
                if loader_args:
                    loader = subprocess.Popen(loader_args, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                              stderr=loader_err, env=restore_into.child_env())
            except OSError as exc:
                raise BackupError(f"{Path(exc.filename or pg_dump).name} could not run: {exc}") from None
            # The manifest is computed while pg_dump runs; the transaction (hence the exported
            # snapshot pg_dump and its workers import) stays open until pg_dump has finished.
            workers = hash_workers or jobs
            runner = _ManifestRunner(conn, manifest_session, snapshot, workers, lock_wait_timeout)
            runner.start()
            digest = _tee(proc.stdout, tmp, loader) if stream else None
            loader_broke = loader is not None and digest is None
            rc = proc.wait()
            # Which failure is the cause: a loader that stopped reading kills pg_dump with
            # SIGPIPE; a pg_dump that failed truncates the loader's input.
            if rc != 0 and not loader_broke:
                runner.cancel()
                cause = _lock_hint(_tail(err), lock_wait_timeout)
                raise BackupError(redact.mask(f"pg_dump failed (exit {rc}) on {source.label}: {cause}; "
                                              f"nothing was written to {output}"))
            lrc = loader.wait() if loader is not None else 0
            if lrc or loader_broke:
                runner.cancel()
                what = "psql" if fmt == "plain" else "pg_restore"
                raise BackupError(redact.mask(
                    f"restoring into {restore_into.label} failed ({what} exit {lrc}): {_tail(loader_err)}; "
                    f"the round trip failed, nothing was written to {output}"))
        manifest = runner.result()
        conn.rollback()
        dump_seconds = time.monotonic() - started
        size, sha256 = digest if digest else file_digest(tmp)
        renamed = True  # set first: an interrupt right after the rename still removes it
        os.rename(tmp, output)  # same directory: atomic, for a file and a directory alike
        manifest.data["dump"] = {"file": output.name, "format": fmt, "jobs": jobs, "size": size,
                                 "sha256": sha256, "compress": compress}
        manifest.data["source"] = {k: v for k, v in source.params if k in ("host", "hostaddr", "port", "dbname", "user")}
        manifest.data["created_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        manifest.data["timings"].update({"dump_seconds": round(dump_seconds, 3),
                                         "total_seconds": round(time.monotonic() - started, 3)})
        manifest.save(manifest_path)  # last: a manifest at PATH means the backup is complete
        return BackupResult(output, manifest_path, manifest, time.monotonic() - started)
    except BaseException as exc:
        # Every exit path (a failure, Ctrl-C, SIGTERM as KeyboardInterrupt): children killed
        # and reaped, manifest queries cancelled, nothing left at PATH.
        for child in (proc, loader):
            if child is not None and child.poll() is None:
                child.kill()
                child.wait()
        if runner is not None:
            runner.cancel()
        _remove(tmp)
        if renamed:
            _remove(output)
        if isinstance(exc, OSError):  # the file system: full disk, quota, permissions, EFBIG
            raise BackupError(f"writing the backup failed: {exc}; nothing was left at {output}") from None
        raise
    finally:
        # Our ends of the pipes, on every path (the children are gone by now).
        for stream in (proc and proc.stdout, loader and loader.stdin):
            if stream is not None:
                with contextlib.suppress(OSError):  # BrokenPipeError: unwritten bytes of a dead loader
                    stream.close()
        if conn is not None:
            conn.close()


def _tee(source, tmp: Path, loader) -> tuple[int, str] | None:
    """Copy pg_dump's output to ``tmp`` (0600), hashing it, and to the loader's stdin if any.

    Returns (size, sha256), or None when the loader stopped reading (it failed: its exit code
    and stderr say why). Memory: one chunk at a time.
    """
    digest = hashlib.sha256()
    size = 0
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with open(fd, "wb") as out:
        while chunk := source.read1(_READ_BUFFER):
            digest.update(chunk)
            out.write(chunk)
            size += len(chunk)
            if loader is not None:
                try:
                    loader.stdin.write(chunk)
                except BrokenPipeError:
                    source.close()  # pg_dump gets SIGPIPE and stops
                    return None
    if loader is not None:
        try:
            loader.stdin.close()
        except BrokenPipeError:
            return None
    return size, digest.hexdigest()


def restore_args(target: Endpoint, fmt: str, dump: Path | None = None, *, jobs: int = 1,
                 no_owner: bool = False, bin_dir=None) -> list[str]:
    """The one command line that restores a dump into ``target``: ``psql -v ON_ERROR_STOP=1``
    for plain (the runbook's), ``pg_restore --exit-on-error`` for custom and directory.
    ``dump`` None: the dump comes on stdin (the round trip's stream)."""
    conninfo = target.conninfo(f"{APP_NAME}-restore")
    if fmt == "plain":
        args = [program("psql", bin_dir), "-X", "-q", "--no-password", "-v", "ON_ERROR_STOP=1"]
        return args + (["-f", str(dump)] if dump is not None else []) + ["--dbname", conninfo]
    args = [program("pg_restore", bin_dir), "--exit-on-error", "--no-password", "--dbname", conninfo]
    if jobs > 1:
        args.append(f"--jobs={jobs}")
    if no_owner:
        args += ["--no-owner", "--no-acl"]
    return args + ([str(dump)] if dump is not None else [])


def _lock_hint(cause: str, lock_wait_timeout: float) -> str:
    """``cause`` plus what to do when it is a lock wait that ran out: the manifest's
    lock_timeout, or pg_dump's --lock-wait-timeout (a statement_timeout on its LOCK TABLE)."""
    if "lock timeout" not in cause and not ("statement timeout" in cause and "LOCK TABLE" in cause):
        return cause
    return (f"gave up waiting for a table lock after --lock-wait-timeout {lock_wait_timeout:g} s: another "
            f"session holds a conflicting lock (an ALTER TABLE, VACUUM FULL or LOCK TABLE in an open "
            f"transaction; see pg_locks); end it or retry later ({cause})")


class _ManifestRunner:
    """Computes the manifest in a daemon thread, so the caller can wait on pg_dump and cancel
    the manifest's queries when pg_dump fails (or Ctrl-C), instead of waiting for them."""

    def __init__(self, conn, connect_worker, snapshot: str, workers: int, lock_wait_timeout: float):
        self.conn = conn
        self._lock_wait_timeout = lock_wait_timeout
        self._outcome: list = []
        self._connections = [conn]  # every session hashing for us, so cancel() reaches them all

        def connect():
            extra = connect_worker()
            self._connections.append(extra)
            return extra

        self._thread = threading.Thread(target=self._run, args=(connect, snapshot, workers),
                                        name="manifest", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self, connect_worker, snapshot, workers) -> None:
        try:
            self._outcome.append(describe(self.conn, connect_worker=connect_worker, snapshot=snapshot,
                                          workers=workers))
        except BaseException as exc:  # handed to the caller's thread
            self._outcome.append(exc)

    def cancel(self) -> None:
        if self._thread.is_alive():
            for conn in list(self._connections):
                try:
                    conn.cancel_safe(timeout=5)
                except Exception:
                    pass
            self._thread.join(10)

    def result(self) -> Manifest:
        self._thread.join()
        outcome = self._outcome[0]
        if isinstance(outcome, BaseException):
            cause = _lock_hint(str(outcome), self._lock_wait_timeout)
            raise BackupError(redact.mask(f"computing the manifest failed: {cause}")) from None
        return outcome


# --------------------------------------------------------------------------------------------
# Restore


def server_identity(endpoint: Endpoint, timeout: float = DEFAULT_LOCK_WAIT_TIMEOUT) -> dict:
    """System identifier (when readable), database name and OID, and how many user relations.

    Catalog reads only: no table lock, so an ALTER TABLE left open elsewhere does not block
    them. Bounded anyway by ``timeout`` seconds (lock_timeout and statement_timeout: a locked
    catalog, a stalled server), so nothing here waits forever.
    """
    from psycopg import errors

    from flash_green_ops.manifest import IDENTITY_SQL, RELATION_COUNT_SQL

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


def _check_restore_target(target: Endpoint, manifest: Manifest | None = None,
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


def restore(target: Endpoint, dump: str | os.PathLike, *, manifest: Manifest | None = None, jobs: int = 1,
            no_owner: bool = False, bin_dir: str | os.PathLike | None = None) -> float:
    """Restore ``dump`` into the (empty) database ``target``; returns the seconds it took.

    Plain dumps go through ``psql -v ON_ERROR_STOP=1 -f`` (what the runbook does), custom and
    directory dumps through ``pg_restore --exit-on-error [--jobs N]``. Refuses to restore into
    the database the manifest was taken from, and into a database that already has tables.
    """
    dump = Path(dump)
    if not dump.exists():
        raise InvocationError(f"{dump}: no such dump")
    _check_restore_target(target, manifest=manifest)
    fmt = dump_format(dump)
    started = time.monotonic()
    args = restore_args(target, fmt, dump, jobs=jobs, no_owner=no_owner, bin_dir=bin_dir)
    _run_client(args, target, "psql restore" if fmt == "plain" else "pg_restore")
    return time.monotonic() - started


# --------------------------------------------------------------------------------------------
# Verify


def measure(target: Endpoint, workers: int = 2, method: str | None = None) -> Manifest:
    """A manifest of ``target`` computed in a read-only session (default_transaction_read_only)."""
    with target.connect(f"{APP_NAME}-verify", read_only=True) as conn:
        configure_session(conn)
        begin_snapshot(conn)
        snapshot = None
        if workers > 1:
            snapshot = conn.execute("SELECT pg_catalog.pg_export_snapshot()").fetchone()[0]
        try:
            return describe(conn, snapshot=snapshot, workers=workers, method=method,
                            connect_worker=lambda: target.connect(f"{APP_NAME}-verify", read_only=True))
        finally:
            conn.rollback()


def verify(target: Endpoint, expected: Manifest, workers: int = 2) -> list[Finding]:
    """Findings (restore.*) comparing the database ``target`` with the manifest ``expected``."""
    started = time.monotonic()
    try:
        actual = measure(target, workers, (expected.data.get("hash") or {}).get("method", "text"))
    except Exception as exc:
        return [failed("restore.connect", redact.mask(
            f"cannot read the restored database {target.label}: {exc}"), target.label)]
    findings = compare(expected, actual, target.label)
    elapsed = time.monotonic() - started
    return [f.with_stage("restore", elapsed / len(findings)) for f in findings]


def check_dump(manifest: Manifest, manifest_path: Path) -> list[Finding]:
    """backup.dump: the dump next to the manifest has the size and SHA-256 the manifest recorded."""
    dump = manifest.data.get("dump") or {}
    name = dump.get("file")
    if not name:
        return [failed("backup.dump", f"{manifest_path} names no dump file: not written by scripts/backup.py")]
    path = manifest_path.with_name(name)
    if not path.exists():
        return [failed("backup.dump", f"{path}: the dump named by {manifest_path.name} is missing", str(path))]
    size, sha256 = file_digest(path)
    if (size, sha256) != (dump.get("size"), dump.get("sha256")):
        return [failed("backup.dump", f"{path}: {size} bytes, sha256 {sha256[:16]}…; the manifest recorded "
                                      f"{dump.get('size')} bytes, sha256 {str(dump.get('sha256'))[:16]}…: "
                                      f"the dump changed or is truncated since the backup", str(path))]
    return [passed("backup.dump", f"{path}: {size} bytes, sha256 {sha256[:16]}… as recorded "
                                  f"({len(manifest.tables)} tables, "
                                  f"{sum(t['rows'] for t in manifest.tables.values())} rows)", str(path))]


# --------------------------------------------------------------------------------------------
# From an env


def endpoint_from_context(ctx) -> Endpoint:
    """The env's database (flash_green_ops.database.connection_settings: DATABASE_URL or DB_*), with
    DB_PASSWORD from the secret bundle when the env has no password and names a backend.
    An inherited PGPASSWORD also counts as a password: libpq (psycopg here, and the client
    programs through child_env) uses it when the conninfo has none."""
    from flash_green_ops.database import DatabaseConfigError, connection_settings

    try:
        settings = connection_settings(ctx)
        if (not settings.params.get("password") and not os.environ.get("PGPASSWORD") and ctx.bundle is None
                and _names_secret_backend(ctx)):
            from flash_green_ops.secrets import BundleUnavailable, load_bundle

            try:
                load_bundle(ctx)
            except BundleUnavailable as exc:
                raise BackupError(f"the env gives no database password and the secret bundle is "
                                  f"unavailable: {exc}") from None
            settings = connection_settings(ctx)
    except DatabaseConfigError as exc:
        raise InvocationError(str(exc)) from None
    return Endpoint.from_settings(settings)


def _names_secret_backend(ctx) -> bool:
    from flash_green_ops.secrets import AWS_KEYS, VAULT_KEYS

    return any((ctx.values.get(k) or "").strip() for k in (*VAULT_KEYS, *AWS_KEYS))
