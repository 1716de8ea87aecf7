"""The container entrypoint: the preflight on the process environment, then ``alembic upgrade
head``, then the service: ``flash-green-entrypoint SERVICE [ARG...]``.

- The preflight's report goes to stderr (stdout is the service's). A failed preflight (exit 1,
  or 2 for unusable settings) stops here with its exit code: no migration, no service.
- The migration runs when ALEMBIC_CONFIG names an alembic.ini (the variable Alembic's own
  command line reads); without it the step is skipped, saying so. A failed migration exits 1.
- The service then replaces this process (exec): it gets the container's signals itself.
- SIGTERM or SIGINT during the preflight or the migration is passed on to that phase's process;
  once it ended, the entrypoint exits 143 (130 for SIGINT) without starting the service.

Exit codes: the service's own once it runs; 1 preflight or migration failed; 2 bad invocation;
127 the service command cannot be run; 143/130 terminated before the service started.
"""
from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys

from flash_green_ops import redact

PROG = "flash-green-entrypoint"
EXIT_USAGE, EXIT_NOT_FOUND = 2, 127


class Phases:
    """Runs each phase as a child process; a SIGTERM/SIGINT is passed on to the running one."""

    def __init__(self):
        self.child: subprocess.Popen | None = None
        self.signal: int | None = None
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._on_signal)

    def _on_signal(self, signum, frame) -> None:
        self.signal = self.signal or signum
        if self.child is not None and self.child.poll() is None:
            self.child.send_signal(signum)

    def run(self, name: str, argv: list[str]) -> int:
        """The phase's exit code; its stdout joins our stderr (the service owns stdout)."""
        if self.signal:
            return 128 + self.signal
        self.child = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=sys.stderr.fileno())
        if self.signal:  # arrived before the child existed to receive it
            self.child.send_signal(self.signal)
        code = self.child.wait()
        self.child = None
        if code < 0:  # killed by a signal (the OOM killer's SIGKILL): as a shell reports it
            code = 128 - code
        if self.signal:
            say(f"{name} interrupted by signal {self.signal}: the service is not started")
            return 128 + self.signal
        return code


def say(message: str) -> None:
    sys.stderr.write(f"{PROG}: {redact.mask(message)}\n")
    sys.stderr.flush()


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        sys.stderr.write(f"usage: {PROG} SERVICE [ARG...]\n" if not argv else __doc__)
        return EXIT_USAGE if not argv else 0
    service = argv
    phases = Phases()

    code = phases.run("preflight", [sys.executable, "-m", "flash_green_ops.commands.preflight"])
    if code:
        if code < 128:
            say(f"preflight failed (exit {code}): the service is not started")
        return code

    config = os.environ.get("ALEMBIC_CONFIG", "").strip()
    if not config:
        say("migrations skipped: ALEMBIC_CONFIG is not set (set it to the project's alembic.ini)")
    else:
        code = phases.run("migration", [sys.executable, "-m", "flash_green_ops.commands.migrate", config])
        if code:
            if code < 128:
                say(f"migration failed (exit {code}): the service is not started")
            return code

    sys.stderr.flush()
    try:
        os.execvp(service[0], service)
    except OSError as exc:
        say(f"cannot run the service {shlex.join(service)}: {exc.strerror or exc}")
        return EXIT_NOT_FOUND
    return EXIT_NOT_FOUND  # not reached: exec replaced this process


def console() -> None:
    """The ``flash-green-entrypoint`` console script (the Dockerfile's ENTRYPOINT)."""
    sys.exit(main(sys.argv[1:]))


if __name__ == "__main__":
    console()
