#!/usr/bin/env python3
"""Benchmark: the suite's backup + restore + verify against the bare ``pg_dump | psql`` round trip.

    python bench/backup_roundtrip.py --size-mb 1000 [--format plain] [--jobs 1] [--verify-jobs 2] [--compress 0]

In one run, on one throwaway cluster (fixtures.pgcluster.LocalCluster): generates a database
of about N MB of realistic rows (numeric, timestamptz, text, jsonb, bytea; primary keys, a
unique and a secondary index, a foreign key), then times

1. baseline: ``pg_dump SRC | psql -v ON_ERROR_STOP=1 NEW`` (what the runbook does, piped);
2. reference: bare ``pg_dump --file`` in the suite's format (to isolate the manifest's cost);
3. suite: the runbook test's round trip: flash_green_ops.backup.backup (dump + manifest in the dump's
   snapshot) writing the file and restoring from the same stream, then verify (--separate:
   backup to a file, then restore from it);

and prints each, the ratio suite / baseline (target <= 1.3 at 1,000 MB), the manifest's own
cost, and peak memory (max RSS of this process and of its largest child), which must not grow
with the database: hashing runs server-side, files are streamed.
"""
from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fixtures.pgcluster import LocalCluster  # noqa: E402
from flash_green_ops import backup  # noqa: E402

BYTES_PER_TRADE = 280  # measured: table + indexes per row of the trade table, PostgreSQL 15
BATCH = 250_000
# Only stops a hung child: a 1,000 MB step takes minutes here, so an hour is generous.
STEP_TIMEOUT = 3600

SCHEMA = """
CREATE TABLE account (
    id bigserial PRIMARY KEY,
    name text NOT NULL,
    email text NOT NULL UNIQUE,
    opened_at timestamptz NOT NULL,
    balance numeric(18,4) NOT NULL,
    profile jsonb NOT NULL
);
CREATE TABLE trade (
    id bigserial PRIMARY KEY,
    account_id bigint NOT NULL REFERENCES account (id),
    traded_at timestamptz NOT NULL,
    price numeric(18,6) NOT NULL,
    quantity numeric(18,3) NOT NULL,
    side text NOT NULL CHECK (side IN ('buy', 'sell')),
    venue text NOT NULL,
    meta jsonb NOT NULL,
    signature bytea NOT NULL
);
CREATE INDEX trade_account_time_idx ON trade (account_id, traded_at);
"""

ACCOUNTS = """
INSERT INTO account (name, email, opened_at, balance, profile)
SELECT 'Trader ' || i, 'trader' || i || '@example.com',
       timestamptz '2020-01-01 00:00+00' + i * interval '17 minutes',
       round((random() * 1e6)::numeric, 4),
       jsonb_build_object('tier', i % 5, 'country', (ARRAY['DE','FR','GB','US','JP'])[1 + i % 5],
                          'tags', jsonb_build_array('a' || (i % 7), 'b' || (i % 11)))
FROM generate_series(1, %(n)s) i
"""

TRADES = """
INSERT INTO trade (account_id, traded_at, price, quantity, side, venue, meta, signature)
SELECT 1 + (i %% %(accounts)s), timestamptz '2023-01-01 00:00+00' + i * interval '1.3 seconds',
       round((50 + random() * 100)::numeric, 6), round((random() * 1000)::numeric, 3),
       CASE WHEN i %% 2 = 0 THEN 'buy' ELSE 'sell' END, (ARRAY['XETRA','EPEX','NORDPOOL','ICE'])[1 + i %% 4],
       jsonb_build_object('order_id', md5(i::text), 'latency_us', i %% 997, 'flags', jsonb_build_array(i %% 3 = 0, i %% 5 = 0)),
       decode(md5(i::text) || md5((i + 1)::text), 'hex')
FROM generate_series(%(first)s, %(last)s) i
"""


