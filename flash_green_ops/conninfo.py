"""libpq's reading of a connection string (``postgresql://`` URL or ``key=value`` conninfo),
without libpq.

The env stage must find (and mask) a DATABASE_URL's password and judge whether libpq would
accept the string, but importing psycopg to ask libpq costs that stage more than everything
else it does (100-200 ms). This module follows libpq's ``PQconninfoParse`` (fe-connect.c:
``conninfo_uri_parse_options`` and ``conninfo_parse``) closely enough to agree with it on
every case in tests/test_conninfo.py, which compares it with psycopg's ``conninfo_to_dict``;
the db stage still hands the string to libpq itself.
"""
from __future__ import annotations

import re

URI_PREFIXES = ("postgresql://", "postgres://")  # compared case-sensitively, as libpq does

# libpq 18's connection keywords (PQconndefaults); tests check it covers the linked libpq's.
KEYWORDS = frozenset("""
    application_name channel_binding client_encoding connect_timeout dbname
    fallback_application_name gssdelegation gssencmode gsslib host hostaddr keepalives
    keepalives_count keepalives_idle keepalives_interval krbsrvname load_balance_hosts
    max_protocol_version min_protocol_version oauth_client_id oauth_client_secret oauth_issuer
    oauth_scope options passfile password port replication require_auth requirepeer
    scram_client_key scram_server_key service ssl_max_protocol_version ssl_min_protocol_version
    sslcert sslcertmode sslcompression sslcrl sslcrldir sslkey sslkeylogfile sslmode
    sslnegotiation sslpassword sslrootcert sslsni target_session_attrs tcp_user_timeout user
""".split())

_PERCENT = re.compile(r"%(.{0,2})", re.S)
_HEX2 = re.compile(r"[0-9a-fA-F]{2}")


class ConninfoError(ValueError):
    """libpq would refuse the string; the message is libpq's (without the string itself,
    which may hold a password)."""


def parse(conninfo: str) -> dict[str, str]:
    """The keywords libpq reads from ``conninfo`` (a URL or key=value pairs)."""
    if conninfo.startswith(URI_PREFIXES):
        return _parse_uri(conninfo)
    return _parse_keywords(conninfo)


def _decode(text: str) -> str:
    """Percent-decoding as libpq does it: every '%' needs two hex digits, and %00 is refused.
    Decoded bytes are UTF-8 (%C3%A9 is one character), as libpq, which has bytes, sees them."""
    if "%" not in text:
        return text
    out, last = bytearray(), 0
    for match in _PERCENT.finditer(text):
        if not _HEX2.fullmatch(match.group(1)):
            raise ConninfoError("invalid percent-encoded token")
        if match.group(1) == "00":
            raise ConninfoError("forbidden value %00 in percent-encoded value")
        out += text[last:match.start()].encode() + bytes([int(match.group(1), 16)])
        last = match.end()
    out += text[last:].encode()
    return out.decode("utf-8", "replace")


def _parse_uri(uri: str) -> dict[str, str]:
    result: dict[str, str] = {}
    rest = uri[len(next(p for p in URI_PREFIXES if uri.startswith(p))):]
    # User information ends at the first '@' before any '/' (libpq looks no further).
    at, slash = rest.find("@"), rest.find("/")
    if at != -1 and (slash == -1 or at < slash):
        userinfo, rest = rest[:at], rest[at + 1:]
        user, colon, password = userinfo.partition(":")
        if user:
            result["user"] = _decode(user)
        if colon and password:
            result["password"] = _decode(password)
    hosts, ports = [], []
    while True:
        if rest.startswith("["):
            end = rest.find("]")
            if end == -1:
                raise ConninfoError('end of string reached when looking for matching "]" in IPv6 host '
                                    'address in URI')
            if end == 1:
                raise ConninfoError("IPv6 host address may not be empty in URI")
            host, rest = rest[1:end], rest[end + 1:]
            if rest and rest[0] not in ":/?,":
                raise ConninfoError(f'unexpected character "{rest[0]}" in URI (expected ":" or "/")')
        else:
            host, rest = _until(rest, ":/?,")
        port = ""
        if rest.startswith(":"):
            port, rest = _until(rest[1:], "/?,")
        hosts.append(_decode(host))
        ports.append(_decode(port))
        if not rest.startswith(","):
            break
        rest = rest[1:]
    # Joined with ',' per host, empty ones too (",5433"), and kept unless that is empty.
    for key, parts in (("host", hosts), ("port", ports)):
        if ",".join(parts):
            result[key] = ",".join(parts)
    if rest.startswith("/"):
        dbname, rest = _until(rest[1:], "?")
        if dbname:
            result["dbname"] = _decode(dbname)
    if rest.startswith("?"):
        for pair in rest[1:].split("&"):
            if not pair:
                continue
            key, eq, value = pair.partition("=")
            if not eq:
                raise ConninfoError("missing key/value separator \"=\" in URI query parameter")
            if "=" in value:
                raise ConninfoError("extra key/value separator \"=\" in URI query parameter")
            key, value = _decode(key), _decode(value)
            if key == "ssl" and value == "true":
                key, value = "sslmode", "require"
            if key not in KEYWORDS:
                raise ConninfoError(f'invalid URI query parameter: "{key}"')
            result[key] = value
    return result


def _until(text: str, stops: str) -> tuple[str, str]:
    for index, char in enumerate(text):
        if char in stops:
            return text[:index], text[index:]
    return text, ""


def _parse_keywords(conninfo: str) -> dict[str, str]:
    """``key = value`` pairs; a value is a run of non-blanks, or single-quoted; a backslash
    escapes the next character in both."""
    result: dict[str, str] = {}
    text, i, n = conninfo, 0, len(conninfo)
    while True:
        while i < n and text[i].isspace():
            i += 1
        if i >= n:
            return result
        start = i
        while i < n and not text[i].isspace() and text[i] != "=":
            i += 1
        key = text[start:i]
        while i < n and text[i].isspace():
            i += 1
        if i >= n or text[i] != "=":
            raise ConninfoError(f'missing "=" after "{key}" in connection info string')
        i += 1
        while i < n and text[i].isspace():
            i += 1
        value = []
        if i < n and text[i] == "'":
            i += 1
            while True:
                if i >= n:
                    raise ConninfoError("unterminated quoted string in connection info string")
                if text[i] == "\\" and i + 1 < n:
                    value.append(text[i + 1])
                    i += 2
                elif text[i] == "'":
                    i += 1
                    break
                else:
                    value.append(text[i])
                    i += 1
        else:
            while i < n and not text[i].isspace():
                if text[i] == "\\" and i + 1 < n:
                    i += 1
                value.append(text[i])
                i += 1
        if key not in KEYWORDS:
            raise ConninfoError(f'invalid connection option "{key}"')
        result[key] = "".join(value)
