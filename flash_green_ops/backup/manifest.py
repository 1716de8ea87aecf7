"""What a backup holds, computed server-side inside a snapshot, and how to compare two of them.

A manifest describes one database at one instant (the dump's snapshot): server version, Alembic
revision, a schema fingerprint, per table a row count and an order-independent content hash,
and sequence values. It is plain JSON, written next to the dump (``PATH.manifest.json``).

Content hash, per table: the sum, as an exact integer mod 2^128, of a 64-bit hash of every row.

* A *sum* is order-independent and, unlike xor, counts duplicates: deleting one of two equal
  rows changes it. ``sum(bigint)`` is exact (numeric), so no overflow and no float rounding.
* The aggregate runs on the server, streaming: the client receives one row per table (or per
  block range of a large table), so memory does not grow with the database.
* Row hash, method ``typed-v2`` (PostgreSQL 14+): ``hash_record_extended(ROW(c1, c2, ...), 0)``,
  mixed once more through ``hashint8extended(0, h)`` (h enters as the seed, all 64 bits of it,
  through lookup3's mix and final). The mix is what makes the sum see *which row* holds a value:
  ``hash_record_extended`` combines column hashes linearly (31 * result + h(column)), so a plain
  sum over rows is a weighted sum of per-column sums and stays the same when two rows swap a
  value. Columns are hashed by their type's own 64-bit hash where that hash is exactly as fine
  as the dumped text (integers, booleans, constrained numeric, text types under ``COLLATE "C"``,
  bytea, uuid, date, time, timestamp, timestamptz); floats by their binary form
  (``float8send``), because their hash folds -0 into 0 while a dump keeps the sign (NaNs, which
  every dump prints as ``NaN``, are made one NaN first); every other column by its text form
  (jsonb, whose hash ignores a number's trailing zeros; enums, which hash by OID, which a restore
  changes; intervals, which hash '1 day' like '24 hours'; unconstrained numeric, whose hash
  ignores the display scale; arrays, domains, user types). These hashes are the ones hash
  partitioning relies on being stable across versions; they avoid the output functions, which
  cost most of a scan.
* Method ``text`` (servers older than 14): ``hashtextextended(row::text, 0)``, already a
  non-linear hash of the whole row.
* Method ``typed`` (manifests written before typed-v2) is refused: it is the linear sum above,
  which values swapped between rows cannot change.

The text form depends on session settings (TimeZone, DateStyle, IntervalStyle,
extra_float_digits, bytea_output, lc_monetary, search_path for reg* types), so every hashing
session sets them explicitly (SESSION_SETTINGS). Text hashes also depend on the server
encoding: a restore keeps the database's encoding unless told otherwise.

Partitioned tables: only leaf partitions (plain tables) hold rows, so only they are hashed; the
partitioned parent appears in the schema fingerprint and is not scanned, so every row is
counted exactly once. Inheritance children are hashed with ``FROM ONLY`` for the same reason.
Tables that belong to an extension are left out, as pg_dump leaves them out.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from flash_green_ops.alembic_state import alembic_revision
from flash_green_ops.errors import UsageError
from flash_green_ops.files import MIB, read_bytes
from flash_green_ops.findings import failed, passed

FORMAT_VERSION = 1

# Fixed so that the text form of every value, hence every hash, is the same in any session.
SESSION_SETTINGS = {
    "TimeZone": "UTC",
    "DateStyle": "ISO, YMD",
    "IntervalStyle": "postgres",
    "extra_float_digits": "3",
    "bytea_output": "hex",
    "lc_monetary": "C",
    "search_path": "pg_catalog",  # reg* types and format_type() print schema-qualified names
    "statement_timeout": "0",  # a role-level timeout must not cut a long scan (pg_dump does the same)
    "idle_in_transaction_session_timeout": "0",
}

# A table larger than this is hashed in block ranges (TID range scans, PostgreSQL 14+), so
# several workers can share one large table; the ranges are disjoint, their sums add up.
CHUNK_BLOCKS = 32768  # 256 MB of 8 kB blocks

_SYSTEM_SCHEMAS = """
    n.nspname NOT IN ('pg_catalog', 'information_schema')
    AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'
"""
_NOT_EXTENSION_MEMBER = """
    NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
                  AND d.objid = c.oid AND d.deptype = 'e')
