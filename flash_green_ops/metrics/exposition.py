"""Parse exposition text (Prometheus text 0.0.4 or OpenMetrics) into families that know their lines.

prometheus_client's parsers do the parsing. What they do not give us, this module adds:

* **Line numbers.** Both parsers read their input with ``for line in fd`` and act on each line
  as it arrives, so the input reaches them through a reader that counts: when a parser raises,
  the line it was reading is the offending one. (OpenMetrics checks that run when a family ends
  — histogram buckets, clashing names, a missing ``# EOF`` — are reported at the line where the
  parser noticed: the line after the family, or the last line.)
* **Prometheus's own reading of the text format** (Go, ``expfmt``, which ``promtool check
  metrics`` and a scrape use). prometheus_client's text parser is laxer by design, and where it
  is stricter it is so about the wrong things: it lets a second TYPE or HELP line, a TYPE after
  the family's samples, an unknown type, a non-numeric ``le``, a float timestamp or a value
  glued to a bad name through, but stops at a TYPE line without a type, which Prometheus skips;
  it folds a counter's ``_total`` into the family name and splits non-adjacent samples into
  singleton families. So for the text format, :class:`_TextReader` reads the metadata lines
  (HELP and TYPE: a keyword, a name and the rest of the line) and the shape of each sample line
  as expfmt does, groups samples into families as expfmt does (by name across the whole text,
  ``_sum``/``_count``/``_bucket`` joining their summary or histogram), and hands
  prometheus_client only the sample lines — their labels, escapes and values are its job.
  The linter then sees what promtool sees, and a text Prometheus rejects does not parse here.
"""
from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

TEXT, OPENMETRICS = "text", "openmetrics"

# Types the text format knows (expfmt compares them case-insensitively, verbatim otherwise).
TEXT_TYPES = {"counter", "gauge", "summary", "untyped", "histogram", "gauge_histogram"}

_METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")  # at the start of a sample or after HELP/TYPE
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_INTEGER = re.compile(r"[+-]?[0-9]+")
_KEYWORD = re.compile(r"#[ \t]*([^ \t]*)")  # "#", blanks, the first word (HELP, TYPE or a comment)
_ESCAPE = re.compile(r"\\(.?)")  # a backslash and what it escapes
_WORD = re.compile(r"[^ \t]*")


class ExpositionError(Exception):
    """The text does not parse; ``line`` is 1-based, ``text`` that line as it was sent."""

    def __init__(self, line: int, text: str, reason: str):
        self.line, self.text, self.reason = line, text, reason
        super().__init__(f"line {line}: {reason}: {quote_line(text)}")


@dataclass(frozen=True)
class Sample:
    name: str
    labels: dict[str, str]
    value: float
    line: int


@dataclass
class Family:
    """A metric family as exposed: ``name`` is the exposed name (an OpenMetrics counter's
    carries ``_total``, as in the text format), ``type`` lower-case (OpenMetrics ``unknown`` is
    ``untyped``), ``help`` whether a non-empty HELP was given, ``line`` where it first appears."""

    name: str
    type: str
    help: bool
    line: int
    samples: list[Sample] = field(default_factory=list)


@dataclass
class Exposition:
    format: str
    families: list[Family]

    def family(self, name: str) -> Family | None:
        return next((f for f in self.families if f.name == name), None)


def format_of(content_type: str | None) -> str:
    """OPENMETRICS for application/openmetrics-text, else TEXT."""
    media = (content_type or "").split(";")[0].strip().lower()
    return OPENMETRICS if media == "application/openmetrics-text" else TEXT


def quote_line(line: str, limit: int = 200) -> str:
    return repr(line if len(line) <= limit else line[:limit] + "...")


def parse(body: str | bytes, fmt: str = TEXT) -> Exposition:
    """Parse ``body``; raise ExpositionError naming the first offending line."""
    if isinstance(body, bytes):
        try:
            body = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            number = body.count(b"\n", 0, exc.start) + 1
            line = body.split(b"\n")[number - 1].decode("utf-8", "replace")
            raise ExpositionError(number, line, "not UTF-8") from None
    if fmt == OPENMETRICS:
        return _parse_openmetrics(body)
    return _TextReader(body).parse()


def _reason(exc: Exception) -> str:
    text = str(exc.args[0]) if exc.args else ""
    # prometheus_client often appends the whole line; the message quotes the line itself.
    text = text.split(": ", 1)[0]
    return f"not valid exposition text ({text})" if text else "not valid exposition text"


