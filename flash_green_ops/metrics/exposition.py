"""Parse exposition text (Prometheus text 0.0.4 or OpenMetrics) into families that know their lines.

**The text format** is read here, in one pass, as Prometheus reads it (Go, ``expfmt``, which
``promtool check metrics`` uses; its messages too): HELP and TYPE lines (a keyword, a name,
the rest verbatim), sample lines (a name, ``{labels}``, a value, a timestamp), families
grouped by name across the whole text, ``_sum``/``_count``/``_bucket`` joining their summary
or histogram. Each line is matched first against the shape nearly every exporter writes (one
regular expression); a line that does not fit is walked character by character as expfmt
walks it, so an error names the line and says what expfmt says. Two rule sets:

* ``CURRENT`` (today's Prometheus): UTF-8 metric and label names in quotes
  (``{"my.metric",a="1"} 1``, ``# TYPE "my.metric" counter``); ``gaugehistogram`` (and
  expfmt's ``gauge_histogram``) is one family with its ``_bucket``/``_gsum``/``_gcount``
  (or ``_sum``/``_count``); a histogram's bucket or count below zero is refused.
* ``LEGACY`` (client_golang 1.14 / prometheus/common 0.39, as in Debian 12's promtool 2.42):
  none of these; a quoted name does not parse, and a gauge histogram's samples are families of
  their own (untyped), as that promtool reads them.

A value beyond the float range (``1e309``, an integer of 310 digits) is a parse error, as Go's
``ParseFloat`` makes it, never an OverflowError.

**OpenMetrics** goes through prometheus_client's parser (strict on its own), fed through a
reader that counts lines: when it raises, the line it was reading is the offending one.

``parse(..., wanted=...)`` reads only the samples of the families a caller needs (the
stability check's counters): other sample lines are skipped after their name.
"""
from __future__ import annotations

import io
import math
import re
from array import array
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

TEXT, OPENMETRICS = "text", "openmetrics"
CURRENT, LEGACY = "current", "client_golang-1.14"
RULESETS = (CURRENT, LEGACY)

# Types the text format knows (expfmt compares them case-insensitively, verbatim otherwise).
LEGACY_TYPES = {"counter", "gauge", "summary", "untyped", "histogram", "gauge_histogram"}
CURRENT_TYPES = LEGACY_TYPES | {"gaugehistogram"}
HISTOGRAMS = ("histogram", "gaugehistogram")
# The label a summary's or histogram's samples differ by within one series (promlint's metric).
SPECIAL_LABEL = {"histogram": "le", "gaugehistogram": "le", "summary": "quantile"}

_METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")  # at the start of a sample or after HELP/TYPE
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_INTEGER = re.compile(r"[+-]?[0-9]+")
_KEYWORD = re.compile(r"#[ \t]*([^ \t]*)")  # "#", blanks, the first word (HELP, TYPE or a comment)
_ESCAPE = re.compile(r"\\(.?)")  # a backslash and what it escapes
_WORD = re.compile(r"[^ \t]*")
# The HELP or TYPE line nearly every exporter writes: keyword, unquoted name, text (not blank).
_PLAIN_METADATA = re.compile(r"#[ \t]*(HELP|TYPE)[ \t]+([a-zA-Z_:][a-zA-Z0-9_:]*)[ \t]+([^ \t].*)")
# The sample line nearly every exporter writes: name{a="1",b="2"} value [timestamp], label
# values without backslashes. Anything else takes the character-by-character road.
_PLAIN_SAMPLE = re.compile(r'([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{((?:[a-zA-Z_][a-zA-Z0-9_]*="[^"\\]*",?)*)\})? '
                           r'([^ \t]+)(?: ([^ \t]+))?')
_PLAIN_PAIR = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="([^"\\]*)"')


class ExpositionError(Exception):
    """The text does not parse; ``line`` is 1-based, ``text`` that line as it was sent."""

    def __init__(self, line: int, text: str, reason: str):
        self.line, self.text, self.reason = line, text, reason
        super().__init__(f"line {line}: {reason}: {quote_line(text)}")


@dataclass(frozen=True, slots=True)
class Sample:
    name: str
    labels: dict[str, str]
    value: float
    line: int


