"""Reconciliation step: the order flow's invariants, declared as data (invariants.toml), run
as read-only queries. A query returns the offending rows; zero rows holds.

Each invariant runs in its own READ ONLY transaction with ``SET LOCAL statement_timeout``
(--invariant-timeout, default 30 s): a timeout or an SQL error fails that invariant with the
server's message and rolls back only its own transaction, so the others still run. A failure
reports how many rows broke the invariant and the first 10 values of the query's first column
(the row keys), nothing else of the rows: a row may hold what an operator's terminal should not.
The rows are counted through a server-side cursor, so a million offending rows cost no memory.
"""
from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from flash_green_ops.errors import UsageError
from flash_green_ops.files import MIB, read_bytes
from flash_green_ops.findings import Finding, Status, failed, passed, timed, warned
from flash_green_ops.pg import PgEndpoint

DEFAULT_INVARIANTS = Path(__file__).with_name("invariants.toml")
DEFAULT_TIMEOUT = 30.0
SEVERITIES = ("error", "warning")
SHOWN = 10  # first-column values a failure shows
APP_NAME = "flashgreen-reconcile"
_ID = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
_KEYS = {"id", "description", "severity", "sql", "params"}


class InvariantsError(UsageError):
    """The invariants file is unusable: a bad invocation (exit 2)."""


@dataclass(frozen=True)
class Invariant:
    id: str
    sql: str
    severity: str = "error"
    description: str = ""
    params: dict = field(default_factory=dict, hash=False, compare=False)

    @property
    def check(self) -> str:
        return f"reconcile.{self.id}"


# A few KB of TOML; the bound only stops a runaway file or a device.
INVARIANTS_LIMIT = 4 * MIB


