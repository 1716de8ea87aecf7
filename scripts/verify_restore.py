#!/usr/bin/env python3
"""Verify a restored database against a backup manifest (scripts/backup.py's PATH.manifest.json).

Connects read-only (default_transaction_read_only=on) to the env's database, recomputes what
the manifest holds and reports each difference by name: missing or extra table, row count,
content hash, sequence behind the manifest, schema fingerprint, Alembic revision. Works for any
restore, whatever made it (psql, pg_restore, a managed snapshot).

Exit codes: 0 the database holds what the manifest describes, 1 it differs (or is unreachable),
2 bad invocation or an unreadable manifest.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # runnable from a checkout

from flash_green_ops import cli  # noqa: E402
from flash_green_ops.context import InvocationError  # noqa: E402
from flash_green_ops.findings import Status  # noqa: E402
from flash_green_ops.findings import failed as failed_check  # noqa: E402


def main(argv=None) -> int:
    parser = cli.Parser(prog="verify_restore.py", description=__doc__.split("\n\n")[0])
    cli.add_env_options(parser)
    parser.add_argument("--manifest", required=True, metavar="PATH", help="PATH.manifest.json written by backup.py")
    parser.add_argument("--jobs", type=cli.positive_int, default=2, metavar="N",
                        help="parallel read-only sessions (default 2)")
    cli.add_db_options(parser)
    args = parser.parse_args(argv)

    from flash_green_ops import backup, manifest, preflight  # lazy: psycopg costs import time

    try:
        expected = manifest.load(args.manifest)
    except manifest.ManifestError as exc:
        raise InvocationError(str(exc)) from None
    ctx = cli.load_context(args)
    try:
        target = backup.endpoint_from_context(ctx)
    except backup.BackupError as exc:
        # No usable credentials (the bundle holding the password is unavailable): the same
        # failed check as an unreachable database, exit 1; a bad env is InvocationError, exit 2.
        findings = [failed_check("restore.connect", f"cannot read the restored database: {exc}")]
    else:
        findings = backup.verify(target, expected, workers=args.jobs)
    failed = sum(f.status is Status.FAIL for f in findings)
    # preflight's line format and exit rule; verify's own summary (warnings and skips count as passed).
    sys.stdout.write(preflight.render_text(findings, f"verify: {len(findings) - failed} passed, {failed} failed"))
    return preflight.exit_code(findings)


if __name__ == "__main__":
    sys.exit(cli.run(main))
