"""Load the declarative env contract (flash_green_ops/contract.toml) into plain data."""
from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from flash_green_ops.errors import UsageError
from flash_green_ops.files import MIB, read_bytes

DEFAULT_CONTRACT = Path(__file__).with_name("contract.toml")


class ContractError(UsageError):
    """The contract file itself is unusable: a bad invocation (exit 2)."""


class Variable(NamedTuple):
    name: str
    doc: str
    type: str = "string"
    schemes: tuple[str, ...] = ()
    production_schemes: tuple[str, ...] = ()
    choices: tuple[str, ...] = ()
    pattern: str | None = None
    pattern_doc: str | None = None


@dataclass(frozen=True)
class Rule:
    id: str
    kind: str
    doc: str
    environments: tuple[str, ...] = ()  # empty: every environment
    params: dict = field(default_factory=dict, hash=False, compare=False)

    def applies_to(self, environment: str) -> bool:
        return not self.environments or environment in self.environments


@dataclass(frozen=True)
class Contract:
    path: Path
    environments: tuple[str, ...]
    default_environment: str
    environment_variable: str
    placeholders: tuple[re.Pattern, ...]
    template_paths: tuple[Path, ...]
    secret_names: tuple[str, ...]
    secret_suffixes: tuple[str, ...]
    secret_url_keys: tuple[str, ...]
    bundle_keys: tuple[str, ...]
    required_families: tuple[str, ...]
    required_prefixes: tuple[str, ...]
    variables: dict[str, Variable] = field(hash=False, compare=False)
    rules: tuple[Rule, ...] = ()

    def rule(self, rule_id: str) -> Rule:
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        raise KeyError(rule_id)

    def is_secret(self, key: str) -> bool:
        return key in self.secret_names or key.endswith(self.secret_suffixes)

    def variables_of_type(self, type_: str) -> list[Variable]:
        return [v for v in self.variables.values() if v.type == type_]


# The contract's vocabulary of value shapes. A rule kind declares its parameters with them
# (envspec.PARAMS); a trailing "?" marks an optional key.
def _strings(value) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


SHAPES = {
    "string": (lambda v: isinstance(v, str), "a string"),
    "strings": (_strings, "an array of strings"),
    "string lists": (lambda v: isinstance(v, list) and bool(v) and all(_strings(x) and x for x in v),
                     "an array of non-empty arrays of strings"),
    "string list table": (lambda v: isinstance(v, dict) and all(_strings(x) for x in v.values()),
                          "a table of arrays of strings"),
    "boolean": (lambda v: isinstance(v, bool), "true or false"),
    "table": (lambda v: isinstance(v, dict), "a table"),
    "tables": (lambda v: isinstance(v, list) and all(isinstance(x, dict) for x in v), "an array of tables"),
}
VARIABLE_TYPES = ("string", "secret", "url", "port", "bool", "choice", "pattern")
_TOP = {"environments": "strings", "default_environment": "string", "environment_variable": "string",
        "placeholders": "strings?", "templates": "strings?", "secrets": "table?", "bundle": "table?",
        "metrics": "table?", "variables": "table?", "rules": "tables?"}
_SECTIONS = {"secrets": {"names": "strings?", "suffixes": "strings?", "url_passwords": "strings?"},
             "bundle": {"secret_keys": "strings?"},
             "metrics": {"required_families": "strings?", "required_prefixes": "strings?"}}
_VARIABLE = {"doc": "string", "type": "string?", "schemes": "strings?", "production_schemes": "strings?",
             "choices": "strings?", "pattern": "string?", "pattern_doc": "string?"}
_RULE = {"id": "string", "kind": "string", "doc": "string?", "environments": "strings?"}


def _key(name: str) -> str:
    """A TOML key as a message shows it: bare when it can be, else quoted (one line, short)."""
    return name if re.fullmatch(r"[A-Za-z0-9_-]{1,60}", name) else _quoted(name)


def _quoted(text: str) -> str:
    """``text``'s first 40 characters as a JSON string: quoted, escaped, on one line."""
    import json  # here: only a message about a bad contract needs it

    return json.dumps(text[:40])


def _check(table: dict, shapes: dict[str, str], where: str) -> None:
    """Every key of ``table`` known to ``shapes`` and of its shape; every required key present."""
    for key in table:
        if key not in shapes:
            raise ValueError(f"{where}: unknown key {_key(key)} (known: {', '.join(shapes)})")
    for key, shape in shapes.items():
        optional = shape.endswith("?")
        test, described = SHAPES[shape.rstrip("?")]
        if key not in table:
            if not optional:
                raise ValueError(f"{where}: {key!r} is missing")
        elif not test(table[key]):
            raise ValueError(f"{where}: {key!r} is not {described}")