"""

_USER_RELATIONS = f"""
FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'm') AND {_SYSTEM_SCHEMAS} AND {_NOT_EXTENSION_MEMBER}
"""

RELATIONS_SQL = f"""
SELECT c.oid, n.nspname, c.relname, c.relkind,
       pg_catalog.pg_relation_size(c.oid) / pg_catalog.current_setting('block_size')::int AS blocks
{_USER_RELATIONS}
ORDER BY n.nspname, c.relname
"""

# The same relations, counted from the catalogs alone: pg_relation_size takes ACCESS SHARE on
# every table, so RELATIONS_SQL waits behind any exclusive lock (an ALTER TABLE left open).
RELATION_COUNT_SQL = f"SELECT count(*) {_USER_RELATIONS}"

COLUMNS_SQL = """
SELECT a.attrelid, a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod), a.attnotnull,
       pg_catalog.pg_get_expr(d.adbin, d.adrelid), a.attidentity, a.attgenerated
FROM pg_catalog.pg_attribute a
LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE a.attrelid = ANY(%s) AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attrelid, a.attnum
"""

CONSTRAINTS_SQL = """
SELECT conrelid, conname, pg_catalog.pg_get_constraintdef(oid, true)
FROM pg_catalog.pg_constraint WHERE conrelid = ANY(%s)
"""

INDEXES_SQL = """
SELECT i.indrelid, c.relname, pg_catalog.pg_get_indexdef(i.indexrelid)
FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid
WHERE i.indrelid = ANY(%s)
"""

SEQUENCES_SQL = f"""
SELECT n.nspname, c.relname, s.seqincrement
FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
JOIN pg_catalog.pg_sequence s ON s.seqrelid = c.oid
WHERE c.relkind = 'S' AND {_SYSTEM_SCHEMAS} AND {_NOT_EXTENSION_MEMBER}
ORDER BY n.nspname, c.relname
"""

IDENTITY_SQL = """
SELECT pg_catalog.current_setting('server_version'),
       pg_catalog.current_setting('server_version_num')::int,
       pg_catalog.current_database(),
       (SELECT oid FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database()),
       pg_catalog.pg_encoding_to_char((SELECT encoding FROM pg_catalog.pg_database
                                       WHERE datname = pg_catalog.current_database())),
       CASE WHEN pg_catalog.has_function_privilege('pg_catalog.pg_control_system()', 'EXECUTE')
            THEN (SELECT system_identifier::text FROM pg_catalog.pg_control_system()) END
