"""What every runbook step is given: where the settings came from, and how to judge them."""
from __future__ import annotations

from dataclasses import dataclass, field

from flash_green_ops import redact
from flash_green_ops.contract import Contract
from flash_green_ops.envfile import EnvSource
from flash_green_ops.settings import Settings


class InvocationError(Exception):
    """A bad invocation or unusable input (exit code 2), said in one line."""


@dataclass
class RunContext:
    source: EnvSource
    environment: str  # resolved: staging or production
    contract: Contract
    settings: Settings
    # The secret bundle, once the secrets step has loaded it; later steps may use it
    # (DB_PASSWORD when the env has none). Its values are registered with redact.
    bundle: dict[str, str] | None = field(default=None, repr=False)
    # Why the bundle could not be loaded (masked), so later steps do not ask the backend again.
    bundle_error: str | None = None

    @property
    def values(self) -> dict[str, str]:
        return self.source.values

    @property
    def is_production(self) -> bool:
        return self.environment == "production"


def resolve_environment(source: EnvSource, contract: Contract, requested: str | None) -> str:
    """--environment, else APP_ENV from the source, else the contract's default.

    An unknown --environment is an InvocationError. An unknown APP_ENV is the env step's
    finding (rule ``environment``); meanwhile the stricter production rules apply, because a
    misspelt APP_ENV ("prod") most often means production.
    """
    if requested is not None:
        if requested not in contract.environments:
            raise InvocationError(
                f"--environment {requested!r} is not one of {', '.join(contract.environments)}")
        return requested
    value = (source.get(contract.environment_variable) or "").strip()
    if not value:
        return contract.default_environment
    return value if value in contract.environments else "production"


def make_context(source: EnvSource, contract: Contract, settings: Settings) -> RunContext:
    """Register the source's secrets first, so nothing derived from it can print them."""
    redact.register_env(source.values, contract.secret_names, contract.secret_suffixes,
                        contract.secret_url_keys)
    environment = resolve_environment(source, contract, settings.environment)
    return RunContext(source=source, environment=environment, contract=contract, settings=settings)