class Family:
    """A metric family as exposed: ``name`` is the exposed name (an OpenMetrics counter's
    carries ``_total``, as in the text format), ``type`` lower-case (OpenMetrics ``unknown`` is
    ``untyped``; both spellings of a gauge histogram are ``gaugehistogram``), ``help`` whether
    a non-empty HELP was given, ``line`` where it first appears.

    Samples read from the text format are kept compactly (name, value, line and where the line
    starts in the body, in the reader's arrays, _Columns) and their labels are read again from
    the body when asked for: a 4 MB exposition then costs well under its size on top of the body, where a Sample
    with a dict of labels each would cost several times it (bench/metrics_bench.py).
    """

    __slots__ = ("name", "type", "help", "line", "_given", "_rows", "_store")

    def __init__(self, name: str, type: str, help: bool, line: int, samples: Iterable[Sample] = ()):
        self.name, self.type, self.help, self.line = name, type, help, line
        self._given = list(samples) or None
        self._rows = None  # this family's rows in _store (the text reader's sample columns)
        self._store = None

    def __repr__(self) -> str:
        return f"Family({self.name!r}, {self.type!r}, help={self.help}, line={self.line}, samples={len(self)})"

    def __len__(self) -> int:
        return len(self._given or ()) + len(self._rows or ())

    def _append(self, store: _Columns, row: int) -> None:
        if self._rows is None:
            self._rows, self._store = array("I"), store
        self._rows.append(row)

    @property
    def samples(self) -> list[Sample]:
        return list(self.iter_samples())

    def iter_samples(self) -> Iterator[Sample]:
        """The samples one at a time: a large family's are never all built at once."""
        if self._given is not None:
            yield from self._given
        elif self._rows is not None:
            yield from map(self._store.sample, self._rows)

    def series(self) -> list[Sample]:
        """One sample per series as promlint counts them: a summary's quantiles, a histogram's
        buckets, and their _sum and _count that share the other labels are one series (expfmt
        builds one metric of them, labelled as its first line); other types, every sample."""
        special = SPECIAL_LABEL.get(self.type)
        if not special:
            return self.samples
        first: dict[frozenset, Sample] = {}
        for sample in self.iter_samples():
            key = frozenset((k, v) for k, v in sample.labels.items() if k != special)
            first.setdefault(key, sample)
        return [Sample(s.name, {k: v for k, v in s.labels.items() if k != special}, s.value, s.line)
                for s in first.values()]


@dataclass
class Exposition:
    format: str
    families: list[Family]

    def release(self) -> None:
        """Let the body go: families, types, counts and lines stay; samples can no longer be
        read (their labels were read from the body)."""
        for family in self.families:
            if family._store is not None:
                family._store.release()

    def family(self, name: str) -> Family | None:
        return next((f for f in self.families if f.name == name), None)


def format_of(content_type: str | None) -> str:
    """OPENMETRICS for application/openmetrics-text, else TEXT."""
    media = (content_type or "").split(";")[0].strip().lower()
    return OPENMETRICS if media == "application/openmetrics-text" else TEXT


def quote_line(line: str, limit: int = 200) -> str:
    return repr(line if len(line) <= limit else line[:limit] + "...")


def parse(body: str | bytes, fmt: str = TEXT, rules: str = CURRENT,
          wanted: Callable[[Family], bool] | None = None) -> Exposition:
    """Parse ``body``; raise ExpositionError naming the first offending line. ``wanted``: read
    the samples of these families only (the others' sample lines are skipped unchecked)."""
    if rules not in RULESETS:
        raise ValueError(f"unknown rule set {rules!r}: use one of {', '.join(RULESETS)}")
    if fmt == OPENMETRICS:
        if isinstance(body, (bytes, bytearray)):
            try:
                body = body.decode("utf-8")
            except UnicodeDecodeError as exc:
                number = body.count(b"\n", 0, exc.start) + 1
                line = bytes(body).split(b"\n")[number - 1].decode("utf-8", "replace")
                raise ExpositionError(number, line, "not UTF-8") from None
        exposition = _parse_openmetrics(body)
        if wanted:
            exposition.families = [f for f in exposition.families if wanted(f)]
        return exposition
    return _TextReader(body, rules, wanted).parse()


def go_float(text: str) -> float | None:
    """Go's strconv.ParseFloat as expfmt calls it, or None where it fails: no hex, no '_', no
    sign on NaN, ASCII digits only, and a value beyond the float range is an error (Go's
    ErrRange), not infinity."""
    if not text.isascii() or any(c in text for c in "pP_ \t"):
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    if math.isnan(value) and text[0] in "+-":
        return None
    if math.isinf(value) and text.lstrip("+-").lower() not in ("inf", "infinity"):
        return None
    return value


