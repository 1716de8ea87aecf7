"""Judge an env against the declarative contract (flash_green_ops/contract.toml) -> findings.

One function per rule *kind*; the contract file says which rules exist and with which keys.
Every rule yields at least one finding with check id ``env.<rule id>``: its problems, or a
PASS that states the rule, or a SKIP when the rule does not apply to this environment.
Messages never quote a secret, a URL (it may carry credentials) or a free-form value; they
quote only values of enumerated types (bools, ports, choices), which are not secret.
"""
from __future__ import annotations

import dataclasses
import functools
import os
import re
import stat
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from flash_green_ops import conninfo, envfile, urls
from flash_green_ops.context import RunContext
from flash_green_ops.contract import Contract, Rule, Variable
from flash_green_ops.findings import Finding, failed, passed, skipped, warned
from flash_green_ops.urls import FIX as URL_FIX, unencoded_in_password

TRUE = {"true", "1", "yes", "on"}
FALSE = {"false", "0", "no", "off", ""}
# Types whose sample value in a template is a real choice, not something left to fill in.
ENUMERATED_TYPES = {"bool", "port", "choice"}


def check_ids(contract: Contract) -> tuple[str, ...]:
    """One check per rule of the contract: ``env.<rule id>``."""
    return tuple(f"env.{rule.id}" for rule in contract.rules)


def run(ctx: RunContext) -> list[Finding]:
    """The env step: every rule of the contract."""
    return evaluate(ctx)


def evaluate(ctx: RunContext, rule_ids: Iterable[str] | None = None) -> list[Finding]:
    rules = ctx.contract.rules if rule_ids is None else [ctx.contract.rule(r) for r in rule_ids]
    findings = []
    for rule in rules:
        started = time.monotonic()
        results = evaluate_rule(ctx, rule)
        elapsed = time.monotonic() - started  # each rule's own time (JSON), not the step's average
        findings.extend(dataclasses.replace(f, duration=elapsed) for f in results)
    return findings


def evaluate_rule(ctx: RunContext, rule: Rule) -> list[Finding]:
    check = f"env.{rule.id}"
    if not rule.applies_to(ctx.environment):
        return [skipped(check, f"applies to {', '.join(rule.environments)} only; this is {ctx.environment}")]
    problems = KINDS[rule.kind](ctx, rule, check)
    return problems or [passed(check, rule.doc)]


# -- helpers ---------------------------------------------------------------------------------

def _state(ctx: RunContext, key: str) -> str:
    return "empty" if key in ctx.values else "missing"


def _join(keys: Iterable[str], last: str = "and") -> str:
    keys = list(keys)
    return keys[0] if len(keys) == 1 else f"{', '.join(keys[:-1])} {last} {keys[-1]}"


def _lines(ctx: RunContext, keys: Iterable[str]) -> str:
    """``file line 7`` for one key, ``file lines 3, 9`` for several, ``file`` for none."""
    lines = sorted({ctx.source.line_of(k) for k in keys} - {None})
    if not lines:
        return ctx.source.name
    word = "line" if len(lines) == 1 else "lines"
    return f"{ctx.source.name} {word} {', '.join(map(str, lines))}"


def _describe_option(option: list[str]) -> str:
    return option[0] if len(option) == 1 else ("both " if len(option) == 2 else "all of ") + _join(option)


def _known(ctx: RunContext, key: str) -> bool:
    return key in ctx.contract.variables


def _relevant_keys(ctx: RunContext) -> list[str]:
    """Keys to judge value by value: all of a file's; only the contract's in the process
    environment, which also holds PATH, HOME and everything else."""
    return [k for k in ctx.values if ctx.source.is_file or _known(ctx, k)]


def parse_bool(value: str | None) -> bool | None:
    """The contract's booleans; None when the value is not one."""
    normalised = (value or "").strip().lower()
    if normalised in TRUE:
        return True
    if normalised in FALSE:
        return False
    return None


# -- rule kinds ------------------------------------------------------------------------------

