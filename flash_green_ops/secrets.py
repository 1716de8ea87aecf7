"""Secrets step: load the secret bundle from Vault (hvac) or AWS Secrets Manager (boto3).

Each check is one finding (``secrets.<name>``); a check that cannot run because an earlier one
failed is a SKIP that says which. Every value read from a backend is registered with
``redact`` the moment it arrives, and messages name keys, paths, secret IDs and HTTP statuses
only. hvac and boto3 are imported when their backend is used: preflight runs at pod start.

    preflight(ctx)    the stage: backend choice, then the backend's checks; sets ctx.bundle
                      (or ctx.bundle_error, why there is none)
    load_bundle(ctx)  the bundle for later steps (DB_PASSWORD), or BundleUnavailable(reason);
                      the backend is asked once per context
"""
from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from flash_green_ops import redact
from flash_green_ops.context import RunContext
from flash_green_ops.findings import Finding, Status, failed, passed, skipped, warned

VAULT_KEYS = ("VAULT_ADDR", "VAULT_TOKEN", "VAULT_SECRET_PATH")
AWS_KEYS = ("AWS_SECRETS_REGION", "AWS_SECRETS_ID")
BACKENDS = {"vault": ("Vault", VAULT_KEYS), "aws": ("AWS Secrets Manager", AWS_KEYS)}
SELECTOR = "SECRETS_BACKEND"

VAULT_CHECKS = ("secrets.vault_health", "secrets.vault_token", "secrets.vault_mount", "secrets.bundle")
AWS_CHECKS = ("secrets.aws_secret", "secrets.bundle")


class BundleUnavailable(Exception):
    """The bundle cannot be loaded; the message (already masked) says why."""


# -- small helpers ------------------------------------------------------------------------------

def human_duration(seconds: float) -> str:
    """``2d 3h``, ``5h``, ``4m 10s``, ``42s``: the two largest units, as an operator reads it."""
    seconds = max(int(seconds), 0)
    units = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))
    for index, (name, size) in enumerate(units):
        if seconds >= size or size == 1:
            count, rest = divmod(seconds, size)
            text = f"{count}{name}"
            if index + 1 < len(units):
                smaller_name, smaller_size = units[index + 1]
                if rest // smaller_size:
                    text += f" {rest // smaller_size}{smaller_name}"
            return text
    raise AssertionError("unreachable: the last unit is one second")


def _seconds(value: float) -> str:
    return f"{value:g}s"


def _register_bundle(data: object) -> None:
    """Register every value of a loaded bundle (nested ones too) before anything else runs."""
    if isinstance(data, dict):
        for value in data.values():
            _register_bundle(value)
        redact.register(json.dumps(data))
    elif isinstance(data, list):
        for value in data:
            _register_bundle(value)
    elif data is not None and not isinstance(data, bool):
        redact.register(str(data))


def _as_text(value: object) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value) if isinstance(value, (dict, list)) else str(value)


def check_bundle_keys(data: dict, required: tuple[str, ...], what: str, fix: str, where: str) -> Finding:
    """Every required key present and non-empty; the message names keys only, never values."""
    missing = [k for k in required if k not in data]
    empty = [k for k in required if k in data and (data[k] is None or _as_text(data[k]).strip() == "")]
    problems = []
    if missing:
        problems.append(f"lacks {', '.join(missing)}")
    if empty:
        problems.append(f"has an empty {', '.join(empty)}")
    if problems:
        return failed("secrets.bundle",
                      f"{what} {' and '.join(problems)}: expected every key of the contract's "
                      f"secret_keys ({', '.join(required)}) present and non-empty; {fix}", where)
    return passed("secrets.bundle",
                  f"{what} holds {', '.join(required)}, each non-empty ({len(data)} keys in all)", where)


def _timed(check_id: str, where: str | None, check: Callable[[], tuple[Finding, object]]) -> tuple[Finding, object]:
    """Run one check, timing it. A backend answering in a shape nobody expected (a proxy's
    page, a truncated body) is the environment's fault: a FAIL that names the error's type,
    not a traceback."""
    started = time.monotonic()
    try:
        finding, result = check()
    except Exception as exc:  # noqa: BLE001 - turned into a finding, masked
        finding, result = failed(check_id, redact.mask(
            f"unexpected answer while checking ({type(exc).__name__}: {exc}): expected the documented API "
            f"of the secret backend; check the address in the env file"), where), None
    return finding.with_stage(finding.stage, time.monotonic() - started), result


