"""Verify a restored database against a backup manifest (scripts/backup.py's PATH.manifest.json).

Connects read-only (default_transaction_read_only=on) to the env's database, recomputes what
the manifest holds and reports each difference by name: missing or extra table, row count,
content hash, sequence behind the manifest, schema fingerprint, Alembic revision. Works for any
restore, whatever made it (psql, pg_restore, a managed snapshot).

Exit codes: 0 the database holds what the manifest describes, 1 it differs (or is unreachable),
2 bad invocation or an unreadable manifest, 130/143 interrupted by SIGINT/SIGTERM.
"""
from __future__ import annotations

import sys

from flash_green_ops import cli, settings
from flash_green_ops.findings import Status, failed
from flash_green_ops.settings import positive_int


def main(argv=None) -> int:
    parser = cli.Parser(prog=cli.prog(), description=__doc__.split("\n\n")[0])
    settings.add_options(parser.add_argument, settings.ENV_OPTIONS + settings.DB_OPTIONS)
    parser.add_argument("--manifest", required=True, metavar="PATH", help="PATH.manifest.json written by backup.py")
    parser.add_argument("--jobs", type=positive_int, default=2, metavar="N",
                        help="parallel read-only sessions (default 2)")
    cli.add_output_options(parser)
    args = parser.parse_args(argv)

    from flash_green_ops import backup  # lazy: psycopg costs import time

    expected = backup.load_manifest(args.manifest)
    ctx = cli.load_context(args)
    try:
        target = backup.source_endpoint(ctx)
    except backup.PasswordUnavailable as exc:
        # No usable credentials (the bundle holding the password is unavailable): the same
        # failed check as an unreachable database, exit 1; a bad env is a UsageError, exit 2.
        findings = [failed("restore.connect", f"cannot read the restored database: {exc}")]
    else:
        findings = backup.verify(target, expected, workers=args.jobs)
    failures = sum(f.status is Status.FAIL for f in findings)
    # preflight's line format and exit rule; verify's own summary (warnings and skips count as passed).
    return cli.write_report(findings, args, ctx, "verify_restore",
                            f"verify: {len(findings) - failures} passed, {failures} failed")


def console() -> None:
    """The ``flash-green-verify-restore`` console script (and scripts/verify_restore.py)."""
    sys.exit(cli.run(main))