"""


class ManifestError(UsageError):
    """A manifest file that cannot be used (missing, unreadable, not a manifest): exit code 2."""


# --------------------------------------------------------------------------------------------
# Sessions


def configure_session(conn, lock_timeout_ms: int | None = None) -> None:
    """Apply SESSION_SETTINGS (autocommit connection, before any transaction starts).

    ``lock_timeout_ms``: how long a query may wait for a table lock (a backup's bound: an
    exclusive lock held elsewhere fails it instead of blocking it). None leaves the server's.
    Not part of SESSION_SETTINGS: it changes no hash, and the manifest records those.
    """
    for name, value in SESSION_SETTINGS.items():
        conn.execute("SELECT pg_catalog.set_config(%s, %s, false)", (name, value))
    if lock_timeout_ms is not None:
        conn.execute("SELECT pg_catalog.set_config('lock_timeout', %s, false)", (f"{int(lock_timeout_ms)}ms",))


def begin_snapshot(conn, snapshot: str | None = None) -> None:
    """Open the REPEATABLE READ READ ONLY transaction every manifest query runs in; with
    ``snapshot``, adopt an exported snapshot (must be the transaction's first statement)."""
    from psycopg import sql

    conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
    if snapshot:
        conn.execute(sql.SQL("SET TRANSACTION SNAPSHOT {}").format(sql.Literal(snapshot)))


def qualified(schema: str, name: str) -> str:
    """``schema.name`` as a key: quoted only where SQL would need quotes, for readable messages."""
    return f"{_ident(schema)}.{_ident(name)}"


def _ident(name: str) -> str:
    simple = name.isidentifier() and name == name.lower() and name.isascii()
    return name if simple else '"' + name.replace('"', '""') + '"'


# --------------------------------------------------------------------------------------------
# Computing


@dataclass
class Relation:
    oid: int
    schema: str
    name: str
    kind: str  # r table, p partitioned table, m materialized view
    blocks: int

    @property
    def key(self) -> str:
        return qualified(self.schema, self.name)


# Types whose native extended hash is exactly as fine as their dumped text (format_type()
# spelling, with search_path=pg_catalog, so a user type of the same name prints schema-qualified).
_NATIVE_HASH = re.compile(
    r"^(smallint|integer|bigint|boolean|bytea|uuid|date"
    r"|numeric\(\d+,\d+\)"
    r"|time(stamp)?(\(\d\))? without time zone|timestamp(\(\d\))? with time zone"
    r"|(?P<text>text|character varying(\(\d+\))?|character(\(\d+\))?))$")
# Hashed by their binary form: hashfloat8 folds -0 into 0. NaN is made the one NaN first.
_FLOAT_SEND = {"double precision": "float8send", "real": "float4send"}

TYPED = "typed-v2"
TEXT = "text"
_REFUSED_METHODS = {"typed": "a manifest written before typed-v2, whose row hash values swapped between rows "
                             "cannot change: take a new backup with this version to verify against"}


def hash_method(server_version_num: int) -> str:
    return TYPED if server_version_num >= 140000 else TEXT


def _column_hash_input(column: dict):
    """What ``hash_record_extended`` hashes for one column of row ``r`` (see module doc)."""
    from psycopg import sql

    ident = sql.SQL("r.{}").format(sql.Identifier(column["name"]))
    native = _NATIVE_HASH.match(column["type"])
    if native:
        return ident + sql.SQL(' COLLATE "C"') if native.group("text") else ident
    send = _FLOAT_SEND.get(column["type"])
    if send:
        nan = sql.SQL("{}::{}").format(sql.Literal("NaN"), sql.SQL(column["type"]))
        return sql.SQL("pg_catalog.{}(CASE WHEN {} = {} THEN {} ELSE {} END)").format(
            sql.SQL(send), ident, nan, nan, ident)
    return ident + sql.SQL("::text")


def row_hash_expression(columns: list[dict], method: str):
    """The SQL expression hashing one row ``r`` of a table with ``columns`` (see module doc)."""
    from psycopg import sql

    if method == TEXT or not columns:
        return sql.SQL("pg_catalog.hashtextextended((r.*)::text, 0)")
    row = sql.SQL(", ").join(_column_hash_input(column) for column in columns)
    return sql.SQL("pg_catalog.hashint8extended(0, pg_catalog.hash_record_extended(ROW({}), 0))").format(row)


@dataclass
class HashJob:
    """One scan: a whole table, or one block range of a large table."""

    relation: Relation
    columns: list = field(default_factory=list)
    method: str = TEXT
    first_block: int | None = None  # None: the whole table
    end_block: int | None = None  # None: to the end (covers blocks added after sizing)


def _jobs_for(relation: Relation, columns: list, method: str, server_version_num: int,
              chunk_blocks: int) -> list[HashJob]:
    if server_version_num < 140000 or relation.blocks <= chunk_blocks:
        return [HashJob(relation, columns, method)]
    starts = list(range(0, relation.blocks, chunk_blocks))
    return [HashJob(relation, columns, method, start, start + chunk_blocks if i < len(starts) - 1 else None)
            for i, start in enumerate(starts)]


def _hash_query(job: HashJob):
    from psycopg import sql

    table = sql.Identifier(job.relation.schema, job.relation.name)
    query = sql.SQL("SELECT pg_catalog.count(*), COALESCE(pg_catalog.sum({}), 0)::text FROM ONLY {} AS r").format(
        row_hash_expression(job.columns, job.method), table)
    conditions = []
    if job.first_block is not None and job.first_block > 0:
        conditions.append(sql.SQL("r.ctid >= {}::tid").format(sql.Literal(f"({job.first_block},0)")))
    if job.end_block is not None:
        conditions.append(sql.SQL("r.ctid < {}::tid").format(sql.Literal(f"({job.end_block},0)")))
    if conditions:
        query += sql.SQL(" WHERE ") + sql.SQL(" AND ").join(conditions)
    return query


def run_hash_job(conn, job: HashJob) -> tuple[str, int, int]:
    count, total = conn.execute(_hash_query(job)).fetchone()
    return job.relation.key, int(count), int(total)


@dataclass
class Manifest:
    """The JSON document, as a dict with a few helpers; ``data`` is what is written."""

    data: dict = field(default_factory=dict)

    @property
    def tables(self) -> dict[str, dict]:
        return self.data["tables"]

    @property
    def sequences(self) -> dict[str, dict]:
        return self.data["sequences"]

    @property
    def schema(self) -> dict[str, dict]:
        return self.data["schema"]["relations"]

    def save(self, path: Path) -> None:
        """Write atomically (temporary name, then rename): a reader never sees half a manifest."""
        tmp = path.with_name(f".{path.name}.partial-{os.getpid()}")
        try:
            tmp.write_text(json.dumps(self.data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)


def describe(conn, *, connect_worker: Callable[[], object] | None = None, snapshot: str | None = None,
             workers: int = 1, chunk_blocks: int = CHUNK_BLOCKS, method: str | None = None) -> Manifest:
    """Compute a manifest with ``conn``, which is inside a REPEATABLE READ transaction.

    With ``workers`` > 1, ``connect_worker()`` opens extra connections that adopt ``snapshot``
    (exported by ``conn``'s transaction), so every table is read in the same snapshot.
    ``method``: the row hash (``typed`` or ``text``); default: the best the server has. To
    check a restore, pass the manifest's own.
    """
    started = time.monotonic()
    version, version_num, dbname, db_oid, encoding, system_id = conn.execute(IDENTITY_SQL).fetchone()
    relations = [Relation(*row) for row in conn.execute(RELATIONS_SQL).fetchall()]
    schema = _schema(conn, relations)
    sequences = _sequences(conn)
    alembic = alembic_revision(conn)

    data_tables = [r for r in relations if r.kind == "r"]
    method = method or hash_method(version_num)
    if method == TYPED and version_num < 140000:
        raise ManifestError(f"the manifest's row hash ({TYPED}) needs PostgreSQL 14 or newer; this server runs {version}")
    workers = workers if snapshot and connect_worker else 1
    # Block ranges only share a large table between workers: one worker scans it whole, as a
    # range scan per chunk costs twice the time of one plain scan (bench/manifest_profile.py).
    chunk_blocks = chunk_blocks if workers > 1 else 1 << 62
    jobs = [job for r in data_tables
            for job in _jobs_for(r, schema[r.key]["columns"], method, version_num, chunk_blocks)]
    jobs.sort(key=lambda j: -(j.relation.blocks if j.first_block is None else
                              (j.end_block or j.relation.blocks) - j.first_block))  # largest first
    results = _run_jobs(conn, jobs, workers, connect_worker, snapshot)
    tables = {r.key: {"rows": 0, "hash": 0} for r in data_tables}
    for key, count, total in results:
        tables[key]["rows"] += count
        tables[key]["hash"] += total
    for entry in tables.values():
        # The hash as a fixed-width hex string: JSON numbers lose precision in many readers.
        entry["hash"] = format(entry["hash"] & (2 ** 128 - 1), "032x")

    fingerprint = hashlib.sha256(json.dumps(schema, sort_keys=True).encode()).hexdigest()
    return Manifest({
        "format_version": FORMAT_VERSION,
        "server": {"version": version, "version_num": version_num, "system_identifier": system_id,
                   "database": dbname, "database_oid": db_oid, "encoding": encoding},
        "alembic_revision": alembic,
        "schema": {"fingerprint": fingerprint, "relations": schema},
        "tables": tables,
        "sequences": sequences,
        "hash": {"method": method, "aggregate": "sum of mixed 64-bit row hashes mod 2^128",
                 "session_settings": {k: v for k, v in SESSION_SETTINGS.items() if "timeout" not in k}},
        "timings": {"manifest_seconds": round(time.monotonic() - started, 3)},
    })


def _run_jobs(conn, jobs: list[HashJob], workers: int, connect_worker, snapshot) -> list[tuple[str, int, int]]:
    if workers <= 1 or len(jobs) <= 1:
        return [run_hash_job(conn, job) for job in jobs]
    # Worker 0 is ``conn`` itself; the others adopt its snapshot. Each pulls the next job.
    import queue

    pending: queue.SimpleQueue = queue.SimpleQueue()
    for job in jobs:
        pending.put(job)

    def work(c) -> list:
        done = []
        while True:
            try:
                job = pending.get_nowait()
            except queue.Empty:
                return done
            done.append(run_hash_job(c, job))

    opened = []  # the workers' connections, so an interruption can cancel their queries

    def extra_worker() -> list:
        with connect_worker() as c:
            opened.append(c)
            configure_session(c)
            begin_snapshot(c, snapshot)
            try:
                return work(c)
            finally:
                c.rollback()

    count = min(workers, len(jobs))
    with ThreadPoolExecutor(max_workers=count - 1, thread_name_prefix="manifest-hash") as pool:
        futures = [pool.submit(extra_worker) for _ in range(count - 1)]
        try:
            results = work(conn)
            for future in futures:
                results.extend(future.result())
        except BaseException:
            # Ctrl-C or SIGTERM lands in this thread only: empty the queue and cancel the
            # workers' queries, or leaving the pool would wait for them (a lock wait included).
            while not pending.empty():
                pending.get_nowait()
            for c in list(opened):
                with contextlib.suppress(Exception):
                    c.cancel_safe(timeout=5)
            raise
    return results


def _schema(conn, relations: list[Relation]) -> dict[str, dict]:
    """Per relation: kind, columns (name, type, not null, default, identity, generated) in
    order, constraints and indexes by name with their definitions as the server prints them."""
    kinds = {"r": "table", "p": "partitioned table", "m": "materialized view"}
    by_oid = {r.oid: {"kind": kinds[r.kind], "columns": [], "constraints": {}, "indexes": {}}
              for r in relations}
    oids = list(by_oid)
    for relid, name, type_, notnull, default, identity, generated in conn.execute(COLUMNS_SQL, (oids,)):
        column = {"name": name, "type": type_, "not_null": notnull}
        if default is not None:
            column["default"] = default
        if identity:
            column["identity"] = identity
        if generated:
            column["generated"] = generated
        by_oid[relid]["columns"].append(column)
    for relid, name, definition in conn.execute(CONSTRAINTS_SQL, (oids,)):
        by_oid[relid]["constraints"][name] = definition
    for relid, name, definition in conn.execute(INDEXES_SQL, (oids,)):
        by_oid[relid]["indexes"][name] = definition
    return {r.key: by_oid[r.oid] for r in relations}


def _sequences(conn) -> dict[str, dict]:
    """Each sequence's last_value and is_called. Sequences are not transactional: this reads
    their value now, not as of the snapshot (see compare_sequences)."""
    from psycopg import sql

    rows = conn.execute(SEQUENCES_SQL).fetchall()
    result = {}
    for schema, name, increment in rows:
        last_value, is_called = conn.execute(
            sql.SQL("SELECT last_value, is_called FROM {}").format(sql.Identifier(schema, name))).fetchone()
        result[qualified(schema, name)] = {"last_value": int(last_value), "is_called": bool(is_called),
                                           "increment": int(increment)}
    return result


# --------------------------------------------------------------------------------------------
# Reading


# A manifest lists every table with its columns: a few MB for thousands of tables. The bound
# only stops a runaway file or a device.
MANIFEST_LIMIT = 256 * MIB
SCHEMA_PATH = Path(__file__).with_name("manifest.schema.json")


def load(path: str | os.PathLike) -> Manifest:
    """Read and check a manifest file before anything connects: every field the comparison
    reads has its type (manifest.schema.json), and the tables it lists are in its schema.
    Anything unusable is a one-line ManifestError naming the file and the JSON path."""
    name = str(path)
    try:
        text = read_bytes(path, "a manifest", ManifestError, MANIFEST_LIMIT).decode("utf-8")
    except UnicodeDecodeError:
        raise ManifestError(f"{name}: not UTF-8 text, not a manifest written by scripts/backup.py") from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ManifestError(f"{name}: not JSON (line {getattr(exc, 'lineno', '?')}): "
                            f"not a manifest written by scripts/backup.py") from None
    except RecursionError:
        raise ManifestError(f"{name}: JSON nested deeper than Python's recursion limit "
                            f"({sys.getrecursionlimit()}): not a manifest written by scripts/backup.py") from None
    problem = _shape_problem(data)
    if problem:
        raise ManifestError(f"{name}: not a usable manifest: {problem}")
    return Manifest(data)


def _shape_problem(data) -> str | None:
    """The first reason ``data`` is not a manifest this version can compare, or None."""
    if isinstance(data, dict) and data.get("format_version") != FORMAT_VERSION:
        return f"format_version is {str(data.get('format_version'))[:20]!r}, expected {FORMAT_VERSION}"
    import jsonschema  # lazy: only verify_restore reads a manifest

    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA_PATH.read_text(encoding="utf-8")))
    error = jsonschema.exceptions.best_match(validator.iter_errors(data))
    if error is not None:
        # Keys are the manifest's own text: escaped, so a newline in one cannot break the line.
        path = "".join(c if c.isprintable() else repr(c)[1:-1] for c in error.json_path)
        return f"{path[:200]}: {_describe(error)}"
    method = data["hash"]["method"]
    if method in _REFUSED_METHODS:
        return f"hash.method is {method!r}: {_REFUSED_METHODS[method]}"
    if method not in (TYPED, TEXT):
        return f"hash.method is {method[:40]!r}, expected {TYPED!r} or {TEXT!r}"
    unknown = sorted(set(data["tables"]) - set(data["schema"]["relations"]))
    if unknown:
        # A table the comparison would otherwise skip in silence when the database lacks it too.
        named = ", ".join(repr(name)[1:-1] for name in unknown[:3])[:200]
        return (f"$.tables: {named}{' and more' if len(unknown) > 3 else ''} "
                f"not in schema.relations: the manifest was edited or truncated")
    return None


