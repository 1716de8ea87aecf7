#!/usr/bin/env python3
"""Reconcile the env's order flow against the invariants (default: the packaged invariants.toml).

The runbook's own spelling of `flash-green-reconcile`; `--help` says the rest.
"""
from flash_green_ops.commands.reconcile import console

if __name__ == "__main__":
    console()