def _check_shape(data: dict, rule_params: Mapping[str, Mapping[str, str]] | None) -> None:
    """The contract's shape, before anything reads it: raises ValueError naming the TOML path."""
    _check(data, _TOP, "top level")
    for section, shapes in _SECTIONS.items():
        _check(data.get(section, {}), shapes, f"[{section}]")
    for name, spec in data.get("variables", {}).items():
        where = f"[variables.{_key(name)}]"
        if not isinstance(spec, dict):
            raise ValueError(f"{where}: not a table")
        _check(spec, _VARIABLE, where)
        if spec.get("type", "string") not in VARIABLE_TYPES:
            raise ValueError(f"{where}: type {_key(spec['type'])} is not one of {', '.join(VARIABLE_TYPES)}")
        if spec.get("pattern") is not None:
            try:
                re.compile(spec["pattern"])
            except re.error as exc:
                raise ValueError(f"{where}: pattern is not a regular expression ({exc})") from None
    seen = set()
    for number, spec in enumerate(data.get("rules", []), 1):
        where = f"[[rules]] #{number}"
        _check({k: v for k, v in spec.items() if k in _RULE}, _RULE, where)
        where = f"[[rules]] #{number} ({_key(spec['id'])})"
        if spec["id"] in seen:
            raise ValueError(f"{where}: the id is used by an earlier rule")
        seen.add(spec["id"])
        if rule_params is not None:
            if spec["kind"] not in rule_params:
                raise ValueError(f"{where}: unknown kind {_key(spec['kind'])} "
                                 f"(known: {', '.join(sorted(rule_params))})")
            _check({k: v for k, v in spec.items() if k not in _RULE}, dict(rule_params[spec["kind"]]), where)
    for pattern in data.get("placeholders", ()):
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"placeholders: {_quoted(pattern)} is not a regular expression ({exc})") from None


# A contract is a few KB of TOML; the bound only stops a runaway file or a device.
CONTRACT_LIMIT = 4 * MIB


def load_contract(path: str | Path | None = None,
                  rule_params: Mapping[str, Mapping[str, str]] | None = None) -> Contract:
    """The contract at ``path`` (default: the packaged one). ``rule_params``: the rule kinds the
    env step can evaluate and their parameters' shapes (envspec.PARAMS); a rule of another kind,
    or with parameters of another shape, makes the contract unusable."""
    path = Path(path) if path else DEFAULT_CONTRACT
    try:
        data = tomllib.loads(read_bytes(path, "a contract file", ContractError, CONTRACT_LIMIT).decode("utf-8"))
    except UnicodeDecodeError:
        raise ContractError(f"{path}: not UTF-8 text, not a contract") from None
    except tomllib.TOMLDecodeError as exc:
        raise ContractError(f"{path}: not valid TOML ({exc})") from None
    try:
        _check_shape(data, rule_params)
    except ValueError as exc:
        raise ContractError(f"{path}: {exc}") from None
    return _build(path, data)


def _build(path: Path, data: dict) -> Contract:
    variables = {}
    for name, spec in data.get("variables", {}).items():
        variables[name] = Variable(
            name=name,
            doc=spec["doc"],
            type=spec.get("type", "string"),
            schemes=tuple(spec.get("schemes", ())),
            production_schemes=tuple(spec.get("production_schemes", ())),
            choices=tuple(spec.get("choices", ())),
            pattern=spec.get("pattern"),
            pattern_doc=spec.get("pattern_doc"),
        )
    rules = []
    for spec in data.get("rules", []):
        spec = dict(spec)
        rules.append(Rule(
            id=spec.pop("id"),
            kind=spec.pop("kind"),
            doc=spec.pop("doc", ""),
            environments=tuple(spec.pop("environments", ())),
            params=spec,
        ))
    secrets, bundle, metrics = data.get("secrets", {}), data.get("bundle", {}), data.get("metrics", {})
    return Contract(
        path=path,
        environments=tuple(data["environments"]),
        default_environment=data["default_environment"],
        environment_variable=data["environment_variable"],
        placeholders=tuple(re.compile(p) for p in data.get("placeholders", ())),
        template_paths=tuple((path.parent / t).resolve() for t in data.get("templates", ())),
        secret_names=tuple(secrets.get("names", ())),
        secret_suffixes=tuple(secrets.get("suffixes", ())),
        # A password inside any URL is secret, whether or not the contract lists the key.
        secret_url_keys=tuple(dict.fromkeys([*secrets.get("url_passwords", ()),
                                             *(n for n, v in variables.items() if v.type == "url")])),
        bundle_keys=tuple(bundle.get("secret_keys", ("DB_PASSWORD", "API_SIGNING_KEY"))),
        required_families=tuple(metrics.get("required_families", ())),
        required_prefixes=tuple(metrics.get("required_prefixes", ())),
        variables=variables,
        rules=tuple(rules),
    )