_JSON_TYPES = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", int: "an integer",
               float: "a number", type(None): "null"}


def _describe(error) -> str:
    """jsonschema's verdict in words that never quote the offending value (it may be huge)."""
    found = _JSON_TYPES.get(type(error.instance), "a value")
    if error.validator == "type":
        expected = error.validator_value
        expected = [expected] if isinstance(expected, str) else expected
        return f"is {found}, expected {' or '.join(expected)}"
    if error.validator == "required":
        return error.message[:200]
    if error.validator == "pattern":
        return f"is not {error.schema.get('description', 'in the form ' + error.validator_value)}"
    if error.validator in ("const", "enum"):
        allowed = [error.validator_value] if error.validator == "const" else error.validator_value
        return f"is not one of {', '.join(json.dumps(v) for v in allowed)}"
    if error.validator == "minimum":
        return f"is below {error.validator_value}"
    if error.validator == "not" and "description" in error.schema:
        return f"is not {error.schema['description']}"
    return f"is {found} that is not allowed here ({error.validator})"


# --------------------------------------------------------------------------------------------
# Comparing: one Finding per difference, each naming the object


def compare(expected: Manifest, actual: Manifest, where: str) -> list:
    """The findings of checking ``actual`` (a restored database) against ``expected``."""
    findings = []
    exp_v, act_v = expected.data["server"].get("version"), actual.data["server"].get("version")
    findings.append(passed("restore.server_version",
                           f"restored database {where} runs PostgreSQL {act_v} (backup taken from {exp_v})", where))
    findings += compare_tables(expected, actual, where)
    findings += compare_schema(expected, actual, where)
    findings += compare_content(expected, actual, where)
    findings += compare_sequences(expected, actual, where)
    findings += compare_alembic(expected, actual, where)
    return findings


