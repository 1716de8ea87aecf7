"""Back up the env's database: a dump plus PATH.manifest.json, both from one snapshot.

The manifest (row counts, content hashes, schema fingerprint, sequences, Alembic revision) is
computed in the dump's own snapshot, so it describes exactly the dumped data even while the
application keeps writing. The dump is renamed into place only when pg_dump succeeded and the
manifest is written last: a failed backup leaves nothing at PATH. Restore a plain dump as the
runbook says (psql -v ON_ERROR_STOP=1 -f PATH), then check it with scripts/verify_restore.py.
Waiting for a table lock is bounded by --lock-wait-timeout (default 60 s): a session holding an
exclusive lock fails the backup instead of blocking it.

Exit codes: 0 backup written, 1 the backup failed (nothing left at PATH), 2 bad invocation
(including an --output directory this user cannot write to), 130/143 interrupted by SIGINT/SIGTERM
(pg_dump stopped, nothing left at PATH).
"""
from __future__ import annotations

import sys
from pathlib import Path

from flash_green_ops import cli, redact, settings
from flash_green_ops.errors import OpsError, UsageError
from flash_green_ops.settings import positive_float, positive_int


def main(argv=None) -> int:
    parser = cli.Parser(prog=cli.prog(), description=__doc__.split("\n\n")[0])
    settings.add_options(parser.add_argument, settings.ENV_OPTIONS + settings.DB_OPTIONS)
    parser.add_argument("--output", required=True, metavar="PATH", help="where the dump goes (must not exist)")
    parser.add_argument("--format", choices=["plain", "custom", "directory"], default="plain",
                        help="pg_dump format (default plain: restorable with psql < PATH)")
    parser.add_argument("--jobs", type=positive_int, default=1, metavar="N",
                        help="parallel pg_dump jobs and manifest workers (directory format only)")
    parser.add_argument("--compress", metavar="LEVEL",
                        help="pg_dump --compress (custom/directory default: pg_dump's own)")
    parser.add_argument("--lock-wait-timeout", type=positive_float, metavar="SECONDS", default=None,
                        help="give up when a table lock is not granted within this (default 60)")
    args = parser.parse_args(argv)

    from flash_green_ops import backup  # lazy: psycopg costs import time

    lock_wait = args.lock_wait_timeout or backup.DEFAULT_LOCK_WAIT_TIMEOUT
    output = Path(args.output)
    backup.check_backup_invocation(output, args.format, args.jobs, args.compress, lock_wait)  # before the env
    ctx = cli.load_context(args)
    try:
        result = backup.backup(backup.source_endpoint(ctx), output, fmt=args.format, jobs=args.jobs,
                               compress=args.compress, lock_wait_timeout=lock_wait)
    except UsageError:
        raise
    except OpsError as exc:
        sys.stderr.write(redact.mask(f"{cli.prog()}: backup failed: {exc}") + "\n")
        return 1
    m = result.manifest.data
    rows = sum(t["rows"] for t in m["tables"].values())
    sys.stdout.write(redact.mask(
        f"backup: {result.path} ({m['dump']['format']}, {m['dump']['size']} bytes, sha256 {m['dump']['sha256']})\n"
        f"manifest: {result.manifest_path} ({len(m['tables'])} tables, {rows} rows, "
        f"{len(m['sequences'])} sequences, Alembic revision {m['alembic_revision'] or 'none'}, "
        f"PostgreSQL {m['server']['version']})\n"
        f"took {result.seconds:.1f} s (manifest {m['timings']['manifest_seconds']:.1f} s, in the dump's snapshot)\n"))
    return 0


def console() -> None:
    """The ``flash-green-backup`` console script (and scripts/backup.py)."""
    sys.exit(cli.run(main))
