#!/usr/bin/env python3
"""Back up the env's database: a dump plus PATH.manifest.json, both from one snapshot.

The runbook's own spelling of `flash-green-backup`; `--help` says the rest.
"""
from flash_green_ops.commands.backup import console

if __name__ == "__main__":
    console()
