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

- ``typed-v2`` with the large table split into block ranges, as several workers share it (one
  worker hashes every table whole: this row says why).

Then the whole manifest (``describe``: catalogs, sequences, every table, one worker) and the
bare ``pg_dump --file``, the reference the manifest's own cost is compared with.
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
from psycopg import sql  # noqa: E402


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

            def best_of_two(scan) -> float:
                return min(seconds(scan) for _ in range(2))  # the better of two: caches warm

            def run(expression_of) -> float:
                def scan():
                    for r in tables:
                        conn.execute(sql.SQL("SELECT count(*), sum({}) FROM ONLY {} AS r").format(
                            expression_of(schema[r.key]["columns"]), sql.Identifier(r.schema, r.name))).fetchone()
                return best_of_two(scan)

            def with_native(types: set[str], mixed: bool):
                """The manifest's row hash, but ``types`` hashed natively (as the old hash did)."""
                def expression(columns):
                    parts = sql.SQL(", ").join(
                        sql.SQL("r.{}").format(sql.Identifier(c["name"])) if c["type"] in types
                        else manifest._column_hash_input(c) for c in columns)
                    row = sql.SQL("pg_catalog.hash_record_extended(ROW({}), 0)").format(parts)
                    return sql.SQL("pg_catalog.hashint8extended(0, {})").format(row) if mixed else row
                return expression

            def in_block_ranges() -> float:
                """typed-v2 on one connection, large tables in CHUNK_BLOCKS ranges (as the
                manifest's workers share them)."""
                jobs = [job for r in tables for job in manifest._jobs_for(
                    r, schema[r.key]["columns"], manifest.TYPED, conn.info.server_version, manifest.CHUNK_BLOCKS)]
                return best_of_two(lambda: [manifest.run_hash_job(conn, job) for job in jobs])

            scan = run(lambda columns: sql.SQL("0"))
            rows = [("bare scan (count(*))", scan),
                    ("typed (old, linear)", run(with_native({"jsonb", "double precision", "real"}, mixed=False))),
                    ("typed-v2, jsonb natively", run(with_native({"jsonb"}, mixed=True))),
                    ("typed-v2 (the manifest's)", run(lambda columns: manifest.row_hash_expression(
                        columns, manifest.TYPED))),
                    ("  the same, in block ranges", in_block_ranges())]
        whole = seconds(lambda: backup.measure(source, workers=1))
        dump = seconds(lambda: subprocess.run([backup.program("pg_dump"), "--no-password", "--format=p",
                                               f"--file={tmp}/bare.sql", "--dbname", source.conninfo()],
                                              env=source.child_env(), check=True, timeout=3600))
    print(f"{'hash over every table':32} {'seconds':>8} {'over the scan':>14}")
    for label, value in rows:
        print(f"{label:32} {value:8.2f} {value - scan:+14.2f}")
    print(f"{'whole manifest (1 worker)':32} {whole:8.2f}")
    print(f"{'bare pg_dump --file':32} {dump:8.2f}   manifest / dump: {whole / dump:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