def _verdict(check: str, problems: list[str], ok: str, where: str) -> list:
    if not problems:
        return [passed(check, ok, where)]
    return [failed(check, problem, where) for problem in problems]


def compare_tables(expected: Manifest, actual: Manifest, where: str) -> list:
    exp, act = set(expected.schema), set(actual.schema)
    problems = [f"{name}: missing from the restored database {where} (the manifest has a "
                f"{expected.schema[name].get('kind', 'table')}): restore again from a complete dump"
                for name in sorted(exp - act)]
    problems += [f"{name}: extra {actual.schema[name].get('kind', 'table')} in the restored database {where}, "
                 f"not in the manifest: restore into an empty database" for name in sorted(act - exp)]
    return _verdict("restore.tables", problems, f"all {len(exp)} tables of the manifest are present, no extra", where)


def compare_schema(expected: Manifest, actual: Manifest, where: str) -> list:
    problems = []
    for name in sorted(set(expected.schema) & set(actual.schema)):
        e, a = expected.schema[name], actual.schema[name]
        if e == a:
            continue
        if e.get("kind") != a.get("kind"):
            problems.append(f"{name}: a {e.get('kind')} in the manifest, a {a.get('kind')} in the restored database")
            continue
        e_cols = [(c["name"], c) for c in e.get("columns", [])]
        a_cols = dict((c["name"], c) for c in a.get("columns", []))
        for col, spec in e_cols:
            if col not in a_cols:
                problems.append(f"{name}: column {col} ({spec['type']}) missing in the restored database")
            elif a_cols[col] != spec:
                diff = ", ".join(f"{k} {spec.get(k)!r} in the manifest, {a_cols[col].get(k)!r} restored"
                                 for k in sorted(set(spec) | set(a_cols[col])) if spec.get(k) != a_cols[col].get(k))
                problems.append(f"{name}: column {col}: {diff}")
        for col in sorted(set(a_cols) - {c for c, _ in e_cols}):
            problems.append(f"{name}: extra column {col} ({a_cols[col]['type']}) in the restored database")
        if [c for c, _ in e_cols] != [c["name"] for c in a.get("columns", [])] and set(a_cols) == {c for c, _ in e_cols}:
            problems.append(f"{name}: columns are in another order than in the manifest (row hashes depend on it)")
        for kind in ("constraints", "indexes"):
            e_items, a_items = e.get(kind, {}), a.get(kind, {})
            noun = kind[:-1] if kind == "constraints" else "index"
            for item in sorted(set(e_items) | set(a_items)):
                if item not in a_items:
                    problems.append(f"{name}: {noun} {item} ({e_items[item]}) missing in the restored database")
                elif item not in e_items:
                    problems.append(f"{name}: extra {noun} {item} ({a_items[item]}) in the restored database")
                elif e_items[item] != a_items[item]:
                    problems.append(f"{name}: {noun} {item} is {a_items[item]!r}, the manifest has {e_items[item]!r}")
    fingerprint = expected.data["schema"].get("fingerprint", "?")
    return _verdict("restore.schema", problems,
                    f"schema fingerprint matches ({len(expected.schema)} relations, sha256 {fingerprint[:12]})", where)