class _CountingReader:
    """Hands the text to a parser line by line, and knows which line it is on."""

    def __init__(self, text: str):
        self.text = text
        self._fd = io.StringIO(text)  # splits on "\n" only, as Prometheus counts lines
        self.number = 0
        self.current = ""
        self._lines: list[str] | None = None

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        line = next(self._fd)  # StopIteration ends the parser's loop
        self.number += 1
        self.current = line.rstrip("\n")
        return self.feed(line)

    def feed(self, line: str) -> str:
        return line

    def text_of(self, number: int) -> str:
        if self._lines is None:
            self._lines = self.text.split("\n")
        return self._lines[number - 1] if 0 < number <= len(self._lines) else ""


def _parse_openmetrics(text: str) -> Exposition:
    from prometheus_client.openmetrics.parser import text_fd_to_metric_families

    reader = _OpenMetricsReader(text)
    metrics = []
    try:
        metrics.extend(text_fd_to_metric_families(reader))
    except (ValueError, IndexError, KeyError) as exc:  # what the parser raises on bad input
        raise ExpositionError(reader.number, reader.current, _reason(exc)) from None
    families, lines = [], iter(reader.sample_lines)
    for metric in metrics:
        typ = "untyped" if metric.type == "unknown" else metric.type
        name = metric.name + "_total" if typ == "counter" else metric.name
        samples = [Sample(s.name, dict(s.labels), float(s.value), next(lines)) for s in metric.samples]
        if samples:  # as in the text format, a family without samples is not there
            first = min(reader.metadata_lines.get(metric.name, samples[0].line), samples[0].line)
            families.append(Family(name, typ, bool(metric.documentation), first, samples))
    return Exposition(OPENMETRICS, families)


class _OpenMetricsReader(_CountingReader):
    """Notes where samples and metadata are; the OpenMetrics parser is strict on its own."""

    def __init__(self, text: str):
        super().__init__(text)
        self.sample_lines: list[int] = []
        self.metadata_lines: dict[str, int] = {}

    def feed(self, line: str) -> str:
        if line.startswith("#"):
            words = line.split(None, 2)
            if len(words) > 1:
                self.metadata_lines.setdefault(words[1], self.number)
        elif line.strip():
            self.sample_lines.append(self.number)
        return line


