#!/usr/bin/env python3
"""Rehearse `alembic downgrade -1` and `upgrade head` on a scratch copy of the env's database.

The runbook's own spelling of `flash-green-rehearse-rollback`; `--help` says the rest.
"""
from flash_green_ops.commands.rehearse_rollback import console

if __name__ == "__main__":
    console()
