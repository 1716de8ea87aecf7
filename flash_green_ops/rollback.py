"""Rollback rehearsal step: what ``alembic downgrade -1`` does to a copy of the database.

Plain functions over an Alembic project (``alembic.ini``), the source database and a scratch
copy of it; flash_green_ops/rehearsal.py makes the copy with the backup step, runs the
invariants with the reconcile step and compares the result with the backup's manifest
(``rollback.backup``, ``rollback.invariants``, ``rollback.schema``, ``rollback.data``). Checks:

- ``rollback.chain``: every revision's down revision exists, one base (pytest-alembic's floor);
- ``rollback.heads``: exactly one head (two heads: ``downgrade -1`` is ambiguous);
- ``rollback.at_head``: the database is at that head (else the rehearsal would not rehearse
  the release being rolled back);
- ``rollback.downgrade``: ``downgrade -1`` succeeds within a bound (a statement still running
  at the bound is cancelled); ``rollback.version``: alembic_version is the previous revision;
- ``rollback.losses``: tables and columns present before and gone after, row counts that
  dropped: a warning, the operator must read it before running the downgrade on production;
- ``rollback.upgrade``: ``upgrade head`` succeeds again.
"""
from __future__ import annotations

import time
import warnings
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

from flash_green_ops import migrations
from flash_green_ops.alembic_state import alembic_revision
from flash_green_ops.findings import Finding, failed, passed, warned
from flash_green_ops.pg import PgEndpoint

STATIC_CHECKS = ("rollback.chain", "rollback.heads", "rollback.at_head")
CHECKS = (*STATIC_CHECKS, "rollback.backup", "rollback.downgrade", "rollback.version", "rollback.losses",
          "rollback.invariants", "rollback.upgrade", "rollback.schema", "rollback.data")
DEFAULT_TIMEOUT = 300.0
APP_NAME = "flashgreen-rollback"


@dataclass(frozen=True)
class Plan:
    """The script directory's head and the revision ``downgrade -1`` goes to (None: base)."""

    head: str
    previous: str | None
    head_path: str


def database_revision(endpoint: PgEndpoint) -> str | None:
    """The database's Alembic revision, read in a read-only session."""
    with endpoint.connect(APP_NAME, read_only=True) as conn:
        return alembic_revision(conn)


def static_checks(config_path: str | Path, db_revision: str | None) -> tuple[list[Finding], Plan | None]:
    """rollback.chain, .heads, .at_head, stopping at the first failure (the later ones need it)."""
    where = str(config_path)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            script = migrations.script_directory(config_path)
            try:
                revisions = list(script.walk_revisions())
                bases, heads = script.get_bases(), script.get_heads()
            except KeyError as exc:
                missing = "; ".join(" ".join(str(w.message).split()) for w in caught) or f"revision {exc} not present"
                return [failed("rollback.chain", f"{where}: the chain from base to head has a gap: {missing}", where)], None
    except Exception as exc:  # a broken migration file raises anything
        return [failed("rollback.chain", f"{where}: cannot read the Alembic script directory "
                                         f"({type(exc).__name__}: {_one_line(exc)})", where)], None
    if len(bases) != 1:
        return [failed("rollback.chain", f"{where}: {len(bases)} base revisions ({', '.join(sorted(bases))}): "
                                         f"the chain from base to head must be one line", where)], None
    findings = [passed("rollback.chain", f"{where}: {len(revisions)} revisions from base {bases[0]} to head, no gap",
                       where)]
    if len(heads) != 1:
        findings.append(failed("rollback.heads", f"{where}: {len(heads)} heads ({', '.join(sorted(heads))}): "
                               f"`downgrade -1` is ambiguous; merge them (alembic merge heads) first", where))
        return findings, None
    head = script.get_revision(heads[0])
    findings.append(passed("rollback.heads", f"{where}: one head, {head.revision}", where))
    if db_revision != head.revision:
        findings.append(failed("rollback.at_head", f"the database is at Alembic revision {db_revision or '(none)'}, "
                               f"not at the head {head.revision} of {where}: the rehearsal rolls back the "
                               f"release at head; upgrade it, or point --alembic-config at its release", where))
        return findings, None
    findings.append(passed("rollback.at_head", f"the database is at the head, {head.revision}", where))
    return findings, Plan(head.revision, head.down_revision, head.path)


@dataclass
class Snapshot:
    """Tables (schema, name) -> column names, row counts, per column how many rows hold a value
    (so a dropped column is reported as populated or not) and, when asked, per column a digest."""

    columns: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    rows: dict[tuple[str, str], int] = field(default_factory=dict)
    values: dict[tuple[str, str], dict[str, int]] = field(default_factory=dict)
    digests: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)


_TABLES_SQL = """
SELECT n.nspname, c.relname, a.attname, a.attnum = ANY (coalesce(pk.indkey::int2[], '{}'))
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
LEFT JOIN pg_catalog.pg_index pk ON pk.indrelid = c.oid AND pk.indisprimary
WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\\_%' AND c.relname <> 'alembic_version'
ORDER BY 1, 2, a.attnum
"""


