"""TLS step: the certificate of every TLS endpoint the env names verifies with the configured CA,
matches its host name, and does not expire within --cert-min-days.

Endpoints: Vault (``VAULT_ADDR``, CA ``VAULT_CACERT``), ``SERVICE_URL``, ``METRICS_URL``, the
enabled adapters' URLs (CA ``TLS_CACERT``, else the system's trust store) and PostgreSQL when
its sslmode asks for TLS (require, verify-ca, verify-full; CA ``sslrootcert``), whose certificate
is read after the protocol's SSLRequest. An endpoint that is not configured, not enabled, or not
TLS is not applicable (a pytest skip with the reason; left out of the preflight).

Verdicts: expired or not yet valid, a chain that does not verify, a host name that does not
match: failures; expiring within --cert-min-days: a warning naming host, subject, issuer and the
date. When verification fails the certificate is read a second time, unverified, so the message
can still say what it is ("expired on 2026-11-30, issuer ..."). The preflight reports this
step's failures as warnings (see preflight.py); the runbook tests fail on them.

- ``run(ctx) -> list[Finding]``: one finding per check of CHECKS;
- ``fetch_certificate(...) -> Inspection`` (one endpoint, network) and ``verdict(...)`` (pure).
"""
from __future__ import annotations

import datetime
import socket
import ssl
import struct
from dataclasses import dataclass, replace

from flash_green_ops import endpoints, redact, resolver
from flash_green_ops.context import RunContext
from flash_green_ops.contract import Contract
from flash_green_ops.credentials import database_params
from flash_green_ops.findings import Finding, failed, not_applicable, passed, timed, warned
from flash_green_ops.neterrors import connection_reason
from flash_green_ops.pg import DatabaseConfigError

STAGE = "tls"
CHECKS = tuple(f"{STAGE}.{name}" for name in ("vault", "service", "metrics", *(a.name for a in endpoints.ADAPTERS), "db"))
# PostgreSQL's SSLRequest: length 8, then the request code 1234 << 16 | 5679; the server answers
# one byte, 'S' (go ahead with the TLS handshake) or 'N' (no TLS here).
SSL_REQUEST = struct.pack("!II", 8, 80877103)
POSTGRES_TLS_MODES = ("require", "verify-ca", "verify-full")
# OpenSSL's X509_V_ERR_HOSTNAME_MISMATCH and X509_V_ERR_IP_ADDRESS_MISMATCH.
NAME_MISMATCH_CODES = (62, 64)


def check_ids(contract: Contract) -> tuple[str, ...]:
    return CHECKS


class TlsUnavailable(Exception):
    """No certificate could be read (refused, timed out, no TLS on the port); the reason only."""


@dataclass(frozen=True)
class Endpoint:
    check: str
    what: str  # "Vault (VAULT_ADDR, prod.env line 4)": names the variable and where it is set
    host: str
    port: int
    cafile: str | None  # None: the system's trust store
    ca_origin: str  # how messages name the CA ("VAULT_CACERT /etc/ca.pem", "the system's trust store")
    verify_chain: bool = True
    check_hostname: bool = True
    postgres: bool = False
    note: str = ""  # said in the verdict (PostgreSQL's sslmode)
    where: str | None = None  # the variable's file and line

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class Certificate:
    subject: str
    issuer: str
    not_before: datetime.datetime
    not_after: datetime.datetime
    names: tuple[str, ...]  # subjectAltName DNS names and IP addresses


@dataclass(frozen=True)
class Inspection:
    certificate: Certificate
    verify_error: str | None = None  # OpenSSL's reason, when the chain or the name did not verify
    verify_code: int | None = None


# --------------------------------------------------------------------------------------------
# Reading a certificate


def parse_certificate(der: bytes) -> Certificate:
    from cryptography import x509

    cert = x509.load_der_x509_certificate(der)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = tuple(san.get_values_for_type(x509.DNSName)) + tuple(
            str(ip) for ip in san.get_values_for_type(x509.IPAddress))
    except x509.ExtensionNotFound:
        names = ()
    return Certificate(cert.subject.rfc4514_string() or "(empty)", cert.issuer.rfc4514_string() or "(empty)",
                       cert.not_valid_before_utc, cert.not_valid_after_utc, names)


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise TlsUnavailable("the server closed the connection")
        data += chunk
    return data