def _skip_rest(checks: tuple[str, ...], after: Finding, where: str | None) -> list[Finding]:
    return [skipped(c, f"skipped: {after.check} failed", where) for c in checks]


def connection_reason(exc: BaseException) -> str:
    """Why a connection failed, as the operating system said it, from a requests, urllib3 or
    botocore exception chain: an OSError's strerror (``Connection refused``), else the message
    of an innermost OSError that has none (``Remote end closed connection without response``,
    ``timed out``), else the exception's type. Never the libraries' own messages: they quote
    URLs. The metrics step uses it too."""
    seen: set[int] = set()
    stack: list[BaseException | None] = [exc]
    innermost = None
    while stack:
        e = stack.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, OSError) and e.strerror:
            return e.strerror
        reason = getattr(e, "reason", None)
        inner = [e.__cause__, e.__context__, *[a for a in e.args if isinstance(a, BaseException)],
                 reason if isinstance(reason, BaseException) else None]
        if isinstance(e, OSError) and not any(inner) and e.args and innermost is None:
            innermost = str(e)
        stack.extend(inner)
    return innermost or type(exc).__name__


# -- backend choice -----------------------------------------------------------------------------

@dataclass(frozen=True)
class BackendChoice:
    backend: str | None  # "vault", "aws", or None: nothing to load
    finding: Finding


def choose_backend(ctx: RunContext) -> BackendChoice:
    """Which backend to read, per the contract's secret-backend rules (contract.toml, rule secret-backend)."""
    src = ctx.source
    configured = [b for b, (_, keys) in BACKENDS.items() if any(src.is_set(k) for k in keys)]
    selector = (src.get(SELECTOR) or "").strip()
    where = src.where(SELECTOR) if selector else src.name

    if selector and selector not in BACKENDS:
        return BackendChoice(None, failed(
            "secrets.backend", f"{SELECTOR} is {selector!r} ({where}): expected vault or aws", where))
    if selector:
        chosen, how = selector, f"{SELECTOR}={selector} ({where}) chooses it"
    elif len(configured) == 2:
        return BackendChoice(None, failed(
            "secrets.backend",
            f"both Vault ({', '.join(VAULT_KEYS)}) and AWS ({', '.join(AWS_KEYS)}) are configured in "
            f"{src.name} and {SELECTOR} is not set: set {SELECTOR}=vault or {SELECTOR}=aws", src.name))
    elif configured:
        chosen, how = configured[0], "the only backend configured"
    elif ctx.is_production:
        return BackendChoice(None, failed(
            "secrets.backend",
            f"no secret backend configured in {src.name}: production needs exactly one; set "
            f"{', '.join(VAULT_KEYS)} or {', '.join(AWS_KEYS)}", src.name))
    else:
        return BackendChoice(None, skipped("secrets.backend", "no secret backend configured", src.name))

    label, keys = BACKENDS[chosen]
    missing = [k for k in keys if not src.is_set(k)]
    if missing:
        return BackendChoice(None, failed(
            "secrets.backend",
            f"{label} is selected ({how}) but {', '.join(missing)} "
            f"{'is' if len(missing) == 1 else 'are'} missing in {src.name}: set {', '.join(keys)}",
            src.name))
    return BackendChoice(chosen, passed("secrets.backend", f"using {label}: {how}", where))


# -- Vault --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class VaultTarget:
    addr: str
    token: str
    secret_path: str
    namespace: str | None
    cacert: str | None

    @classmethod
    def from_context(cls, ctx: RunContext) -> VaultTarget:
        v = ctx.values
        return cls(addr=v["VAULT_ADDR"].strip().rstrip("/"), token=v["VAULT_TOKEN"].strip(),
                   secret_path=v["VAULT_SECRET_PATH"].strip().strip("/"),
                   namespace=(v.get("VAULT_NAMESPACE") or "").strip().strip("/") or None,
                   cacert=(v.get("VAULT_CACERT") or "").strip() or None)

    def url(self, api_path: str) -> str:
        return f"{self.addr}/v1/{api_path}"

    def label(self) -> str:
        return f"Vault at {self.addr}" + (f" (namespace {self.namespace})" if self.namespace else "")