def _environment(ctx: RunContext, rule: Rule, check: str) -> list[Finding]:
    key = ctx.contract.environment_variable
    value = (ctx.values.get(key) or "").strip()
    where = ctx.source.where(key)
    allowed = ", ".join(ctx.contract.environments)
    if value and value not in ctx.contract.environments:
        return [failed(check, f"{key} is {value!r} ({where}): expected one of {allowed}; "
                              f"checking with the production rules meanwhile", where)]
    if value and ctx.settings.environment and value != ctx.settings.environment:
        return [warned(check, f"{key} is {value!r} ({where}) but --environment is "
                              f"{ctx.settings.environment!r}: checking as {ctx.environment}", where)]
    return []


def _required(ctx: RunContext, rule: Rule, check: str) -> list[Finding]:
    problems = []
    for key in rule.params["keys"]:
        if not ctx.source.is_set(key):
            where = ctx.source.where(key)
            doc = ctx.contract.variables[key].doc if _known(ctx, key) else ""
            problems.append(failed(check, f"{key} is {_state(ctx, key)} ({where}): set it ({doc})", where))
    return problems


def _one_of(ctx: RunContext, rule: Rule, check: str) -> list[Finding]:
    options: list[list[str]] = rule.params["options"]
    first_wins_over = rule.params.get("first_wins_over", [])
    alternatives = _join([_describe_option(o) for o in options], "or")

    if first_wins_over and all(ctx.source.is_set(k) for k in options[0]):
        ignored = [k for k in first_wins_over if k in ctx.values]
        if ignored:
            where = _lines(ctx, ignored)
            return [warned(check, f"{options[0][0]} is set, so it wins and {_join(ignored)} "
                                  f"{'is' if len(ignored) == 1 else 'are'} ignored ({where}): "
                                  f"remove {'it' if len(ignored) == 1 else 'them'} to avoid confusion",
                           ctx.source.where(options[0][0]))]
        return []

    problems = []
    for option in options:
        present = [k for k in option if ctx.source.is_set(k)]
        missing = [k for k in option if not ctx.source.is_set(k)]
        if present and missing:
            others = [_describe_option(o) for o in options if o is not option]
            where = ctx.source.where(present[0])
            verb = "is" if len(missing) == 1 else "are"
            problems.append(failed(
                check,
                f"{_join(present)} {'is' if len(present) == 1 else 'are'} set but {_join(missing)} "
                f"{verb} {_state(ctx, missing[0]) if len(missing) == 1 else 'missing'} ({where}): "
                f"set {_describe_option(option)}, or use {_join(others, 'or')}", where))
    if problems or any(all(ctx.source.is_set(k) for k in o) for o in options):
        return problems
    return [failed(check, f"none of {alternatives} is set ({ctx.source.name}): set {alternatives}",
                   ctx.source.name)]


def _sslmode(ctx: RunContext, rule: Rule, check: str) -> list[Finding]:
    url_key, key, allowed = rule.params["url"], rule.params["key"], rule.params["allowed"]
    wanted = _join(allowed, "or")
    if ctx.source.is_set(url_key):
        where = ctx.source.where(url_key)
        try:
            mode = conninfo.parse(ctx.values[url_key].strip()).get("sslmode")
        except Exception:
            return [failed(check, f"{url_key} cannot be parsed as a PostgreSQL URL ({where}): "
                                  f"fix it; production also needs sslmode={allowed[-1]}", where)]
        fix = f"add ?sslmode={allowed[-1]} to {url_key}"
        source = f"{url_key}'s sslmode"
    else:
        where = ctx.source.where(key)
        mode = (ctx.values.get(key) or "").strip() or None
        fix = f"set {key}={allowed[-1]}"
        source = key
    if mode is None:
        return [failed(check, f"no sslmode is set ({where}): production requires {wanted}; {fix}", where)]
    if mode not in allowed:
        return [failed(check, f"{source} is {mode!r} ({where}): production requires {wanted}; {fix}", where)]
    return []


def _all_or_none(ctx: RunContext, rule: Rule, check: str) -> list[Finding]:
    keys = rule.params["keys"]
    present = [k for k in keys if ctx.source.is_set(k)]
    missing = [k for k in keys if not ctx.source.is_set(k)]
    if present and missing:
        where = ctx.source.where(present[0])
        verb = "is" if len(missing) == 1 else "are"
        return [failed(check, f"{_join(present)} {'is' if len(present) == 1 else 'are'} set but "
                              f"{_join(missing)} {verb} missing ({where}): set all of {_join(keys)}, or none",
                       where)]
    return []


