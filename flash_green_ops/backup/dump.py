"""Backup: a dump and its manifest from one snapshot (see the package docstring)."""
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
from dataclasses import dataclass
from pathlib import Path

from flash_green_ops import redact
from flash_green_ops.backup.clients import (APP_NAME, DEFAULT_LOCK_WAIT_TIMEOUT, FORMATS, BackupError, program,
                                            restore_args, start_client, stop, tail)
from flash_green_ops.backup.manifest import Manifest, begin_snapshot, configure_session, describe
from flash_green_ops.backup.restore import check_restore_target, server_identity
from flash_green_ops.errors import UsageError
from flash_green_ops.pg import PgEndpoint

_PG_FORMAT_FLAG = {"plain": "p", "custom": "c", "directory": "d"}
_READ_BUFFER = 1 << 20


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


def manifest_path_for(output: Path) -> Path:
    return output.with_name(output.name + ".manifest.json")


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


@dataclass
class BackupResult:
    path: Path
    manifest_path: Path
    manifest: Manifest
    seconds: float


def check_backup_invocation(output: Path, fmt: str, jobs: int, compress: str | None = None,
                            lock_wait_timeout: float = DEFAULT_LOCK_WAIT_TIMEOUT) -> None:
    if compress is not None and fmt == "plain":
        raise UsageError("--compress needs --format custom or directory: a plain dump stays plain SQL, "
                         "restorable with psql < PATH as the runbook says")
    if fmt not in FORMATS:
        raise UsageError(f"--format {fmt!r} is not one of {', '.join(FORMATS)}")
    if jobs < 1:
        raise UsageError(f"--jobs {jobs}: must be 1 or more")
    if jobs > 1 and fmt != "directory":
        raise UsageError(f"--jobs {jobs} needs --format directory: pg_dump dumps in parallel only to a directory")
    if not lock_wait_timeout > 0:
        raise UsageError(f"--lock-wait-timeout {lock_wait_timeout}: must be greater than 0")
    if not output.parent.is_dir():
        raise UsageError(f"--output {output}: directory {output.parent} does not exist")
    _check_writable(output.parent)
    for existing in (output, manifest_path_for(output)):
        if existing.exists() or existing.is_symlink():
            raise UsageError(f"{existing} already exists: choose another --output or move it away "
                             f"(a backup never overwrites one)")


def _check_writable(directory: Path) -> None:
    """Create (and drop) a nameless file there: os.access() says yes to root even where
    writing fails, and only a real attempt sees a read-only mount."""
    try:
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError as exc:
        raise UsageError(f"--output: cannot create files in {directory}: {exc.strerror or exc}; "
                         f"choose a directory this user can write to") from None


def backup(source: PgEndpoint, output: str | os.PathLike, *, fmt: str = "plain", jobs: int = 1,
           hash_workers: int | None = None, compress: str | None = None,
           bin_dir: str | os.PathLike | None = None, restore_into: PgEndpoint | None = None,
           no_owner: bool = False, lock_wait_timeout: float = DEFAULT_LOCK_WAIT_TIMEOUT) -> BackupResult:
    """Dump ``source`` to ``output`` with ``PATH.manifest.json`` (see the module docstring).

    ``hash_workers`` connections (default: ``jobs``) compute the manifest, all in the dump's
    snapshot. ``lock_wait_timeout`` (seconds) bounds every wait for a table lock, pg_dump's
    and the manifest's. Raises UsageError for bad arguments, BackupError when the backup
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
        raise UsageError("a round trip streams the dump into the restore: use --format plain or custom")
    manifest_path = manifest_path_for(output)
    pg_dump = program("pg_dump", bin_dir)
    loader_args = None  # the round trip's psql/pg_restore, reading the dump on stdin
    if restore_into is not None:
        loader_args = restore_args(restore_into, fmt, no_owner=no_owner, bin_dir=bin_dir)
        check_restore_target(restore_into, source_identity=server_identity(source, lock_wait_timeout),
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
                proc = start_client(args, stdin=subprocess.DEVNULL, stderr=err, env=source.child_env(),
                                    stdout=subprocess.PIPE if stream else subprocess.DEVNULL, umask=0o077)
                if loader_args:
                    loader = start_client(loader_args, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
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
                cause = _lock_hint(tail(err), lock_wait_timeout)
                raise BackupError(redact.mask(f"pg_dump failed (exit {rc}) on {source.label}: {cause}; "
                                              f"nothing was written to {output}"))
            lrc = loader.wait() if loader is not None else 0
            if lrc or loader_broke:
                runner.cancel()
                what = "psql" if fmt == "plain" else "pg_restore"
                raise BackupError(redact.mask(
                    f"restoring into {restore_into.label} failed ({what} exit {lrc}): {tail(loader_err)}; "
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
        # Every exit path (a failure, Ctrl-C, SIGTERM as cli.Interrupted): children stopped
        # and reaped, manifest queries cancelled, nothing left at PATH.
        for child in (proc, loader):
            if child is not None:
                stop(child)
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