class _TextReader(_CountingReader):
    """The text format as Prometheus reads it; prometheus_client parses the sample lines."""

    def __init__(self, text: str):
        super().__init__(text)
        self.families: dict[str, Family] = {}
        self.samples: list[tuple[int, str, Family]] = []  # (line, name as written, family)
        # Problems found in sample lines, kept until the end: a problem on an earlier line,
        # found later (after prometheus_client parsed it), must still be the one reported.
        self.problems: list[tuple[int, str]] = []

    def parse(self) -> Exposition:
        from prometheus_client.parser import text_fd_to_metric_families

        parsed, failure = [], None
        try:
            for metric in text_fd_to_metric_families(self):
                parsed.extend(metric.samples)
        except ExpositionError as exc:
            failure = exc
        except (ValueError, IndexError, KeyError) as exc:  # what the parser raises on bad input
            failure = ExpositionError(self.number, self.current, _reason(exc))
        if failure is None and self.current.strip(" \t") and not self.text.endswith("\n"):
            failure = ExpositionError(self.number, self.current,
                                      "unexpected end of input stream (the last line has no newline)")
        problems = self.problems + self._sample_problems(parsed)
        earlier = [p for p in problems if failure is None or p[0] < failure.line]
        if earlier:
            line, reason = min(earlier)
            raise ExpositionError(line, self.text_of(line), reason)
        if failure:
            raise failure
        if len(parsed) != len(self.samples):  # one sample per sample line, in both readings
            raise ExpositionError(self.number, self.current, f"{len(parsed)} samples parsed from "
                                  f"{len(self.samples)} sample lines: report this as a bug")
        for (line, name, family), sample in zip(self.samples, parsed):
            family.samples.append(Sample(name, dict(sample.labels), float(sample.value), line))
        # Prometheus drops families without samples; they are not linted either.
        return Exposition(TEXT, [f for f in self.families.values() if f.samples])

    def feed(self, line: str) -> str:
        text = self.current.lstrip(" \t")
        if text.startswith("#"):
            self._metadata(text)
            return "\n"  # prometheus_client gets sample lines only (see the module docstring)
        if text.strip(" \t"):
            self._sample(text)
        return line

    def _error(self, reason: str) -> None:
        raise ExpositionError(self.number, self.current, reason)

    def _family_for(self, name: str) -> Family:
        """expfmt's setOrCreateCurrentMF: the family itself, else the summary or histogram that
        ``name`` is the _sum/_count (or _bucket) of, else a new family."""
        family = self.families.get(name)
        if family:
            return family
        for suffix, types in (("_count", ("summary", "histogram")), ("_sum", ("summary", "histogram")),
                              ("_bucket", ("histogram",))):
            if name.endswith(suffix) and len(name) > len(suffix):
                base = self.families.get(name[: -len(suffix)])
                if base and base.type in types:
                    return base
        family = self.families[name] = Family(name=name, type="", help=False, line=self.number)
        return family

    def _metadata(self, text: str) -> None:
        """A comment; if HELP or TYPE: a keyword, a metric name, the rest verbatim (expfmt)."""
        keyword = _KEYWORD.match(text)
        if keyword.group(1) not in ("HELP", "TYPE"):
            return
        after = text[keyword.end():].lstrip(" \t")
        name = _METRIC_NAME.match(after)
        name = name.group(0) if name else ""
        rest = after[len(name):]
        if not rest:
            return  # "# TYPE name" and nothing else: Prometheus skips the line
        if rest[0] not in " \t":
            self._error("invalid metric name in comment")
        family = self._family_for(name)
        value = rest.lstrip(" \t")
        if not value:
            return
        if keyword.group(1) == "HELP":
            for escaped in _ESCAPE.findall(value):
                if escaped not in ("\\", "n"):
                    self._error(f"invalid escape sequence '\\{escaped}' in HELP")
            if family.help:
                self._error(f"second HELP line for metric name {family.name!r}")
            family.help = True
            return
        if family.type:
            self._error(f"second TYPE line for metric name {family.name!r}, or TYPE reported after samples")
        if value.lower() not in TEXT_TYPES:  # verbatim: "gauge " is not a type to Prometheus either
            self._error(f"unknown metric type {value!r}")
        family.type = value.lower()

    def _sample(self, text: str) -> None:
        """The shape of a sample line: name, then ``{labels}`` or not, a value, a timestamp."""
        name = _METRIC_NAME.match(text)
        if not name:  # e.g. {__name__="x"} 1, which prometheus_client accepts
            self._error(f"invalid metric name {_WORD.match(text).group(0)!r}")
        family = self._family_for(name.group(0))
        if family.type == "":
            family.type = "untyped"  # as in expfmt: a sample fixes the family's type
        self.samples.append((self.number, name.group(0), family))
        tail = text[name.end():].lstrip(" \t")
        if tail.startswith("{"):
            if "}" not in tail:
                return  # prometheus_client reports the unclosed label set
            tail = tail[tail.rindex("}") + 1:].lstrip(" \t")
        # What follows the name (and labels) is the value: prometheus_client lets a name like
        # "a-b{...}" or "a b{...}" pass, and takes everything before "{" as the name.
        value = _WORD.match(tail).group(0)
        if not _is_go_float(value):
            self.problems.append((self.number, f"expected float as value, got {value!r}"))
            return
        after = tail[len(value):]
        if not after:
            return
        timestamp = _WORD.match(after.lstrip(" \t")).group(0)
        if not _INTEGER.fullmatch(timestamp):  # also "1 " (a blank, then no timestamp)
            self.problems.append((self.number, f"expected integer as timestamp, got {timestamp!r}"))
        elif after.lstrip(" \t")[len(timestamp):]:
            self.problems.append((self.number, "spurious string after timestamp"))

    def _sample_problems(self, parsed: list) -> list[tuple[int, str]]:
        """What needs the parsed labels: label names of the 0.0.4 format (prometheus_client
        accepts UTF-8 and ":"), a numeric ``le`` / ``quantile``, escapes Prometheus knows."""
        problems = []
        for (line, _, family), sample in zip(self.samples, parsed):
            invalid = [label for label in sample.labels if not _LABEL_NAME.fullmatch(label)]
            if invalid:
                problems.append((line, f"invalid label name {invalid[0]!r}"))
                continue
            special = {"histogram": "le", "summary": "quantile"}.get(family.type)
            if special in sample.labels and not _is_go_float(sample.labels[special]):
                problems.append((line, f"expected float as value for {special!r} label, "
                                       f"got {sample.labels[special]!r}"))
                continue
            text = self.text_of(line)
            if "\\" in text and "{" in text:
                # prometheus_client keeps an unknown escape verbatim; Prometheus rejects it.
                block = text[text.index("{"):text.rindex("}")]
                bad = [e for e in _ESCAPE.findall(block) if e not in ("\\", "n", '"')]
                if bad:
                    problems.append((line, f"invalid escape sequence '\\{bad[0]}' in a label value"))
        return problems


def _is_go_float(text: str) -> bool:
    """Go's strconv.ParseFloat as expfmt calls it (no hex exponents, no underscores)."""
    if not text or text != text.strip() or any(c in text for c in "pP_"):
        return False
    try:
        float(text)
    except ValueError:
        return False
    return True


def series_key(sample: Sample) -> str:
    """``name{a="1",b="2"}``: a series as operators write it (labels sorted)."""
    if not sample.labels:
        return sample.name
    labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
    return f"{sample.name}{{{labels}}}"