@dataclass(frozen=True)
class KvMount:
    path: str  # "secret/"
    version: int


def _vault_client(target: VaultTarget, timeout: float):
    import hvac  # lazy: only the Vault backend needs it

    # Every argument explicit: hvac would otherwise fall back to the *process's* VAULT_*
    # variables and ~/.vault-token, and the env file under check is the only source here.
    return hvac.Client(url=target.addr, token=target.token, namespace=target.namespace,
                       verify=target.cacert or True, timeout=timeout)


def _vault_unreachable(check: str, target: VaultTarget, exc: Exception, api_path: str, ctx: RunContext) -> Finding:
    import requests

    timeout = ctx.settings.secrets_timeout
    where = target.url(api_path)
    line = ctx.source.where("VAULT_ADDR")
    if isinstance(exc, (requests.exceptions.InvalidURL, requests.exceptions.InvalidSchema,
                        requests.exceptions.MissingSchema)):
        return failed(check, f"VAULT_ADDR ({line}) is not a usable URL ({type(exc).__name__}): expected "
                             f"http(s)://host:port", target.addr)
    if isinstance(exc, requests.exceptions.SSLError):
        fix = ("set VAULT_CACERT to the CA bundle that signs Vault's certificate"
               if not target.cacert else f"check that VAULT_CACERT ({ctx.source.where('VAULT_CACERT')}) "
                                         f"holds the CA that signs Vault's certificate")
        return failed(check, f"{target.label()}: TLS verification failed ({connection_reason(exc)}): "
                             f"expected a certificate this machine trusts; {fix}", where)
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        found = f"no connection within {_seconds(timeout)}"
    elif isinstance(exc, requests.exceptions.ReadTimeout):
        found = f"connected, but no answer within {_seconds(timeout)}"
    else:
        found = connection_reason(exc)
    return failed(check, f"{target.label()} is unreachable ({found}): expected Vault to answer "
                         f"{api_path}; check VAULT_ADDR ({line}), the network path, or raise "
                         f"--secrets-timeout", where)


def _errors_of(response) -> str:
    try:
        errors = response.json().get("errors") or []
    except ValueError:
        errors = []
    return f": {'; '.join(str(e) for e in errors)}" if errors else ""


def check_vault_health(client, target: VaultTarget, ctx: RunContext) -> Finding:
    """sys/health: initialised, unsealed, active. Standby and sealed say which."""
    import requests

    check, api_path = "secrets.vault_health", "sys/health"
    where = target.url(api_path)
    try:
        response = client.sys.read_health_status(method="GET")
    except requests.exceptions.RequestException as exc:
        return _vault_unreachable(check, target, exc, api_path, ctx)
    if isinstance(response, dict):
        status, body = 200, response
    else:
        status = response.status_code
        try:
            body = response.json()
        except ValueError:
            body = None
    if not isinstance(body, dict) or "sealed" not in body:
        return failed(check, f"{target.label()} answered {api_path} with HTTP {status} but not "
                             f"Vault's health JSON: check that VAULT_ADDR ({ctx.source.where('VAULT_ADDR')}) "
                             f"points at Vault", where)
    fix_node = "point VAULT_ADDR at the active node (or the cluster's load balancer)"
    if body.get("initialized") is False:
        return failed(check, f"{target.label()} is not initialised (sys/health answered HTTP {status}): "
                             f"expected an initialised, unsealed, active Vault; initialise it "
                             f"(vault operator init) or {fix_node}", where)
    if body.get("sealed"):
        return failed(check, f"{target.label()} is sealed (sys/health answered HTTP {status}): "
                             f"expected an unsealed, active Vault; unseal it (vault operator unseal) "
                             f"or {fix_node}", where)
    if body.get("performance_standby"):
        return failed(check, f"{target.label()} is a performance standby node (sys/health answered "
                             f"HTTP {status}): expected the active node; {fix_node}", where)
    if body.get("standby"):
        return failed(check, f"{target.label()} is a standby node (sys/health answered HTTP {status}): "
                             f"expected the active node; {fix_node}", where)
    if status != 200:
        return failed(check, f"{target.label()} answered sys/health with HTTP {status} (DR secondary or "
                             f"another non-active state): expected 200 from the active node; {fix_node}", where)
    version = body.get("version")
    return passed(check, f"{target.label()} is initialised, unsealed and active"
                         + (f" (version {version})" if version else ""), where)


