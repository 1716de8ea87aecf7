"""The Vault backend (hvac): health, token, mount, and the bundle. hvac is imported when used."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from flash_green_ops import redact
from flash_green_ops.context import RunContext
from flash_green_ops.credentials import VAULT_KEYS
from flash_green_ops.findings import Finding, Status, failed, passed, warned
from flash_green_ops.neterrors import connection_reason
from flash_green_ops.secrets.common import (check_bundle_keys, human_duration, register_bundle, seconds, skip_rest,
                                            timed_check)

KEYS = VAULT_KEYS
CHECKS = ("secrets.vault_health", "secrets.vault_token", "secrets.vault_mount", "secrets.bundle")


@dataclass(frozen=True)
class VaultTarget:
    addr: str
    token: str
    secret_path: str
    namespace: str | None
    cacert: str | None
    timeout: float = 5.0  # a call's: --secrets-timeout, capped to the time left in wait-until mode

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


def _vault_client(target: VaultTarget):
    import hvac  # lazy: only the Vault backend needs it

    # Every argument explicit: hvac would otherwise fall back to the *process's* VAULT_*
    # variables and ~/.vault-token, and the env file under check is the only source here.
    return hvac.Client(url=target.addr, token=target.token, namespace=target.namespace,
                       verify=target.cacert or True, timeout=target.timeout)


def _vault_unreachable(check: str, target: VaultTarget, exc: Exception, api_path: str, ctx: RunContext) -> Finding:
    import requests

    timeout = target.timeout
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
    # Only a timeout can be helped by a longer one; a refused connection is answered at once.
    fix = f"check VAULT_ADDR ({line}), the network path, or raise --secrets-timeout"
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        found = f"no connection within {seconds(timeout)}"
    elif isinstance(exc, requests.exceptions.ReadTimeout):
        found = f"connected, but no answer within {seconds(timeout)}"
    else:
        found = connection_reason(exc)
        fix = f"check VAULT_ADDR ({line}) and that Vault is running and listening there"
    return failed(check, f"{target.label()} is unreachable ({found}): expected Vault to answer "
                         f"{api_path}; {fix}", where)


def _errors_of(response) -> str:
    """The server's own ``errors`` (Vault's error texts name paths and reasons, never values)."""
    try:
        body = response.json()
    except (ValueError, AttributeError):
        return ""
    errors = body.get("errors") if isinstance(body, dict) else None
    if not isinstance(errors, list) or not errors:
        return ""
    return ": " + redact.mask("; ".join(" ".join(str(e).split()) for e in errors))[:300]


def check_vault_health(client, target: VaultTarget, ctx: RunContext) -> Finding:
    """sys/health: initialised, unsealed, active. Standby and sealed say which.

    Asked in the root namespace whatever VAULT_NAMESPACE says: OpenBao (and Vault) answer
    sys/health only there (400 "operation unavailable in namespaces" inside one).
    """
    import requests

    check, api_path = "secrets.vault_health", "sys/health"
    where = target.url(api_path)
    namespace, client.adapter.namespace = client.adapter.namespace, None
    try:
        response = client.sys.read_health_status(method="GET")
    except requests.exceptions.RequestException as exc:
        return _vault_unreachable(check, target, exc, api_path, ctx)
    finally:
        client.adapter.namespace = namespace
    if isinstance(response, dict):
        status, body = 200, response
    else:
        status = response.status_code
        try:
            body = response.json()
        except ValueError:
            body = None
    if not isinstance(body, dict) or "sealed" not in body:
        return failed(check, f"{target.label()} answered {api_path} with HTTP {status}{_errors_of(response)} but "
                             f"not Vault's health JSON: check that VAULT_ADDR ({ctx.source.where('VAULT_ADDR')}) "
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
    register_bundle(data)
    if not isinstance(data, dict):
        return failed(check, f"{target.secret_path} holds no key/value data: expected a JSON object "
                             f"with {', '.join(ctx.contract.bundle_keys)}", where), None
    what = f"{target.secret_path} (KV v{mount.version})"
    fix = (f"set them (vault kv patch {target.secret_path} KEY=...)" if mount.version == 2 else
           f"set them (vault kv put {target.secret_path} with every key: KV v1 replaces the whole secret)")
    finding = check_bundle_keys(data, ctx.contract.bundle_keys, what, fix, where)
    return finding, data if finding.status is Status.PASS else None


def checks(ctx: RunContext) -> tuple[list[Finding], dict | None]:
    target = VaultTarget.from_context(ctx)
    redact.register(target.token)
    if target.cacert and not Path(target.cacert).is_file():
        f = failed("secrets.vault_health",
                   f"VAULT_CACERT ({ctx.source.where('VAULT_CACERT')}) is {target.cacert}, which is not a "
                   f"readable file: expected the CA bundle that signs Vault's certificate", target.addr)
        return [f, *skip_rest(CHECKS[1:], f, target.addr)], None
    findings: list[Finding] = []
    steps: list[Callable[[object, VaultTarget], tuple[Finding, object]]] = [
        lambda client, target: (check_vault_health(client, target, ctx), None),
        lambda client, target: (check_vault_token(client, target, ctx), None),
        lambda client, target: check_vault_mount(client, target, ctx),
    ]
    mount = None
    for index, step in enumerate(steps):
        finding, result = _vault_call(CHECKS[index], step, target, ctx)
        findings.append(finding)
        if finding.status is Status.FAIL:
            return findings + skip_rest(CHECKS[index + 1:], finding, target.addr), None
        mount = result or mount
    finding, bundle = _vault_call("secrets.bundle", lambda client, target: read_vault_bundle(client, target, mount, ctx),
                                  target, ctx)
    return findings + [finding], bundle


def _vault_call(check_id: str, step: Callable[[object, VaultTarget], tuple[Finding, object]],
                target: VaultTarget, ctx: RunContext) -> tuple[Finding, object]:
    """One check, timed, with a client of its own: hvac fixes a client's timeout when it is
    made, and each call's is the time it may take from its start (Settings.timeout)."""
    target = replace(target, timeout=ctx.settings.timeout("secrets_timeout"))
    client = _vault_client(target)
    try:
        return timed_check(check_id, target.addr, lambda: step(client, target))
    finally:
        client.adapter.close()  # its requests session's pooled sockets, now, not at GC
