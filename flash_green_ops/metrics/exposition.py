"""Parse exposition text (Prometheus text 0.0.4 or OpenMetrics) into families that know their lines.

**The text format** is read here, in one pass, as Prometheus reads it (Go, ``expfmt``, which
``promtool check metrics`` uses; its messages too): HELP and TYPE lines (a keyword, a name,
the rest verbatim), sample lines (a name, ``{labels}``, a value, a timestamp), families
grouped by name across the whole text, ``_sum``/``_count``/``_bucket`` joining their summary
or histogram. The lines of the shapes nearly every exporter writes are found by one regular
expression searched over a run of ASCII lines (_PLAIN_LINE); a line that does not fit is
walked character by character as expfmt walks it, so an error names the line and says what
expfmt says. Two rule sets:

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

``parse(..., only=NAMES)`` reads the sample lines of these names alone (the stability check's
second scrape: the counters the first one had), each name a family of its own: no HELP or TYPE
line is read, and no line of another name is looked into past its name.
"""
from __future__ import annotations

import io
import math
import re
from array import array
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass
from typing import NamedTuple

TEXT, OPENMETRICS = "text", "openmetrics"
CURRENT, LEGACY = "current", "client_golang-1.14"
RULESETS = (CURRENT, LEGACY)

# Types the text format knows (expfmt compares them case-insensitively, verbatim otherwise).
LEGACY_TYPES = {"counter", "gauge", "summary", "untyped", "histogram", "gauge_histogram"}
CURRENT_TYPES = LEGACY_TYPES | {"gaugehistogram"}
HISTOGRAMS = ("histogram", "gaugehistogram")
PIECE = 64 * 1024  # the text reader decodes and splits this much of the body at a time
# The label a summary's or histogram's samples differ by within one series (promlint's metric).
SPECIAL_LABEL = {"histogram": "le", "gaugehistogram": "le", "summary": "quantile"}

_METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")  # at the start of a sample or after HELP/TYPE
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_INTEGER = re.compile(r"[+-]?[0-9]+")
_KEYWORD = re.compile(r"#[ \t]*([^ \t]*)")  # "#", blanks, the first word (HELP, TYPE or a comment)
_ESCAPE = re.compile(r"\\(.?)")  # a backslash and what it escapes
_WORD = re.compile(r"[^ \t]*")
_NOT_ASCII = re.compile(rb"[\x80-\xff]")
_NOT_GO_FLOAT = re.compile(r"[pP_\s]")  # Python's float() takes these (hex, 1_000, blanks, \r), Go's not
# The HELP or TYPE line nearly every exporter writes: keyword, unquoted name, text (not blank).
_PLAIN_METADATA = re.compile(r"#[ \t]*(HELP|TYPE)[ \t]+([a-zA-Z_:][a-zA-Z0-9_:]*)[ \t]+([^ \t].*)")
# The sample line nearly every exporter writes: name{a="1",b="2"} value [timestamp], label
# values without backslashes. Anything else takes the character-by-character road.
_PLAIN_SAMPLE = re.compile(r'([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{((?:[a-zA-Z_][a-zA-Z0-9_]*="[^"\\]*",?)*)\})? '
                           r'([^ \t]+)(?: ([^ \t]+))?')
_PLAIN_PAIR = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="([^"\\]*)"')
# Either plain shape as a whole line of a piece, its newline included (one search finds the next).
_PLAIN_LINE = re.compile(r'^(?:([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{((?:[a-zA-Z_][a-zA-Z0-9_]*="[^"\\\n]*",?)*)\})? '
                         r'([^ \t\n]+)(?: ([^ \t\n]+))?'
                         r'|#[ \t]*(HELP|TYPE)[ \t]+([a-zA-Z_:][a-zA-Z0-9_:]*)[ \t]+([^ \t\n][^\n]*))\n', re.M)


class ExpositionError(Exception):
    """The text does not parse; ``line`` is 1-based, ``text`` that line as it was sent."""

    def __init__(self, line: int, text: str, reason: str):
        self.line, self.text, self.reason = line, text, reason
        super().__init__(f"line {line}: {reason}: {quote_line(text)}")


class Sample(NamedTuple):
    name: str
    labels: dict[str, str]
    value: float
    line: int


