#!/usr/bin/env python3
"""Time the metrics step's scrape + parse + lint of node_exporter's sample beside promtool.

Ours: a real HTTP scrape (requests, the step's own http_get) of the sample served by a werkzeug
server on loopback, then parse (prometheus_client, flash_green_ops/metrics/exposition.py) and lint
(flash_green_ops/metrics/promlint.py). Baseline, in the same run: ``promtool check metrics < sample`` as a
subprocess (what an operator would run; it includes promtool's process start). Each is
repeated; the median and the best are printed, and the ratio ours / promtool.

    python bench/metrics_bench.py [--sample PATH] [--repeat N]
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # runnable from a checkout

from fixtures.wsgi_server import ThreadedWsgiServer  # noqa: E402
from flash_green_ops import metrics  # noqa: E402
from flash_green_ops.metrics.exposition import format_of, parse  # noqa: E402
from flash_green_ops.metrics.promlint import lint_families  # noqa: E402

DEFAULT_SAMPLE = REPO / "tests" / "data" / "node_exporter_e2e.prom"


def server_of(body: bytes) -> ThreadedWsgiServer:
    """A loopback server answering every path with ``body`` as exposition text (not started)."""
    from werkzeug.wrappers import Response

    def app(environ, start_response):
        return Response(body, content_type="text/plain; version=0.0.4; charset=utf-8")(environ, start_response)

    return ThreadedWsgiServer(app, "metrics-bench")


def time_ours(url: str, repeat: int) -> dict[str, list[float]]:
    times = {"scrape": [], "parse": [], "lint": [], "total": []}
    for _ in range(repeat):
        t0 = time.perf_counter()
        response = metrics.http_get(url, 5.0, metrics.PROMETHEUS_ACCEPT)
        t1 = time.perf_counter()
        exposition = parse(response.body, format_of(response.content_type))
        t2 = time.perf_counter()
        problems = lint_families(exposition.families)
        t3 = time.perf_counter()
        for key, value in (("scrape", t1 - t0), ("parse", t2 - t1), ("lint", t3 - t2), ("total", t3 - t0)):
            times[key].append(value)
    times["problems"] = [len(problems)]
    return times


def time_promtool(binary: str, sample: Path, repeat: int) -> tuple[list[float], int, int]:
    times, code, lines = [], 0, 0
    data = sample.read_bytes()
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = subprocess.run([binary, "check", "metrics"], input=data, capture_output=True, timeout=120)
        times.append(time.perf_counter() - t0)
        code, lines = result.returncode, len(result.stderr.splitlines())
    return times, code, lines


def fmt(values: list[float]) -> str:
    return f"median {statistics.median(values) * 1000:8.1f} ms   best {min(values) * 1000:8.1f} ms"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sample", type=Path, default=DEFAULT_SAMPLE)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args(argv)
    if not args.sample.is_file():
        parser.exit(2, f"{parser.prog}: error: no sample at {args.sample} (see --sample)\n")
    body = args.sample.read_bytes()
    lines = body.count(b"\n")
    print(f"sample: {args.sample} ({len(body)} bytes, {lines} lines), {args.repeat} repetitions")

    with server_of(body) as server:
        url = f"{server.url}/metrics"
        metrics.http_get(url, 5.0)  # warm-up: imports, first connection
        ours = time_ours(url, args.repeat)
    for key in ("scrape", "parse", "lint", "total"):
        print(f"ours     {key:<7} {fmt(ours[key])}")
    print(f"ours     lint problems: {ours['problems'][0]}")

    binary = shutil.which("promtool")
    if not binary:
        print("promtool: not installed (Debian package prometheus): no baseline, no ratio")
        return 1  # the ratio is this benchmark's result: without it, the run did not do its job
    theirs, code, lines = time_promtool(binary, args.sample, args.repeat)
    print(f"promtool check metrics {fmt(theirs)}   (exit {code}, {lines} problems)")
    ratio_median = statistics.median(ours["total"]) / statistics.median(theirs)
    ratio_best = min(ours["total"]) / min(theirs)
    print(f"ratio ours(scrape+parse+lint) / promtool: median {ratio_median:.2f}x   best {ratio_best:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
