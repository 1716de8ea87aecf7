"""Snapshot-consistent backup with a manifest, restore, and verification of a restored database.

Backup: one REPEATABLE READ, READ ONLY transaction exports its snapshot; ``pg_dump
--snapshot=<id>`` dumps from it while the manifest (manifest.py) is computed inside the
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

from flash_green_ops.backup.clients import (APP_NAME, DEFAULT_LOCK_WAIT_TIMEOUT, FORMATS, BackupError, dump_format,
                                            program, restore_args, run_client)
from flash_green_ops.backup.dump import BackupResult, backup, check_backup_invocation, file_digest
from flash_green_ops.backup.manifest import Manifest, ManifestError, load as load_manifest
from flash_green_ops.backup.restore import restore, same_database, same_server, server_identity
from flash_green_ops.backup.verify import CHECKS as VERIFY_CHECKS
from flash_green_ops.backup.verify import check_dump, measure, verify
from flash_green_ops.context import RunContext
from flash_green_ops.credentials import PasswordUnavailable, database_endpoint
from flash_green_ops.errors import UsageError
from flash_green_ops.pg import DatabaseConfigError, PgEndpoint

__all__ = ["APP_NAME", "BackupError", "BackupResult", "DEFAULT_LOCK_WAIT_TIMEOUT", "FORMATS", "Manifest",
           "ManifestError", "PasswordUnavailable", "PgEndpoint", "backup", "check_backup_invocation", "check_dump",
           "dump_format", "file_digest", "load_manifest", "measure", "program", "restore", "restore_args",
           "run_client", "same_database", "same_server", "server_identity", "source_endpoint", "verify", "VERIFY_CHECKS", "CHECKS"]


# The round trip's checks: the dump file, then the verification of the restored copy.
CHECKS = ("backup.dump", *VERIFY_CHECKS)


def source_endpoint(ctx: RunContext) -> PgEndpoint:
    """The env's database, to back up or verify. A bad env is a usage error (exit 2); a password
    the secret bundle should give but cannot raises PasswordUnavailable, naming why."""
    try:
        return database_endpoint(ctx, require_password=True)
    except DatabaseConfigError as exc:
        raise UsageError(str(exc)) from None
