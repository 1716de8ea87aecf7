"""The container entrypoint's migration phase: ``alembic upgrade head`` of the project at CONFIG
on the env's database (the process environment's DATABASE_URL or DB_*, its password from the
env or the secret bundle), through flash_green_ops.migrations like the rollback rehearsal: the
password never in a URL, a file or a command line. Run as its own process
(``python -m flash_green_ops.commands.migrate CONFIG``) so the entrypoint can pass SIGTERM on.

The project's env.py must use ``config.attributes["connection"]`` when it is there (Alembic's
cookbook recipe "Sharing a Connection across one or more programmatic migration commands").
Exit 0 upgraded, 1 failed (one masked line on stderr), 2 bad invocation, 143/130 interrupted.
"""
from __future__ import annotations

import sys
from pathlib import Path

from flash_green_ops import cli, credentials, migrations, preflight
from flash_green_ops.envfile import from_environ
from flash_green_ops.errors import OpsError, UsageError
from flash_green_ops.settings import Settings


def main(argv=None) -> int:
    parser = cli.Parser(prog=cli.prog(), description=__doc__)
    parser.add_argument("config", type=Path, help="alembic.ini of the project to upgrade")
    args = parser.parse_args(argv)
    if not args.config.is_file():
        raise UsageError(f"ALEMBIC_CONFIG {args.config}: no such file")
    # The process environment is the service's: new_context registers its secrets for masking.
    ctx = preflight.new_context(from_environ(), preflight.load_runbook_contract(), Settings())
    endpoint = credentials.database_endpoint(ctx)
    try:
        migrations.upgrade(endpoint, "head", args.config)
    except OpsError:
        raise
    except Exception as exc:  # Alembic's CommandError, SQLAlchemy's and the driver's errors alike
        first_line = (str(exc).strip().splitlines() or [""])[0]
        raise OpsError(f"alembic upgrade head failed ({args.config}): {type(exc).__name__}: {first_line}") from None
    sys.stderr.write(f"alembic upgrade head: done ({args.config})\n")
    return 0


if __name__ == "__main__":
    sys.exit(cli.run(main))
