"""What the backup step's modules share: its error, its settings, and running the PostgreSQL client
programs (pg_dump, psql, pg_restore) with the password in their environment, never their command line."""
from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import tempfile
from pathlib import Path

from flash_green_ops import pgbin, redact
from flash_green_ops.errors import OpsError, UsageError
from flash_green_ops.pg import PgEndpoint

FORMATS = ("plain", "custom", "directory")
APP_NAME = "flashgreen-backup"
DEFAULT_LOCK_WAIT_TIMEOUT = 60.0  # seconds; scripts/backup.py --lock-wait-timeout
STOP_GRACE = 5.0  # seconds a stopped client gets to cancel its queries before SIGKILL


class BackupError(OpsError):
    """The backup or restore failed; the message (masked) says what and where."""


def program(name: str, bin_dir: str | os.PathLike | None = None) -> str:
    """pg_dump/psql/pg_restore, as flash_green_ops.pgbin.find looks for it (the database step's pg_dump
    check uses the same search); raises when there is none."""
    found = pgbin.find(name, bin_dir)
    if found:
        return found
    if bin_dir:
        raise UsageError(f"{name}: not found in {bin_dir}")
    raise BackupError(f"{name} not found on PATH nor in {pgbin.BIN_GLOB}: install the PostgreSQL client "
                      f"package (postgresql-client) of the server's major version or newer")


def start_client(args: list[str], **popen) -> subprocess.Popen:
    """Start pg_dump/psql/pg_restore in a process group of its own, so stop() reaches its
    parallel workers too and only this process decides when it stops (a SIGTERM sent to us
    alone, as Kubernetes and timeout(1) send it, still stops it)."""
    return subprocess.Popen(args, process_group=0, **popen)


def stop(proc: subprocess.Popen, grace: float = STOP_GRACE) -> None:
    """Stop a client started by start_client and reap it. SIGINT first: pg_dump, pg_restore and
    psql then send the server a cancel request, so no backend is left waiting on a lock for a
    client that is gone (a backend notices a dead client only when it next reads from it);
    SIGKILL after ``grace`` seconds."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGINT)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def run_client(args: list[str], endpoint: PgEndpoint, what: str) -> None:
    """Run a client program to its end (no time limit: a restore may take hours); its stderr
    goes to a temp file (bounded memory), tail on failure."""
    with tempfile.TemporaryFile() as err:
        try:
            proc = start_client(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                                env=endpoint.child_env())
        except OSError as exc:
            raise BackupError(f"{what} could not run: {exc}") from None
        try:
            rc = proc.wait()
        except BaseException:  # Ctrl-C, SIGTERM (cli.Interrupted): the child goes too
            stop(proc)
            raise
        if rc != 0:
            raise BackupError(redact.mask(f"{what} failed (exit {rc}) on {endpoint.label}: {tail(err)}"))


def tail(stream, limit: int = 2000) -> str:
    stream.seek(0, os.SEEK_END)
    size = stream.tell()
    stream.seek(max(0, size - limit))
    text = stream.read().decode("utf-8", "replace").strip()
    return " | ".join(line for line in text.splitlines() if line.strip()) or "no error output"


# --------------------------------------------------------------------------------------------


def restore_args(target: PgEndpoint, fmt: str, dump: Path | None = None, *, jobs: int = 1,
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


def dump_format(path: Path) -> str:
    """What pg_dump wrote at ``path``: directory (toc.dat inside), custom (PGDMP magic) or plain."""
    if path.is_dir():
        return "directory"
    with open(path, "rb") as f:
        return "custom" if f.read(5) == b"PGDMP" else "plain"
