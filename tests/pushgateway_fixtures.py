"""``pushgateway`` (module): a real Pushgateway (fixtures/pushgateway.py) on a loopback port,
stopped at the end of the module whatever happens; skipped outside CI when it is not installed."""
from __future__ import annotations

import pytest

from fixtures.pushgateway import Pushgateway
from fixtures.services import ServiceUnavailable
from tests.conftest import skip_unless_ci


@pytest.fixture(scope="module")
def pushgateway(tmp_path_factory):
    try:
        gateway = Pushgateway(tmp_path_factory.mktemp("pushgateway"))
    except ServiceUnavailable as exc:
        skip_unless_ci(str(exc))
    try:
        gateway.start()
        yield gateway
    finally:
        gateway.stop()


def gateway_metrics(gateway: Pushgateway) -> str:
    """The gateway's own /metrics: what Prometheus scrapes from it."""
    import requests

    response = requests.get(f"{gateway.url}/metrics", timeout=10)
    response.raise_for_status()
    return response.text