def snapshot(endpoint: PgEndpoint, digests: bool | Collection[tuple[str, str]] = False) -> Snapshot:
    """One scan per table. ``digests``: the tables (True: all) whose columns also get a digest
    each, the sum of a 64-bit hash of (primary key, value) over the rows (of the value alone
    without a primary key), so a column that changed is named even when others were dropped."""
    from psycopg import sql

    shot, keys = Snapshot(), {}
    with endpoint.connect(APP_NAME, read_only=True) as conn:
        conn.execute("SET TimeZone = 'UTC'")  # digests hash the text form: fixed, whatever the role's
        for schema, table, column, in_key in conn.execute(_TABLES_SQL):
            shot.columns.setdefault((schema, table), []).append(column)
            if in_key:
                keys.setdefault((schema, table), []).append(column)
        for key, columns in shot.columns.items():
            digest = digests is True or (digests and key in digests)
            parts = [sql.SQL("count({})").format(sql.Identifier(c)) for c in columns]
            if digest:
                pk = [sql.Identifier(c) for c in keys.get(key, [])]
                parts += [sql.SQL("coalesce(sum(pg_catalog.hashtextextended(ROW({})::text, 0)), 0)::text").format(
                    sql.SQL(", ").join([*pk, sql.Identifier(c)])) for c in columns]
            rows, *rest = conn.execute(sql.SQL("SELECT count(*), {} FROM ONLY {}").format(
                sql.SQL(", ").join(parts), sql.Identifier(*key))).fetchone()
            shot.rows[key], shot.values[key] = rows, dict(zip(columns, rest[:len(columns)]))
            if digest:
                shot.digests[key] = dict(zip(columns, rest[len(columns):]))
    return shot


def dropped_columns(before: Snapshot, after: Snapshot) -> dict[tuple[str, str], list[str]]:
    """Columns of tables still there whose columns went away."""
    return {key: [c for c in cols if c not in after.columns[key]]
            for key, cols in before.columns.items() if key in after.columns and set(cols) - set(after.columns[key])}


def losses(before: Snapshot, after: Snapshot) -> Finding:
    """rollback.losses: a warning naming every table, column and row the downgrade lost."""
    lost = []
    for key in sorted(set(before.columns) - set(after.columns)):
        lost.append(f"table {_name(key)} ({before.rows[key]} rows)")
    for key, cols in sorted(dropped_columns(before, after).items()):
        for col in cols:
            lost.append(f"column {_name(key)}.{col} ({before.values[key][col]} of {before.rows[key]} rows hold a value)")
    for key in sorted(set(before.rows) & set(after.rows)):
        if after.rows[key] < before.rows[key]:
            lost.append(f"{before.rows[key] - after.rows[key]} rows of {_name(key)} ({before.rows[key]} -> {after.rows[key]})")
    if not lost:
        return passed("rollback.losses", "the downgrade loses no table, column or row")
    return warned("rollback.losses", "the downgrade loses " + "; ".join(lost) +
                  ": read this before running it on production (take a backup first)")


def downgrade(endpoint: PgEndpoint, config_path: str | Path, plan: Plan, timeout: float) -> Finding:
    """rollback.downgrade: ``downgrade -1`` within ``timeout`` seconds, naming the revision on failure."""
    target = plan.previous or "base"
    started = time.monotonic()
    try:
        migrations.downgrade(endpoint, "-1", config_path, timeout)
    except migrations.Timeout as exc:
        return failed("rollback.downgrade", f"downgrade of revision {plan.head} ({plan.head_path}) to {target} "
                                            f"did not finish within {timeout:g} s (--downgrade-timeout): {exc}")
    except Exception as exc:
        return failed("rollback.downgrade", f"downgrade of revision {plan.head} ({plan.head_path}) to {target} "
                                            f"failed: {_error(exc)}")
    return passed("rollback.downgrade", f"downgraded revision {plan.head} to {target} in "
                                        f"{time.monotonic() - started:.1f} s (bound {timeout:g} s)")


def check_version(endpoint: PgEndpoint, plan: Plan) -> Finding:
    """rollback.version: alembic_version now holds the previous revision."""
    found = database_revision(endpoint)
    if found == plan.previous:
        return passed("rollback.version", f"alembic_version is at the previous revision, {found or '(empty)'}")
    return failed("rollback.version", f"after the downgrade alembic_version is at {found or '(none)'}, expected "
                                      f"the previous revision {plan.previous or '(none: base)'}")


def upgrade(endpoint: PgEndpoint, config_path: str | Path, plan: Plan, timeout: float) -> Finding:
    started = time.monotonic()
    try:
        migrations.upgrade(endpoint, "head", config_path, timeout)
    except migrations.Timeout as exc:
        return failed("rollback.upgrade", f"upgrade back to {plan.head} did not finish within {timeout:g} s: {exc}")
    except Exception as exc:
        return failed("rollback.upgrade", f"upgrade back to {plan.head} ({plan.head_path}) failed: "
                                          f"{_error(exc)}")
    return passed("rollback.upgrade", f"upgraded again to {plan.head} in {time.monotonic() - started:.1f} s")


def changed_columns(original: Snapshot, final: Snapshot, dropped: dict) -> dict[tuple[str, str], list[str]]:
    """Per table of ``dropped`` (dropped_columns), the columns the downgrade kept whose digests
    differ between the two snapshots."""
    changed = {}
    for key, gone in dropped.items():
        before, after = original.digests.get(key, {}), final.digests.get(key, {})
        columns = [c for c in before if c not in gone and c in after and before[c] != after[c]]
        if columns:
            changed[key] = columns
    return changed


def _name(key: tuple[str, str]) -> str:
    return ".".join(key)


def _error(exc: BaseException) -> str:
    """A migration's error: the database's own (SQLAlchemy wraps it with the statement and a
    link to its docs) or the exception, on one line."""
    cause = getattr(exc, "orig", None) or exc
    return f"{type(cause).__name__}: {_one_line(cause)}"


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())
