"""Options resolved once into a frozen dataclass, shared by the preflight CLI and the pytest plugin.

Both front ends expose the same option names (``--db-connect-timeout`` is ``db_connect_timeout``
here), so a value means the same thing wherever an operator sets it.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path

ENVIRONMENTS = ("staging", "production")


@dataclass(frozen=True)
class Settings:
    environment: str | None = None  # from --environment; None means "ask the env file"
    db_connect_timeout: float = 5.0
    alembic_head: str | None = None
    alembic_config: Path | None = None
    secrets_timeout: float = 5.0
    vault_min_ttl: float = 24 * 3600.0  # seconds
    http_timeout: float = 5.0
    metrics_interval: float = 1.0
    metrics_strict: bool = False

    @classmethod
    def from_mapping(cls, options: dict) -> Settings:
        """Build from argparse/pytest option values, ignoring keys that are not settings."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in options.items() if k in names and v is not None})


def parse_duration(text: str) -> float:
    """``90``, ``90s``, ``15m``, ``24h`` or ``2d`` as seconds (for --vault-min-ttl)."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    text = text.strip().lower()
    scale = units.get(text[-1:], None)
    number = text[:-1] if scale else text
    try:
        value = float(number) * (scale or 1)
    except ValueError:
        raise ValueError(f"not a duration: {text!r} (use e.g. 90s, 15m, 24h, 2d)") from None
    if value < 0:
        raise ValueError(f"not a duration: {text!r} (must not be negative)")
    return value