class Series(NamedTuple):
    """One series as promlint counts them (Family.series), its label values not read: the name
    and line of its first sample, its label names, ``key`` (its identity within the family: equal
    for the same names and values) and ``row`` (Family.series_labels reads its labels from it)."""
    name: str
    line: int
    label_names: frozenset[str]
    key: int
    row: int


class Value(NamedTuple):
    """A sample without its labels (Family.values): ``key`` is series_hash(name, labels), ``row``
    where Family.sample finds the whole sample."""
    name: str
    value: float
    key: int
    row: int


class Family:
    """A metric family as exposed: ``name`` is the exposed name (an OpenMetrics counter's
    carries ``_total``, as in the text format), ``type`` lower-case (OpenMetrics ``unknown`` is
    ``untyped``; both spellings of a gauge histogram are ``gaugehistogram``), ``help`` whether
    a non-empty HELP was given, ``line`` where it first appears.

    Samples read from the text format are kept compactly (name, value, line, series identity,
    label names and where the line starts in the body, in the reader's arrays, _Columns) and
    their labels are read again from the body only when asked for: a 4 MB exposition then costs
    well under its size on top of the body, where a Sample with a dict of labels each would cost
    several times it (bench/metrics_bench.py). The lint (series) and the stability check
    (values) read no labels.
    """

    __slots__ = ("name", "type", "help", "line", "_given", "_rows", "_groups", "_store")

    def __init__(self, name: str, type: str, help: bool, line: int, samples: Iterable[Sample] = ()):
        self.name, self.type, self.help, self.line = name, type, help, line
        self._given = list(samples) or None
        self._rows = None  # this family's rows in _store (the text reader's sample columns)
        self._groups = None  # a histogram's or summary's: each row's labels but the special one, hashed
        self._store = None

    def __repr__(self) -> str:
        return f"Family({self.name!r}, {self.type!r}, help={self.help}, line={self.line}, samples={len(self)})"

    def __len__(self) -> int:
        return len(self._given or ()) + len(self._rows or ())

    def _append(self, store: _Columns, row: int, group: int | None) -> None:
        if self._rows is None:
            self._rows, self._store = array("I"), store
            self._groups = array("q") if group is not None else None
        self._rows.append(row)
        if self._groups is not None:
            self._groups.append(group)

    @property
    def samples(self) -> list[Sample]:
        return list(self.iter_samples())

    def iter_samples(self) -> Iterator[Sample]:
        """The samples one at a time: a large family's are never all built at once."""
        if self._given is not None:
            yield from self._given
        elif self._rows is not None:
            yield from map(self._store.sample, self._rows)

    def sample(self, row: int) -> Sample:
        """The sample at ``row`` (of a Series or a Value)."""
        return self._given[row] if self._given is not None else self._store.sample(row)

    def values(self) -> Iterator[Value]:
        """Every sample's name, value and series identity, no labels read (the stability check)."""
        if self._given is not None:
            for row, s in enumerate(self._given):
                yield Value(s.name, s.value, series_hash(s.name, s.labels), row)
        elif self._rows is not None:
            store = self._store
            for row in self._rows:
                yield Value(store.name_of(row), store.values[row], store.keys[row], row)

    def series(self) -> list[Series]:
        """One entry per series as promlint counts them: a summary's quantiles, a histogram's
        buckets, and their _sum and _count that share the other labels are one series (expfmt
        builds one metric of them, labelled as its first line, the special label dropped);
        other types, every sample."""
        special = SPECIAL_LABEL.get(self.type)
        if self._given is not None:
            return self._given_series(special)
        if self._rows is None:
            return []
        store = self._store
        if not special:  # the hot path of the lint: one entry per sample, the store's arrays read inline
            names, name_rows, mask, lines = store.names, store.name_rows, ~store.CAREFUL, store.lines
            label_sets, label_set_rows, keys = store.label_sets, store.label_set_rows, store.keys
            return [Series(names[name_rows[row] & mask], lines[row], label_sets[label_set_rows[row]], keys[row], row)
                    for row in self._rows]
        first: dict[int, int] = {}  # group -> its first row
        for row, group in zip(self._rows, self._groups):
            first.setdefault(group, row)
        return [Series(store.name_of(row), store.lines[row], store.label_names_of(row) - {special}, group, row)
                for group, row in first.items()]

    def _given_series(self, special: str | None) -> list[Series]:
        first: dict[frozenset, int] = {}
        for row, sample in enumerate(self._given):
            items = frozenset((k, v) for k, v in sample.labels.items() if k != special)
            first.setdefault(items, row)
        return [Series(self._given[row].name, self._given[row].line, frozenset(k for k, _ in items),
                       hash((self._given[row].name, items)), row) for items, row in first.items()]

    def series_labels(self, series: Series) -> dict[str, str]:
        """The labels of ``series`` (its first sample's, the special label dropped)."""
        special = SPECIAL_LABEL.get(self.type)
        return {k: v for k, v in self.sample(series.row).labels.items() if k != special}


