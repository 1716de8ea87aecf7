"""The adapters step against real counterparts: a ganache node (JSON-RPC over HTTP and WebSocket)
with a contract deployed, HTTPS APIs with certificates the tests make, a WebSocket feed."""
from __future__ import annotations

import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from fixtures.certs import CertificateAuthority, FeedServer, TlsHttpServer
from fixtures.ganache import CHAIN_ID, CONTRACT_ADDRESS, GanacheNode
from fixtures.ports import PortReservation
from fixtures.services import ServiceUnavailable, random_secret, write_env_file
from flash_green_ops import adapters, redact, tls
from flash_green_ops.findings import Status
from tests.conftest import (HandAnswer, assert_no_secrets, closed_port, port_is_free, run_ops_tests, run_script,
                            silent_listener, skip_unless_ci)
from tests.killed_run import assert_a_killed_run_takes_it_along
from tests.pg_fixtures import BASE_ENV, by_check, context, process_alive


@pytest.fixture(scope="module")
def ganache(tmp_path_factory):
    """A node that mines only on transactions (so a test can let its latest block age)."""
    node = GanacheNode(PortReservation(), tmp_path_factory.mktemp("ganache"), block_time=None)
    try:
        node.start()
    except ServiceUnavailable as exc:
        skip_unless_ci(str(exc))
    try:
        node.seed()
        yield node
    finally:
        node.stop()


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return CertificateAuthority("Adapters test CA").issue(tmp_path_factory.mktemp("certs"), "adapters")


@pytest.fixture
def write_env(tmp_path):
    def write(**values: str) -> Path:
        return write_env_file(tmp_path / "adapters.env",
                              {**BASE_ENV, "API_KEY": random_secret("adapters-api-key"), **values},
                              "written by tests/test_adapters.py")
    return write


def finding_of(path: Path, check: str, **settings):
    return by_check(adapters.run(context(path, **settings)))[check]


def web3_env(write_env, url: str, **values: str) -> Path:
    return write_env(**{"USE_WEB3_LOAN": "true", "WEB3_RPC_URL": url, "WEB3_LOAN_CONTRACT": CONTRACT_ADDRESS,
                        "WEB3_CHAIN_ID": str(CHAIN_ID), **values})


# -- web3 ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("scheme", ["http", "ws"])
def test_web3_node_with_the_contract_and_a_recent_block_passes(ganache, write_env, scheme):
    path = web3_env(write_env, ganache.url.replace("http", scheme))
    finding = finding_of(path, "adapters.web3")
    assert finding.status is Status.PASS, finding.message
    assert f"the web3 loan adapter (WEB3_RPC_URL, {path} line " in finding.message
    assert f"chain {CHAIN_ID} as WEB3_CHAIN_ID says; a contract at {CONTRACT_ADDRESS} (10 bytes); latest block #1" \
           in finding.message


def test_web3_chain_id_other_than_the_env_says_fails(ganache, write_env):
    path = web3_env(write_env, ganache.url, WEB3_CHAIN_ID="0x1")
    finding = finding_of(path, "adapters.web3")
    assert finding.status is Status.FAIL
    assert f"the node serves chain {CHAIN_ID}, WEB3_CHAIN_ID ({path} line 11) says 1" in finding.message


def test_web3_contract_missing_on_that_chain_fails(ganache, write_env):
    nowhere = "0x" + "12" * 20
    path = web3_env(write_env, ganache.url, WEB3_LOAN_CONTRACT=nowhere)
    finding = finding_of(path, "adapters.web3")
    assert finding.status is Status.FAIL
    assert f"no contract at WEB3_LOAN_CONTRACT {nowhere} ({path} line 10) on chain {CHAIN_ID} (eth_getCode is empty)" \
           in finding.message


def test_web3_node_whose_latest_block_is_old_is_not_synced(ganache, write_env):
    time.sleep(1.2)  # no block is mined meanwhile (block_time=None): the latest ages
    finding = finding_of(web3_env(write_env, ganache.url), "adapters.web3", web3_max_block_age=1.0)
    assert finding.status is Status.FAIL
    assert "the latest block (#1, " in finding.message
    assert "more than --web3-max-block-age 1 s: the node is not synced" in finding.message


def test_web3_unreachable_and_silent_nodes_fail_within_the_timeout(write_env):
    finding = finding_of(web3_env(write_env, f"http://127.0.0.1:{closed_port()}"), "adapters.web3")
    assert finding.status is Status.FAIL and "eth_chainId: Connection refused" in finding.message, finding.message
    with silent_listener() as port:
        started = time.monotonic()
        finding = finding_of(web3_env(write_env, f"http://127.0.0.1:{port}"), "adapters.web3", http_timeout=1.0)
        assert time.monotonic() - started < 5
    assert "eth_chainId: no answer within 1 s (timed out)" in finding.message, finding.message


# -- ICE and Powerledger ---------------------------------------------------------------------------

