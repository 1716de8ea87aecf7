#!/usr/bin/env python3
"""Preflight: check the env, the secret backend and the database before a deploy.

The runbook's own spelling of `flash-green-preflight`; `--help` says the rest.
"""
from flash_green_ops.commands.preflight import console

if __name__ == "__main__":
    console()