def _backend_choice(ctx: RunContext, rule: Rule, check: str) -> list[Finding]:
    selector = rule.params["selector"]
    backends: dict[str, list[str]] = rule.params["backends"]
    configured = [name for name, keys in backends.items() if all(ctx.source.is_set(k) for k in keys)]
    chosen = (ctx.values.get(selector) or "").strip()
    where = ctx.source.where(selector) if chosen else ctx.source.name
    names = _join(backends, "or")

    if ctx.is_production and rule.params.get("production_exactly_one"):
        if not configured:
            return [failed(check, f"no secret backend is configured ({ctx.source.name}): production needs "
                                  f"exactly one; set {_join([_join(k) for k in backends.values()], 'or')}",
                           ctx.source.name)]
        if len(configured) > 1:
            return [failed(check, f"both {_join(configured)} secret backends are configured "
                                  f"({_lines(ctx, [k for c in configured for k in backends[c]])}): "
                                  f"production configures exactly one; remove the other", ctx.source.name)]
    if chosen in backends and chosen not in configured:
        missing = [k for k in backends[chosen] if not ctx.source.is_set(k)]
        return [failed(check, f"{selector} is {chosen!r} ({where}) but {_join(missing)} "
                              f"{'is' if len(missing) == 1 else 'are'} not set: configure {chosen}, "
                              f"or choose another backend", where)]
    if len(configured) > 1 and chosen not in backends:
        return [failed(check, f"both {_join(configured)} secret backends are configured ({ctx.source.name}): "
                              f"set {selector} to {names} to choose one", ctx.source.name)]
    return []


def _booleans(ctx: RunContext, rule: Rule, check: str) -> list[Finding]:
    problems = []
    for var in ctx.contract.variables_of_type("bool"):
        value = ctx.values.get(var.name)
        if value is not None and parse_bool(value) is None:
            where = ctx.source.where(var.name)
            problems.append(failed(check, f"{var.name} is {value!r} ({where}): expected one of "
                                          f"true/false/1/0/yes/no/on/off (any case), or empty for false", where))
    return problems


def _required_when_true(ctx: RunContext, rule: Rule, check: str) -> list[Finding]:
    flag = rule.params["flag"]
    if not parse_bool(ctx.values.get(flag)):
        return []
    missing = [k for k in rule.params["keys"] if not ctx.source.is_set(k)]
    if not missing:
        return []
    where = ctx.source.where(flag)
    verb = "is" if len(missing) == 1 else "are"
    return [failed(check, f"{flag} is true ({where}) but {_join(missing)} {verb} missing: "
                          f"set {_join(missing)}, or set {flag}=false", where)]


def _format_problem(var: Variable, value: str) -> str | None:
    """What is wrong with a set value of ``var``, or None; never quotes a free-form value."""
    value = value.strip()
    if var.type == "url":
        if reserved := unencoded_in_password(value):
            # Else urlsplit reads "user:pass" as the host and a port that is not an integer.
            return f"has a password holding an unencoded {_join([repr(c) for c in reserved], 'and')}: {URL_FIX}"
        try:
            parts = urls.split(value)
        except ValueError as exc:
            return str(exc)
        if not parts.scheme or not parts.netloc:
            return f"is not a URL with a scheme and a host: expected {_join([s + '://' for s in var.schemes], 'or')}..."
        if var.schemes and parts.scheme.lower() not in var.schemes:
            return (f"has scheme {parts.scheme + '://'!r}: expected "
                    f"{_join([s + '://' for s in var.schemes], 'or')}")
        try:
            parts.port  # noqa: B018 - parsing the port is the check
        except ValueError:
            return "has a port that is not an integer from 1 to 65535"
    elif var.type == "port":
        if not (value.isdecimal() and 1 <= int(value) <= 65535):
            return f"is {value!r}: expected an integer from 1 to 65535"
    elif var.type == "choice" and var.choices:
        if value not in var.choices:
            return f"is {value!r}: expected one of {', '.join(var.choices)}"
    elif var.type == "pattern" and var.pattern:
        if not re.fullmatch(var.pattern, value):
            return f"is not {var.pattern_doc or 'in the form ' + var.pattern} ({len(value)} characters found)"
    return None