def check_vault_token(client, target: VaultTarget, ctx: RunContext) -> Finding:
    """auth/token/lookup-self: valid, and not about to expire (a warning that says when)."""
    import hvac.exceptions
    import requests

    check, api_path = "secrets.vault_token", "auth/token/lookup-self"
    where, line = target.url(api_path), ctx.source.where("VAULT_TOKEN")
    try:
        data = client.auth.token.lookup_self()["data"]
    except requests.exceptions.RequestException as exc:
        return _vault_unreachable(check, target, exc, api_path, ctx)
    except (hvac.exceptions.Forbidden, hvac.exceptions.Unauthorized) as exc:
        status = 403 if isinstance(exc, hvac.exceptions.Forbidden) else 401
        return failed(check, f"VAULT_TOKEN ({line}) is invalid or expired: {api_path} answered "
                             f"HTTP {status} ({redact.mask(exc.args[0] if exc.args else 'permission denied')}); "
                             f"expected a valid token; log in again (vault login) and update VAULT_TOKEN", where)
    except hvac.exceptions.VaultError as exc:
        return failed(check, f"{target.label()} refused {api_path} ({type(exc).__name__}: "
                             f"{redact.mask(exc.args[0] if exc.args else '')}): expected the token's "
                             f"own details; check VAULT_TOKEN ({line}) and VAULT_NAMESPACE", where)
    redact.register(data.get("id"))  # lookup-self echoes the token itself
    ttl = int(data.get("ttl") or 0)
    expire_time = data.get("expire_time")
    policies = ", ".join(data.get("policies") or []) or "none"
    if ttl <= 0 and not expire_time:
        return passed(check, f"VAULT_TOKEN is valid and never expires (policies: {policies})", where)
    if ttl <= 0:
        return failed(check, f"VAULT_TOKEN ({line}) expired at {expire_time}: renew or replace it "
                             f"(vault login) and update VAULT_TOKEN", where)
    minimum = ctx.settings.vault_min_ttl
    if ttl < minimum:
        return warned(check, f"VAULT_TOKEN ({line}) expires in {human_duration(ttl)} (at {expire_time}), "
                             f"sooner than --vault-min-ttl {human_duration(minimum)}: renew it "
                             f"(vault token renew) or issue a new one before deploying", where)
    return passed(check, f"VAULT_TOKEN is valid for {human_duration(ttl)} more (policies: {policies})", where)


def check_vault_mount(client, target: VaultTarget, ctx: RunContext) -> tuple[Finding, KvMount | None]:
    """The mount and KV version of VAULT_SECRET_PATH, asked the way the Vault CLI asks.

    The CLI (command/kv_helpers.go, kvPreflightVersionRequest) reads
    sys/internal/ui/mounts/<path>: options.version "2" means KV v2, anything else KV v1, and a
    404 means a Vault too old to have the endpoint, which only had KV v1.
    """
    import requests

    check, api_path = "secrets.vault_mount", f"sys/internal/ui/mounts/{target.secret_path}"
    where, line = target.url(api_path), ctx.source.where("VAULT_SECRET_PATH")
    try:
        response = client.adapter.get(f"/v1/{api_path}", raise_exception=False)
    except requests.exceptions.RequestException as exc:
        return _vault_unreachable(check, target, exc, api_path, ctx), None
    if not isinstance(response, dict):
        status = response.status_code
        if status == 404:
            mount = target.secret_path.split("/", 1)[0] + "/"
            return passed(check, f"{target.label()} has no {api_path.rsplit('/', 1)[0]} endpoint (HTTP 404): "
                                 f"an older Vault, so {mount} is read as KV version 1, as the Vault CLI "
                                 f"does", where), KvMount(mount, 1)
        if status == 403:
            return failed(check, f"{target.label()} refused the mount lookup for {target.secret_path} "
                                 f"(HTTP 403{_errors_of(response)}): expected a KV mount this token may read; "
                                 f"the path is in no mount, or the token's policies grant nothing under "
                                 f"it; check VAULT_SECRET_PATH ({line}) and the token's policies", where), None
        return failed(check, f"{target.label()} answered the mount lookup for {target.secret_path} with "
                             f"HTTP {status}{_errors_of(response)}: expected 200", where), None
    data = response.get("data") or {}
    mount_path, engine = data.get("path") or "", data.get("type")
    if engine not in ("kv", "generic"):  # "generic" is KV v1's name before Vault 0.8
        return failed(check, f"{target.secret_path} is in the {mount_path or '?'} mount, a {engine} secrets "
                             f"engine, not KV: point VAULT_SECRET_PATH ({line}) at a KV mount", where), None
    version = 2 if str((data.get("options") or {}).get("version") or "") == "2" else 1
    return passed(check, f"{target.secret_path} is in {mount_path}, a KV version {version} mount",
                  where), KvMount(mount_path, version)


