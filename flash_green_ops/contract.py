"""Load the declarative env contract (flash_green_ops/contract.toml) into plain data."""
from __future__ import annotations

import re
import tomllib
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

from flash_green_ops.errors import UsageError

DEFAULT_CONTRACT = Path(__file__).with_name("contract.toml")


class ContractError(UsageError):
    """The contract file itself is unusable: a bad invocation (exit 2)."""


@dataclass(frozen=True)
class Variable:
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


def load_contract(path: str | Path | None = None, rule_kinds: Collection[str] | None = None) -> Contract:
    """The contract at ``path`` (default: the packaged one). ``rule_kinds``: the rule kinds the
    env step can evaluate (envspec.KINDS); a rule of another kind makes the contract unusable."""
    path = Path(path) if path else DEFAULT_CONTRACT
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ContractError(f"{path}: no such contract file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ContractError(f"{path}: cannot read the contract ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ContractError(f"{path}: not valid TOML ({exc})") from None
    try:
        contract = _build(path, data)
    except (KeyError, TypeError, ValueError, re.error) as exc:
        raise ContractError(f"{path}: malformed contract ({type(exc).__name__}: {exc})") from None
    for rule in contract.rules:
        if rule_kinds is not None and rule.kind not in rule_kinds:
            raise ContractError(f"{path}: rule {rule.id!r} has unknown kind {rule.kind!r} "
                                f"(known: {', '.join(sorted(rule_kinds))})")
    return contract


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