def api_env(write_env, url: str, ca: Path | None, **values: str) -> Path:
    password, key = random_secret("ice-password"), random_secret("powerledger-key")
    redact.register_all([password, key])
    return write_env(USE_ICE_LIVE="true", ICE_API_URL=url, ICE_USERNAME="ops", ICE_PASSWORD=password,
                     USE_POWERLEDGER_LIVE="true", POWERLEDGER_API_URL=url, POWERLEDGER_API_KEY=key,
                     **({"TLS_CACERT": str(ca)} if ca else {}), **values)


def test_apis_answer_over_verified_tls_and_receive_no_credential(certs, write_env, tmp_path, monkeypatch):
    # A ~/.netrc entry for the host: requests would send it on its own; the step must not.
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login ops password netrc-secret-value\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    with TlsHttpServer(certs, status=401) as server:
        path = api_env(write_env, f"{server.url}/api", certs.ca)
        findings = by_check(adapters.run(context(path)))
        received, url = repr(server.requests), server.url
    for check, title in (("adapters.ice", "ICE"), ("adapters.powerledger", "Powerledger")):
        assert findings[check].status is Status.PASS, findings[check].message
        assert f"the {title} adapter (" in findings[check].message
        assert f"{url}/api answered HTTP 401" in findings[check].message
        assert "TLS verified with the CA in TLS_CACERT" in findings[check].message
    values = context(path).values
    # Bare bools: pytest would print the received requests, a leaked credential among them.
    sent_credentials = "Authorization" in received
    assert received.count("'GET', '/api'") == 2 and not sent_credentials
    assert_no_secrets([values["ICE_PASSWORD"], values["POWERLEDGER_API_KEY"], "netrc-secret-value"], received)


def test_api_of_an_unknown_ca_a_server_error_refused_and_unresolvable_fail(certs, write_env):
    stranger = CertificateAuthority("Stranger CA").issue(Path(certs.ca).parent, "stranger")
    with TlsHttpServer(stranger) as server:
        finding = finding_of(api_env(write_env, server.url, certs.ca), "adapters.ice")
    assert finding.status is Status.FAIL and "TLS does not verify: unable to get local issuer certificate" \
           in finding.message
    with TlsHttpServer(certs, status=503) as server:
        finding = finding_of(api_env(write_env, server.url, certs.ca), "adapters.powerledger")
    assert finding.status is Status.FAIL and "answered HTTP 503 (a server error)" in finding.message
    finding = finding_of(api_env(write_env, f"https://127.0.0.1:{closed_port()}", certs.ca), "adapters.ice")
    assert finding.status is Status.FAIL and "Connection refused" in finding.message, finding.message
    finding = finding_of(api_env(write_env, "https://flash-green-ice.invalid/api", certs.ca), "adapters.ice")
    assert finding.status is Status.FAIL and "host flash-green-ice.invalid does not resolve" in finding.message
    finding = finding_of(api_env(write_env, "https://127.0.0.1:1/api", Path("/nonexistent/ca.pem")), "adapters.ice")
    assert finding.status is Status.FAIL and "cannot read the CA file /nonexistent/ca.pem (TLS_CACERT)" \
           in finding.message


def test_api_that_never_answers_fails_within_the_timeout(write_env):
    with silent_listener() as port:
        started = time.monotonic()
        finding = finding_of(api_env(write_env, f"http://127.0.0.1:{port}", None), "adapters.ice", http_timeout=1.0)
        assert time.monotonic() - started < 5
    assert finding.status is Status.FAIL and "no answer within 1 s (timed out)" in finding.message, finding.message


# -- the live feed -----------------------------------------------------------------------------

@pytest.mark.parametrize("secure", [False, True])
def test_feed_websocket_handshake_completes(certs, write_env, secure):
    with FeedServer(certs if secure else None) as feed:
        path, url = write_env(USE_LIVE_FEED="true", LIVE_FEED_URL=feed.url, TLS_CACERT=str(certs.ca)), feed.url
        finding = finding_of(path, "adapters.live_feed")
    assert finding.status is Status.PASS, finding.message
    assert f"the live feed adapter (LIVE_FEED_URL, {path} line 9): the WebSocket handshake with {url} completed" \
           in finding.message
    assert ("TLS verified" in finding.message) is secure


def test_feed_that_is_not_a_websocket_or_not_there_fails(certs, write_env):
    with TlsHttpServer(None) as plain:
        path = write_env(USE_LIVE_FEED="true", LIVE_FEED_URL=f"ws://127.0.0.1:{plain.port}/stream")
        finding = finding_of(path, "adapters.live_feed")
    assert finding.status is Status.FAIL
    assert "the server did not answer as a WebSocket server (did not receive a valid HTTP response)" \
           in finding.message, finding.message
    with FeedServer(CertificateAuthority("Stranger CA").issue(Path(certs.ca).parent, "feed-stranger")) as feed:
        finding = finding_of(write_env(USE_LIVE_FEED="true", LIVE_FEED_URL=feed.url, TLS_CACERT=str(certs.ca)),
                             "adapters.live_feed")
    assert "TLS does not verify: unable to get local issuer certificate" in finding.message
    with TlsHttpServer(None) as plain:
        finding, url = finding_of(write_env(USE_LIVE_FEED="true", LIVE_FEED_URL=plain.url), "adapters.live_feed"), plain.url
    assert finding.status is Status.PASS and f"{url} answered HTTP 200" in finding.message


