"""Adapters step: every enabled live adapter's endpoint answers (the nightly run's check; not in
the default preflight: ``--stage adapters``).

- ``adapters.live_feed``: ``LIVE_FEED_URL`` answers HTTP, or for ws:// and wss:// the WebSocket
  handshake completes (the ``websockets`` library);
- ``adapters.ice``, ``adapters.powerledger``: the host resolves, TLS verifies (``TLS_CACERT``, else
  the system's trust store), and HTTP answers (any status below 500: the endpoint is there);
- ``adapters.web3``: JSON-RPC ``eth_chainId`` answers and equals ``WEB3_CHAIN_ID`` when set,
  ``eth_getCode`` at ``WEB3_LOAN_CONTRACT`` is not empty, and the latest block is younger than
  ``--web3-max-block-age``.

A disabled adapter is a skip with the reason. Every call is bounded by ``--http-timeout``. No
request carries a credential (``ICE_PASSWORD``, ``POWERLEDGER_API_KEY``, a ~/.netrc entry): these
checks ask whether the endpoint is there, which needs none, and an endpoint that was not asked
for a key must never receive one. Messages name the adapter, the variable, its file and line.
"""
from __future__ import annotations

import datetime
import json
import socket
import ssl
import time
from dataclasses import replace

from flash_green_ops import endpoints, redact, resolver, urls
from flash_green_ops.context import RunContext
from flash_green_ops.contract import Contract
from flash_green_ops.endpoints import Adapter
from flash_green_ops.findings import Finding, failed, passed, skipped, timed
from flash_green_ops.neterrors import connection_reason, verify_reason

STAGE = "adapters"
CHECKS = tuple(f"{STAGE}.{a.name}" for a in endpoints.ADAPTERS)
CHAIN_ID_KEY, CONTRACT_KEY = "WEB3_CHAIN_ID", "WEB3_LOAN_CONTRACT"
MAX_BODY = 1 << 20  # of an answer kept (a JSON-RPC result is far smaller)


def check_ids(contract: Contract) -> tuple[str, ...]:
    return CHECKS


class ProbeError(Exception):
    """The endpoint gave no usable answer; the reason, never the URL or a key."""


def _no_auth(request):
    # An explicit (empty) auth: requests then never adds ~/.netrc credentials of its own.
    return request


def _ssl_context(cafile: str | None) -> ssl.SSLContext:
    try:
        return ssl.create_default_context(cafile=cafile)
    except OSError as exc:
        raise ProbeError(f"cannot read the CA file {cafile} ({endpoints.TLS_CA_KEY}): {exc.strerror or exc}") from None


def resolve(host: str, timeout: float) -> None:
    try:
        resolver.addresses(host, None, time.monotonic() + timeout)
    except TimeoutError:
        raise ProbeError(f"host {host}: no answer from the resolver within {timeout:g} s") from None
    except socket.gaierror as exc:
        raise ProbeError(f"host {host} does not resolve ({exc.strerror})") from None


def http_request(method: str, url: str, cafile: str | None, timeout: float, body: dict | None = None):
    """One request, no redirect followed, no credential sent; (status, up to MAX_BODY bytes of
    the body, seconds). The body is read for ``timeout`` seconds at most: requests' timeout
    bounds each read, not the whole, and an endpoint that streams (an event-stream feed) would
    otherwise never let the check end."""
    import requests

    if cafile:
        _ssl_context(cafile)  # an unreadable CA file named as such, not as a connection failure
    started = time.monotonic()
    try:
        with requests.Session() as session, session.request(
                method, url, json=body, auth=_no_auth, allow_redirects=False, verify=cafile or True,
                timeout=(timeout, timeout), stream=True) as answer:
            content = bytearray()
            for chunk in answer.iter_content(64 * 1024):
                content += chunk
                if len(content) >= MAX_BODY or time.monotonic() - started > timeout:
                    break
            return answer.status_code, bytes(content[:MAX_BODY]), time.monotonic() - started
    except requests.exceptions.SSLError as exc:
        reason = verify_reason(exc)
        if reason:
            raise ProbeError(f"TLS does not verify: {reason}") from None
        raise ProbeError(f"the TLS handshake failed ({connection_reason(exc)})") from None
    except requests.exceptions.Timeout:
        raise ProbeError(f"no answer within {timeout:g} s (timed out)") from None
    except requests.exceptions.RequestException as exc:
        raise ProbeError(connection_reason(exc)) from None