def load(path: str | Path | None = None) -> tuple[Invariant, ...]:
    """The invariants at ``path`` (default: Flash Green's, shipped in the package)."""
    path = Path(path) if path else DEFAULT_INVARIANTS
    try:
        data = tomllib.loads(read_bytes(path, "an invariants file", InvariantsError, INVARIANTS_LIMIT).decode("utf-8"))
    except UnicodeDecodeError:
        raise InvariantsError(f"{path}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise InvariantsError(f"{path}: not valid TOML ({exc})") from None
    entries = data.get("invariant")
    if set(data) - {"invariant"} or not isinstance(entries, list) or not entries:
        raise InvariantsError(f"{path}: expected one or more [[invariant]] tables and nothing else")
    invariants, seen = [], {}
    for number, entry in enumerate(entries, 1):
        invariant = _entry(path, number, entry)
        if invariant.id in seen:
            raise InvariantsError(f"{path}: invariant #{number} {invariant.id!r}: duplicate id "
                                  f"(invariant #{seen[invariant.id]} has it too)")
        seen[invariant.id] = number
        invariants.append(invariant)
    return tuple(invariants)


def _entry(path: Path, number: int, entry) -> Invariant:
    name = f"invariant #{number}"
    if not isinstance(entry, dict):
        raise InvariantsError(f"{path}: {name}: not a table")
    if isinstance(entry.get("id"), str):
        name += f" {entry['id']!r}"

    def bad(why: str) -> InvariantsError:
        return InvariantsError(f"{path}: {name}: {why}")

    unknown = sorted(set(entry) - _KEYS)
    if unknown:
        raise bad(f"unknown key(s) {', '.join(map(repr, unknown))} (known: {', '.join(sorted(_KEYS))})")
    if not isinstance(entry.get("id"), str) or not _ID.match(entry["id"]):
        raise bad("missing or bad id (lower-case letters, digits, '-', '_', '.')")
    sql = entry.get("sql")
    if not isinstance(sql, str) or not sql.strip():
        raise bad("missing sql (the query returning the offending rows)")
    severity = entry.get("severity", "error")
    if severity not in SEVERITIES:
        raise bad(f"unknown severity {severity!r} (known: {', '.join(SEVERITIES)})")
    description = entry.get("description", "")
    if not isinstance(description, str):
        raise bad("description is not a string")
    params = entry.get("params", {})
    if not isinstance(params, dict) or not all(isinstance(v, (str, int, float, bool)) for v in params.values()):
        raise bad("params must be a table of strings and numbers")
    return Invariant(entry["id"], sql.strip().rstrip(";"), severity, description, dict(params))


def run(endpoint: PgEndpoint, invariants, timeout: float = DEFAULT_TIMEOUT) -> list[Finding]:
    """One finding per invariant; an unreachable database fails them all with its reason."""
    import psycopg

    try:
        conn = endpoint.connect(APP_NAME, read_only=True)
    except psycopg.Error as exc:  # e.g. refused after connecting (no such database)
        return [failed(i.check, f"cannot reach {endpoint.label}: {_server_message(exc)}") for i in invariants]
    except Exception as exc:  # DatabaseUnreachable: already names host, port and cause
        return [failed(i.check, str(exc)) for i in invariants]
    findings = []
    with conn:
        for invariant in invariants:
            if conn.closed:  # a previous query lost the connection: say so rather than guess
                findings.append(failed(invariant.check, f"not run: the connection to {endpoint.label} was lost"))
                continue
            findings.append(timed(lambda: _check(conn, invariant, timeout, endpoint.label)))
    return findings


def _check(conn, invariant: Invariant, timeout: float, where: str) -> Finding:
    import psycopg

    try:
        # A fresh transaction per invariant: an error or a timeout aborts only this one.
        with conn.transaction():
            conn.execute("SET TRANSACTION READ ONLY")
            conn.execute("SELECT pg_catalog.set_config('statement_timeout', %s, true)",
                         (f"{math.ceil(timeout * 1000)}ms",))  # ceil: 0 ms would mean no bound
            with conn.cursor(name="flashgreen_invariant") as cur:
                cur.execute(invariant.sql, invariant.params or None)
                column = cur.description[0].name if cur.description else "?"
                first = [row[0] for row in cur.fetchmany(SHOWN)]
                rest = conn.execute("MOVE FORWARD ALL IN flashgreen_invariant").rowcount if len(first) == SHOWN else 0
    except psycopg.errors.QueryCanceled as exc:
        return failed(invariant.check, f"{invariant.id}: did not finish within {timeout:g} s "
                      f"(--invariant-timeout) on {where}: {_server_message(exc)}", where)
    except psycopg.Error as exc:
        return failed(invariant.check, f"{invariant.id}: the query failed on {where}: {_server_message(exc)}", where)
    count = len(first) + max(rest, 0)
    if count == 0:
        about = f" ({invariant.description})" if invariant.description else ""
        return passed(invariant.check, f"{invariant.id}: holds on {where}{about}", where)
    shown = ", ".join("NULL" if v is None else str(v) for v in first)
    more = f" (first {SHOWN})" if count > SHOWN else ""
    about = f" {invariant.description}" if invariant.description else ""
    message = f"{invariant.id}: {count} row(s) break it on {where}:{about} {column}{more}: {shown}"
    return (warned if invariant.severity == "warning" else failed)(invariant.check, message, where)


def _server_message(exc) -> str:
    diag = getattr(exc, "diag", None)
    text = (diag and diag.message_primary) or str(exc)
    return " ".join(text.split())


def failures(findings) -> int:
    return sum(f.status is Status.FAIL for f in findings)


def summary(check: str, results: list[Finding], on: str) -> Finding:
    """The invariants' findings as one (post-restore's and the rollback rehearsal's check)."""
    broken = [f for f in results if f.status is Status.FAIL]
    warnings = [f for f in results if f.status is Status.WARN]
    if broken:
        return failed(check, f"{len(broken)} of {len(results)} invariants fail {on}: " +
                      "; ".join(f"{f.check}: {f.message}" for f in broken))
    note = ("; warnings: " + "; ".join(f"{f.check}: {f.message}" for f in warnings)) if warnings else ""
    return passed(check, f"all {len(results)} invariants hold {on}{note}")