@dataclass
class Exposition:
    format: str
    families: list[Family]

    def release(self) -> None:
        """Let the body go: families, types, counts and lines stay; samples can no longer be
        read (their labels were read from the body)."""
        for store in {family._store for family in self.families} - {None}:  # the families share one
            store.release()

    def family(self, name: str) -> Family | None:
        return next((f for f in self.families if f.name == name), None)


def format_of(content_type: str | None) -> str:
    """OPENMETRICS for application/openmetrics-text, else TEXT."""
    media = (content_type or "").split(";")[0].strip().lower()
    return OPENMETRICS if media == "application/openmetrics-text" else TEXT


def quote_line(line: str, limit: int = 200) -> str:
    return repr(line if len(line) <= limit else line[:limit] + "...")


def parse(body: str | bytes, fmt: str = TEXT, rules: str = CURRENT, only: Collection[str] | None = None) -> Exposition:
    """Parse ``body``; raise ExpositionError naming the first offending line. ``only``: read
    the samples of these names alone (see the module's docstring)."""
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
        if only is not None:
            exposition.families = [f for f in exposition.families if any(s.name in only for s in f.iter_samples())]
        return exposition
    return _TextReader(body, rules, only).parse()


def go_float(text: str) -> float | None:
    """Go's strconv.ParseFloat as expfmt calls it, or None where it fails: no hex, no '_', no
    sign on NaN, ASCII digits only, and a value beyond the float range is an error (Go's
    ErrRange), not infinity."""
    if not text.isascii() or _NOT_GO_FLOAT.search(text):
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
    Sample object with a dict of labels costs hundreds): name, value, line, series identity
    (series_hash), label names (an index into the distinct sets), where the line starts. The
    labels themselves are read again from the body when a Sample is asked for (``labels_at``)."""

    # The top bit of a row's name index: its line took the careful road (not _PLAIN_SAMPLE's shape).
    CAREFUL = 1 << 31

    def __init__(self, labels_at: Callable[[int, bool], dict[str, str]]):
        self.labels_at = labels_at
        self._clear()

    def _clear(self) -> None:
        self.names: list[str] = []  # the distinct sample names; a row holds an index into it
        self._name_index: dict[str, int] = {}
        self.label_sets: list[frozenset[str]] = []  # the distinct sets of label names, likewise
        self._label_set_index: dict[tuple[str, ...], int] = {}
        self.name_rows, self.lines, self.offsets = array("I"), array("I"), array("I")  # bodies < 4 GiB
        self.label_set_rows = array("I")
        self.values = array("d")
        self.keys = array("q")

    def add(self, name: str, labels: dict[str, str], value: float, line: int, offset: int, careful: bool) -> int:
        index = self._name_index.get(name)
        if index is None:
            index = self._name_index[name] = len(self.names)
            self.names.append(name)
        written = tuple(labels)  # the names as written: cheaper to look up than a set
        label_set = self._label_set_index.get(written)
        if label_set is None:
            label_set = self._label_set_index[written] = len(self.label_sets)
            self.label_sets.append(frozenset(written))
        self.name_rows.append(index | self.CAREFUL if careful else index)
        self.label_set_rows.append(label_set)
        self.values.append(value)
        self.keys.append(series_hash(name, labels))
        self.lines.append(line)
        self.offsets.append(offset)
        return len(self.values) - 1

    def release(self) -> None:
        self.labels_at = _released
        self._clear()

    def name_of(self, row: int) -> str:
        return self.names[self.name_rows[row] & ~self.CAREFUL]

    def label_names_of(self, row: int) -> frozenset[str]:
        return self.label_sets[self.label_set_rows[row]]

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

    def __init__(self, body: str | bytes, rules: str, only: Collection[str] | None):
        self.body, self.only = body, only
        self.current = rules == CURRENT
        self.types = CURRENT_TYPES if self.current else LEGACY_TYPES
        self.families: dict[str, Family] = {}
        self._sample_families: dict[str, Family] = {}  # sample name -> its family
        self.columns = _Columns(self.labels_at)
        self.number, self.line = 0, ""

    def parse(self) -> Exposition:
        """Line by line, in runs of whole lines decoded at once (never a decoded copy of the
        whole body); a line that is not UTF-8 is named in its turn, after the lines before it."""
        binary = not isinstance(self.body, str)
        self.offset = self.number = 0
        start = 0  # where the run starts in the body
        for run in _runs(self.body):
            same_width = not binary or run.isascii()  # a character is a byte: offsets are positions
            text, undecodable = ((run.decode("ascii") if binary else run), None) if same_width else _decoded(run)
            whole = text.rfind("\n") + 1  # "\n" alone ends a line, as Prometheus counts them
            if self.only is not None:
                self.offset = start
                self._read_named(text[:whole], same_width)
            elif same_width:
                self._read_ascii(text, whole, start)
            else:
                self.offset = start
                self._read_lines(text[:whole], same_width=False)
            if undecodable is not None:
                self.number += 1
                self.line = undecodable
                self._error("not UTF-8")
            if whole < len(text):  # the body's last line, without its newline
                self.number += 1
                self.line = unended = text[whole:]
                self.offset = start + len(run) - len(unended.encode())
                self._read(unended)
                if unended.strip(" \t"):
                    self._error("unexpected end of input stream (the last line has no newline)")
            start += len(run)
        # Prometheus drops families without samples; they are not linted either.
        return Exposition(TEXT, [f for f in self.families.values() if len(f)])

    def _read_ascii(self, text: str, end: int, start: int) -> None:
        """The whole lines of ``text[:end]``, a run at ``start`` in the body whose positions are
        its offsets: the lines of the shapes nearly every exporter writes found by one regular
        expression (_PLAIN_LINE), the lines between them read one by one (_read_lines)."""
        done = 0
        for match in _PLAIN_LINE.finditer(text, 0, end):
            if match.start() != done:
                self.offset = start + done
                self._read_lines(text[done:match.start()], same_width=True)
            done = match.end()
            self.number += 1
            self.offset = start + match.start()
            self.line = text[match.start():done - 1]
            name, pairs, value, timestamp, keyword, subject, rest = match.groups()
            if name is None:
                self._help_or_type(keyword, subject, rest)
            else:
                self._plain_sample(name, pairs, value, timestamp)
        if done != end:
            self.offset = start + done
            self._read_lines(text[done:end], same_width=True)
        self.offset = start + end

    def _read_named(self, text: str, same_width: bool) -> None:
        """Whole lines, from self.offset: only those starting with a sample name in self.only
        are read (a quoted name, or blanks before the name, are not looked for)."""
        for line in text.split("\n")[:-1]:
            self.number += 1
            name = _METRIC_NAME.match(line)
            if name and name.group(0) in self.only:
                self.line = line
                self._read(line)
            self.offset += (len(line) if same_width else len(line.encode())) + 1

    def _read_lines(self, text: str, same_width: bool) -> None:
        """Whole lines (``text`` ends with a newline, or is empty) one at a time, from self.offset."""
        for line in text.split("\n")[:-1]:
            self.number += 1
            self.line = line
            self._read(line)
            self.offset += (len(line) if same_width else len(line.encode())) + 1

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
        base_name, underscore, word = name.rpartition("_")  # each suffix is "_" and one word: one can match
        types = _JOINS.get(underscore + word)
        if types and base_name:
            base = self.families.get(base_name)
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
        labels = {}
        if pairs:
            found = _PLAIN_PAIR.findall(pairs)
            labels = dict(found)
            if len(labels) != len(found) or "__name__" in labels:
                self._sample(self.line.lstrip(" \t"))  # the careful road says what is wrong
                return
        self._add(family, name, labels, value, timestamp, "", careful=False)

    def _family_of_sample(self, name: str) -> Family:
        """The family of the sample name ``name``, found once per name: what a name joins is
        fixed by its first sample (families are only added, a type only set before samples)."""
        family = self._sample_families.get(name)
        if family is None:
            family = self._sample_families[name] = self._family_for(name)
            if family.type == "":
                family.type = "untyped"  # as in expfmt: a sample fixes the family's type
        return family

    def _sample(self, text: str) -> None:
        """A sample line walked as expfmt walks it (see _parts)."""
        self._add(*self._parts(text))

    def _parts(self, text: str):
        """name, ``{labels}`` or not, value, timestamp, as expfmt reads them: (family, name,
        labels, value, timestamp, the rest after it)."""
        n = len(text)
        labels: dict[str, str] = {}
        if text[0] == "{":  # {"my.metric",a="1"}: the name is among the labels
            if not self.current:
                self._error("invalid metric name")
            name, labels, i = self._labels(text, 1, "", braces=True)
            family = self._family_of_sample(name)
        else:
            name, i = self._name(text, 0, _METRIC_NAME)
            if not name:
                self._error("invalid metric name")
            family = self._family_of_sample(name)
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
        special = SPECIAL_LABEL.get(family.type)  # (no family has the type gaugehistogram by LEGACY rules)
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
        # Family.series groups a histogram's or summary's rows by their labels but the special one.
        group = hash(frozenset(item for item in labels.items() if item[0] != special)) if special else None
        family._append(self.columns, self.columns.add(name, labels, number, self.number, self.offset, careful), group)

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


# suffix -> the family types a sample name with it joins (expfmt's list).
_JOINS = {"_count": ("summary", "histogram", "gaugehistogram"), "_sum": ("summary", "histogram", "gaugehistogram"),
          "_bucket": ("histogram", "gaugehistogram"), "_gcount": ("gaugehistogram",), "_gsum": ("gaugehistogram",)}


def _pieces(body: str | bytes | bytearray) -> Iterator:
    """``body`` in pieces of whole lines, each about PIECE long (a longer line is a piece of its
    own; the last may lack its newline). No copy of the whole body is made."""
    start, size = 0, len(body)
    newline = "\n" if isinstance(body, str) else b"\n"
    while start < size:
        end = body.find(newline, start + PIECE - 1)
        end = size if end < 0 else end + 1
        yield body[start:end]
        start = end


def _runs(body: str | bytes | bytearray) -> Iterator:
    """``body`` in runs of whole lines (the last may lack its newline): in bytes, the pieces of
    ASCII and, alone, each line that holds other bytes (the text reader matches ASCII runs as a
    whole, their positions being their offsets)."""
    for piece in _pieces(body):
        if isinstance(piece, str) or piece.isascii():
            yield piece
            continue
        done = 0
        while (other := _NOT_ASCII.search(piece, done)) is not None:
            newline = piece.rfind(b"\n", done, other.start())
            first = newline + 1 if newline >= 0 else done  # where the line with that byte starts
            end = piece.find(b"\n", other.start()) + 1 or len(piece)
            if first > done:
                yield piece[done:first]
            yield piece[first:end]
            done = end
        if done < len(piece):
            yield piece[done:]


def _decoded(piece: bytes | bytearray) -> tuple[str, str | None]:
    """(the piece as text, None); if a line of it is not UTF-8: (the lines before it, that line
    with its bad bytes replaced)."""
    try:
        return piece.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        start = piece.rfind(b"\n", 0, exc.start) + 1
        end = piece.find(b"\n", exc.start)
        return piece[:start].decode("utf-8"), piece[start:end if end >= 0 else len(piece)].decode("utf-8", "replace")


def _skip_blanks(text: str, i: int) -> int:
    n = len(text)
    while i < n and text[i] in " \t":
        i += 1
    return i


def series_hash(name: str, labels: dict[str, str]) -> int:
    """A series' identity as a number: equal for the same name and label set, in any order."""
    return hash((name, frozenset(labels.items())))


def series_key(name: str, labels: dict[str, str]) -> str:
    """``name{a="1",b="2"}``: a series as operators write it (labels sorted)."""
    if not labels:
        return name
    pairs = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    return f"{name}{{{pairs}}}"
