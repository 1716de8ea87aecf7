#!/usr/bin/env python3
"""Benchmark: seeding Flash Green's order flow, reconciling it, rehearsing its rollback.

    python bench/orderflow.py [--orders N]

In one run, on one throwaway cluster (fixtures.pgcluster.LocalCluster), at Alembic head:

1. the seed (fixtures/data/flashgreen_seed.sql, set-based: one statement per table) against
   the baseline of the same orders and fills inserted row by row (psycopg executemany, one
   transaction): seconds each and the ratio baseline / seed;
2. every shipped invariant's query on the seeded database (reconcile.run), each timed, beside
   a bare ``SELECT count(*) FROM orders`` (one scan of the largest table), and their ratio;
3. the whole rollback rehearsal (backup, restore into a scratch database, downgrade, invariants,
   upgrade, manifest comparison) beside the bare backup + restore it starts with.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # runnable from a checkout

from fixtures import flashgreen_data  # noqa: E402
from fixtures.pgcluster import LocalCluster  # noqa: E402
from flash_green_ops import backup, migrations, reconcile, rehearsal  # noqa: E402
from flash_green_ops.findings import Status  # noqa: E402
from flash_green_ops.pg import PgEndpoint  # noqa: E402
from flash_green_ops.scratchdb import ScratchDatabase  # noqa: E402


def timed(action) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def row_by_row(endpoint: PgEndpoint, orders: int) -> None:
    """The baseline: the seed's accounts, instruments, orders and fills, one INSERT per row."""
    migrations.upgrade(endpoint)
    with endpoint.connect("bench", autocommit=False) as conn:
        cur = conn.cursor()
        cur.executemany("INSERT INTO accounts (name) VALUES (%s)", [(f"account-{g}",) for g in range(1, 42)])
        cur.executemany("INSERT INTO instruments (symbol, unit) VALUES (%s, 'MWh')", [(f"FG-{g}",) for g in range(8)])
        status = ["filled"] * 6 + ["partially_filled"] * 2 + ["cancelled", "open"]
        cur.executemany(
            "INSERT INTO orders (account_id, instrument_id, side, quantity, limit_price, status, client_ref) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s)",
            [(1 + g % 40, 1 + (g // 40) % 8, "buy" if g % 2 == 0 else "sell", 10 + g % 90, 40 + (g % 300) / 10,
              status[g % 10], f"client-{g}") for g in range(1, orders + 1)])
        fills = []
        for g in range(1, orders + 1):
            q = 10 + g % 90
            if status[g % 10] == "filled":
                fills += [(g, q - q // 3), (g, q // 3)]
            elif status[g % 10] == "partially_filled":
                fills.append((g, q // 2))
        cur.executemany("INSERT INTO fills (order_id, quantity, price) VALUES (%s, %s, 50)", fills)
        conn.commit()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=50000)
    args = parser.parse_args()

    with LocalCluster() as cluster:
        cluster.create_role("bench", "bench-pw")
        for name in ("seeded", "baseline"):
            cluster.create_database(name, owner="bench")
        seeded = PgEndpoint.from_conninfo(cluster.dsn("seeded", "bench", "bench-pw"), connect_timeout=10)
        baseline = PgEndpoint.from_conninfo(cluster.dsn("baseline", "bench", "bench-pw"), connect_timeout=10)

        seed_s = timed(lambda: flashgreen_data.create(seeded, args.orders))
        base_s = timed(lambda: row_by_row(baseline, args.orders))
        print(f"seed, {args.orders} orders: set-based {seed_s:.2f} s (orders, fills, positions, settlements), "
              f"row by row {base_s:.2f} s (orders and fills only): ratio {base_s / seed_s:.1f}x")

        with seeded.connect("bench") as conn:
            scan_s = timed(lambda: conn.execute("SELECT count(*) FROM orders").fetchone())
        findings = reconcile.run(seeded, reconcile.load())
        for f in findings:
            print(f"  {f.check:45} {f.status.value} {f.duration * 1000:8.1f} ms "
                  f"({f.duration / scan_s:.1f}x one count(*) of orders, {scan_s * 1000:.1f} ms)")
        total = sum(f.duration for f in findings)
        print(f"reconcile: {len(findings)} invariants in {total:.2f} s ({total / scan_s:.1f}x one count(*) scan)")

        server = PgEndpoint.from_conninfo(cluster.dsn(), connect_timeout=10)

        def bare_round_trip():
            with ScratchDatabase(server) as scratch, tempfile.TemporaryDirectory() as directory:
                backup.backup(seeded, Path(directory) / "b.sql", restore_into=scratch.endpoint)

        bare_s = timed(bare_round_trip)
        outcome = []
        rehearsal_s = timed(lambda: outcome.extend(
            rehearsal.rehearse(seeded, server, migrations.PACKAGED_CONFIG, reconcile.load())))
        print(f"rollback rehearsal {rehearsal_s:.2f} s, its backup + restore alone {bare_s:.2f} s: "
              f"ratio {rehearsal_s / bare_s:.1f}x")
        # A figure of a run that failed measures nothing: say so and fail.
        broken = [f for f in findings + outcome if f.status is Status.FAIL]
        for f in broken:
            print(f"FAILED {f.check}: {f.message}")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