def _parse_openmetrics(text: str) -> Exposition:
    from prometheus_client.openmetrics.parser import text_fd_to_metric_families

    reader = _CountingReader(text)
    metrics = []
    try:
        metrics.extend(text_fd_to_metric_families(reader))
    except (ValueError, IndexError, KeyError, OverflowError) as exc:  # what the parser raises on bad input
        if reader.number == 0:  # an empty body: nothing was read, the first line is missing
            raise ExpositionError(1, "", _reason(exc)) from None
        raise ExpositionError(reader.number, reader.current, _reason(exc)) from None
    families, lines = [], iter(reader.sample_lines)
    for metric in metrics:
        typ = {"unknown": "untyped"}.get(metric.type, metric.type)
        name = metric.name + "_total" if typ == "counter" else metric.name
        samples = []
        for s in metric.samples:
            line = next(lines)
            try:
                value = float(s.value)
            except OverflowError:  # an integer beyond the float range: Prometheus refuses it too
                raise ExpositionError(line, reader.text_of(line), "sample value out of the float range") from None
            samples.append(Sample(s.name, dict(s.labels), value, line))
        if samples:  # as in the text format, a family without samples is not there
            first = min(reader.metadata_lines.get(metric.name, samples[0].line), samples[0].line)
            families.append(Family(name, typ, bool(metric.documentation), first, samples))
    return Exposition(OPENMETRICS, families)


def _reason(exc: Exception) -> str:
    text = str(exc.args[0]) if exc.args else ""
    # prometheus_client often appends the whole line; the message quotes the line itself.
    text = text.split(": ", 1)[0]
    return f"not valid exposition text ({text})" if text else "not valid exposition text"


class _CountingReader:
    """Hands the text to prometheus_client's OpenMetrics parser line by line, knows which line
    it is on, and notes where samples and metadata are."""

    def __init__(self, text: str):
        self.text = text
        self._fd = io.StringIO(text)  # splits on "\n" only, as Prometheus counts lines
        self.number = 0
        self.current = ""
        self._lines: list[str] | None = None
        self.sample_lines: list[int] = []
        self.metadata_lines: dict[str, int] = {}

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        line = next(self._fd)  # StopIteration ends the parser's loop
        self.number += 1
        self.current = line.rstrip("\n")
        if line.startswith("#"):
            words = line.split(None, 2)
            if len(words) > 1:
                self.metadata_lines.setdefault(words[1], self.number)
        elif line.strip():
            self.sample_lines.append(self.number)
        return line

    def text_of(self, number: int) -> str:
        if self._lines is None:
            self._lines = self.text.split("\n")
        return self._lines[number - 1] if 0 < number <= len(self._lines) else ""


class _Columns:
    """Every sample of one text body, one array per field (a few dozen bytes a sample, where a
    Sample object with a dict of labels costs hundreds); labels are read again from the body
    when a Sample is asked for (``labels_at``)."""

    # The top bit of a row's name index: its line took the careful road (not _PLAIN_SAMPLE's shape).
    CAREFUL = 1 << 31

    def __init__(self, labels_at: Callable[[int, bool], dict[str, str]]):
        self.names: list[str] = []  # the distinct sample names; a row holds an index into it
        self._name_index: dict[str, int] = {}
        self.name_rows, self.lines, self.offsets = array("I"), array("I"), array("I")  # bodies < 4 GiB
        self.values = array("d")
        self.labels_at = labels_at

    def add(self, name: str, value: float, line: int, offset: int, careful: bool) -> int:
        index = self._name_index.get(name)
        if index is None:
            index = self._name_index[name] = len(self.names)
            self.names.append(name)
        self.name_rows.append(index | self.CAREFUL if careful else index)
        self.values.append(value)
        self.lines.append(line)
        self.offsets.append(offset)
        return len(self.values) - 1

    def release(self) -> None:
        self.labels_at = _released
        self.names, self._name_index = [], {}
        self.name_rows, self.lines, self.offsets, self.values = array("I"), array("I"), array("I"), array("d")

    def sample(self, row: int) -> Sample:
        if self.labels_at is _released:
            _released(row)
        index = self.name_rows[row]
        return Sample(self.names[index & ~self.CAREFUL], self.labels_at(self.offsets[row], index >= self.CAREFUL),
                      self.values[row], self.lines[row])