def websocket_handshake(url: str, cafile: str | None, timeout: float) -> float:
    """Open and close a WebSocket; the seconds the opening handshake took."""
    from websockets.exceptions import InvalidHandshake, InvalidMessage, InvalidStatus
    from websockets.sync.client import connect

    context = _ssl_context(cafile) if url.lower().startswith("wss:") else None
    started = time.monotonic()
    try:
        with connect(url, ssl=context, open_timeout=timeout, close_timeout=timeout):
            return time.monotonic() - started
    except InvalidStatus as exc:
        raise ProbeError(f"the server refused the WebSocket handshake with HTTP {exc.response.status_code}") from None
    except InvalidMessage as exc:  # its text says what was wrong; it never quotes the URL
        raise ProbeError(f"the server did not answer as a WebSocket server ({exc})") from None
    except InvalidHandshake as exc:
        raise ProbeError(f"the WebSocket handshake failed ({type(exc).__name__})") from None
    except ssl.SSLCertVerificationError as exc:
        raise ProbeError(f"TLS does not verify: {exc.verify_message}") from None
    except TimeoutError:
        raise ProbeError(f"the WebSocket handshake did not complete within {timeout:g} s (timed out)") from None
    except OSError as exc:
        raise ProbeError(connection_reason(exc)) from None


def json_rpc(url: str, method: str, params: list, cafile: str | None, timeout: float):
    """One JSON-RPC 2.0 call over HTTP(S) or a WebSocket; its result, or ProbeError."""
    request = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
    if url.lower().startswith(("ws:", "wss:")):
        from websockets.sync.client import connect

        context = _ssl_context(cafile) if url.lower().startswith("wss:") else None
        try:
            with connect(url, ssl=context, open_timeout=timeout, close_timeout=timeout) as ws:
                ws.send(json.dumps(request))
                raw = ws.recv(timeout=timeout)
        except TimeoutError:
            raise ProbeError(f"{method}: no answer within {timeout:g} s (timed out)") from None
        except Exception as exc:  # noqa: BLE001 - the websockets, ssl and socket errors alike
            raise ProbeError(f"{method}: {verify_reason(exc) or connection_reason(exc)}") from None
    else:
        try:
            status, raw, _ = http_request("POST", url, cafile, timeout, request)
        except ProbeError as exc:
            raise ProbeError(f"{method}: {exc}") from None
        if status != 200:
            raise ProbeError(f"{method}: HTTP {status}")
    try:
        answer = json.loads(raw)
    except ValueError:
        raise ProbeError(f"{method}: the answer is not JSON") from None
    if not isinstance(answer, dict) or "error" in answer or "result" not in answer:
        error = answer.get("error") if isinstance(answer, dict) else None
        detail = error.get("message") if isinstance(error, dict) else None
        raise ProbeError(f"{method}: the node answered an error ({str(detail or error)[:200]})")
    return answer["result"]


# --------------------------------------------------------------------------------------------
# The checks


def _label(ctx: RunContext, adapter: Adapter) -> str:
    return f"the {adapter.title} adapter ({adapter.url_key}, {ctx.source.where(adapter.url_key)})"


def _cafile(ctx: RunContext) -> tuple[str | None, str]:
    return endpoints.ca_file(ctx.values, endpoints.TLS_CA_KEY)


def _live_feed(ctx: RunContext, adapter: Adapter, url: str, target: endpoints.HostPort) -> Finding:
    check, label, shown = f"{STAGE}.{adapter.name}", _label(ctx, adapter), urls.display_url(url)
    cafile, ca = _cafile(ctx)
    timeout = ctx.settings.timeout("http_timeout")
    if target.scheme in ("ws", "wss"):
        seconds = websocket_handshake(url, cafile, timeout)
        tls = f"; TLS verified with {ca}" if target.tls else ""
        return passed(check, f"{label}: the WebSocket handshake with {shown} completed in "
                      f"{seconds * 1000:.0f} ms{tls}")
    return _http_answers(check, label, url, shown, target, cafile, ca, timeout)


def _http_answers(check, label, url, shown, target, cafile, ca, timeout) -> Finding:
    status, _, seconds = http_request("GET", url, cafile, timeout)
    tls = f"; TLS verified with {ca}" if target.tls else ""
    if status >= 500:
        return failed(check, f"{label}: {shown} answered HTTP {status} (a server error) in "
                      f"{seconds * 1000:.0f} ms{tls}")
    return passed(check, f"{label}: {shown} answered HTTP {status} in {seconds * 1000:.0f} ms{tls} "
                  f"(asked without credentials)")


def _api(ctx: RunContext, adapter: Adapter, url: str, target: endpoints.HostPort) -> Finding:
    check, label, shown = f"{STAGE}.{adapter.name}", _label(ctx, adapter), urls.display_url(url)
    if target.scheme in ("ws", "wss"):
        return _live_feed(ctx, adapter, url, target)
    timeout = ctx.settings.timeout("http_timeout")
    resolve(target.host, timeout)
    cafile, ca = _cafile(ctx)
    return _http_answers(check, label, url, shown, target, cafile, ca, timeout)


