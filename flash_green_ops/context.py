"""What every runbook step is given: where the settings came from, and how to judge them."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from flash_green_ops import redact
from flash_green_ops.contract import Contract
from flash_green_ops.envfile import EnvSource
from flash_green_ops.errors import BundleUnavailable, UsageError
from flash_green_ops.settings import Settings


@dataclass
class RunContext:
    source: EnvSource
    environment: str  # resolved: staging or production
    contract: Contract
    settings: Settings
    # Loads the secret bundle into ``bundle`` (or sets ``bundle_error``): the secrets step's
    # loader, handed in by whoever builds the context (preflight.new_context), so no step
    # imports the secrets step to get DB_PASSWORD.
    bundle_loader: Callable[[RunContext], object] | None = field(default=None, repr=False)
    # The secret bundle, once loaded; its values are registered with redact.
    bundle: dict[str, str] | None = field(default=None, repr=False)
    # Why the bundle could not be loaded (masked), so later steps do not ask the backend again.
    bundle_error: str | None = None

    @property
    def values(self) -> dict[str, str]:
        return self.source.values

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    def secret_bundle(self) -> dict[str, str]:
        """The secret bundle, asked of the backend at most once per context: a bundle or a
        failure already known (from the secrets step or an earlier call) is returned or raised
        again without a request, so an unreachable backend costs one --secrets-timeout per run.
        Raises BundleUnavailable with the reason."""
        if self.bundle is None and self.bundle_error is None:
            if self.bundle_loader is None:
                self.bundle_error = "no secret backend loader was given to this run"
            else:
                self.bundle_loader(self)
        if self.bundle is None:
            raise BundleUnavailable(self.bundle_error)
        return self.bundle


def resolve_environment(source: EnvSource, contract: Contract, requested: str | None) -> str:
    """--environment, else APP_ENV from the source, else the contract's default.

    An unknown --environment is a UsageError. An unknown APP_ENV is the env step's finding
    (rule ``environment``); meanwhile the stricter production rules apply, because a misspelt
    APP_ENV ("prod") most often means production.
    """
    check_environment(contract, requested)
    if requested is not None:
        return requested
    value = (source.get(contract.environment_variable) or "").strip()
    if not value:
        return contract.default_environment
    return value if value in contract.environments else "production"


def check_environment(contract: Contract, requested: str | None) -> None:
    """--environment must be one of the contract's environments (UsageError otherwise)."""
    if requested is not None and requested not in contract.environments:
        raise UsageError(f"--environment {requested!r} is not one of {', '.join(contract.environments)}")


def make_context(source: EnvSource, contract: Contract, settings: Settings,
                 bundle_loader: Callable[[RunContext], object] | None = None) -> RunContext:
    """Register the source's secrets first, so nothing derived from it can print them."""
    redact.register_env(source.values, contract.secret_names, contract.secret_suffixes,
                        contract.secret_url_keys)
    environment = resolve_environment(source, contract, settings.environment)
    return RunContext(source=source, environment=environment, contract=contract, settings=settings,
                      bundle_loader=bundle_loader)