def _formats(ctx: RunContext, rule: Rule, check: str) -> list[Finding]:
    problems = []
    for var in ctx.contract.variables.values():
        if var.type == "bool" or var.name == ctx.contract.environment_variable:
            continue  # judged by their own rules (adapter-flags, environment)
        if not ctx.source.is_set(var.name):
            continue
        problem = _format_problem(var, ctx.values[var.name])
        if problem:
            where = ctx.source.where(var.name)
            problems.append(failed(check, f"{var.name} {problem} ({where})", where))
    database_url = ctx.contract.variables.get("DATABASE_URL")
    if database_url and ctx.source.is_set("DATABASE_URL") and not _format_problem(database_url,
                                                                                   ctx.values["DATABASE_URL"]):
        try:
            conninfo.parse(ctx.values["DATABASE_URL"].strip())
        except Exception:
            where = ctx.source.where("DATABASE_URL")
            problems.append(failed(check, f"DATABASE_URL is not a URL libpq accepts ({where}): "
                                          "check its port, query and percent-encoding", where))
    return problems


def _production_schemes(ctx: RunContext, rule: Rule, check: str) -> list[Finding]:
    problems = []
    for var in ctx.contract.variables.values():
        if not var.production_schemes or not ctx.source.is_set(var.name):
            continue
        scheme = urls.scheme(ctx.values[var.name])
        if scheme and scheme not in var.production_schemes:
            where = ctx.source.where(var.name)
            wanted = _join([s + "://" for s in var.production_schemes], "or")
            problems.append(failed(check, f"{var.name} uses {scheme}:// ({where}): production requires {wanted}",
                                   where))
    return problems


def _no_surrounding_whitespace(ctx: RunContext, rule: Rule, check: str) -> list[Finding]:
    problems = []
    for entry in ctx.source.entries:
        if (ctx.source.is_file or _known(ctx, entry.key)) and envfile.has_surrounding_whitespace(entry):
            where = ctx.source.where(entry.key) if entry.line is None else f"{ctx.source.name} line {entry.line}"
            problems.append(failed(check, f"{entry.key} has leading or trailing whitespace ({where}): "
                                          "remove it (a copy-paste slip, usually)", where))
    return problems


@functools.lru_cache(maxsize=8)
def template_samples(template_paths: tuple[Path, ...]) -> dict[str, frozenset[str]]:
    """Every sample value of the templates, commented-out alternatives (``# KEY=value``) too."""
    samples: dict[str, set[str]] = {}
    for path in template_paths:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError:
            continue  # a contract used without its templates: nothing to compare with
        uncommented = re.sub(r"(?m)^#\s*(?=[A-Z][A-Z0-9_]*=)", "", text)
        for entry in envfile.parse_env_text(uncommented, str(path)).entries:
            if entry.value.strip():
                samples.setdefault(entry.key, set()).add(entry.value.strip())
    return {k: frozenset(v) for k, v in samples.items()}


def _no_placeholders(ctx: RunContext, rule: Rule, check: str) -> list[Finding]:
    contract: Contract = ctx.contract
    samples = template_samples(contract.template_paths)
    problems = []
    for key in _relevant_keys(ctx):
        value = ctx.values[key].strip()
        if not value:
            continue
        where = ctx.source.where(key)
        var = contract.variables.get(key)
        quoted = "" if contract.is_secret(key) or (var and var.type in ("url", "string", "secret")) \
            or not var else f" ({value!r})"
        if any(p.search(value) for p in contract.placeholders):
            problems.append(failed(check, f"{key} holds a placeholder{quoted} ({where}): set the real value", where))
        elif value in samples.get(key, ()) and not (var and var.type in ENUMERATED_TYPES):
            problems.append(failed(check, f"{key} still has the template's sample value ({where}): "
                                          "set the real value", where))
    return problems


def _no_conflicting_duplicates(ctx: RunContext, rule: Rule, check: str) -> list[Finding]:
    seen: dict[str, list[envfile.Entry]] = {}
    for entry in ctx.source.entries:
        seen.setdefault(entry.key, []).append(entry)
    problems = []
    for key, entries in seen.items():
        if len({e.value for e in entries}) > 1:
            lines = ", ".join(str(e.line) for e in entries)
            where = f"{ctx.source.name} lines {lines}"
            problems.append(failed(check, f"{key} is set {len(entries)} times with different values ({where}): "
                                          f"keep one (the last, line {entries[-1].line}, is the one in effect)",
                                   where))
    return problems


