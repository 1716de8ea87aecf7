"""Read an env file (or the process environment) into values that remember their lines.

python-dotenv does the parsing, so quoting, ``export`` prefixes, comments and escapes mean
exactly what they mean to the service that loads the same file; this module only keeps the
line numbers that messages need, and turns unreadable input into one-line errors.
"""
from __future__ import annotations

import io
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property

from dotenv.parser import parse_stream

from flash_green_ops.errors import UsageError
from flash_green_ops.files import MIB, read_bytes

# An env file holds settings, a few KB; the bound only stops a runaway file (or a device).
ENV_FILE_LIMIT = 16 * MIB


class EnvFileError(UsageError):
    """The env file itself cannot be read: a bad invocation, reported with exit code 2."""


@dataclass(frozen=True)
class Entry:
    key: str
    value: str
    line: int | None
    # The raw text of the assignment, kept only to see whitespace that dotenv strips from
    # unquoted values. Never printed: it may hold a secret.
    raw: str = field(default="", repr=False)


@dataclass(frozen=True)
class EnvSource:
    """Where the settings came from, and every assignment in order (duplicates included)."""

    name: str  # the file path as given, or "process environment"
    entries: tuple[Entry, ...]
    is_file: bool = True

    # Computed once: the checks ask for values and lines key by key, and an env file may be
    # large (a cached dict keeps that linear).
    @cached_property
    def values(self) -> dict[str, str]:
        """The effective values: the last assignment wins, as in python-dotenv."""
        return {e.key: e.value for e in self.entries}

    @cached_property
    def _lines(self) -> dict[str, int | None]:
        return {e.key: e.line for e in self.entries}

    def get(self, key: str) -> str | None:
        return self.values.get(key)

    def is_set(self, key: str) -> bool:
        """Present and non-empty after trimming: the contract's meaning of "required"."""
        value = self.values.get(key)
        return value is not None and value.strip() != ""

    def line_of(self, key: str) -> int | None:
        """The line of the effective (last) assignment of ``key``."""
        return self._lines.get(key)

    def where(self, key: str | None = None) -> str:
        """``.env.production line 7``, or just the source when the key has no line."""
        line = self.line_of(key) if key else None
        return f"{self.name} line {line}" if line else self.name


def _leading_newlines(text: str) -> int:
    """dotenv folds blank lines into the next binding and reports the first one's number."""
    stripped = text.lstrip(" \t\r\n")
    return text[: len(text) - len(stripped)].count("\n")


def parse_env_text(text: str, name: str) -> EnvSource:
    # CRLF files are valid input; dotenv counts the CR as a line of its own, so normalise.
    text = text.removeprefix("\ufeff").replace("\r\n", "\n")
    entries = []
    for binding in parse_stream(io.StringIO(text)):
        line = binding.original.line + _leading_newlines(binding.original.string)
        if binding.error:
            raise EnvFileError(f"{name} line {line}: not a KEY=value assignment that python-dotenv can parse")
        if binding.key is None:  # a comment or blank line
            continue
        entries.append(Entry(binding.key, binding.value or "", line, binding.original.string.strip("\n")))
    return EnvSource(name=name, entries=tuple(entries))


def read_env_file(path: str | os.PathLike[str]) -> EnvSource:
    """Parse ``path``; every way it can be unreadable is an :class:`EnvFileError`."""
    name = str(path)
    data = read_bytes(path, "an env file", EnvFileError, ENV_FILE_LIMIT)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise EnvFileError(f"{name} line {line}: not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})") from None
    if "\x00" in text:
        raise EnvFileError(f"{name}: contains NUL bytes, not an env file")
    return parse_env_text(text, name)


def from_environ(environ: Mapping[str, str] | None = None) -> EnvSource:
    """The process environment as a source (the container entrypoint's case): no lines."""
    environ = os.environ if environ is None else environ
    entries = tuple(Entry(k, v, None) for k, v in sorted(environ.items()))
    return EnvSource(name="process environment", entries=entries, is_file=False)


def _unquoted_trailing_blank(raw: str) -> bool:
    r"""Whether ``raw`` ends in blanks that dotenv strips from an unquoted value: an '=', then
    no quote or '#' up to the value's last character (not blank, not '#'), then the blanks.
    (The regular expression ``=[^'"#]*[^\s#][ \t]+$`` says the same but backtracks over every
    '=': quadratic on ``a=a=a=...``.)"""
    value_end = raw.rstrip(" \t")
    if value_end == raw or not value_end or value_end[-1].isspace() or value_end[-1] == "#":
        return False
    body = value_end[:-1]
    return "=" in body[max(body.rfind(c) for c in "'\"#") + 1:]


# "KEY = value" is a layout; "KEY= value" is a pasted value with a leading blank.
_UNQUOTED_LEADING_SPACE = re.compile(r"^\s*(?:export\s+)?[A-Za-z_][A-Za-z0-9_.-]*=[ \t]+[^'\"\s#]")


def has_surrounding_whitespace(entry: Entry) -> bool:
    """A value with leading or trailing whitespace: kept by quotes, or stripped by dotenv."""
    if entry.value != entry.value.strip():
        return True
    if not entry.raw or entry.value == "":
        return False
    raw = entry.raw.rstrip("\n")
    return _unquoted_trailing_blank(raw) or bool(_UNQUOTED_LEADING_SPACE.search(raw))