def postgres_ssl_request(sock: socket.socket) -> None:
    """Ask a PostgreSQL server for TLS on a fresh connection (the protocol's SSLRequest); after
    it returns, the socket is ready for the TLS handshake. TlsUnavailable when the server says
    no ('N': ssl = off) or answers something else (not PostgreSQL)."""
    sock.sendall(SSL_REQUEST)
    answer = _recv_exactly(sock, 1)
    if answer == b"N":
        raise TlsUnavailable("the server refused the SSL request (its ssl setting is off)")
    if answer != b"S":
        raise TlsUnavailable(f"the server answered the SSL request with {answer!r}: not PostgreSQL?")


def _peer_der(endpoint: Endpoint, context: ssl.SSLContext, timeout: float) -> bytes:
    # The name is looked up within the timeout too (getaddrinfo has none of its own).
    with resolver.connect(endpoint.host, endpoint.port, timeout) as raw:
        raw.settimeout(timeout)  # every read and write of the handshake, too
        if endpoint.postgres:
            postgres_ssl_request(raw)
        with context.wrap_socket(raw, server_hostname=endpoint.host) as tls:
            return tls.getpeercert(binary_form=True)


def _unverified_context() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def fetch_certificate(endpoint: Endpoint, timeout: float) -> Inspection:
    """The endpoint's certificate and whether it verified (two connections when it did not).
    Each connection's every step is bounded by ``timeout``. Raises TlsUnavailable with the
    reason when no certificate can be read; OSError for an unreadable CA file."""
    if endpoint.verify_chain:
        context = ssl.create_default_context(cafile=endpoint.cafile)
        context.check_hostname = endpoint.check_hostname
    else:
        context = _unverified_context()
    try:
        try:
            return Inspection(parse_certificate(_peer_der(endpoint, context, timeout)))
        except ssl.SSLCertVerificationError as exc:
            error, code = exc.verify_message, exc.verify_code
        return Inspection(parse_certificate(_peer_der(endpoint, _unverified_context(), timeout)), error, code)
    except TimeoutError:
        raise TlsUnavailable(f"no answer within {timeout:g} s (timed out)") from None
    except ssl.SSLError as exc:
        raise TlsUnavailable(f"the TLS handshake failed ({exc.reason or type(exc).__name__}): "
                             f"is this port speaking TLS?") from None
    except OSError as exc:
        raise TlsUnavailable(connection_reason(exc)) from None


# --------------------------------------------------------------------------------------------
# The verdict (pure)


