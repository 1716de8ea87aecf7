"""The local target's stand-in Flash Green process: real, moving metrics; stops cleanly."""
from __future__ import annotations

import socket
import time

import pytest

from fixtures.services import flash_green
from flash_green_ops import metrics
from flash_green_ops.metrics.exposition import format_of, parse
from flash_green_ops.metrics.promlint import RULESETS, lint_families


@pytest.fixture
def standin(tmp_path):
    service = flash_green.build(tmp_path)
    try:
        service.start()
        yield service
    finally:
        service.stop()


def scrape(service, accept=metrics.PROMETHEUS_ACCEPT):
    response = metrics.http_get(f"{service.env['SERVICE_URL']}/metrics", 5, accept)
    assert response.status == 200
    return parse(response.body, format_of(response.content_type))


def test_env_points_the_step_at_it(tmp_path):
    service = flash_green.build(tmp_path)
    try:
        assert service.env == {"SERVICE_URL": f"http://127.0.0.1:{service.port}",
                               "METRICS_PORT": str(service.port)}
        assert metrics.scrape_url(service.env) == f"http://127.0.0.1:{service.port}/metrics"
    finally:
        service.stop()  # never started: releases the port it holds


def test_it_serves_real_metrics_that_move(standin):
    first = scrape(standin)
    time.sleep(0.5)
    second = scrape(standin)
    types = {f.name: f.type for f in first.families}
    assert types["process_start_time_seconds"] == "gauge"
    assert types["flash_green_orders_total"] == "counter"
    assert types["flash_green_open_positions"] == "gauge"
    assert types["flash_green_order_latency_seconds"] == "histogram"

    def total(exposition, name, suffix=""):
        return sum(s.value for s in exposition.family(name).samples if s.name == name + suffix)

    assert total(second, "flash_green_trades_total") + total(second, "flash_green_orders_total") > \
        total(first, "flash_green_trades_total") + total(first, "flash_green_orders_total")
    assert total(second, "flash_green_order_latency_seconds", "_count") > \
        total(first, "flash_green_order_latency_seconds", "_count")
    # Both formats it negotiates parse, and are clean by promtool's rules (both rulesets).
    text = scrape(standin, "text/plain;version=0.0.4")
    assert text.format == "text" and first.format == "openmetrics"
    for exposition in (text, first):
        for ruleset in RULESETS:
            problems = [str(p) for p in lint_families(exposition.families, ruleset)]
            assert problems == [], f"{exposition.format}, {ruleset}"


def test_health_says_ok(standin):
    response = metrics.http_get(f"{standin.env['SERVICE_URL']}/health", 5)
    assert (response.status, response.body) == (200, b'{"status": "ok"}')


def test_stop_ends_the_process_and_frees_the_port(tmp_path):
    service = flash_green.build(tmp_path)
    try:
        service.start()
        process = service.executor.process.process  # mirakuru's executor, and its Popen
        started = time.monotonic()
        service.stop()
        assert process.returncode is not None and time.monotonic() - started < 5
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", service.port), timeout=1).close()
        assert not (tmp_path / "standin-service.log").exists()
    finally:
        service.stop()  # a second stop is harmless (and stops it if an assertion failed first)


@pytest.mark.parametrize("listening, reason", [
    # Something answers there: mirakuru does not start the process at all.
    (True, "AlreadyRunning: .*different service listening"),
    # The port is bound but silent: the process starts, cannot listen, and its own words say why.
    (False, "ProcessExitedWithError: .*exited with a non-zero code: 1.*Address already in use"),
])
def test_a_start_that_fails_says_why_and_leaves_nothing(tmp_path, listening, reason):
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    if listening:
        blocker.listen(1)
    executor = flash_green.ProcessExecutor(Taken(blocker.getsockname()[1]), tmp_path)
    try:
        with pytest.raises(RuntimeError, match=f"(?s)did not answer .*/health: {reason}"):
            executor.start()
    finally:
        blocker.close()
    assert executor.process is None
    assert not (tmp_path / "standin-service.log").exists()


class Taken:
    """A port another socket holds: the process cannot listen there."""

    def __init__(self, port: int):
        self.port = port

    def release(self) -> None:
        pass
