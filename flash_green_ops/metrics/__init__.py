"""The metrics and health step: scrape /metrics as Prometheus would, parse, lint, compare two
scrapes, and ask the service's /health.

One :class:`MetricsProbe` per run: it scrapes once (and a second time, ``metrics_interval``
later, for the stability check) and each check reads the cached result, so the preflight CLI
and the runbook tests (one test per check) share the scrape and the code. Parsing and linting
are pure functions in flash_green_ops/metrics/exposition.py and flash_green_ops/metrics/promlint.py.
"""
from __future__ import annotations

import base64
import http.client
import ssl
import time
import urllib.error
import urllib.request
import zlib
from array import array
from bisect import bisect_left
from collections.abc import Iterator
from dataclasses import replace
from email.message import Message
from typing import NamedTuple
from urllib.parse import unquote, urlsplit, urlunsplit

from flash_green_ops import urls
from flash_green_ops.context import RunContext
from flash_green_ops.contract import Contract
from flash_green_ops.findings import Finding, failed, passed, skipped, timed, warned
from flash_green_ops.metrics.exposition import (OPENMETRICS, TEXT, Exposition, ExpositionError, Value,
                                                format_of, parse, quote_line, series_key)
from flash_green_ops.metrics.promlint import lint_families
from flash_green_ops.neterrors import connection_reason

STAGE = "metrics"
CHECKS = tuple(f"{STAGE}.{name}" for name in ("scrape", "parse", "lint", "required", "stable", "health"))
DEFAULT_METRICS_PORT = 8000
# What a Prometheus server sends when it scrapes, so the service answers us as it answers it.
PROMETHEUS_ACCEPT = ("application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
                     "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1")
ACCEPTED_TYPES = "text/plain; version=0.0.4 or application/openmetrics-text"
# Connecting is tried again this often when it was refused, reset or unreachable; a timeout
# (it used the time up) or an answer of any status never is.
CONNECT_RETRIES = 2
MAX_REDIRECTS = 5  # Prometheus follows redirects too
MAX_BODY_BYTES = 64 * 1024 * 1024  # a scrape this large is a bug in the exporter anyway
HEALTHY_STATUSES = ("ok", "pass", "healthy")
START_TIME = "process_start_time_seconds"


class HttpFailure(Exception):
    """The request got no complete answer (refused, timed out, cut off, too large)."""


class Response(NamedTuple):
    # No URL kept: it may hold a password, and nothing reads it back (callers have theirs).
    status: int
    reason: str
    content_type: str
    body: bytes | bytearray
    elapsed: float


class AddressError(ValueError):
    """The scrape address cannot be built; ``key`` is the variable at fault."""

    def __init__(self, key: str, problem: str):
        super().__init__(f"{key} {problem}")
        self.key = key


def _split(values: dict[str, str], key: str):
    try:
        return urls.split(values[key])
    except ValueError as exc:
        raise AddressError(key, str(exc)) from None


def scrape_url(values: dict[str, str]) -> str:
    """METRICS_URL, else http://<host of SERVICE_URL, else 127.0.0.1>:METRICS_PORT/metrics."""
    if (values.get("METRICS_URL") or "").strip():
        _split(values, "METRICS_URL")
        return values["METRICS_URL"].strip()
    port_text = (values.get("METRICS_PORT") or "").strip() or str(DEFAULT_METRICS_PORT)
    if not port_text.isdecimal() or not 1 <= int(port_text) <= 65535:  # isdigit() takes "²", int() not
        raise AddressError("METRICS_PORT", f"must be an integer 1-65535, found {port_text!r}")
    host = "127.0.0.1"
    if (values.get("SERVICE_URL") or "").strip():
        host = _split(values, "SERVICE_URL").hostname or host
    if ":" in host:  # an IPv6 literal
        host = f"[{host}]"
    return f"http://{host}:{int(port_text)}/metrics"


def health_url(values: dict[str, str]) -> str | None:
    base = (values.get("SERVICE_URL") or "").strip()
    return base.rstrip("/") + "/health" if base else None


