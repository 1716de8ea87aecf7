"""One PostgreSQL connection type for every step: where to connect, and connecting with a deadline.

:class:`PgEndpoint` holds libpq keywords *without* the password, and the password apart, so
``conninfo()`` (what child programs get on their command line, world-readable in /proc) cannot
hold it; ``child_env()`` passes it as PGPASSWORD, ``connect()`` hands it to psycopg directly.
``source_key`` and ``where`` say where the settings came from (an env key and its file line, an
option such as --restore-url), so a connection error says where to fix it.

Why not just ``psycopg.connect(connect_timeout=N)``: psycopg gives *each* address the full
timeout, so a name resolving to two silent addresses (or a host list) waits N per address,
and name resolution has no deadline at all. :meth:`PgEndpoint.connect` puts one deadline on
name resolution (in a worker thread) and every attempt; each attempt gets what remains.
"""
from __future__ import annotations

import math
import os
import re
import socket
import time
from dataclasses import dataclass, field, replace
from ipaddress import ip_address

from flash_green_ops import redact, resolver
from flash_green_ops.errors import OpsError

# libpq (and psycopg, which enforces it) will not wait less than this per connection attempt.
LIBPQ_MIN_CONNECT_TIMEOUT = 2
_LATER_ATTEMPT_MIN_REMAINING = LIBPQ_MIN_CONNECT_TIMEOUT - 0.9
# Arguments of psycopg.connect that are not conninfo parameters.
_PSYCOPG_ARGS = frozenset({"autocommit", "prepare_threshold", "context", "row_factory", "cursor_factory"})


class DatabaseConfigError(OpsError):
    """The settings do not describe a database libpq can use (message masked, names the key)."""


class DatabaseUnreachable(OpsError):
    """A connection failed: the message names host, port and cause (masked; never the password)."""

    def __init__(self, message: str, *, host: str, port: str, cause: str):
        super().__init__(redact.mask(message))
        self.host, self.port, self.cause = host, port, redact.mask(cause)


# libpq keywords besides the password whose values are secret (registered, never on a command line).
CHILD_SECRET_KEYWORDS = ("sslpassword", "oauth_client_secret")


