#!/usr/bin/env python3
"""Benchmark: the database step's probe and connect deadline, each beside a bare psycopg baseline.

    python bench/db_probe.py [--repeat N] [--timeout SECONDS]

In one run, on one throwaway cluster (fixtures.pgcluster.LocalCluster):

1. healthy probe: ``flash_green_ops.database.probe`` (connect, SELECT 1 x3, version, pg_dump --version,
   pg_stat_ssl, alembic) against the baseline ``psycopg.connect`` + ``SELECT 1``; median and
   best of N, and the ratio probe / baseline (the probe runs at every pod start);
2. two silent addresses (loopback listeners that accept TCP and never answer): the suite's
   ``ConnSettings.connect`` against bare ``psycopg.connect(connect_timeout=T)`` with the same
   host list; the suite must end within T + 1 s (T at least 2 s: libpq's floor, see
   ConnSettings.connect), the baseline waits T per address (libpq's T: whole seconds, at least 2).
"""
from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
import timeit
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # runnable from a checkout

import psycopg  # noqa: E402

from fixtures.pgcluster import LocalCluster  # noqa: E402
from flash_green_ops import database  # noqa: E402
from flash_green_ops.credentials import database_endpoint  # noqa: E402
from flash_green_ops.pg import LIBPQ_MIN_CONNECT_TIMEOUT, DatabaseUnreachable  # noqa: E402
from flash_green_ops.preflight import new_context  # noqa: E402
from flash_green_ops.contract import load_contract  # noqa: E402
from flash_green_ops.envfile import parse_env_text  # noqa: E402
from flash_green_ops.settings import Settings  # noqa: E402
from tests.conftest import silent_listener  # noqa: E402


def context(url: str, timeout: float):
    return new_context(parse_env_text(f"DATABASE_URL={url}\n", "bench.env"), load_contract(),
                        Settings(db_connect_timeout=timeout))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--timeout", type=float, default=2.0)
    args = parser.parse_args()

    with LocalCluster() as cluster:
        url = cluster.dsn("postgres") + "?sslmode=disable"
        ctx = context(url, args.timeout)

        def baseline():
            with psycopg.connect(url, connect_timeout=5) as conn:
                conn.execute("SELECT 1").fetchone()

        def probe():
            findings = database.run(ctx)
            assert findings[0].status.value == "PASS", findings[0].message

        baseline(), probe()  # warm up imports and the server's caches
        base = timeit.repeat(baseline, number=1, repeat=args.repeat)
        ours = timeit.repeat(probe, number=1, repeat=args.repeat)
        print(f"healthy, {args.repeat} runs: baseline connect+SELECT 1 median {statistics.median(base) * 1000:.1f} ms "
              f"(best {min(base) * 1000:.1f}); probe median {statistics.median(ours) * 1000:.1f} ms "
              f"(best {min(ours) * 1000:.1f}); ratio probe/baseline {statistics.median(ours) / statistics.median(base):.1f}")

    # libpq's connect_timeout is whole seconds, 0 means "wait forever" and anything under 2 is
    # taken as 2: int(0.5) would be 0. The baseline gets the nearest timeout libpq can do.
    libpq_timeout = max(LIBPQ_MIN_CONNECT_TIMEOUT, math.ceil(args.timeout))
    # The suite's documented deadline: --timeout, but libpq's 2 s floor for the first attempt.
    limit = max(args.timeout, LIBPQ_MIN_CONNECT_TIMEOUT) + 1
    with silent_listener("127.0.0.1") as port, silent_listener("127.0.0.2", port):
        silent = f"postgresql://bench:bench-password@127.0.0.1:{port},127.0.0.2:{port}/bench"
        started = time.monotonic()
        try:
            psycopg.connect(silent, connect_timeout=libpq_timeout)
        except psycopg.OperationalError:
            pass
        base_s = time.monotonic() - started
        settings = database_endpoint(context(silent, args.timeout))
        started = time.monotonic()
        try:
            settings.connect()
        except DatabaseUnreachable:
            pass
        ours_s = time.monotonic() - started
    print(f"two silent addresses, timeout {args.timeout:g} s: bare psycopg (connect_timeout={libpq_timeout}) "
          f"{base_s:.2f} s; suite {ours_s:.2f} s "
          f"(limit {limit:g} s); ratio suite/baseline {ours_s / base_s:.2f}")
    return 0 if ours_s < limit else 1


if __name__ == "__main__":
    sys.exit(main())
