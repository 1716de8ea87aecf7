"""``alembic upgrade head`` through Alembic's API, for the container entrypoint: run as its own
process (``python -m flash_green_ops.migrate CONFIG``), so the entrypoint can pass SIGTERM on.

The database is the one the project's alembic.ini and env.py name (as ``alembic upgrade head``
run by hand would use). Exit 0 upgraded, 1 failed (one masked line on stderr), 2 bad invocation.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

from flash_green_ops import cli, redact
from flash_green_ops.contract import load_contract
from flash_green_ops.errors import OpsError, UsageError


def upgrade_head(config_path: Path) -> None:
    from alembic import command
    from alembic.config import Config

    if not config_path.is_file():
        raise UsageError(f"ALEMBIC_CONFIG {config_path}: no such file")
    try:
        command.upgrade(Config(str(config_path)), "head")
    except Exception as exc:  # Alembic's CommandError, SQLAlchemy's and the driver's errors alike
        first_line = (str(exc).strip().splitlines() or [""])[0]
        raise OpsError(f"alembic upgrade head failed ({config_path}): {type(exc).__name__}: {first_line}") from None


def main(argv=None) -> int:
    parser = cli.Parser(prog=cli.prog(), description=__doc__)
    parser.add_argument("config", type=Path, help="alembic.ini of the project to upgrade")
    args = parser.parse_args(argv)
    contract = load_contract()
    # The process environment is the service's: its secrets are masked in what Alembic raises.
    redact.register_env(os.environ, contract.secret_names, contract.secret_suffixes, contract.secret_url_keys)
    upgrade_head(args.config)
    sys.stderr.write(f"alembic upgrade head: done ({args.config})\n")
    return 0


if __name__ == "__main__":
    sys.exit(cli.run(main))