def http_get(url: str, timeout: float, accept: str = "*/*") -> Response:
    """GET ``url``; the whole exchange ends within about ``timeout`` seconds, or HttpFailure.

    The standard library's client (urllib.request): importing urllib3 cost the metrics stage a
    quarter of its CPU (bench/metrics_bench.py), and a scrape needs one GET. urllib.request
    follows up to MAX_REDIRECTS redirects (_Redirects); tenacity tries connecting again, when it
    was refused or unreachable, CONNECT_RETRIES times; the answer is asked for as Prometheus
    asks: gzip, the URL's user:password as basic auth. Messages never quote the URL."""
    parts = _usable(url)
    request = urllib.request.Request(urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2])),
                                     headers={"Accept": accept, "Accept-Encoding": "gzip"})
    if parts.username is not None or parts.password is not None:
        credentials = f"{unquote(parts.username or '')}:{unquote(parts.password or '')}".encode()
        request.add_unredirected_header("Authorization", "Basic " + base64.b64encode(credentials).decode())
    opener = urllib.request.OpenerDirector()  # http(s) and redirects only: no proxies, ftp or file
    for handler in (urllib.request.UnknownHandler(), urllib.request.HTTPHandler(), urllib.request.HTTPSHandler(),
                    urllib.request.HTTPDefaultErrorHandler(), urllib.request.HTTPErrorProcessor(), _Redirects()):
        opener.add_handler(handler)
    started = time.monotonic()
    deadline = started + timeout
    try:
        answer = _answer(opener, request, timeout)
    except OSError as exc:
        if not _not_connected(exc):
            raise HttpFailure(_failure(exc, timeout)) from None
        answer = _retried(opener, request, timeout, deadline)
    try:
        body = _read_body(answer, timeout, deadline)
    finally:
        answer.close()  # its socket, now
    return Response(answer.status, answer.reason or "", answer.headers.get("Content-Type", ""), body,
                    time.monotonic() - started)


def _usable(url: str):
    """``url`` split, or HttpFailure naming the fault by requests' names for it (never the URL)."""
    try:
        parts = urls.split(url)
        parts.port  # noqa: B018 (raises ValueError on a port that is not one)
    except ValueError:
        raise HttpFailure("not a usable URL (InvalidURL)") from None
    if not parts.scheme:
        raise HttpFailure("not a usable URL (MissingSchema)")
    if parts.scheme.lower() not in ("http", "https"):
        raise HttpFailure("not a usable URL (InvalidSchema)")
    if not parts.hostname:
        raise HttpFailure("not a usable URL (InvalidURL)")
    return parts


class _Redirects(urllib.request.HTTPRedirectHandler):
    """urllib's redirect handling, held to MAX_REDIRECTS, sending the basic auth on to the same
    scheme, host and port only (as urllib3 and Prometheus do)."""

    max_redirections = max_repeats = MAX_REDIRECTS

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        auth = req.get_header("Authorization")
        before, after = urlsplit(req.full_url), urlsplit(newurl)
        if new is not None and auth and (before.scheme, before.netloc) == (after.scheme, after.netloc):
            new.add_unredirected_header("Authorization", auth)
        return new


