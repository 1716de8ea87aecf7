"""The database the env describes, with its password: resolved in one place for every step.

``DATABASE_URL`` wins over the ``DB_*`` trio (the contract's rule), parsed by psycopg's conninfo
helpers (libpq's own rules). The password is the env's own (in the URL or ``DB_PASSWORD``);
without one, ``DB_PASSWORD`` of the secret bundle (``RunContext.secret_bundle``, loaded at most
once per run, whichever step asks first).
"""
from __future__ import annotations

import os

from flash_green_ops import redact
from flash_green_ops.context import RunContext
from flash_green_ops.errors import BundleUnavailable, OpsError
from flash_green_ops.pg import DatabaseConfigError, PgEndpoint
from flash_green_ops.urls import FIX as URL_FIX, unencoded_in_password

# The keys that configure each secret backend (the contract's secret-backend rule).
VAULT_KEYS = ("VAULT_ADDR", "VAULT_TOKEN", "VAULT_SECRET_PATH")
AWS_KEYS = ("AWS_SECRETS_REGION", "AWS_SECRETS_ID")
_TRIO = {"DB_HOST": "host", "DB_NAME": "dbname", "DB_USER": "user"}
_OPTIONAL = {"DB_PORT": "port", "DB_PASSWORD": "password", "DB_SSLMODE": "sslmode"}


class PasswordUnavailable(OpsError):
    """The env gives no database password and the secret bundle that should hold it cannot be read."""


def database_endpoint(ctx: RunContext, *, require_password: bool = False) -> PgEndpoint:
    """The env's database. Raises DatabaseConfigError when neither DATABASE_URL nor DB_* is
    usable. With ``require_password``, an env without a password (none in the env, none in an
    inherited PGPASSWORD) whose secret bundle cannot be read raises PasswordUnavailable naming
    why; without it, the connection is left to fail on its own terms ("no password supplied").
    """
    params, key = database_params(ctx)
    if not params.get("password"):
        try:
            params["password"] = ctx.secret_bundle().get("DB_PASSWORD") or ""
        except BundleUnavailable as exc:
            if require_password and not os.environ.get("PGPASSWORD") and _names_secret_backend(ctx):
                raise PasswordUnavailable(f"the env gives no database password and the secret bundle is "
                                          f"unavailable: {exc}") from None
    # Whatever its source, the password is secret: from_params registers it.
    return PgEndpoint.from_params(params, connect_timeout=float(ctx.settings.timeout("db_connect_timeout")),
                                  source_key=key, where=ctx.source.where(key))


def env_gives_password(ctx: RunContext) -> bool:
    """Whether the database password comes from the env itself (DATABASE_URL, DB_PASSWORD, an
    inherited PGPASSWORD), not from the secret bundle. Unusable settings count as yes: the
    database step reports them itself, whatever the secrets step found."""
    try:
        params, _ = database_params(ctx)
    except DatabaseConfigError:
        return True
    return bool(params.get("password") or os.environ.get("PGPASSWORD"))


def database_params(ctx: RunContext) -> tuple[dict[str, str], str]:
    """The env's libpq parameters (no password is looked for) and the variable they came from
    (DATABASE_URL or DB_HOST): for what needs only the server's address (the TLS step)."""
    from psycopg import ProgrammingError
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    values = ctx.values
    url = (values.get("DATABASE_URL") or "").strip()
    if url:
        if reserved := unencoded_in_password(url).replace("#", ""):  # libpq takes "#" as it is
            # Else libpq reads "user:pass" as the host name, and prints it.
            raise DatabaseConfigError(
                f"DATABASE_URL ({ctx.source.where('DATABASE_URL')}) has a password holding an unencoded "
                f"{' and '.join(repr(c) for c in reserved)}: {URL_FIX}")
        try:
            params = conninfo_to_dict(url)
        except ProgrammingError as exc:
            raise DatabaseConfigError(
                f"DATABASE_URL ({ctx.source.where('DATABASE_URL')}) is not a connection URL libpq accepts: "
                f"{redact.mask(' '.join(str(exc).split()))}; use postgresql://user:password@host:port/dbname"
            ) from None
        return {k: str(v) for k, v in params.items()}, "DATABASE_URL"
    missing = [k for k in _TRIO if not (values.get(k) or "").strip()]
    if missing:
        raise DatabaseConfigError(
            f"no database configured in {ctx.source.where()}: set DATABASE_URL, or DB_HOST, DB_NAME "
            f"and DB_USER (missing: {', '.join(missing)})")
    given = {param: values[k].strip() for k, param in {**_TRIO, **_OPTIONAL}.items() if (values.get(k) or "").strip()}
    try:
        params = conninfo_to_dict(make_conninfo("", **given))
    except ProgrammingError as exc:
        raise DatabaseConfigError(
            f"DB_* settings ({ctx.source.where('DB_HOST')}) are not valid libpq parameters: "
            f"{redact.mask(' '.join(str(exc).split()))}") from None
    return {k: str(v) for k, v in params.items()}, "DB_HOST"


def _names_secret_backend(ctx: RunContext) -> bool:
    return any((ctx.values.get(k) or "").strip() for k in (*VAULT_KEYS, *AWS_KEYS))
