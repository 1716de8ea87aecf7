#!/usr/bin/env python3
"""Preflight: check the env, the secret backend and the database before a deploy.

Exit codes: 0 every check passed (warnings allowed), 1 a check failed, 2 bad invocation or input.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # runnable from a checkout

from flash_green_ops import cli, preflight  # noqa: E402


def main(argv=None) -> int:
    parser = cli.Parser(prog="preflight_check.py", description=__doc__)
    cli.add_env_options(parser)
    parser.add_argument("--stage", action="append", choices=list(preflight.STAGES), metavar="STAGE",
                        help=f"stage to run, repeatable: {', '.join(preflight.STAGES)} "
                             f"(default: {' '.join(preflight.DEFAULT_STAGES)})")
    parser.add_argument("--format", choices=["text", "json"], default="text")
    cli.add_db_options(parser)
    cli.add_secrets_options(parser)
    cli.add_metrics_options(parser)
    args = parser.parse_args(argv)

    ctx = cli.load_context(args)
    findings = preflight.run_stages(ctx, args.stage or preflight.DEFAULT_STAGES)
    if args.format == "json":
        sys.stdout.write(preflight.render_json(findings, environment=ctx.environment, source=ctx.source.name))
    else:
        sys.stdout.write(preflight.render_text(findings))
    return preflight.exit_code(findings)


if __name__ == "__main__":
    sys.exit(cli.run(main))