def compare_content(expected: Manifest, actual: Manifest, where: str) -> list:
    """restore.rows: every table's row count; restore.content: the content hash of every table
    whose row count matches (a table with another count is named once, under restore.rows)."""
    common = sorted(set(expected.tables) & set(actual.tables))
    rows, content = [], []
    for name in common:
        e, a = expected.tables[name], actual.tables[name]
        if e["rows"] != a["rows"]:
            rows.append(f"{name}: {e['rows']} rows in the manifest, {a['rows']} in the restored database {where}")
        elif e["hash"] != a["hash"]:
            content.append(f"{name}: same row count ({e['rows']}) but the content hash differs: "
                           f"at least one value changed since the backup")
    total = sum(expected.tables[name]["rows"] for name in common)
    return (_verdict("restore.rows", rows, f"{len(common)} tables, {total} rows: every row count matches the "
                                           f"manifest", where)
            + _verdict("restore.content", content, f"{len(common) - len(rows)} tables: content hashes match "
                                                   f"the manifest", where))


def next_value(seq: dict) -> int:
    """The value nextval() would return: sequences are compared by what they would hand out."""
    return seq["last_value"] + seq["increment"] if seq["is_called"] else seq["last_value"]


def compare_sequences(expected: Manifest, actual: Manifest, where: str) -> list:
    """Only a sequence *behind* the manifest is an error (new inserts would collide with
    restored rows). Ahead is fine: sequences are not transactional, pg_dump reads them a
    moment after the manifest did, and writes meanwhile advance them."""
    problems = []
    for name in sorted(expected.sequences):
        e = expected.sequences[name]
        a = actual.sequences.get(name)
        if a is None:
            problems.append(f"{name}: sequence missing in the restored database")
            continue
        e_next, a_next = next_value(e), next_value(a)
        behind = a_next < e_next if e["increment"] > 0 else a_next > e_next
        if behind:
            problems.append(f"{name}: behind the manifest: nextval() would return {a_next}, the manifest's next "
                            f"value is {e_next}; new rows would collide with restored ones: "
                            f"SELECT setval('{name}', {e['last_value']}, {str(e['is_called']).lower()})")
    for name in sorted(set(actual.sequences) - set(expected.sequences)):
        problems.append(f"{name}: extra sequence in the restored database, not in the manifest")
    return _verdict("restore.sequences", problems,
                    f"all {len(expected.sequences)} sequences are at or ahead of the manifest", where)


def compare_alembic(expected: Manifest, actual: Manifest, where: str) -> list:
    e, a = expected.data.get("alembic_revision"), actual.data.get("alembic_revision")
    if e == a:
        ok = f"Alembic revision {e}" if e else "no alembic_version table, as in the manifest"
        return _verdict("restore.alembic", [], ok, where)
    return _verdict("restore.alembic",
                    [f"Alembic revision is {a or 'absent'} in the restored database, {e or 'absent'} in the manifest"],
                    "", where)
