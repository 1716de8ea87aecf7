"""The metrics and health step: scrape /metrics as Prometheus would, parse, lint, compare two
scrapes, and ask the service's /health.

One :class:`MetricsProbe` per run: it scrapes once (and a second time, ``metrics_interval``
later, for the stability check) and each check reads the cached result, so the preflight CLI
and the runbook tests (one test per check) share the scrape and the code. Parsing and linting
are pure functions in flash_green_ops/metrics/exposition.py and flash_green_ops/metrics/promlint.py.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, replace
from email.message import Message
from urllib.parse import urlsplit, urlunsplit

from flash_green_ops import redact
from flash_green_ops.context import RunContext
from flash_green_ops.contract import Contract
from flash_green_ops.findings import Finding, failed, passed, skipped, timed, warned
from flash_green_ops.metrics.exposition import (OPENMETRICS, TEXT, Exposition, ExpositionError, format_of, parse,
                                                quote_line, series_key)
from flash_green_ops.metrics.promlint import CURRENT, lint_families
from flash_green_ops.neterrors import connection_reason

STAGE = "metrics"
CHECKS = tuple(f"{STAGE}.{name}" for name in ("scrape", "parse", "lint", "required", "stable", "health"))
DEFAULT_METRICS_PORT = 8000
# What a Prometheus server sends when it scrapes, so the service answers us as it answers it.
PROMETHEUS_ACCEPT = ("application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
                     "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1")
ACCEPTED_TYPES = "text/plain; version=0.0.4 or application/openmetrics-text"
# Connection errors (refused, reset, a connect timeout) are retried this often; a read
# timeout or an answer of any status never is. The connect timeout is split across the
# attempts, so connecting still fits in --http-timeout.
CONNECT_RETRIES = 2
MAX_REDIRECTS = 5  # Prometheus follows redirects too
MAX_BODY_BYTES = 64 * 1024 * 1024  # a scrape this large is a bug in the exporter anyway
HEALTHY_STATUSES = ("ok", "pass", "healthy")


class HttpFailure(Exception):
    """The request got no complete answer (refused, timed out, cut off, too large)."""


@dataclass(frozen=True)
class Response:
    url: str
    status: int
    reason: str
    content_type: str
    body: bytes
    elapsed: float


def display_url(url: str) -> str:
    """``url`` without user:password@, for messages."""
    if redact.hides_userinfo(url):
        # urllib cannot tell where the password ends (an unescaped '/', '?' or '#' in it), so
        # no part after the scheme can be shown safely.
        return f"{urlsplit(url).scheme}://{redact.MASK}"
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    # Drop everything up to the last "@": parts.port would raise on a port out of range.
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def scrape_url(values: dict[str, str]) -> str:
    """METRICS_URL, else http://<host of SERVICE_URL, else 127.0.0.1>:METRICS_PORT/metrics."""
    if (values.get("METRICS_URL") or "").strip():
        return values["METRICS_URL"].strip()
    port_text = (values.get("METRICS_PORT") or "").strip() or str(DEFAULT_METRICS_PORT)
    if not port_text.isdecimal() or not 1 <= int(port_text) <= 65535:  # isdigit() takes "²", int() not
        raise ValueError(f"METRICS_PORT must be an integer 1-65535, found {port_text!r}")
    host = "127.0.0.1"
    if (values.get("SERVICE_URL") or "").strip():
        host = urlsplit(values["SERVICE_URL"].strip()).hostname or host
    if ":" in host:  # an IPv6 literal
        host = f"[{host}]"
    return f"http://{host}:{int(port_text)}/metrics"


def health_url(values: dict[str, str]) -> str | None:
    base = (values.get("SERVICE_URL") or "").strip()
    return base.rstrip("/") + "/health" if base else None


