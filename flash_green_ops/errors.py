"""One error root for everything the suite raises on purpose, so a front end catches one class.

- :class:`UsageError` (exit code 2): a bad invocation or unusable input (an unreadable env
  file, contract or manifest, a bad option value). Said in one line.
- Every other :class:`OpsError` (exit code 1 where a command does not turn it into a finding):
  the environment failed at something the command had to do (a backup that could not be
  written, a database that cannot be reached). Said in one line, masked.

What the environment got wrong is reported as findings (findings.py), not raised.
"""
from __future__ import annotations


class OpsError(Exception):
    """The root of the suite's own errors; the message is one line, already masked."""


class UsageError(OpsError):
    """A bad invocation or unusable input: exit code 2."""


class DeadlinePassed(OpsError):
    """Wait-until mode's deadline passed before a network call could start (Settings.timeout):
    the preflight reports the stage it stopped as failed instead of starting the call."""


class BundleUnavailable(OpsError):
    """The secret bundle cannot be loaded; the message (masked) says why."""
