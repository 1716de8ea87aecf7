#!/usr/bin/env python3
"""How much the env stage of the preflight costs at pod start, against a bare interpreter.

    python bench/preflight_startup.py [--runs N]

Prints the median wall time of `python -c pass` (the floor every pod start pays), of the
preflight's env stage on the staging template, and their ratio. Heavy libraries (boto3, hvac,
psycopg's pool, requests) must not be imported by the env stage: the difference shows if they are.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import timeit
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def median_seconds(command: list[str], runs: int) -> float:
    return statistics.median(timeit.repeat(
        lambda: subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=REPO),
        number=1, repeat=runs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    baseline = median_seconds([sys.executable, "-c", "pass"], args.runs)
    preflight = median_seconds([sys.executable, "scripts/preflight_check.py", "--stage", "env",
                                "--env-file", "env.staging.example"], args.runs)
    print(f"python -c pass            {baseline * 1000:8.1f} ms (median of {args.runs})")
    print(f"preflight --stage env     {preflight * 1000:8.1f} ms (median of {args.runs})")
    print(f"ratio                     {preflight / baseline:8.2f}x  (+{(preflight - baseline) * 1000:.1f} ms)")


if __name__ == "__main__":
    main()