def http_get(url: str, timeout: float, accept: str = "*/*") -> Response:
    """GET ``url``; the whole exchange ends within about ``timeout`` seconds, or HttpFailure."""
    import requests  # lazy: only this step needs it
    from requests.adapters import HTTPAdapter
    from urllib3.exceptions import MaxRetryError
    from urllib3.util.retry import Retry

    retry = Retry(total=CONNECT_RETRIES, connect=CONNECT_RETRIES, read=False, status=False,
                  other=0, redirect=False, backoff_factor=0.1, raise_on_status=False)
    started = time.monotonic()
    deadline = started + timeout
    with requests.Session() as session:
        session.max_redirects = MAX_REDIRECTS
        adapter = HTTPAdapter(max_retries=retry)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        try:
            with session.get(url, headers={"Accept": accept}, stream=True,
                             timeout=(timeout / (1 + CONNECT_RETRIES), timeout)) as answer:
                chunks, size = [], 0
                for chunk in answer.iter_content(64 * 1024):
                    chunks.append(chunk)
                    size += len(chunk)
                    if size > MAX_BODY_BYTES:
                        raise HttpFailure(f"the body is larger than {MAX_BODY_BYTES // 2**20} MiB")
                    if time.monotonic() > deadline:
                        raise HttpFailure(f"the answer did not finish within {timeout:g} s")
                return Response(url, answer.status_code, answer.reason or "",
                                answer.headers.get("Content-Type", ""), b"".join(chunks),
                                time.monotonic() - started)
        except requests.exceptions.Timeout:
            raise HttpFailure(f"no answer within {timeout:g} s (timed out)") from None
        except requests.exceptions.TooManyRedirects:
            raise HttpFailure(f"more than {MAX_REDIRECTS} redirects") from None
        except (requests.exceptions.InvalidURL, requests.exceptions.InvalidSchema,
                requests.exceptions.MissingSchema) as exc:
            # The type only: requests quotes the whole URL, password included, in its message.
            raise HttpFailure(f"not a usable URL ({type(exc).__name__})") from None
        except requests.exceptions.ChunkedEncodingError:
            raise HttpFailure("the connection broke off before the whole body arrived "
                              "(ChunkedEncodingError)") from None
        except requests.exceptions.RequestException as exc:
            reason = connection_reason(exc)
            # urllib3 wraps the last error in MaxRetryError only when it retried (connecting).
            if any(isinstance(a, MaxRetryError) for a in exc.args):
                reason += f" (after {CONNECT_RETRIES} retries)"
            raise HttpFailure(reason) from None


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
        self._url_error: str | None = None
        try:
            self.url = scrape_url(ctx.values)
        except ValueError as exc:
            self.url, self._url_error = "", str(exc)
        self.shown_url = display_url(self.url)

    # -- cached scrapes ----------------------------------------------------------------------
    def first(self) -> Response | HttpFailure:
        if self._first is None:
            self._first = self._scrape()
        return self._first

    def _scrape(self) -> Response | HttpFailure:
        try:
            return http_get(self.url, self.settings.http_timeout, PROMETHEUS_ACCEPT)
        except HttpFailure as exc:
            return exc

    def exposition(self) -> Exposition | ExpositionError | None:
        """The parsed first scrape; None when there is no 200 answer to parse."""
        response = self.first()
        if not isinstance(response, Response) or response.status != 200:
            return None
        if self._exposition is None:
            self._exposition = _parse(response)
        return self._exposition

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
            return failed(check, f"cannot build the scrape address: {self._url_error} "
                                 f"({self.ctx.source.where('METRICS_PORT')}): "
                                 f"set METRICS_PORT to the service's metrics port, or METRICS_URL",
                          self.ctx.source.where("METRICS_PORT"))
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
                             f"{len(response.body)} bytes in {response.elapsed:.3f} s", self.shown_url)

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
        samples = sum(len(f.samples) for f in exposition.families)
        return passed(check, f"{len(exposition.families)} metric families, {samples} samples parsed as "
                             f"{fmt_name} from {self.shown_url}", self.shown_url)

    def lint(self) -> Finding:
        check = f"{STAGE}.lint"
        unparsed = self._unparsed(check)
        if unparsed:
            return unparsed
        problems = lint_families(self.exposition().families, CURRENT)
        if not problems:
            return passed(check, f"no problems by the rules of promtool check metrics in {self.shown_url}",
                          self.shown_url)
        names = len({p.metric for p in problems})
        message = (f"{len(problems)} problems in {names} metric families by the rules of promtool check "
                   f"metrics ({self.shown_url}), rename per https://prometheus.io/docs/practices/naming/")
        report = failed if self.settings.metrics_strict else warned
        return replace(report(check, message, self.shown_url),
                       items=tuple(f"{p.metric} {p.text} (line {p.line})" for p in problems))

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
        interval = self.settings.metrics_interval
        # The interval runs from the end of the first scrape, as two Prometheus scrapes would.
        time.sleep(interval)
        second = self._scrape()
        if isinstance(second, HttpFailure) or second.status != 200:
            found = second if isinstance(second, HttpFailure) else f"HTTP {second.status} {second.reason}"
            return failed(check, f"the second scrape of {self.shown_url}, {interval:g} s after the first, "
                                 f"failed: {found}; the service may have crashed or be restarting",
                          self.shown_url)
        later = _parse(second)
        if isinstance(later, ExpositionError):
            return failed(check, f"the second scrape of {self.shown_url} does not parse: line {later.line}: "
                                 f"{later.reason}: {quote_line(later.text)}", self.shown_url)
        return compare_scrapes(self.exposition(), later, interval, self.shown_url)

    def health(self) -> Finding:
        check = f"{STAGE}.health"
        url = health_url(self.ctx.values)
        if not url:
            return skipped(check, "SERVICE_URL is not set: no health endpoint to ask")
        shown = display_url(url)
        where = self.ctx.source.where("SERVICE_URL")
        try:
            response = http_get(url, self.settings.http_timeout, "application/json")
        except HttpFailure as exc:
            return failed(check, f"GET {shown} failed: {exc}; expected HTTP 200 within "
                                 f"{self.settings.http_timeout:g} s (SERVICE_URL from {where}): keep traffic "
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


def compare_scrapes(first: Exposition, second: Exposition, interval: float, where: str = "") -> Finding:
    """No counter went backwards and process_start_time_seconds did not change."""
    check = f"{STAGE}.stable"
    problems = []
    before, after = _start_time(first), _start_time(second)
    if before is not None and after is not None and before != after:
        problems.append(f"process_start_time_seconds changed from {before!r} to {after!r}: the service "
                        f"restarted between the scrapes (a crash loop?); check its logs")
    earlier = _counter_values(first)
    went_back = [f"{key} went from {earlier[key]!r} to {value!r}"
                 for key, value in _counter_values(second).items()
                 if key in earlier and value < earlier[key]]
    if went_back:
        shown = "; ".join(went_back[:10]) + (f"; and {len(went_back) - 10} more" if len(went_back) > 10 else "")
        problems.append(f"counters went backwards: {shown} (a counter only resets when its process restarts)")
    if problems:
        return failed(check, f"two scrapes {interval:g} s apart ({where}): " + "; ".join(problems), where)
    note = "" if before is not None else " (process_start_time_seconds is absent: restarts cannot be seen)"
    return passed(check, f"two scrapes {interval:g} s apart: {len(earlier)} counter series, none went "
                         f"backwards, no restart{note}", where)


def _counter_values(exposition: Exposition) -> dict[str, float]:
    """Counter-like series: counters, histogram buckets and counts, summary counts."""
    values = {}
    for family in exposition.families:
        for sample in family.samples:
            if sample.name.endswith("_created"):
                continue  # a creation timestamp, not a count
            if (family.type == "counter"
                    or (family.type == "histogram" and sample.name.endswith(("_bucket", "_count")))
                    or (family.type == "summary" and sample.name.endswith("_count"))):
                values[series_key(sample)] = sample.value
    return values


def _start_time(exposition: Exposition) -> float | None:
    family = exposition.family("process_start_time_seconds")
    return family.samples[0].value if family and family.samples else None


def _parse(response: Response) -> Exposition | ExpositionError:
    try:
        return parse(response.body, format_of(response.content_type))
    except ExpositionError as exc:
        return exc


def _format_name(response: Response) -> str:
    return {TEXT: "Prometheus text 0.0.4", OPENMETRICS: "OpenMetrics"}[format_of(response.content_type)]


def _json_status(body: bytes):
    """The ``status`` field of a JSON object body, or None (no JSON, or no such field)."""
    try:
        document = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    return document.get("status") if isinstance(document, dict) else None


def check_ids(contract: Contract) -> tuple[str, ...]:
    return CHECKS


def run(ctx: RunContext) -> list[Finding]:
    """The metrics step: one finding per check, all over one pair of scrapes."""
    probe = MetricsProbe(ctx)
    return [timed(check) for check in (probe.scrape, probe.parse, probe.lint, probe.required, probe.stable,
                                        probe.health)]