def generate(cluster: LocalCluster, size_mb: int) -> tuple[int, float]:
    trades = max(10_000, size_mb * 1_000_000 // BYTES_PER_TRADE)
    accounts = max(1_000, trades // 50)
    cluster.create_database("source")
    started = time.monotonic()
    with cluster.connect("source") as conn:
        conn.execute(SCHEMA)
        conn.execute(ACCOUNTS.replace("%(n)s", str(accounts)))
        for first in range(1, trades + 1, BATCH):
            last = min(trades, first + BATCH - 1)
            conn.execute(TRADES % {"accounts": accounts, "first": first, "last": last})
        conn.execute("VACUUM ANALYZE")
        size = conn.execute("SELECT pg_database_size('source')").fetchone()[0]
    return size, time.monotonic() - started


def timed(label: str, results: dict, fn):
    started = time.monotonic()
    value = fn()
    results[label] = time.monotonic() - started
    print(f"  {label:<28} {results[label]:8.2f} s", flush=True)
    return value


def baseline(cluster: LocalCluster, source: backup.PgEndpoint, name: str) -> None:
    cluster.create_database(name)
    target = source.with_params(dbname=name)
    dump = subprocess.Popen([backup.program("pg_dump"), "--no-password", "--dbname", source.conninfo()],
                            stdout=subprocess.PIPE, env=source.child_env())
    try:
        load = subprocess.run([backup.program("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "--no-password",
                               "--dbname", target.conninfo()], stdin=dump.stdout, stdout=subprocess.DEVNULL,
                              env=target.child_env(), timeout=STEP_TIMEOUT)
        dump.stdout.close()
        dumped = dump.wait(timeout=60)  # psql read the whole dump: pg_dump is exiting
    except subprocess.TimeoutExpired as exc:
        raise SystemExit(f"baseline pg_dump | psql: {exc.cmd[0]} did not finish within {exc.timeout:g} s") from None
    finally:
        if dump.poll() is None:  # only after a timeout: never leave pg_dump behind
            dump.kill()
            dump.wait()
        dump.stdout.close()
    if dumped != 0 or load.returncode != 0:
        raise SystemExit("baseline pg_dump | psql failed")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, required=True, help="approximate database size to generate")
    parser.add_argument("--format", choices=backup.FORMATS, default="plain", help="the suite's dump format")
    parser.add_argument("--jobs", type=int, default=1, help="pg_dump/pg_restore jobs (directory format for dump)")
    parser.add_argument("--verify-jobs", type=int, default=2, help="read-only sessions for verify")
    parser.add_argument("--compress", help="pg_dump --compress for custom/directory (0: none)")
    parser.add_argument("--separate", action="store_true",
                        help="time backup to a file, then restore from it (default: the round trip as the "
                             "runbook test runs it, restoring from the backup's own stream)")
    args = parser.parse_args(argv)

    results: dict[str, float] = {}
    # No checkpoint in the middle of one measurement and not another: WAL room for every load.
    settings = {"max_wal_size": "'32GB'", "checkpoint_timeout": "'1h'", "maintenance_work_mem": "'256MB'"}
    with LocalCluster(server_settings=settings) as cluster, \
            tempfile.TemporaryDirectory(prefix="flashgreen-bench-") as tmp:
        print(f"PostgreSQL cluster on port {cluster.port}; generating ~{args.size_mb} MB ...", flush=True)
        size, gen_seconds = generate(cluster, args.size_mb)
        print(f"  generated {size / 1e6:.0f} MB (pg_database_size) in {gen_seconds:.1f} s", flush=True)
        source = backup.PgEndpoint.from_conninfo(cluster.dsn("source"), connect_timeout=10)

        print("baseline: pg_dump | psql", flush=True)
        timed("pg_dump | psql", results, lambda: baseline(cluster, source, "baseline"))

        print(f"reference: bare pg_dump --format={args.format} to a file", flush=True)
        flag = {"plain": "p", "custom": "c", "directory": "d"}[args.format]
        ref_args = [backup.program("pg_dump"), "--no-password", f"--format={flag}", f"--file={tmp}/reference"]
        if args.format == "directory" and args.jobs > 1:
            ref_args.append(f"--jobs={args.jobs}")
        if args.compress is not None:
            ref_args.append(f"--compress={args.compress}")
        timed("bare pg_dump to file", results, lambda: subprocess.run(
            ref_args + ["--dbname", source.conninfo()], env=source.child_env(), check=True, timeout=STEP_TIMEOUT))

        dump_jobs = args.jobs if args.format == "directory" else 1
        cluster.create_database("restored")
        target = source.with_params(dbname="restored")
        if args.separate or args.format == "directory":
            print(f"suite: backup ({args.format}) to a file, restore from it, verify", flush=True)
            result = timed("backup (dump + manifest)", results, lambda: backup.backup(
                source, Path(tmp) / "suite.dump", fmt=args.format, jobs=dump_jobs, compress=args.compress))
            timed("restore", results, lambda: backup.restore(target, result.path, manifest=result.manifest,
                                                            jobs=args.jobs if args.format != "plain" else 1))
        else:
            # The manifest's own cost, apart from the restore: the same dump to a file, with and
            # without the manifest beside it.
            print(f"suite: backup ({args.format}) alone, to a file (the manifest's own cost)", flush=True)
            alone = timed("backup alone (dump + manifest)", results, lambda: backup.backup(
                source, Path(tmp) / "alone.dump", fmt=args.format, compress=args.compress))
            alone.path.unlink()
            print(f"suite: backup ({args.format}) streamed into the restore, then verify", flush=True)
            result = timed("backup + restore", results, lambda: backup.backup(
                source, Path(tmp) / "suite.dump", fmt=args.format, compress=args.compress, restore_into=target))
        findings = timed("verify", results, lambda: backup.verify(target, result.manifest, workers=args.verify_jobs))
        bad = [f"{f.check}: {f.message}" for f in findings if f.status.value == "FAIL"]
        if bad:
            print("VERIFY FAILED:\n  " + "\n  ".join(bad))
            return 1
        # The baseline again, after the suite: the mean of both runs cancels drift (cache
        # warm-up, a busy neighbour) between the first and the last measurement.
        print("baseline again: pg_dump | psql", flush=True)
        timed("pg_dump | psql (again)", results, lambda: baseline(cluster, source, "baseline2"))

    steps = [k for k in ("backup (dump + manifest)", "restore", "backup + restore", "verify") if k in results]
    # (the backup alone is a measurement of the manifest's cost, not a step of the round trip)
    suite = sum(results[k] for k in steps)
    backup_key = "backup (dump + manifest)" if "restore" in results else "backup + restore"
    base = (results["pg_dump | psql"] + results["pg_dump | psql (again)"]) / 2
    self_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    manifest_seconds = result.manifest.data["timings"]["manifest_seconds"]
    print()
    print(f"database size           {size / 1e6:10.0f} MB   dump {result.manifest.data['dump']['size'] / 1e6:.0f} MB "
          f"({args.format}), {sum(t['rows'] for t in result.manifest.tables.values())} rows")
    print(f"baseline pg_dump|psql   {base:10.2f} s   (mean of {results['pg_dump | psql']:.2f} before and "
          f"{results['pg_dump | psql (again)']:.2f} after the suite)")
    print(f"suite total             {suite:10.2f} s   (" + " + ".join(f"{k} {results[k]:.2f}" for k in steps) + ")")
    print(f"ratio suite/baseline    {suite / base:10.2f}     (target <= 1.30 at 1,000 MB)")
    print(f"manifest                {manifest_seconds:10.2f} s   computed alongside pg_dump, in its snapshot")
    alone_key = backup_key if "restore" in results else "backup alone (dump + manifest)"
    own = results[alone_key] - results["bare pg_dump to file"]
    print(f"manifest's own cost     {own:+10.2f} s   ({alone_key} - bare pg_dump to file: manifest, SHA-256)")
    print(f"ratio own cost/dump     {own / results['bare pg_dump to file']:10.2f}     (target <= 0.30)")
    print(f"peak memory             {self_rss:10.0f} MB  this process (max RSS); largest child {child_rss:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