def _quantity(value, what: str) -> int:
    """A JSON-RPC quantity ("0x539") as an int; ProbeError for anything else (not an Ethereum node?)."""
    try:
        return int(value, 16)
    except (TypeError, ValueError):
        raise ProbeError(f"{what} is not a hex quantity: {str(value)[:40]!r}") from None


def parse_chain_id(text: str) -> int:
    """``1``, ``1337`` or ``0x539``: ValueError otherwise."""
    text = text.strip()
    return int(text, 16) if text.lower().startswith("0x") else int(text, 10)


def _web3(ctx: RunContext, adapter: Adapter, url: str, target: endpoints.HostPort) -> Finding:
    check, label = f"{STAGE}.{adapter.name}", _label(ctx, adapter)
    where = ctx.source.where
    cafile, _ = _cafile(ctx)

    def call(method: str, params: list):
        return json_rpc(url, method, params, cafile, ctx.settings.timeout("http_timeout"))

    facts = []
    chain_id = _quantity(call("eth_chainId", []), "eth_chainId's answer")
    expected = endpoints.value(ctx.values, CHAIN_ID_KEY)
    if expected:
        try:
            wanted = parse_chain_id(expected)
        except ValueError:
            return failed(check, f"{label}: {CHAIN_ID_KEY} ({where(CHAIN_ID_KEY)}) is not a chain id "
                          f"(decimal or 0x hex): {expected!r}", where(CHAIN_ID_KEY))
        if chain_id != wanted:
            return failed(check, f"{label}: the node serves chain {chain_id}, {CHAIN_ID_KEY} "
                          f"({where(CHAIN_ID_KEY)}) says {wanted}: point {adapter.url_key} at a node of "
                          f"chain {wanted}, or correct {CHAIN_ID_KEY}", where(adapter.url_key))
        facts.append(f"chain {chain_id} as {CHAIN_ID_KEY} says")
    else:
        facts.append(f"chain {chain_id} ({CHAIN_ID_KEY} is not set: not compared)")
    address = endpoints.value(ctx.values, CONTRACT_KEY)
    if address:
        code = call("eth_getCode", [address, "latest"])
        if not isinstance(code, str) or code.lower() in ("0x", "0x0", ""):
            return failed(check, f"{label}: no contract at {CONTRACT_KEY} {address} ({where(CONTRACT_KEY)}) "
                          f"on chain {chain_id} (eth_getCode is empty): wrong address, or a node of "
                          f"another chain", where(CONTRACT_KEY))
        facts.append(f"a contract at {address} ({(len(code) - 2) // 2} bytes)")
    block = call("eth_getBlockByNumber", ["latest", False])
    if not isinstance(block, dict) or "timestamp" not in block:
        return failed(check, f"{label}: eth_getBlockByNumber(latest) gave no block")
    number = _quantity(block.get("number"), "the latest block's number")
    stamp = _quantity(block["timestamp"], "the latest block's timestamp")
    age = time.time() - stamp
    when = datetime.datetime.fromtimestamp(stamp, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    limit = ctx.settings.web3_max_block_age
    if age > limit:
        return failed(check, f"{label}: the latest block (#{number}, {when}) is {age:.0f} s old, more than "
                      f"--web3-max-block-age {limit:g} s: the node is not synced (or the chain is halted)",
                      where(adapter.url_key))
    facts.append(f"latest block #{number} {max(age, 0):.0f} s old")
    return passed(check, f"{label}: {urls.display_url(url)} answers JSON-RPC: {'; '.join(facts)}",
                  where(adapter.url_key))


CHECKERS = {"live_feed": _live_feed, "ice": _api, "powerledger": _api, "web3": _web3}


def check_adapter(ctx: RunContext, adapter: Adapter) -> Finding:
    check, where = f"{STAGE}.{adapter.name}", ctx.source.where
    if not endpoints.is_enabled(ctx.values, adapter.flag):
        return skipped(check, f"the {adapter.title} adapter is disabled ({adapter.flag} is not true, "
                       f"{where(adapter.flag)})")
    url = endpoints.value(ctx.values, adapter.url_key)
    if not url:
        return failed(check, f"{adapter.flag} is true ({where(adapter.flag)}) but {adapter.url_key} is not set",
                      where(adapter.flag))
    try:
        target = endpoints.host_port(url)
    except ValueError as exc:
        return failed(check, f"{_label(ctx, adapter)}: {exc}", where(adapter.url_key))
    try:
        finding = CHECKERS[adapter.name](ctx, adapter, url, target)
    except ProbeError as exc:
        return failed(check, f"{_label(ctx, adapter)}: {urls.display_url(url)}: {exc}", where(adapter.url_key))
    return finding if finding.where else replace(finding, where=where(adapter.url_key))


def run(ctx: RunContext) -> list[Finding]:
    findings = [timed(lambda: check_adapter(ctx, adapter)) for adapter in endpoints.ADAPTERS]
    return [replace(f, message=redact.mask(f.message)) for f in findings]