def read_vault_bundle(client, target: VaultTarget, mount: KvMount,
                      ctx: RunContext) -> tuple[Finding, dict | None]:
    """Read the secret (KV v1 or v2) and check its keys; 403 and 404 say different things."""
    import hvac.exceptions
    import requests

    check, line = "secrets.bundle", ctx.source.where("VAULT_SECRET_PATH")
    mount_point = mount.path.strip("/")
    within = (target.secret_path + "/").startswith(mount_point + "/")
    relative = target.secret_path[len(mount_point):].strip("/") if within else ""
    api_path = f"{mount_point}/data/{relative}" if mount.version == 2 else f"{mount_point}/{relative}"
    where = target.url(api_path)
    if not relative:
        return failed(check, f"VAULT_SECRET_PATH {target.secret_path} ({line}) names the mount {mount.path} "
                             f"itself: expected <mount>/<path>, e.g. {mount_point}/flash-green", where), None
    try:
        if mount.version == 2:
            response = client.secrets.kv.v2.read_secret_version(
                path=relative, mount_point=mount_point, raise_on_deleted_version=True)
            data = (response.get("data") or {}).get("data")
        else:
            response = client.secrets.kv.v1.read_secret(path=relative, mount_point=mount_point)
            data = response.get("data")
    except requests.exceptions.RequestException as exc:
        return _vault_unreachable(check, target, exc, api_path, ctx), None
    except hvac.exceptions.Forbidden:
        return failed(check, f"{target.label()} denied reading {target.secret_path} (HTTP 403 on {api_path}): "
                             f"the secret may exist, but this token's policies do not grant read on it; "
                             f"add a policy with read on {api_path}", where), None
    except hvac.exceptions.InvalidPath as exc:
        # KV v2 answers a read of a deleted latest version with 404 and that version's metadata.
        body = exc.json if isinstance(exc.json, dict) else {}
        deleted = ((body.get("data") or {}).get("metadata") or {}).get("deletion_time")
        found = f"its latest version was deleted at {deleted}" if deleted else "no secret there"
        return failed(check, f"{target.label()} has no secret at {target.secret_path} (HTTP 404 on {api_path}: "
                             f"{found}): expected the bundle there; check VAULT_SECRET_PATH ({line}), or write it "
                             f"(vault kv put {target.secret_path} ...)", where), None
    except hvac.exceptions.VaultError as exc:
        return failed(check, f"{target.label()} refused reading {target.secret_path} ({type(exc).__name__} "
                             f"on {api_path}): expected the bundle", where), None
    _register_bundle(data)
    if not isinstance(data, dict):
        return failed(check, f"{target.secret_path} holds no key/value data: expected a JSON object "
                             f"with {', '.join(ctx.contract.bundle_keys)}", where), None
    what = f"{target.secret_path} (KV v{mount.version})"
    fix = (f"set them (vault kv patch {target.secret_path} KEY=...)" if mount.version == 2 else
           f"set them (vault kv put {target.secret_path} with every key: KV v1 replaces the whole secret)")
    finding = check_bundle_keys(data, ctx.contract.bundle_keys, what, fix, where)
    return finding, data if finding.status is Status.PASS else None