# Unknown keys named one by one (with a spelling hint); past this, one warning counts the rest:
# thousands of them mean another program's env file, and one line each would bury the report.
UNKNOWN_KEYS_NAMED = 20


def _known_keys(ctx: RunContext, rule: Rule, check: str) -> list[Finding]:
    if not ctx.source.is_file:
        return []  # the process environment holds PATH, HOME...: only a file's keys are judged
    unknown = [key for key in ctx.values if not _known(ctx, key)]
    if unknown:
        import difflib  # here: every stage imports this module, few runs meet an unknown key
    problems = []
    for key in unknown[:UNKNOWN_KEYS_NAMED]:
        where = ctx.source.where(key)
        guess = difflib.get_close_matches(key, ctx.contract.variables, n=1)
        hint = f"did you mean {guess[0]}? " if guess else ""
        problems.append(warned(check, f"{key} is not a key the contract knows ({where}): {hint}"
                                      "it is ignored by these checks", where))
    if len(unknown) > UNKNOWN_KEYS_NAMED:
        rest = unknown[UNKNOWN_KEYS_NAMED:]
        where = ctx.source.where(rest[0])
        problems.append(warned(check, f"{len(rest)} more keys the contract does not know, from {rest[0]} "
                                      f"({where}) on: is {ctx.source.name} Flash Green's env file?", where))
    return problems


def _file_permissions(ctx: RunContext, rule: Rule, check: str) -> list[Finding]:
    """InSpec's file resource check: an env file holding secrets is readable by its owner only.
    A failure where the rule's ``fail_environments`` say so (production), else a warning."""
    if not ctx.source.is_file:
        return []  # the process environment: nothing on disk to judge
    held = [k for k, v in ctx.values.items() if v.strip() and (ctx.contract.is_secret(k) or _url_password(v))]
    try:
        mode = stat.S_IMODE(os.stat(ctx.source.name).st_mode)
    except OSError:
        return []  # read a moment ago; gone now (a pipe, a deleted file): nothing to judge
    if not held or not mode & 0o044:
        return []
    readers = _join([who for who, bit in (("its group", 0o040), ("others", 0o004)) if mode & bit])
    report = failed if ctx.environment in rule.params.get("fail_environments", ()) else warned
    return [report(check, f"{ctx.source.name} is mode {mode:04o}: readable by {readers} while it holds secrets "
                          f"({_join(held[:5])}{', ...' if len(held) > 5 else ''}): run chmod 600 {ctx.source.name}",
                   ctx.source.name)]


def _url_password(value: str) -> bool:
    try:
        return bool(urls.split(value).password)
    except ValueError:
        return False


KINDS: dict[str, Callable[[RunContext, Rule, str], list[Finding]]] = {
    "environment": _environment,
    "required": _required,
    "one_of": _one_of,
    "sslmode": _sslmode,
    "all_or_none": _all_or_none,
    "backend_choice": _backend_choice,
    "booleans": _booleans,
    "required_when_true": _required_when_true,
    "formats": _formats,
    "production_schemes": _production_schemes,
    "no_surrounding_whitespace": _no_surrounding_whitespace,
    "no_placeholders": _no_placeholders,
    "no_conflicting_duplicates": _no_conflicting_duplicates,
    "known_keys": _known_keys,
    "file_permissions": _file_permissions,
}
# Each kind's parameters in contract.toml, by the contract's shapes (contract.SHAPES): checked
# when the contract loads, so a rule is never evaluated with parameters it cannot read.
PARAMS: dict[str, dict[str, str]] = {
    "environment": {},
    "required": {"keys": "strings"},
    "one_of": {"options": "string lists", "first_wins_over": "strings?"},
    "sslmode": {"url": "string", "key": "string", "allowed": "strings"},
    "all_or_none": {"keys": "strings"},
    "backend_choice": {"selector": "string", "backends": "string list table", "production_exactly_one": "boolean?"},
    "booleans": {},
    "required_when_true": {"flag": "string", "keys": "strings"},
    "formats": {},
    "production_schemes": {},
    "no_surrounding_whitespace": {},
    "no_placeholders": {},
    "no_conflicting_duplicates": {},
    "known_keys": {},
    "file_permissions": {"fail_environments": "strings?"},
}
assert PARAMS.keys() == KINDS.keys()
