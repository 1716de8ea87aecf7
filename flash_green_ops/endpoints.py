"""The network endpoints an env names, for the steps that call them (adapters, tls): the live
adapters' switches and URLs, and the CA file each endpoint's certificate is verified with.
Plain data and parsing, no network."""
from __future__ import annotations

from dataclasses import dataclass

from flash_green_ops import urls

# The contract's true values (flash_green_ops/contract.toml, rule adapter-flags); anything else,
# empty or absent, is false.
TRUE = {"true", "1", "yes", "on"}
TLS_SCHEMES = {"https": 443, "wss": 443}
PLAIN_SCHEMES = {"http": 80, "ws": 80}
# CA bundle for every endpoint but Vault (VAULT_CACERT) and PostgreSQL (sslrootcert); unset, the
# system's trust store.
TLS_CA_KEY = "TLS_CACERT"


@dataclass(frozen=True)
class Adapter:
    name: str  # the check id's suffix: adapters.<name>, tls.<name>
    title: str  # as messages name it
    flag: str
    url_key: str


ADAPTERS = (
    Adapter("live_feed", "live feed", "USE_LIVE_FEED", "LIVE_FEED_URL"),
    Adapter("ice", "ICE", "USE_ICE_LIVE", "ICE_API_URL"),
    Adapter("powerledger", "Powerledger", "USE_POWERLEDGER_LIVE", "POWERLEDGER_API_URL"),
    Adapter("web3", "web3 loan", "USE_WEB3_LOAN", "WEB3_RPC_URL"),
)


def is_enabled(values: dict[str, str], flag: str) -> bool:
    return (values.get(flag) or "").strip().lower() in TRUE


def value(values: dict[str, str], key: str) -> str:
    return (values.get(key) or "").strip()


def ca_file(values: dict[str, str], key: str) -> tuple[str | None, str]:
    """The CA bundle file ``key`` names (None: the system's trust store), and how messages name it."""
    path = value(values, key)
    if path:
        return path, f"the CA in {key} ({path})"
    return None, f"the system's trust store ({key} is not set)"


@dataclass(frozen=True)
class HostPort:
    scheme: str
    host: str
    port: int

    @property
    def tls(self) -> bool:
        return self.scheme in TLS_SCHEMES


def host_port(url: str) -> HostPort:
    """Scheme, host and port of an http(s) or ws(s) URL (default ports filled in); ValueError
    naming what is wrong, never quoting the URL (it may hold a password)."""
    parts = urls.split(url)  # urllib's own ValueError would quote what stands in [ ]: a password, maybe
    scheme = parts.scheme.lower()
    defaults = {**TLS_SCHEMES, **PLAIN_SCHEMES}
    if scheme not in defaults:
        raise ValueError(f"scheme {scheme or '(none)'!r} is not http, https, ws or wss")
    if not parts.hostname:
        raise ValueError("it has no host")
    try:
        port = parts.port or defaults[scheme]
    except ValueError:
        raise ValueError("its port is not a number 1-65535") from None
    return HostPort(scheme, parts.hostname, port)
