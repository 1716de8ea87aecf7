#!/usr/bin/env python3
"""Benchmark: where the manifest's time goes, per table scan, on the round trip's generated data.

    python bench/manifest_profile.py --size-mb 1000

On the same generated database as bench/backup_roundtrip.py, each query sums a row hash over
every table (what the manifest runs, one table at a time, on one connection), and prints its
time beside a bare scan (``count(*)``), so the cost of each part of the row hash shows:

- the bare scan;
- the old linear hash (``typed``: native column hashes, jsonb and floats natively, no mixing);
- ``typed-v2`` without its jsonb-as-text (jsonb natively): the cost of the mixing and float bits;
- ``typed-v2`` as the manifest runs it (jsonb by its text: the exact, slower part).

Then the whole manifest (``describe``: catalogs, sequences, every table; with and without
splitting a large table into block ranges) and the bare ``pg_dump --file``, the reference the
manifest's own cost is compared with.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # runnable from a checkout

from bench.backup_roundtrip import generate  # noqa: E402
from fixtures.pgcluster import LocalCluster  # noqa: E402
from flash_green_ops import backup  # noqa: E402
from flash_green_ops.backup import manifest  # noqa: E402


def seconds(fn) -> float:
    started = time.monotonic()
    fn()
    return time.monotonic() - started


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=200)
    args = parser.parse_args(argv)
    with LocalCluster() as cluster, tempfile.TemporaryDirectory(prefix="flashgreen-bench-") as tmp:
        size, _ = generate(cluster, args.size_mb)
        print(f"generated {size / 1e6:.0f} MB")
        source = backup.PgEndpoint.from_conninfo(cluster.dsn("source"), connect_timeout=10)
        with source.connect("bench") as conn:
            manifest.configure_session(conn)
            relations = [manifest.Relation(*row) for row in conn.execute(manifest.RELATIONS_SQL).fetchall()]
            schema = manifest._schema(conn, relations)
            tables = [r for r in relations if r.kind == "r"]

            def run(expression_of) -> float:
                from psycopg import sql

                def scan():
                    for r in tables:
                        conn.execute(sql.SQL("SELECT count(*), sum({}) FROM ONLY {} AS r").format(
                            expression_of(schema[r.key]["columns"]), sql.Identifier(r.schema, r.name))).fetchone()
                return min(seconds(scan) for _ in range(2))  # the better of two: caches warm

            def v2(native_jsonb: bool):
                from psycopg import sql

                def expression(columns):
                    if not native_jsonb:
                        return manifest.row_hash_expression(columns, manifest.TYPED)
                    parts = [sql.SQL("r.{}").format(sql.Identifier(c["name"])) if c["type"] == "jsonb"
                             else manifest._column_hash_input(c) for c in columns]
                    return sql.SQL("pg_catalog.hashint8extended(0, pg_catalog.hash_record_extended(ROW({}), 0))"
                                   ).format(sql.SQL(", ").join(parts))
                return expression

            def linear(columns):
                from psycopg import sql

                native = {"jsonb", "double precision", "real"}
                parts = [sql.SQL("r.{}").format(sql.Identifier(c["name"])) if c["type"] in native
                         else manifest._column_hash_input(c) for c in columns]
                return sql.SQL("pg_catalog.hash_record_extended(ROW({}), 0)").format(sql.SQL(", ").join(parts))

            from psycopg import sql

            scan = run(lambda columns: sql.SQL("0"))
            rows = [("bare scan (count(*))", scan),
                    ("typed (old, linear)", run(linear)),
                    ("typed-v2, jsonb natively", run(v2(True))),
                    ("typed-v2 (the manifest's)", run(v2(False)))]
        whole = seconds(lambda: backup.measure(source, workers=1))

        def unchunked():
            with source.connect("bench", read_only=True) as conn:
                manifest.configure_session(conn)
                manifest.begin_snapshot(conn)
                manifest.describe(conn, chunk_blocks=1 << 40)
                conn.rollback()

        whole_unchunked = seconds(unchunked)
        dump = seconds(lambda: subprocess.run([backup.program("pg_dump"), "--no-password", "--format=p",
                                               f"--file={tmp}/bare.sql", "--dbname", source.conninfo()],
                                              env=source.child_env(), check=True, timeout=3600))
    print(f"{'hash over every table':32} {'seconds':>8} {'over the scan':>14}")
    for label, value in rows:
        print(f"{label:32} {value:8.2f} {value - scan:+14.2f}")
    print(f"{'whole manifest (1 worker)':32} {whole:8.2f}")
    print(f"{'  the same, no block ranges':32} {whole_unchunked:8.2f}")
    print(f"{'bare pg_dump --file':32} {dump:8.2f}   manifest / dump: {whole / dump:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
