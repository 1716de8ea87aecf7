"""Rehearse a rollback on a copy: back up the env's database, restore it into a scratch
database, and there run `alembic downgrade -1` (within --downgrade-timeout), the invariants,
and `alembic upgrade head` again, comparing the result with the backup.

Checks: the script directory's chain has no gap and one head, the database is at that head;
the downgrade succeeds and leaves alembic_version at the previous revision; what it loses
(tables, columns, rows) is a warning naming them; the invariants hold on the downgraded copy;
the upgrade succeeds, the schema fingerprint equals the original and the data equals the
backup's manifest except in the columns the downgrade dropped (named). The scratch database is
created on the env's server (--restore-url: another server; required on production, never the
production server) and dropped on every exit path.

Exit codes: 0 the rollback rehearsed cleanly (warnings allowed), 1 a check failed, 2 bad
invocation or an unreadable or invalid invariants file, 130/143 interrupted by SIGINT/SIGTERM.
"""
from __future__ import annotations

import sys
from pathlib import Path

from flash_green_ops import cli, settings
from flash_green_ops.findings import failed
from flash_green_ops.errors import UsageError
from flash_green_ops.settings import positive_float


def main(argv=None) -> int:
    parser = cli.Parser(prog=cli.prog(), description=__doc__.split("\n\n")[0])
    settings.add_options(parser.add_argument, settings.ENV_OPTIONS + settings.RECONCILE_OPTIONS)
    settings.add_options(parser.add_argument, [o for o in settings.DB_OPTIONS if o.flag == "--db-connect-timeout"])
    parser.add_argument("--alembic-config", required=True, metavar="PATH",
                        help="alembic.ini of the release being rolled back (its env.py must use "
                             "config.attributes['connection'])")
    parser.add_argument("--restore-url", metavar="URL",
                        help="server for the scratch copy (required on production; password in PGPASSWORD)")
    parser.add_argument("--downgrade-timeout", type=positive_float, default=None, metavar="SECONDS",
                        help="bound on the downgrade, and on the upgrade back (default 300)")
    cli.add_output_options(parser)
    args = parser.parse_args(argv)

    from flash_green_ops import backup, reconcile, rehearsal, rollback  # lazy: psycopg costs import time

    if not Path(args.alembic_config).is_file():
        raise UsageError(f"--alembic-config {args.alembic_config}: no such file")
    invariants = reconcile.load(args.invariants)
    ctx = cli.load_context(args)
    try:
        source = backup.source_endpoint(ctx)
    except backup.PasswordUnavailable as exc:
        findings = [failed("rollback.backup", f"cannot read the database: {exc}")]
    else:
        server = rehearsal.scratch_server(source, args.restore_url, ctx.is_production)
        findings = rehearsal.rehearse(source, server, args.alembic_config, invariants,
                                      invariant_timeout=ctx.settings.invariant_timeout,
                                      downgrade_timeout=args.downgrade_timeout or rollback.DEFAULT_TIMEOUT)
    failures = reconcile.failures(findings)
    return cli.write_report(findings, args, ctx, "rehearse_rollback",
                            f"rehearse_rollback: {len(findings) - failures} passed, {failures} failed")


def console() -> None:
    """The ``flash-green-rehearse-rollback`` console script (and scripts/rehearse_rollback.py)."""
    sys.exit(cli.run(main))
