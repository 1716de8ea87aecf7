#!/usr/bin/env python3
"""How much the preflight costs at pod start, against a bare interpreter.

    python bench/preflight_startup.py [--runs N] [--no-full]

1. The env stage: the median wall time of `python -c pass` (the floor every pod start pays)
   and of `preflight --stage env` on the staging template filled in as an operator would (so
   it passes: the template itself fails on its placeholders, and a failing run would measure
   less), interleaved, and their ratio (target <= 3x). Heavy libraries (boto3, hvac, psycopg,
   requests) are not imported by the env stage (tests/test_imports.py): the difference shows
   if they are.
2. The full preflight (env, secrets, db: the default stages) on healthy local services: a
   throwaway PostgreSQL cluster (fixtures.pgcluster.LocalCluster) and a real OpenBao with TLS
   (fixtures.openbao.BaoServer) holding the secret bundle; the median wall time (target <= 1.0 s).
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # runnable from a checkout
# env.staging.example's placeholders -> sample values (not secrets: nothing here is real).
FILLED = {"<staging-api-key>": "k-bench-5e4d3c", "<header-your-proxy-sets>": "X-Client-Cert-Subject",
          "<db-user>:<db-password>@<db-host>:5432/<db-name>": "fg:bench-pw@db.staging.internal:5432/fg",
          "<vault-host>": "vault.staging.internal", "<vault-token>": "hvs.bench-token",
          "<mount>/flash-green/staging": "kv/flash-green/staging"}


def run_seconds(command: list[str]) -> float:
    """Wall time of ``command``; it must exit 0 (a run that fails early looks cheap)."""
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, cwd=REPO, timeout=60)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command[1:3])} exited {result.returncode}: no figures\n"
                         f"{result.stdout[-3000:]}{result.stderr[-2000:]}")
    return elapsed


def filled_template(**overrides: str) -> str:
    text = (REPO / "env.staging.example").read_text()
    for placeholder, value in FILLED.items():
        text = text.replace(placeholder, value)
    lines = [line for line in text.splitlines() if line.split("=", 1)[0] not in overrides]
    return "\n".join(lines + [f"{k}={v}" for k, v in overrides.items()]) + "\n"


def env_stage(runs: int, tmp: Path) -> None:
    env_file = tmp / ".env.staging"
    env_file.write_text(filled_template())
    baseline, preflight = [], []
    for _ in range(runs):  # interleaved: load on the machine falls on both alike
        baseline.append(run_seconds([sys.executable, "-c", "pass"]))
        preflight.append(run_seconds([sys.executable, "scripts/preflight_check.py", "--stage", "env",
                                      "--env-file", str(env_file)]))
    b, p = statistics.median(baseline), statistics.median(preflight)
    print(f"python -c pass                   {b * 1000:8.1f} ms (median of {runs})")
    print(f"preflight --stage env            {p * 1000:8.1f} ms (median of {runs})")
    print(f"ratio                            {p / b:8.2f}x  (+{(p - b) * 1000:.1f} ms; target <= 3x)")


def full_preflight(runs: int, tmp: Path) -> None:
    from fixtures.openbao import BaoServer
    from fixtures.pgcluster import LocalCluster
    from fixtures.ports import PortReservation
    from tests.secrets_scenarios import bundle, healthy_vault

    with LocalCluster() as cluster:
        bao = BaoServer(PortReservation(), tmp)
        bao.start()
        client = bao.client()
        try:
            vault = healthy_vault(client, bao, bundle(DB_PASSWORD=cluster.password))
            env_file = tmp / ".env.full"
            env_file.write_text(filled_template(
                DATABASE_URL=f"postgresql://{cluster.superuser}@{cluster.host}:{cluster.port}/postgres?sslmode=prefer",
                **vault))
            command = [sys.executable, "scripts/preflight_check.py", "--env-file", str(env_file)]
            times = [run_seconds(command) for _ in range(runs)]
        finally:
            client.adapter.close()
            bao.stop()
    print(f"preflight (env, secrets, db) on a local PostgreSQL and OpenBao: median {statistics.median(times):.3f} s, "
          f"best {min(times):.3f} s of {runs} (target <= 1.0 s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--no-full", action="store_true", help="skip the full preflight on local services")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="flashgreen-bench-") as tmp:
        env_stage(args.runs, Path(tmp))
        if not args.no_full:
            full_preflight(args.runs, Path(tmp))


if __name__ == "__main__":
    main()
