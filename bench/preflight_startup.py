#!/usr/bin/env python3
"""How much the env stage of the preflight costs at pod start, against a bare interpreter.

    python bench/preflight_startup.py [--runs N]

Prints the median wall time of `python -c pass` (the floor every pod start pays), of the
preflight's env stage on the staging template filled in as an operator would (so it passes:
the template itself fails on its placeholders, and a failing run would measure less), and
their ratio. Heavy libraries (boto3, hvac,
psycopg's pool, requests) must not be imported by the env stage: the difference shows if they are.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import timeit
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# env.staging.example's placeholders -> sample values (not secrets: nothing here is real).
FILLED = {"<staging-api-key>": "k-bench-5e4d3c", "<header-your-proxy-sets>": "X-Client-Cert-Subject",
          "<db-user>:<db-password>@<db-host>:5432/<db-name>": "fg:bench-pw@db.staging.internal:5432/fg",
          "<vault-host>": "vault.staging.internal", "<vault-token>": "hvs.bench-token",
          "<mount>/flash-green/staging": "kv/flash-green/staging"}


def median_seconds(command: list[str], runs: int) -> float:
    """Median wall time of ``command``; it must exit 0 (a run that fails early looks cheap)."""
    return statistics.median(timeit.repeat(
        lambda: subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=REPO,
                               timeout=60, check=True),
        number=1, repeat=runs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    text = (REPO / "env.staging.example").read_text()
    for placeholder, value in FILLED.items():
        text = text.replace(placeholder, value)
    baseline = median_seconds([sys.executable, "-c", "pass"], args.runs)
    with tempfile.TemporaryDirectory(prefix="flashgreen-bench-") as tmp:
        env_file = Path(tmp) / ".env.staging"
        env_file.write_text(text)
        preflight = median_seconds([sys.executable, "scripts/preflight_check.py", "--stage", "env",
                                    "--env-file", str(env_file)], args.runs)
    print(f"python -c pass            {baseline * 1000:8.1f} ms (median of {args.runs})")
    print(f"preflight --stage env     {preflight * 1000:8.1f} ms (median of {args.runs})")
    print(f"ratio                     {preflight / baseline:8.2f}x  (+{(preflight - baseline) * 1000:.1f} ms)")


if __name__ == "__main__":
    main()