def vault_checks(ctx: RunContext) -> tuple[list[Finding], dict | None]:
    target = VaultTarget.from_context(ctx)
    redact.register(target.token)
    if target.cacert and not Path(target.cacert).is_file():
        f = failed("secrets.vault_health",
                   f"VAULT_CACERT ({ctx.source.where('VAULT_CACERT')}) is {target.cacert}, which is not a "
                   f"readable file: expected the CA bundle that signs Vault's certificate", target.addr)
        return [f, *_skip_rest(VAULT_CHECKS[1:], f, target.addr)], None
    client = _vault_client(target, ctx.settings.secrets_timeout)
    try:
        return _vault_steps(client, target, ctx)
    finally:
        client.adapter.close()  # its requests session's pooled sockets, now, not at GC


def _vault_steps(client, target: VaultTarget, ctx: RunContext) -> tuple[list[Finding], dict | None]:
    findings: list[Finding] = []
    steps: list[Callable[[], tuple[Finding, object]]] = [
        lambda: (check_vault_health(client, target, ctx), None),
        lambda: (check_vault_token(client, target, ctx), None),
        lambda: check_vault_mount(client, target, ctx),
    ]
    mount = None
    for index, step in enumerate(steps):
        finding, result = _timed(VAULT_CHECKS[index], target.addr, step)
        findings.append(finding)
        if finding.status is Status.FAIL:
            return findings + _skip_rest(VAULT_CHECKS[index + 1:], finding, target.addr), None
        mount = result or mount
    finding, bundle = _timed("secrets.bundle", target.addr, lambda: read_vault_bundle(client, target, mount, ctx))
    return findings + [finding], bundle


# -- AWS Secrets Manager ------------------------------------------------------------------------

# Env-file keys handed to boto3 explicitly; when absent, boto3's standard chain decides.
_AWS_SESSION_KEYS = {"AWS_ACCESS_KEY_ID": "aws_access_key_id",
                     "AWS_SECRET_ACCESS_KEY": "aws_secret_access_key",
                     "AWS_SESSION_TOKEN": "aws_session_token"}


def _aws_client(ctx: RunContext):
    import boto3  # lazy: only the AWS backend needs it
    from botocore.config import Config

    values = ctx.values
    session_kwargs = {arg: values[k].strip() for k, arg in _AWS_SESSION_KEYS.items() if (values.get(k) or "").strip()}
    timeout = ctx.settings.secrets_timeout
    # One attempt: botocore retries connection errors too, and a second attempt would double
    # the time an unreachable endpoint takes, past the --secrets-timeout (+1 s) promise.
    config = Config(connect_timeout=timeout, read_timeout=timeout,
                    retries={"total_max_attempts": 1, "mode": "standard"})
    session = boto3.session.Session(region_name=values["AWS_SECRETS_REGION"].strip(), **session_kwargs)
    endpoint = (values.get("AWS_ENDPOINT_URL") or "").strip() or None
    return session.client("secretsmanager", endpoint_url=endpoint, config=config)


_DENIED = ("AccessDeniedException", "AccessDenied")


def _error_code(exc) -> tuple[str, int | None]:
    """The AWS error code and HTTP status of a ClientError.

    When botocore cannot parse the error body (moto answers IAM denials to JSON-protocol
    services in XML), the code is only the status digits: report it as no code.
    """
    code = exc.response.get("Error", {}).get("Code", "") or ""
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return ("" if code.isdigit() else code), status