def _date(moment: datetime.datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def verdict(endpoint: Endpoint, inspection: Inspection, now: datetime.datetime, min_days: float) -> Finding:
    cert = inspection.certificate
    who = (f"{endpoint.what}: the certificate of {endpoint.address} (subject {cert.subject}, "
           f"issuer {cert.issuer})")
    check = endpoint.check
    if now < cert.not_before:
        return failed(check, f"{who} is not valid before {_date(cert.not_before)}: clients refuse it until "
                      f"then; check the server's clock and the certificate's dates, or reinstall the previous one")
    if now >= cert.not_after:
        ago = (now - cert.not_after).total_seconds() / 86400
        return failed(check, f"{who} expired on {_date(cert.not_after)} ({ago:.1f} days ago): clients refuse "
                      f"it; renew it and reload the server")
    if inspection.verify_error:
        if inspection.verify_code in NAME_MISMATCH_CODES:
            return failed(check, f"{who} does not match host name {endpoint.host} (it names "
                          f"{', '.join(cert.names) or 'no subjectAltName'}): clients refuse it; issue a "
                          f"certificate for {endpoint.host}, or use a host name it names")
        return failed(check, f"{who} does not verify with {endpoint.ca_origin}: {inspection.verify_error}; "
                      f"configure the CA that signs it, or install a certificate that CA signed")
    left = cert.not_after - now
    days_left = left.total_seconds() / 86400
    verified = (f"verifies with {endpoint.ca_origin}" + (", matches the host name" if endpoint.check_hostname else "")
                if endpoint.verify_chain else "is not verified")
    note = f" ({endpoint.note})" if endpoint.note else ""
    if days_left < min_days:
        return warned(check, f"{who} expires on {_date(cert.not_after)}, in {days_left:.1f} days "
                      f"(less than --cert-min-days {min_days:g}): renew it before then; it {verified}{note}")
    return passed(check, f"{who} {verified}, valid until {_date(cert.not_after)} ({left.days} days){note}")


# --------------------------------------------------------------------------------------------
# The endpoints the env names


def _url_endpoint(ctx: RunContext, check: str, title: str, key: str, ca_key: str) -> Endpoint | Finding:
    where = ctx.source.where
    url = endpoints.value(ctx.values, key)
    try:
        target = endpoints.host_port(url)
    except ValueError as exc:
        return failed(check, f"{title} ({key}, {where(key)}): {exc}", where(key))
    if not target.tls:
        return not_applicable(check, f"{title} ({key}, {where(key)}) is {target.scheme}://: no TLS, no certificate")
    cafile, ca_origin = endpoints.ca_file(ctx.values, ca_key)
    return Endpoint(check, f"{title} ({key}, {where(key)})", target.host, target.port, cafile, ca_origin,
                    where=where(key))


def _db_endpoint(ctx: RunContext, check: str) -> Endpoint | Finding:
    try:
        params, key = database_params(ctx)
    except DatabaseConfigError as exc:
        return not_applicable(check, f"no usable database settings: {exc}")
    mode = params.get("sslmode") or "prefer"
    where = ctx.source.where(key)
    if mode not in POSTGRES_TLS_MODES:
        return not_applicable(check, f"PostgreSQL ({key}, {where}): sslmode={mode} does not ask for TLS")
    host = params.get("host") or params.get("hostaddr") or ""
    if not host or host.startswith("/") or "," in host:
        return not_applicable(check, f"PostgreSQL ({key}, {where}): host {host or '(unix socket)'} is not "
                              f"one TCP host; not checked")
    rootcert = params.get("sslrootcert") or ""
    cafile = None if rootcert in ("", "system") else rootcert
    # As libpq: sslmode=require verifies nothing unless a root certificate is given (then it
    # acts as verify-ca); verify-full also checks the host name.
    verify_chain = mode != "require" or bool(rootcert)
    ca_origin = f"sslrootcert {rootcert} ({key})" if cafile else "the system's trust store"
    return Endpoint(check, f"PostgreSQL ({key}, {where})", host, int(params.get("port") or 5432), cafile, ca_origin,
                    verify_chain=verify_chain, check_hostname=mode == "verify-full", postgres=True,
                    note=f"sslmode={mode}", where=where)


def endpoints_of(ctx: RunContext) -> list[Endpoint | Finding]:
    """One entry per check: the endpoint to inspect, or its finding already (not applicable)."""
    values = ctx.values
    found: list[Endpoint | Finding] = []
    for name, title, key, ca_key in (("vault", "Vault", "VAULT_ADDR", "VAULT_CACERT"),
                                     ("service", "the service", "SERVICE_URL", endpoints.TLS_CA_KEY),
                                     ("metrics", "the metrics endpoint", "METRICS_URL", endpoints.TLS_CA_KEY)):
        if endpoints.value(values, key):
            found.append(_url_endpoint(ctx, f"{STAGE}.{name}", title, key, ca_key))
        else:
            found.append(not_applicable(f"{STAGE}.{name}", f"{key} is not set"))
    for adapter in endpoints.ADAPTERS:
        check = f"{STAGE}.{adapter.name}"
        if not endpoints.is_enabled(values, adapter.flag):
            found.append(not_applicable(check, f"the {adapter.title} adapter is disabled ({adapter.flag} is not true)"))
        elif not endpoints.value(values, adapter.url_key):
            found.append(not_applicable(check, f"{adapter.url_key} is not set (see env.* for the missing setting)"))
        else:
            found.append(_url_endpoint(ctx, check, f"the {adapter.title} adapter", adapter.url_key,
                                       endpoints.TLS_CA_KEY))
    found.append(_db_endpoint(ctx, f"{STAGE}.db"))
    return found


def check_endpoint(endpoint: Endpoint, timeout: float, min_days: float,
                   now: datetime.datetime | None = None) -> Finding:
    try:
        inspection = fetch_certificate(endpoint, timeout)
    except TlsUnavailable as exc:
        return failed(endpoint.check, f"{endpoint.what}: no certificate read from {endpoint.address}: {exc}",
                      endpoint.where)
    except OSError as exc:  # the CA file (ssl.create_default_context)
        return failed(endpoint.check, f"{endpoint.what}: cannot read {endpoint.ca_origin}: "
                      f"{exc.strerror or exc}", endpoint.where)
    return _located(endpoint, verdict(endpoint, inspection, now or datetime.datetime.now(datetime.timezone.utc),
                                      min_days))


def run(ctx: RunContext) -> list[Finding]:
    settings = ctx.settings
    findings = []
    for entry in endpoints_of(ctx):
        if isinstance(entry, Finding):
            findings.append(entry)
        else:
            findings.append(timed(lambda: check_endpoint(entry, settings.timeout("http_timeout"),
                                                                 settings.cert_min_days)))
    return [replace(f, message=redact.mask(f.message)) for f in findings]


def _located(endpoint: Endpoint, finding: Finding) -> Finding:
    return replace(finding, where=finding.where or endpoint.where)