def _answer(opener, request, timeout: float):
    """The answer to ``request`` of any status (urllib raises one that is not 2xx: it is the
    answer all the same). An OSError when connecting or sending failed (the retry decides),
    HttpFailure for any other failure."""
    try:
        return opener.open(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code in (301, 302, 303, 307, 308) and exc.msg.startswith(_Redirects.inf_msg):
            exc.close()
            raise HttpFailure(f"more than {MAX_REDIRECTS} redirects") from None
        return exc
    except urllib.error.URLError as exc:  # urllib's wrapping of what failed before the answer
        if not isinstance(exc.reason, OSError):  # a redirect to a scheme that is not http(s)
            raise HttpFailure("not a usable URL (InvalidSchema)") from None
        raise exc.reason from None  # refused, unreachable, timed out, a certificate
    except OSError as exc:  # the answer broke off (reset, timed out) after the request went out
        raise HttpFailure(_failure(exc, timeout)) from None
    except (http.client.InvalidURL, ValueError):  # a path or host http.client refuses (control characters)
        raise HttpFailure("not a usable URL (InvalidURL)") from None
    except http.client.HTTPException as exc:  # a status line that is none, no answer at all
        raise HttpFailure(connection_reason(exc)) from None


def _retried(opener, request, timeout: float, deadline: float):
    """The answer to ``request`` after connecting failed once: tenacity tries again up to
    CONNECT_RETRIES times, backing off, within the deadline (imported only now: a scrape that
    connects at once needs none of it)."""
    from tenacity import Retrying, retry_if_exception, stop_after_attempt, stop_before_delay, wait_exponential

    retrying = Retrying(retry=retry_if_exception(_not_connected), reraise=True,
                        stop=stop_after_attempt(CONNECT_RETRIES) | stop_before_delay(deadline - time.monotonic()),
                        wait=wait_exponential(multiplier=0.1, max=1))
    try:  # each try within what is left of the deadline
        return retrying(lambda: _answer(opener, request, max(deadline - time.monotonic(), 0.001)))
    except OSError as exc:
        retried = retrying.statistics.get("attempt_number", 0)
        raise HttpFailure(_failure(exc, timeout) + f" (after {retried} {'retry' if retried == 1 else 'retries'})") from None


def _not_connected(exc: BaseException) -> bool:
    """Connecting failed and trying again may help: refused, reset, unreachable (not a timeout,
    which used the time up, nor a certificate, which will not change)."""
    return isinstance(exc, OSError) and not isinstance(exc, (TimeoutError, ssl.SSLError))


def _failure(exc: OSError, timeout: float) -> str:
    if isinstance(exc, TimeoutError):
        return f"no answer within {timeout:g} s (timed out)"
    return connection_reason(exc)


def _read_body(answer, timeout: float, deadline: float) -> bytearray:
    """The body, decoded if gzip; at most MAX_BODY_BYTES (decoded), and by the deadline."""
    encoding = (answer.headers.get("Content-Encoding") or "").strip().lower()
    if encoding not in ("", "identity", "gzip"):
        raise HttpFailure(f"the body is encoded as {encoding[:40]!r}, which was not asked for (gzip was)")
    inflate = zlib.decompressobj(16 + zlib.MAX_WBITS) if encoding == "gzip" else None
    body = bytearray()  # grown in place: chunks joined at the end would double the peak
    try:
        # read1: what has arrived, at once, so a body trickled in cannot outlast the deadline.
        while chunk := answer.read1(64 * 1024):
            if inflate:
                chunk = inflate.decompress(chunk, MAX_BODY_BYTES + 1 - len(body))
            body += chunk
            if len(body) > MAX_BODY_BYTES:
                raise HttpFailure(f"the body is larger than {MAX_BODY_BYTES // 2**20} MiB")
            if time.monotonic() > deadline:
                raise HttpFailure(f"the answer did not finish within {timeout:g} s")
        # http.client ends a body cut short without a word (a chunked one raises IncompleteRead).
        if answer.length or (inflate and not inflate.eof):
            raise http.client.IncompleteRead(b"")
    except http.client.IncompleteRead:
        raise HttpFailure("the connection broke off before the whole body arrived (IncompleteRead)") from None
    except zlib.error:
        raise HttpFailure("the body is not the gzip it says it is (Content-Encoding: gzip)") from None
    except (http.client.HTTPException, OSError) as exc:
        raise HttpFailure(_failure(exc, timeout)) from None
    return body


def media_type(content_type: str) -> tuple[str, str | None]:
    """('text/plain', '0.0.4') from a Content-Type header, by the stdlib's header parser."""
    message = Message()
    message["Content-Type"] = content_type or "application/octet-stream"
    return message.get_content_type(), message.get_param("version")


def content_type_problem(content_type: str) -> str | None:
    """Why Prometheus would not take this Content-Type as exposition text, or None."""
    media, version = media_type(content_type)
    if not content_type:
        return "no Content-Type header"
    if media == "text/plain" and version in (None, "0.0.4"):
        return None
    if media == "application/openmetrics-text" and version in (None, "0.0.1", "1.0.0"):
        return None
    return f"Content-Type {content_type!r}"


class MetricsProbe:
    """Every check of the step, over one pair of scrapes. Each method returns one Finding."""

    def __init__(self, ctx: RunContext):
        self.ctx = ctx
        self.settings = ctx.settings
        self._first: Response | HttpFailure | None = None
        self._exposition: Exposition | ExpositionError | None = None
        self._problems: list | None = None  # the lint problems of the first scrape
        self._first_size = 0  # its body's size (the body is let go before the second scrape)
        self._first_done = 0.0  # when it ended (time.monotonic())
        self._earlier: CounterSnapshot | None = None  # what the stability check keeps of it
        self._url_error: AddressError | None = None
        try:
            self.url = scrape_url(ctx.values)
        except AddressError as exc:
            self.url, self._url_error = "", exc
        self.shown_url = urls.display_url(self.url)

    # -- cached scrapes ----------------------------------------------------------------------
    def first(self) -> Response | HttpFailure:
        if self._first is None:
            self._first = self._scrape()
            self._first_done = time.monotonic()
            self._first_size = len(self._first.body) if isinstance(self._first, Response) else 0
        return self._first

    def _scrape(self) -> Response | HttpFailure:
        try:
            return http_get(self.url, self.settings.timeout("http_timeout"), PROMETHEUS_ACCEPT)
        except HttpFailure as exc:
            return exc

    def exposition(self) -> Exposition | ExpositionError | None:
        """The parsed first scrape; None when there is no 200 answer to parse."""
        response = self.first()
        if not isinstance(response, Response) or response.status != 200:
            return None
        if self._exposition is None:
            self._exposition = _parse(response, self.settings.metrics_rules)
        return self._exposition

    def _lint_problems(self) -> list:
        if self._problems is None:
            self._problems = lint_families(self.exposition().families, self.settings.metrics_rules)
        return self._problems

    def _where_key(self) -> str:
        """Where the scrape address came from, for messages."""
        values, source = self.ctx.values, self.ctx.source
        if (values.get("METRICS_URL") or "").strip():
            return f"METRICS_URL, {source.where('METRICS_URL')}"
        if (values.get("METRICS_PORT") or "").strip():
            port = f"METRICS_PORT, {source.where('METRICS_PORT')}"
        else:
            port = f"the default METRICS_PORT {DEFAULT_METRICS_PORT}"
        host = f"host of SERVICE_URL, {source.where('SERVICE_URL')}" if (values.get("SERVICE_URL") or "").strip() \
            else "host 127.0.0.1"
        return f"{host}; {port}"

    def _no_scrape(self, check: str) -> Finding | None:
        if self._url_error:
            return skipped(check, f"skipped: no scrape address ({self._url_error})")
        response = self.first()
        if isinstance(response, HttpFailure) or response.status != 200:
            return skipped(check, f"skipped: the scrape of {self.shown_url} failed (see {STAGE}.scrape)")
        return None

    def _unparsed(self, check: str) -> Finding | None:
        no_scrape = self._no_scrape(check)
        if no_scrape:
            return no_scrape
        if isinstance(self.exposition(), ExpositionError):
            return skipped(check, f"skipped: the body of {self.shown_url} does not parse (see {STAGE}.parse)")
        return None

    # -- checks --------------------------------------------------------------------------------
    def scrape(self) -> Finding:
        check = f"{STAGE}.scrape"
        if self._url_error:
            key = self._url_error.key
            fix = ("set METRICS_PORT to the service's metrics port, or METRICS_URL" if key == "METRICS_PORT"
                   else f"correct {key}")
            where = self.ctx.source.where(key)
            return failed(check, f"cannot build the scrape address: {self._url_error} ({where}): {fix}", where)
        response = self.first()
        if isinstance(response, HttpFailure):
            return failed(check, f"GET {self.shown_url} failed: {response}; expected the service's metrics "
                                 f"endpoint to answer within {self.settings.http_timeout:g} s "
                                 f"(address from {self._where_key()}): check that the service runs and "
                                 f"METRICS_PORT / METRICS_URL / SERVICE_URL point at it", self.shown_url)
        if response.status != 200:
            return failed(check, f"GET {self.shown_url} answered HTTP {response.status} {response.reason}, "
                                 f"expected 200: the metrics endpoint is broken or this is not it "
                                 f"(address from {self._where_key()})", self.shown_url)
        problem = content_type_problem(response.content_type)
        if problem:
            return failed(check, f"GET {self.shown_url} answered with {problem}, expected {ACCEPTED_TYPES}: "
                                 f"Prometheus cannot ingest it; serve prometheus_client's generate_latest() "
                                 f"with its CONTENT_TYPE_LATEST (or the OpenMetrics one)", self.shown_url)
        return passed(check, f"GET {self.shown_url}: HTTP 200, {response.content_type}, "
                             f"{self._first_size} bytes in {response.elapsed:.3f} s", self.shown_url)

    def parse(self) -> Finding:
        check = f"{STAGE}.parse"
        no_scrape = self._no_scrape(check)
        if no_scrape:
            return no_scrape
        exposition = self.exposition()
        fmt_name = _format_name(self.first())
        if isinstance(exposition, ExpositionError):
            return failed(check, f"the body of {self.shown_url} does not parse as {fmt_name}: line "
                                 f"{exposition.line}: {exposition.reason}: {quote_line(exposition.text)}; "
                                 f"Prometheus drops the whole scrape: fix the exporter's output",
                          f"{self.shown_url} line {exposition.line}")
        samples = sum(len(f) for f in exposition.families)
        return passed(check, f"{len(exposition.families)} metric families, {samples} samples parsed as "
                             f"{fmt_name} from {self.shown_url}", self.shown_url)

    def lint(self) -> Finding:
        check = f"{STAGE}.lint"
        unparsed = self._unparsed(check)
        if unparsed:
            return unparsed
        problems = self._lint_problems()
        if not problems:
            return passed(check, f"no problems by the rules of promtool check metrics in {self.shown_url}",
                          self.shown_url)
        names = len({p.metric for p in problems})
        message = (f"{len(problems)} problems in {names} metric families by the rules of promtool check "
                   f"metrics ({self.shown_url}), rename per https://prometheus.io/docs/practices/naming/")
        report = failed if self.settings.metrics_strict else warned
        return replace(report(check, message, self.shown_url),
                       items=tuple(f"{p.metric} {p.text} (line {p.line}{': ' + p.detail if p.detail else ''})"
                                    for p in problems))

    def required(self) -> Finding:
        check = f"{STAGE}.required"
        unparsed = self._unparsed(check)
        if unparsed:
            return unparsed
        contract = self.ctx.contract
        names = {f.name for f in self.exposition().families}
        missing = [f"family {n}" for n in contract.required_families if n not in names]
        missing += [f"a family whose name starts with {p}" for p in contract.required_prefixes
                    if not any(n.startswith(p) for n in names)]
        wanted = ", ".join([*contract.required_families, *(p + "*" for p in contract.required_prefixes)])
        if missing:
            return failed(check, f"{self.shown_url} lacks {'; '.join(missing)} (required by "
                                 f"{contract.path.name} [metrics]): is this Flash Green's endpoint, and "
                                 f"is its metrics registry wired up?", self.shown_url)
        return passed(check, f"{self.shown_url} has every required family ({wanted or 'none required'})",
                      self.shown_url)

    def stable(self) -> Finding:
        check = f"{STAGE}.stable"
        unparsed = self._unparsed(check)
        if unparsed:
            return unparsed
        interval = self.settings.timeout("metrics_interval")
        # What the other checks need of the first scrape (its lint problems) and what the
        # comparison needs of it (a counter snapshot, built sample by sample after the lint, so
        # their working memory never adds up) are kept; then its body is let go, and only then
        # is the snapshot sorted: two bodies are never held at once, and the transient memory
        # never comes on top of one (the memory target: under 2x one body; bench/metrics_bench.py).
        if self._earlier is None:
            self._lint_problems()
            self._earlier = CounterSnapshot.of(self.exposition())
            self.exposition().release()
            self._first = self._first._replace(body=b"")
            self._earlier.sort()
        earlier = self._earlier
        # The interval runs from the end of the first scrape, as two Prometheus scrapes would
        # (the parse and the lint took part of it).
        time.sleep(max(0.0, interval - (time.monotonic() - self._first_done)))
        second = self._scrape()
        if isinstance(second, HttpFailure) or second.status != 200:
            found = second if isinstance(second, HttpFailure) else f"HTTP {second.status} {second.reason}"
            return failed(check, f"the second scrape of {self.shown_url}, {interval:g} s after the first, "
                                 f"failed: {found}; the service may have crashed or be restarting",
                          self.shown_url)
        # Only what the comparison reads: the first scrape's counter-like samples, the start time.
        later = _parse(second, self.settings.metrics_rules, only=earlier.names)
        del second  # the body: only the parse (which reads labels from it) keeps it now
        if isinstance(later, ExpositionError):
            return failed(check, f"the second scrape of {self.shown_url} does not parse: line {later.line}: "
                                 f"{later.reason}: {quote_line(later.text)}", self.shown_url)
        return compare_scrapes(earlier, later, interval, self.shown_url)

    def health(self) -> Finding:
        check = f"{STAGE}.health"
        url = health_url(self.ctx.values)
        if not url:
            return skipped(check, "SERVICE_URL is not set: no health endpoint to ask")
        shown = urls.display_url(url)
        where = self.ctx.source.where("SERVICE_URL")
        try:
            _split(self.ctx.values, "SERVICE_URL")
        except AddressError as exc:
            return failed(check, f"no health endpoint to ask: {exc} ({where}): correct SERVICE_URL", where)
        timeout = self.settings.timeout("http_timeout")
        try:
            response = http_get(url, timeout, "application/json")
        except HttpFailure as exc:
            return failed(check, f"GET {shown} failed: {exc}; expected HTTP 200 within "
                                 f"{timeout:g} s (SERVICE_URL from {where}): keep traffic "
                                 f"closed until the service answers", shown)
        if response.status != 200:
            return failed(check, f"GET {shown} answered HTTP {response.status} {response.reason}, expected "
                                 f"200: the service is not healthy; keep traffic closed and check its logs",
                          shown)
        status = _json_status(response.body)
        if status is not None and str(status).strip().lower() not in HEALTHY_STATUSES:
            return failed(check, f"GET {shown} answered 200 but its status is {str(status)[:80]!r}, expected "
                                 f"one of {', '.join(HEALTHY_STATUSES)}: keep traffic closed until it is "
                                 f"healthy", shown)
        said = f", status {status!r}" if status is not None else ""
        return passed(check, f"GET {shown}: HTTP 200{said} in {response.elapsed:.3f} s", shown)


def compare_scrapes(earlier: CounterSnapshot, second: Exposition, interval: float, where: str = "") -> Finding:
    """No counter went backwards and process_start_time_seconds did not change."""
    check = f"{STAGE}.stable"
    problems = []
    before, after = earlier.start_time, _start_time(second)
    if before is not None and after is not None and before != after:
        problems.append(f"process_start_time_seconds changed from {before!r} to {after!r}: the service "
                        f"restarted between the scrapes (a crash loop?); check its logs")
    went_back = [f"{series_key(value.name, family.sample(value.row).labels)} went from {before_value!r} to "
                 f"{value.value!r}"
                 for family in second.families for value in family.values()  # the snapshot's keys pick
                 for before_value in [earlier.value_of(value.key)]
                 if before_value is not None and value.value < before_value]
    if went_back:
        shown = "; ".join(went_back[:10]) + (f"; and {len(went_back) - 10} more" if len(went_back) > 10 else "")
        problems.append(f"counters went backwards: {shown} (a counter only resets when its process restarts)")
    if problems:
        return failed(check, f"two scrapes {interval:g} s apart ({where}): " + "; ".join(problems), where)
    note = "" if before is not None else " (process_start_time_seconds is absent: restarts cannot be seen)"
    return passed(check, f"two scrapes {interval:g} s apart: {len(earlier)} counter series, none went "
                         f"backwards, no restart{note}", where)


class CounterSnapshot:
    """A scrape's counter-like series as the stability check compares them: the hashes of their
    keys (name and label set, exposition.series_hash) beside their values: 16 bytes a series
    where a dict of key strings takes ten times that (a large exposition has tens of
    thousands). Sorted by ``sort`` (MetricsProbe.stable calls it once the first body is let
    go: sorting needs memory of its own) or at the first lookup. Two keys sharing a 64-bit
    hash would be compared with each other: odds of about 1e-11 at 20,000. ``names``: the
    sample names of those series and the start time's, all a second scrape needs read."""

    def __init__(self, hashes: array, values: array, start_time: float | None, names: frozenset[str]):
        self.hashes, self.values, self.start_time, self.names = hashes, values, start_time, names
        self._sorted = False

    @classmethod
    def of(cls, exposition: Exposition) -> CounterSnapshot:
        hashes, values, names = array("q"), array("d"), {START_TIME}
        for value in _counter_values(exposition):
            hashes.append(value.key)
            values.append(value.value)
            names.add(value.name)
        return cls(hashes, values, _start_time(exposition), frozenset(names))

    def __len__(self) -> int:
        return len(self.hashes)

    def sort(self) -> None:
        if not self._sorted:
            order = sorted(range(len(self.hashes)), key=self.hashes.__getitem__)
            self.hashes = array("q", (self.hashes[i] for i in order))
            self.values = array("d", (self.values[i] for i in order))
            self._sorted = True

    def value_of(self, key: int) -> float | None:
        """The value of the series whose key (exposition.series_hash) is ``key``, or None."""
        self.sort()
        i = bisect_left(self.hashes, key)
        return self.values[i] if i < len(self.hashes) and self.hashes[i] == key else None


def _counter_values(exposition: Exposition) -> Iterator[Value]:
    """Counter-like series: counters, histogram buckets and counts, summary counts (no labels read)."""
    for family in exposition.families:
        if family.type not in ("counter", "histogram", "summary"):
            continue
        for value in family.values():
            if value.name.endswith("_created"):
                continue  # a creation timestamp, not a count
            if (family.type == "counter"
                    or (family.type == "histogram" and value.name.endswith(("_bucket", "_count")))
                    or (family.type == "summary" and value.name.endswith("_count"))):
                yield value


def _start_time(exposition: Exposition) -> float | None:
    family = exposition.family(START_TIME)
    return next((v.value for v in family.values()), None) if family else None


def _parse(response: Response, rules: str, only=None) -> Exposition | ExpositionError:
    try:
        return parse(response.body, format_of(response.content_type), rules, only)
    except ExpositionError as exc:
        return exc


def _format_name(response: Response) -> str:
    return {TEXT: "Prometheus text 0.0.4", OPENMETRICS: "OpenMetrics"}[format_of(response.content_type)]


def _json_status(body: bytes):
    """The ``status`` field of a JSON object body, or None (no JSON, or no such field)."""
    import json  # here: only the health check reads JSON

    try:
        document = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):  # nested past the stack: not a status either
        return None
    return document.get("status") if isinstance(document, dict) else None


def check_ids(contract: Contract) -> tuple[str, ...]:
    return CHECKS


def run(ctx: RunContext) -> list[Finding]:
    """The metrics step: one finding per check, all over one pair of scrapes."""
    probe = MetricsProbe(ctx)
    return [timed(check) for check in (probe.scrape, probe.parse, probe.lint, probe.required, probe.stable,
                                        probe.health)]