def test_a_url_password_in_brackets_is_never_shown(write_env):
    # urllib's error on '[...]' in a URL's host part quotes what stands inside: here a password.
    secret = random_secret("bracketed")
    path = write_env(USE_ICE_LIVE="true", ICE_API_URL=f"https://ops:pa[{secret}]@ice.example/api",
                     SERVICE_URL=f"https://ops:[{secret}]@service.example/")
    findings = by_check(adapters.run(context(path)) + tls.run(context(path)))
    assert_no_secrets([secret], *(f.message for f in findings.values()))
    for check in ("adapters.ice", "tls.ice", "tls.service"):
        assert findings[check].status is Status.FAIL and "'[' or ']'" in findings[check].message, check


@contextmanager
def endless_stream():
    """A loopback HTTP server that answers 200 and then streams chunks until the client hangs up
    (as an event-stream feed does); bounded: it stops after 30 s whatever happens."""
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/event-stream\r\n\r\n"
    with HandAnswer(head, b"6\r\ndata:\n\r\n", times=300, pause=0.1, wait=35) as stream:
        yield f"http://127.0.0.1:{stream.port}/stream"


def test_a_feed_that_streams_answers_within_the_timeout(write_env):
    """The status is the answer: a body that never ends is not waited for past --http-timeout."""
    with endless_stream() as url:
        started = time.monotonic()
        finding = finding_of(write_env(USE_LIVE_FEED="true", LIVE_FEED_URL=url), "adapters.live_feed",
                             http_timeout=1.0)
        assert time.monotonic() - started < 5
    assert finding.status is Status.PASS and f"{url} answered HTTP 200" in finding.message, finding.message


# -- the stage -----------------------------------------------------------------------------------

def test_disabled_adapters_are_skipped_with_the_reason(write_env):
    path = write_env()
    findings = adapters.run(context(path))
    assert [f.check for f in findings] == list(adapters.CHECKS)
    assert all(f.status is Status.SKIP for f in findings)
    assert by_check(findings)["adapters.ice"].message == \
        f"the ICE adapter is disabled (USE_ICE_LIVE is not true, {path} line 5)"


def test_preflight_runs_adapters_only_when_asked(ganache, write_env):
    path = web3_env(write_env, ganache.url.replace("127.0.0.1", "ops:pw-" + "x" * 12 + "@127.0.0.1"))
    asked = run_script("preflight_check.py", "--env-file", path, "--stage", "adapters")
    assert asked.returncode == 0, asked.stdout + asked.stderr
    assert "PASS adapters.web3 the web3 loan adapter (WEB3_RPC_URL, " in asked.stdout
    assert_no_secrets(["pw-xxxxxxxxxxxx"], asked.stdout, asked.stderr)
    default = run_script("preflight_check.py", "--env-file", path)
    assert [line for line in default.stdout.splitlines() if " adapters." in line] == []


# -- the local target's counterparts, and the node's cleanup -------------------------------------

def test_the_local_targets_adapters_and_certificates_pass(pytester):
    result = run_ops_tests(pytester, "-m", "adapters or tls", "-rA", timeout=300)
    result.assert_outcomes(passed=len(adapters.CHECKS) + 4, skipped=4)
    for check in (*adapters.CHECKS, "tls.vault", "tls.live_feed", "tls.ice", "tls.powerledger"):
        result.stdout.fnmatch_lines([f"PASSED *[[]{check}[]]"])
    result.stdout.fnmatch_lines(["SKIPPED *the web3 loan adapter (WEB3_RPC_URL, *) is http://: no TLS, no certificate"])


def test_a_killed_run_takes_its_node_with_it(ganache, tmp_path):
    """SIGKILL runs no cleanup of ours: the node must still not outlive its run (setpriv
    --pdeathsig). Needs ``ganache``: the binary is installed."""
    assert_a_killed_run_takes_it_along("fixtures.ganache:GanacheNode", tmp_path, "ganache", 60)


def test_a_stopped_node_leaves_no_process_nor_port(tmp_path):
    node = GanacheNode(PortReservation(), tmp_path, block_time=None)
    try:
        node.start()
    except ServiceUnavailable as exc:
        skip_unless_ci(str(exc))
    pid, port = node._process.process.pid, node.port
    node.stop()
    node.stop()  # idempotent
    assert not process_alive(pid) and port_is_free(port)
    assert list(tmp_path.iterdir()) == []