def _aws_failure(check: str, exc: Exception, secret_id: str, operation: str, ctx: RunContext,
                 endpoint: str) -> Finding:
    """Turn a boto3/botocore exception into a finding that names the secret ID and the fix."""
    from botocore import exceptions as bx

    region = ctx.values["AWS_SECRETS_REGION"].strip()
    id_line = ctx.source.where("AWS_SECRETS_ID")
    timeout = _seconds(ctx.settings.secrets_timeout)
    if isinstance(exc, bx.ClientError):
        code, status = _error_code(exc)
        if code == "ResourceNotFoundException":
            return failed(check, f"secret {secret_id} ({id_line}) does not exist in {region} ({operation}: "
                                 f"ResourceNotFoundException): check AWS_SECRETS_ID and AWS_SECRETS_REGION", endpoint)
        if code in _DENIED:
            return failed(check, f"access to secret {secret_id} ({id_line}) is denied ({operation}: {code}): "
                                 f"grant secretsmanager:{operation} on it to these credentials", endpoint)
        if status == 403:
            return failed(check, f"AWS refused {operation} on secret {secret_id} ({id_line}) with HTTP 403: "
                                 f"expected access; grant secretsmanager:{operation} on it, or check the "
                                 f"credentials (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or the chain)", endpoint)
        if code in ("UnrecognizedClientException", "InvalidClientTokenId", "InvalidSignatureException",
                    "ExpiredTokenException", "ExpiredToken"):
            return failed(check, f"AWS rejected the credentials ({operation}: {code}): expected valid "
                                 f"credentials; check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / "
                                 f"AWS_SESSION_TOKEN or the credential chain", endpoint)
        if code == "InvalidRequestException" and "deletion" in str(exc).lower():
            return failed(check, f"secret {secret_id} ({id_line}) is scheduled for deletion ({operation}: "
                                 f"InvalidRequestException): restore it (aws secretsmanager restore-secret "
                                 f"--secret-id {secret_id})", endpoint)
        return failed(check, f"{operation} on secret {secret_id} failed with {code or 'an error'} (HTTP {status}): "
                             f"expected the secret to be readable", endpoint)
    if isinstance(exc, bx.NoCredentialsError):
        return failed(check, "no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the "
                             "env file, or configure the standard credential chain (profile, role)", endpoint)
    if isinstance(exc, bx.ConnectTimeoutError):
        found = f"no connection within {timeout}"
    elif isinstance(exc, bx.ReadTimeoutError):
        found = f"connected, but no answer within {timeout}"
    elif isinstance(exc, bx.SSLError):
        found = f"TLS verification failed: {connection_reason(exc)}"
    elif isinstance(exc, (bx.EndpointConnectionError, bx.ConnectionError, bx.HTTPClientError)):
        found = connection_reason(exc)
    else:
        found = type(exc).__name__
    endpoint_line = ctx.source.where("AWS_ENDPOINT_URL") if ctx.source.is_set("AWS_ENDPOINT_URL") else None
    fix = (f"check AWS_ENDPOINT_URL ({endpoint_line})" if endpoint_line
           else "check AWS_SECRETS_REGION and the network path")
    return failed(check, f"AWS Secrets Manager at {endpoint} is unreachable ({found}): expected an answer to "
                         f"{operation}; {fix}, or raise --secrets-timeout", endpoint)


def check_aws_secret(client, secret_id: str, ctx: RunContext) -> tuple[Finding, bool]:
    """describe_secret: it exists and is not scheduled for deletion. Returns (finding, read on?)."""
    from botocore import exceptions as bx

    check, endpoint = "secrets.aws_secret", client.meta.endpoint_url
    region = ctx.values["AWS_SECRETS_REGION"].strip()
    try:
        meta = client.describe_secret(SecretId=secret_id)
    except bx.ClientError as exc:
        code, status = _error_code(exc)
        if code in _DENIED or (not code and status == 403):
            # Least-privilege roles often may read a secret but not describe it: say what could
            # not be checked, and let the read decide.
            return warned(check, f"DescribeSecret on {secret_id} is denied (HTTP 403), so whether it is scheduled for "
                                 f"deletion cannot be checked: grant secretsmanager:DescribeSecret to see it",
                          endpoint), True
        return _aws_failure(check, exc, secret_id, "DescribeSecret", ctx, endpoint), False
    except (bx.BotoCoreError, OSError) as exc:
        return _aws_failure(check, exc, secret_id, "DescribeSecret", ctx, endpoint), False
    deleted = meta.get("DeletedDate")
    if deleted:
        when = (deleted.astimezone(timezone.utc).isoformat(timespec="seconds")
                if isinstance(deleted, datetime) else deleted)
        return failed(check, f"secret {secret_id} ({ctx.source.where('AWS_SECRETS_ID')}) is scheduled for deletion "
                             f"(DeletedDate {when}): restore it (aws secretsmanager restore-secret --secret-id "
                             f"{secret_id}) or point AWS_SECRETS_ID at a live secret", endpoint), False
    return passed(check, f"secret {secret_id} exists in {region} and is not scheduled for deletion", endpoint), True