@dataclass(frozen=True)
class PgEndpoint:
    """A database to connect to (see the module docstring)."""

    params: tuple[tuple[str, str], ...]
    password: str | None = field(default=None, repr=False)
    connect_timeout: float = 5.0
    source_key: str = field(default="the connection URL", compare=False)
    where: str | None = field(default=None, compare=False)  # None: the label (host:port/dbname)

    @classmethod
    def from_params(cls, params: dict, *, connect_timeout: float = 5.0, source_key: str = "the connection URL",
                    where: str | None = None) -> PgEndpoint:
        """From libpq keywords; a ``password`` among them is kept apart (and registered secret)."""
        params = {k: str(v) for k, v in params.items()}
        password = params.pop("password", None) or None
        redact.register_all([password, *(params.get(k) for k in CHILD_SECRET_KEYWORDS)])
        params.pop("connect_timeout", None)  # ours (--db-connect-timeout) governs
        return cls(tuple(sorted(params.items())), password, connect_timeout, source_key, where)

    @classmethod
    def from_conninfo(cls, conninfo: str, password: str | None = None, connect_timeout: float = 5.0,
                      source_key: str = "the connection URL") -> PgEndpoint:
        """From a URL or key=value conninfo; its own password wins over ``password``.
        ``source_key``: where the URL came from (e.g. "--restore-url"), named in errors."""
        from psycopg.conninfo import conninfo_to_dict

        params = conninfo_to_dict(conninfo)
        if not params.get("password") and password:
            params["password"] = password
        return cls.from_params(params, connect_timeout=connect_timeout, source_key=source_key)

    @property
    def options(self) -> dict[str, str]:
        return dict(self.params)

    @property
    def host(self) -> str:
        o = self.options
        return o.get("host") or o.get("hostaddr") or "the default unix socket"

    @property
    def port(self) -> str:
        return self.options.get("port") or "5432"

    @property
    def dbname(self) -> str | None:
        return self.options.get("dbname")

    @property
    def user(self) -> str:
        return self.options.get("user") or ""

    @property
    def sslmode(self) -> str:
        return self.options.get("sslmode") or "prefer"  # libpq's default

    @property
    def label(self) -> str:
        """``host:port/dbname``, masked: safe for any message (never the password)."""
        return redact.mask(f"{self.host}:{self.port}/{self.dbname or self.user or '?'}")

    @property
    def origin(self) -> str:
        """Where the settings came from, for "fix it there"."""
        return self.where or self.label

    def with_params(self, **changes: str | None) -> PgEndpoint:
        """Another database/user/option on the same server (None removes a keyword)."""
        params = self.options
        for key, value in changes.items():
            if value is None:
                params.pop(key, None)
            else:
                params[key] = str(value)
        return replace(self, params=tuple(sorted(params.items())))

    def _timeout_seconds(self) -> int:
        # libpq takes whole seconds and treats 1 as 2; round up so we never wait less than asked.
        return max(LIBPQ_MIN_CONNECT_TIMEOUT, math.ceil(self.connect_timeout))

    def _session_params(self, application_name: str | None, read_only: bool) -> dict[str, str]:
        """The keywords (no password) with the session's name and, if asked, read-only mode."""
        params = self.options
        if application_name:
            params["application_name"] = application_name
        if read_only:
            params["options"] = (params.get("options", "") + " -c default_transaction_read_only=on").strip()
        return params

    def conninfo(self, application_name: str | None = None, read_only: bool = False) -> str:
        """For child processes' command lines: no password, by construction, and none of libpq's
        other secret keywords (CHILD_SECRET_KEYWORDS): libpq reads those from no environment
        variable, so a child needing one (an encrypted client key) fails with libpq's own message
        rather than showing it in /proc."""
        from psycopg.conninfo import make_conninfo

        params = {k: v for k, v in self._session_params(application_name, read_only).items()
                  if k not in CHILD_SECRET_KEYWORDS}
        params["connect_timeout"] = str(self._timeout_seconds())
        return make_conninfo(**params)

    def child_env(self) -> dict[str, str]:
        """The environment for a client program. Without a password of our own, an inherited
        PGPASSWORD stays: libpq (psycopg in this process too) uses it, so must the children."""
        env = os.environ.copy()
        if self.password:
            env["PGPASSWORD"] = self.password
        return env

    def connect(self, application_name: str | None = None, read_only: bool = False, *,
                autocommit: bool = True, **extra):
        """A psycopg connection, or DatabaseUnreachable within connect_timeout (+ libpq's rounding).

        ``extra``: other psycopg.connect arguments or conninfo parameters. libpq waits whole
        seconds and at least 2 s per attempt, so a timeout below 2 s acts as 2 s.
        """
        import psycopg

        deadline = time.monotonic() + self.connect_timeout
        kwargs = {k: v for k, v in extra.items() if k in _PSYCOPG_ARGS}
        kwargs["autocommit"] = autocommit
        params = {**self._session_params(application_name, read_only),
                  **{k: str(v) for k, v in extra.items() if k not in _PSYCOPG_ARGS}}
        if self.password:
            params["password"] = self.password
        errors: list[str] = []
        tried = 0
        for attempt in _split_hosts(params):
            host, port = attempt.get("host") or "", attempt.get("port") or "5432"
            try:
                addresses = _resolve(attempt, deadline)
            except (OSError, TimeoutError) as exc:
                errors.append(f"{host}:{port}: cannot resolve host name ({_os_error_text(exc)})")
                continue
            for address in addresses:
                remaining = deadline - time.monotonic()
                # The first attempt always runs (libpq's 2 s minimum rounds a smaller timeout up);
                # a later one only while enough remains that its 2 s minimum ends before the
                # deadline plus one second.
                if tried and remaining < _LATER_ATTEMPT_MIN_REMAINING:
                    errors.append(f"{host}:{port}{_addr(address, host)}: not tried, the "
                                  f"{self.connect_timeout:g} s connect timeout was used up")
                    continue
                # libpq counts whole seconds: rounding overshoots the deadline by 0.5 s at most.
                timeout = max(LIBPQ_MIN_CONNECT_TIMEOUT, math.floor(remaining + 0.5))
                conn_params = {**attempt, "connect_timeout": str(timeout)}
                if address:
                    conn_params["hostaddr"] = address
                tried += 1
                try:
                    conn = psycopg.connect(**conn_params, **kwargs)
                except psycopg.errors.ConnectionTimeout:
                    errors.append(f"{host}:{port}{_addr(address, host)}: no answer within {timeout} s "
                                  f"(connect timeout): something accepts or drops the connection "
                                  f"but no PostgreSQL server answers")
                except psycopg.Error as exc:
                    errors.append(f"{host}:{port}{_addr(address, host)}: {_libpq_cause(exc)}")
                else:
                    return conn
        cause = "; ".join(errors) or "no host to connect to"
        raise DatabaseUnreachable(
            f"cannot connect to PostgreSQL at {self.label} as user {self.user or '(default)'} "
            f"({self.source_key}, {self.origin}): "
            f"{cause.rstrip('.?')}. Fix: {_hint(cause, self.source_key)}",
            host=self.host, port=self.port, cause=cause)


