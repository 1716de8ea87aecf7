#!/usr/bin/env python3
"""Verify a restored database against a backup manifest (scripts/backup.py's PATH.manifest.json).

The runbook's own spelling of `flash-green-verify-restore`; `--help` says the rest.
"""
from flash_green_ops.commands.verify_restore import console

if __name__ == "__main__":
    console()