def _released(*_) -> dict[str, str]:
    raise RuntimeError("the exposition's body was released (Exposition.release): its samples are gone")


class _TextReader:
    """The text format as Prometheus reads it, one line at a time (see the module docstring)."""

    def __init__(self, body: str | bytes, rules: str, wanted: Callable[[Family], bool] | None):
        self.body, self.wanted = body, wanted
        self.current = rules == CURRENT
        self.types = CURRENT_TYPES if self.current else LEGACY_TYPES
        self.special = SPECIAL_LABEL if self.current else {"histogram": "le", "summary": "quantile"}
        self.families: dict[str, Family] = {}
        self.columns = _Columns(self.labels_at)
        self.number, self.line = 0, ""

    def parse(self) -> Exposition:
        """Line by line, without a decoded copy of the whole body (each line is decoded alone,
        so a line that is not UTF-8 is named at once)."""
        binary = not isinstance(self.body, str)
        self.offset = 0
        for self.number, raw in enumerate(_lines(self.body), 1):
            if binary:
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError:
                    self.line = raw.decode("utf-8", "replace").rstrip("\n")
                    self._error("not UTF-8")
            else:
                line = raw
            ended = line.endswith("\n")
            self.line = line[:-1] if ended else line
            self._read(self.line)
            if not ended and self.line.strip(" \t"):
                self._error("unexpected end of input stream (the last line has no newline)")
            self.offset += len(raw)
        # Prometheus drops families without samples; they are not linted either.
        return Exposition(TEXT, [f for f in self.families.values() if len(f)])

    def labels_at(self, offset: int, careful: bool) -> dict[str, str]:
        """The labels of the sample line starting at ``offset`` (it parsed: no error here).
        A line of _PLAIN_SAMPLE's shape needs no second match: its ``name="value"`` pairs after
        its first '{' are its labels (a metric name holds no '{', a value or timestamp with a
        '"' did not parse)."""
        newline = b"\n" if isinstance(self.body, (bytes, bytearray)) else "\n"
        end = self.body.find(newline, offset)
        line = self.body[offset:end if end >= 0 else len(self.body)]
        text = line.decode("utf-8") if not isinstance(line, str) else line
        if not careful:
            brace = text.find("{")  # from there: a search inside the metric name would backtrack
            return dict(_PLAIN_PAIR.findall(text, brace)) if brace >= 0 else {}
        return self._parts(text.lstrip(" \t"))[2]

    def _read(self, line: str) -> None:
        text = line.lstrip(" \t")
        if not text:
            return
        if text[0] == "#":
            self._metadata(text)
            return
        if self.wanted:  # a family not wanted: its line is skipped after its name, before any match of the rest
            name = _METRIC_NAME.match(text)
            if name and not self.wanted(self._family_of_sample(name.group(0))):
                return
        plain = _PLAIN_SAMPLE.fullmatch(text)
        if plain:
            self._plain_sample(*plain.groups())
        else:
            self._sample(text)

    def _error(self, reason: str) -> None:
        raise ExpositionError(self.number, self.line, reason)

    def _family_for(self, name: str) -> Family:
        """expfmt's setOrCreateCurrentMF: the family itself, else the summary or histogram that
        ``name`` is the _sum/_count (or _bucket) of, else a new family."""
        family = self.families.get(name)
        if family is not None:
            return family
        for suffix, types in _JOINS:
            if name.endswith(suffix) and len(name) > len(suffix):
                base = self.families.get(name[: -len(suffix)])
                if base is not None and base.type in types and (self.current or base.type != "gaugehistogram"):
                    return base
        family = self.families[name] = Family(name=name, type="", help=False, line=self.number)
        return family

    # -- HELP and TYPE ------------------------------------------------------------------------
    def _metadata(self, text: str) -> None:
        """A comment; if HELP or TYPE: a keyword, a metric name, the rest verbatim (expfmt)."""
        plain = _PLAIN_METADATA.fullmatch(text)
        if plain:
            self._help_or_type(*plain.groups())
            return
        keyword = _KEYWORD.match(text)
        if keyword.group(1) not in ("HELP", "TYPE"):
            return
        after = text[keyword.end():].lstrip(" \t")
        if self.current and after.startswith('"'):
            name, end = self._quoted(after, 1, "metric name")
        else:
            match = _METRIC_NAME.match(after)
            name, end = (match.group(0), match.end()) if match else ("", 0)
        rest = after[end:]
        if not rest:
            return  # "# TYPE name" and nothing else: Prometheus skips the line
        if rest[0] not in " \t":
            self._error("invalid metric name in comment")
        family = self._family_for(name)
        value = rest.lstrip(" \t")
        if value:
            self._help_or_type(keyword.group(1), name, value, family)

    def _help_or_type(self, keyword: str, name: str, value: str, family: Family | None = None) -> None:
        family = self._family_for(name) if family is None else family
        if keyword == "HELP":
            known = ("\\", "n", '"') if self.current else ("\\", "n")
            for escaped in _ESCAPE.findall(value) if "\\" in value else ():
                if escaped not in known:
                    self._error(f"invalid escape sequence '\\{escaped}' in HELP")
            if family.help:
                self._error(f"second HELP line for metric name {family.name!r}")
            family.help = True
            return
        if family.type:
            self._error(f"second TYPE line for metric name {family.name!r}, or TYPE reported after samples")
        if value.lower() not in self.types:  # verbatim: "gauge " is not a type to Prometheus either
            self._error(f"unknown metric type {value!r}")
        family.type = value.lower()
        if self.current and family.type == "gauge_histogram":
            family.type = "gaugehistogram"  # one type, two spellings (expfmt's and OpenMetrics')

    # -- samples -------------------------------------------------------------------------------
    def _plain_sample(self, name: str, pairs: str | None, value: str, timestamp: str | None) -> None:
        """The common shape, matched whole by _PLAIN_SAMPLE: only the checks it leaves."""
        family = self._family_of_sample(name)
        if self.wanted and not self.wanted(family):
            return
        labels = {}
        if pairs:
            found = _PLAIN_PAIR.findall(pairs)
            labels = dict(found)
            if len(labels) != len(found) or "__name__" in labels:
                self._sample(self.line.lstrip(" \t"))  # the careful road says what is wrong
                return
        self._add(family, name, labels, value, timestamp, "", careful=False)

    def _family_of_sample(self, name: str) -> Family:
        family = self._family_for(name)
        if family.type == "":
            family.type = "untyped"  # as in expfmt: a sample fixes the family's type
        return family

    def _sample(self, text: str) -> None:
        """A sample line walked as expfmt walks it (see _parts)."""
        parts = self._parts(text, self.wanted)
        if parts:
            self._add(*parts)

    def _parts(self, text: str, wanted=None):
        """name, ``{labels}`` or not, value, timestamp, as expfmt reads them: (family, name,
        labels, value, timestamp, the rest after it); None when ``wanted`` skips the family."""
        n = len(text)
        labels: dict[str, str] = {}
        if text[0] == "{":  # {"my.metric",a="1"}: the name is among the labels
            if not self.current:
                self._error("invalid metric name")
            name, labels, i = self._labels(text, 1, "", braces=True)
            family = self._family_of_sample(name)
            if wanted and not wanted(family):
                return None
        else:
            name, i = self._name(text, 0, _METRIC_NAME)
            if not name:
                self._error("invalid metric name")
            family = self._family_of_sample(name)
            if wanted and not wanted(family):
                return None
            i = _skip_blanks(text, i)
            if i < n and text[i] == "{":
                name, labels, i = self._labels(text, i + 1, name, braces=False)
        i = _skip_blanks(text, i)
        value = _WORD.match(text, i).group(0)
        i += len(value)
        timestamp, rest = None, ""
        if i < n:
            i = _skip_blanks(text, i)
            timestamp = _WORD.match(text, i).group(0)
            rest = text[i + len(timestamp):]
        return family, name, labels, value, timestamp, rest

    def _add(self, family: Family, name: str, labels: dict[str, str], value: str, timestamp: str | None,
             rest: str, careful: bool = True) -> None:
        special = self.special.get(family.type)
        if special in labels and go_float(labels[special]) is None:
            self._error(f"expected float as value for {special!r} label, got {labels[special]!r}")
        number = go_float(value)
        if number is None:
            self._error(f"expected float as value, got {value!r}")
        if timestamp is not None:
            if not _INTEGER.fullmatch(timestamp) or not -2**63 <= int(timestamp) < 2**63:
                self._error(f"expected integer as timestamp, got {timestamp!r}")
            if rest:
                self._error(f"spurious string after timestamp: {rest!r}")
        if self.current and number < 0 and family.type in HISTOGRAMS:
            suffix = name[len(family.name):]
            if suffix in ("_count", "_gcount"):
                self._error(f"negative count for histogram {family.name!r}")
            if suffix == "_bucket":
                self._error(f"negative bucket population for histogram {family.name!r}")
        # The labels are not kept: Family.samples reads them again from the line (labels_at).
        family._append(self.columns, self.columns.add(name, number, self.number, self.offset, careful))

    def _name(self, text: str, i: int, pattern: re.Pattern) -> tuple[str, int]:
        """A name at ``text[i]``: unquoted by ``pattern``, or (current rules) quoted UTF-8."""
        if self.current and text.startswith('"', i):
            return self._quoted(text, i + 1, "name")
        match = pattern.match(text, i)
        return (match.group(0), match.end()) if match else ("", i)

    def _quoted(self, text: str, i: int, what: str) -> tuple[str, int]:
        """The string from ``text[i]`` to the next unescaped '"' (escapes \\\\, \\n, \\")."""
        out = []
        n = len(text)
        while i < n:
            char = text[i]
            if char == '"':
                return "".join(out), i + 1
            if char == "\\":
                escaped = text[i + 1] if i + 1 < n else ""
                if escaped not in ("\\", "n", '"'):
                    self._error(f"invalid escape sequence '\\{escaped}' in a {what}")
                out.append("\n" if escaped == "n" else escaped)
                i += 2
                continue
            out.append(char)
            i += 1
        self._error(f"{what} {''.join(out)!r} contains unescaped new-line")

    def _labels(self, text: str, i: int, name: str, braces: bool) -> tuple[str, dict[str, str], int]:
        """From after '{' to after '}': (metric name, labels, index). In the braces form
        (``{"my.metric",a="1"}``) a name without '=' is the metric's name."""
        labels: dict[str, str] = {}
        while True:
            i = _skip_blanks(text, i)
            if text.startswith("}", i):
                break
            label, i = self._name(text, i, _LABEL_NAME)
            if not label:
                self._error(f"invalid label name for metric {name!r}")
            i = _skip_blanks(text, i)
            if braces and text.startswith((",", "}"), i):
                if name:
                    self._error("multiple metric names")
                name = label
                i += text[i] == ","
                continue
            if not text.startswith("=", i):
                self._error(f"expected '=' after label name, found {text[i:i + 1] or 'the end of the line'!r}")
            if label == "__name__":
                self._error('label name "__name__" is reserved')
            if label in labels:
                self._error(f"duplicate label names for metric {name!r}")
            i = _skip_blanks(text, i + 1)
            if not text.startswith('"', i):
                self._error(f"expected '\"' at start of label value, found {text[i:i + 1]!r}")
            labels[label], i = self._quoted(text, i + 1, "label value")
            i = _skip_blanks(text, i)
            if text.startswith(",", i):
                i += 1
            elif not text.startswith("}", i):
                self._error(f"unexpected end of label value {labels[label]!r}")
        if not name:
            self._error("invalid metric name")
        return name, labels, i + 1