def _addr(address: str | None, host: str) -> str:
    return f" ({address})" if address and address != host else ""


def _split_hosts(params: dict[str, str]) -> list[dict[str, str]]:
    """libpq's multi-host form (host=a,b port=1,2): one attempt per host, in order."""
    hosts = (params.get("host") or "").split(",")
    hostaddrs = (params.get("hostaddr") or "").split(",") if params.get("hostaddr") else []
    ports = (params.get("port") or "").split(",")
    if len(hosts) == 1 and len(hostaddrs) <= 1:
        return [dict(params)]
    if len(ports) == 1:
        ports = ports * len(hosts)
    if len(ports) != len(hosts) or (hostaddrs and len(hostaddrs) != len(hosts)):
        raise DatabaseConfigError(
            f"{len(hosts)} hosts but {len(ports)} ports (or hostaddrs): give one port, or one per host")
    attempts = []
    for i, host in enumerate(hosts):
        attempt = {**params, "host": host, "port": ports[i]}
        if hostaddrs:
            attempt["hostaddr"] = hostaddrs[i]
        attempts.append({k: v for k, v in attempt.items() if v != ""})
    return attempts


def _is_ip(text: str) -> bool:
    try:
        ip_address(text)
    except ValueError:
        return False
    return True


def _resolve(attempt: dict[str, str], deadline: float) -> list[str | None]:
    """The addresses to try for one host; None means "let libpq decide" (unix socket, hostaddr)."""
    host = attempt.get("host") or ""
    if attempt.get("hostaddr") or not host or host.startswith(("/", "@")):
        return [None]
    if _is_ip(host):
        return [host]
    try:
        return resolver.addresses(host, attempt.get("port") or 5432, deadline)
    except TimeoutError:
        raise TimeoutError("no answer from the resolver within the connect timeout") from None


def _os_error_text(exc: BaseException) -> str:
    if isinstance(exc, socket.gaierror):
        return exc.strerror or str(exc)
    return str(exc)


_SERVER_PREFIX = re.compile(r'(?:connection failed: )?connection to server (?:at|on) "[^"]*"(?: \([^)]*\))?, port \d+ failed: ')


def _libpq_cause(exc: Exception) -> str:
    """libpq's reason on one line, without its "connection to server at ..." prefixes (we name
    host and port ourselves) and without repeats (sslmode=prefer tries twice, same reason)."""
    reasons = []
    for part in _SERVER_PREFIX.split(str(exc)):
        text = "; ".join(" ".join(line.split()) for line in part.splitlines() if line.strip())
        if text and text not in reasons:
            reasons.append(text)
    return redact.mask("; ".join(reasons) or type(exc).__name__)


def _hint(cause: str, source_key: str) -> str:
    lowered = cause.lower()
    if "password authentication failed" in lowered or "no password supplied" in lowered:
        return ("check the password for this user (the password in DATABASE_URL, DB_PASSWORD, or "
                "DB_PASSWORD in the secret bundle)")
    if "does not exist" in lowered and "database" in lowered:
        return f"create the database or correct its name ({source_key})"
    if "resolve" in lowered:
        return f"correct the host name in {source_key}, or check DNS from this machine"
    if "refused" in lowered:
        return "check host and port, and that the server is running and listening on that address"
    if "no answer within" in lowered or "used up" in lowered:
        return ("check that host and port point at PostgreSQL and that no firewall drops the traffic; "
                "raise --db-connect-timeout only for a slow link")
    if "ssl" in lowered:
        return "enable TLS on the server, or correct sslmode"
    if "pg_hba.conf" in lowered:
        return "allow this client in the server's pg_hba.conf"
    return "check the connection settings and the server's log"