def read_aws_bundle(client, secret_id: str, ctx: RunContext) -> tuple[Finding, dict | None]:
    """get_secret_value: SecretString is a JSON object with every required key non-empty."""
    from botocore import exceptions as bx

    check, endpoint = "secrets.bundle", client.meta.endpoint_url
    try:
        response = client.get_secret_value(SecretId=secret_id)
    except (bx.BotoCoreError, bx.ClientError, OSError) as exc:
        return _aws_failure(check, exc, secret_id, "GetSecretValue", ctx, endpoint), None
    text = response.get("SecretString")
    redact.register(text)
    if text is None:
        if response.get("SecretBinary") is not None:
            redact.register(str(response["SecretBinary"]))
        return failed(check, f"secret {secret_id} holds SecretBinary, not a SecretString: expected a JSON object "
                             f"in SecretString; store the bundle as text (put-secret-value --secret-string)",
                      endpoint), None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        # The decoder's message says where (line, column), never what.
        return failed(check, f"secret {secret_id}'s SecretString is not JSON ({exc.msg} at line {exc.lineno} "
                             f"column {exc.colno}): expected a JSON object with "
                             f"{', '.join(ctx.contract.bundle_keys)}", endpoint), None
    _register_bundle(data)
    if not isinstance(data, dict):
        kind = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(type(data), "a number")
        return failed(check, f"secret {secret_id}'s SecretString is JSON but {kind}, not an object: expected "
                             f"a JSON object with {', '.join(ctx.contract.bundle_keys)}", endpoint), None
    finding = check_bundle_keys(data, ctx.contract.bundle_keys, f"secret {secret_id}",
                                f"set them (aws secretsmanager put-secret-value --secret-id {secret_id} "
                                f"--secret-string with the whole object)",
                                endpoint)
    return finding, data if finding.status is Status.PASS else None


def aws_checks(ctx: RunContext) -> tuple[list[Finding], dict | None]:
    secret_id = ctx.values["AWS_SECRETS_ID"].strip()
    try:
        client = _aws_client(ctx)
    except Exception as exc:  # botocore refuses a malformed region or endpoint before any call
        finding = failed("secrets.aws_secret", redact.mask(
            f"boto3 cannot make a Secrets Manager client ({type(exc).__name__}: {exc}): check "
            f"AWS_SECRETS_REGION ({ctx.source.where('AWS_SECRETS_REGION')}) and AWS_ENDPOINT_URL"), ctx.source.name)
        return [finding, *_skip_rest(AWS_CHECKS[1:], finding, ctx.source.name)], None
    endpoint = client.meta.endpoint_url
    try:
        finding, readable = _timed("secrets.aws_secret", endpoint, lambda: check_aws_secret(client, secret_id, ctx))
        if not readable:
            return [finding, *_skip_rest(AWS_CHECKS[1:], finding, endpoint)], None
        bundle_finding, bundle = _timed("secrets.bundle", endpoint, lambda: read_aws_bundle(client, secret_id, ctx))
        return [finding, bundle_finding], bundle
    finally:
        client.close()  # its urllib3 pool's sockets, now, not at GC


# -- the stage ----------------------------------------------------------------------------------

_BACKEND_CHECKS = {"vault": vault_checks, "aws": aws_checks}


def preflight(ctx: RunContext) -> list[Finding]:
    """The secrets stage: one finding per check. ctx.bundle then holds the bundle, or
    ctx.bundle_error says why there is none (the first failed or skipped check, masked)."""
    choice = choose_backend(ctx)
    findings = [choice.finding]
    bundle = None
    if choice.backend is not None:
        backend_findings, bundle = _BACKEND_CHECKS[choice.backend](ctx)
        findings += backend_findings
    if bundle is not None:
        ctx.bundle, ctx.bundle_error = {k: _as_text(v) for k, v in bundle.items()}, None
    else:
        reason = next((f for f in findings if f.status is Status.FAIL), findings[0])
        ctx.bundle_error = redact.mask(f"{reason.check}: {reason.message}")
    return findings


def load_bundle(ctx: RunContext) -> dict[str, str]:
    """The secret bundle for later steps (the database step's DB_PASSWORD).

    Asks the backend at most once per context: a bundle or a failure already known (from
    the secrets stage or an earlier call) is returned or raised again without a request, so
    an unreachable backend costs one --secrets-timeout per run, not one per step. Raises
    BundleUnavailable with the reason when there is no backend or the bundle cannot be read.
    """
    if ctx.bundle is None and ctx.bundle_error is None:
        preflight(ctx)
    if ctx.bundle is None:
        raise BundleUnavailable(ctx.bundle_error)
    return ctx.bundle