# (suffix, the family types a sample name with it joins), in expfmt's order.
_JOINS = (("_count", ("summary", "histogram", "gaugehistogram")), ("_sum", ("summary", "histogram", "gaugehistogram")),
          ("_bucket", ("histogram", "gaugehistogram")), ("_gcount", ("gaugehistogram",)), ("_gsum", ("gaugehistogram",)))


def _lines(body: str | bytes | bytearray) -> Iterator:
    """The lines of ``body``, each with its "\n" (the last may lack it): "\n" alone ends a
    line, as Prometheus counts them. No copy of the body is made (a bytearray is not copied
    into a BytesIO first)."""
    start, size = 0, len(body)
    newline = "\n" if isinstance(body, str) else b"\n"
    while start < size:
        end = body.find(newline, start)
        end = size if end < 0 else end + 1
        yield body[start:end]
        start = end


def _skip_blanks(text: str, i: int) -> int:
    n = len(text)
    while i < n and text[i] in " \t":
        i += 1
    return i


def series_hash(name: str, labels: dict[str, str]) -> int:
    """A series' identity as a number: equal for the same name and label set, in any order."""
    return hash((name, frozenset(labels.items())))


def series_key(sample: Sample) -> str:
    """``name{a="1",b="2"}``: a series as operators write it (labels sorted)."""
    if not sample.labels:
        return sample.name
    labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
    return f"{sample.name}{{{labels}}}"
