"""Reconcile the env's order flow: run the invariants (default: the packaged invariants.toml) on
its database, each in a read-only transaction under --invariant-timeout.

Exit codes: 0 every invariant holds (warnings allowed), 1 one fails (broken, its query failed or
timed out, or the database is unreachable), 2 bad invocation or an unreadable or invalid
invariants file, 130/143 interrupted by SIGINT/SIGTERM.
"""
from __future__ import annotations

import sys

from flash_green_ops import cli, settings
from flash_green_ops.findings import failed


def main(argv=None) -> int:
    parser = cli.Parser(prog=cli.prog(), description=__doc__.split("\n\n")[0])
    settings.add_options(parser.add_argument, settings.ENV_OPTIONS + settings.DB_OPTIONS + settings.RECONCILE_OPTIONS)
    cli.add_output_options(parser)
    args = parser.parse_args(argv)

    from flash_green_ops import backup, reconcile  # lazy: psycopg costs import time

    invariants = reconcile.load(args.invariants)  # before the env: a bad file is exit 2 either way
    ctx = cli.load_context(args)
    try:
        endpoint = backup.source_endpoint(ctx)
    except backup.PasswordUnavailable as exc:
        findings = [failed(i.check, f"cannot read the database: {exc}") for i in invariants]
    else:
        findings = reconcile.run(endpoint, invariants, ctx.settings.invariant_timeout)
    failures = reconcile.failures(findings)
    return cli.write_report(findings, args, ctx, "reconcile", f"reconcile: {len(findings) - failures} held, "
                                                             f"{failures} failed")


def console() -> None:
    """The ``flash-green-reconcile`` console script (and scripts/reconcile.py)."""
    sys.exit(cli.run(main))
