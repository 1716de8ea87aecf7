#!/usr/bin/env python3
"""Benchmark: the secrets stage beside a bare one-call read of the same bundle.

    python bench/secrets_load.py [--repeat N] [--timeout SECONDS]

In one run, against real servers on loopback (OpenBao with TLS, and moto's server):

1. warm, in process: ``flash_green_ops.secrets.run`` (Vault: health, lookup-self, mount lookup,
   read; AWS: describe + get) against the baseline, one bare read with hvac / boto3; median
   and best of N, and the ratio stage / baseline;
2. cold, as at pod start: ``scripts/preflight_check.py --stage secrets`` as a new process,
   against a new process doing the bare read (import + client + one call);
3. unreachable (a loopback listener that accepts and never answers): the stage must end within
   --timeout + 1 s.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from fixtures.moto_server import REGION, MotoStandin  # noqa: E402
from fixtures.services import random_secret, write_env_file  # noqa: E402
from fixtures.openbao import BaoServer  # noqa: E402
from fixtures.ports import PortReservation  # noqa: E402
from flash_green_ops import secrets  # noqa: E402
from flash_green_ops.preflight import new_context  # noqa: E402
from flash_green_ops.contract import load_contract  # noqa: E402
from flash_green_ops.envfile import read_env_file  # noqa: E402
from flash_green_ops.settings import Settings  # noqa: E402
from tests.conftest import silent_listener  # noqa: E402

PATH, SECRET_ID = "secret/flash-green", "flash-green/bundle"


def row(name: str, suite: list[float], baseline: list[float]) -> None:
    s, b = statistics.median(suite), statistics.median(baseline)
    print(f"{name:<34} suite median {s * 1000:8.1f} ms (best {min(suite) * 1000:7.1f})   "
          f"baseline median {b * 1000:8.1f} ms (best {min(baseline) * 1000:7.1f})   ratio {s / b:5.2f}")


def timings(function, repeat: int) -> list[float]:
    return timeit.repeat(function, number=1, repeat=repeat)


def cold(code_or_args: list[str], repeat: int, env: dict[str, str] | None = None) -> list[float]:
    """``repeat`` runs of a new interpreter; credentials go in ``env``, never on its command line."""
    return timings(lambda: subprocess.run([sys.executable, *code_or_args], cwd=REPO, check=True,
                                          capture_output=True, timeout=60, env={**os.environ, **(env or {})}),
                   repeat)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--timeout", type=float, default=2.0)
    args = parser.parse_args()
    contract = load_contract()
    bundle = {"DB_PASSWORD": random_secret("bench-db"), "API_SIGNING_KEY": random_secret("bench-key")}

    with tempfile.TemporaryDirectory() as tmp, MotoStandin() as moto:
        tmp = Path(tmp)
        vault = BaoServer(PortReservation(), tmp)
        vault.start()
        try:
            return measure(args, contract, bundle, tmp, vault, moto)
        finally:
            vault.stop()


def measure(args, contract, bundle, tmp: Path, vault: BaoServer, moto: MotoStandin) -> int:
    root = vault.client()
    root.sys.enable_secrets_engine("kv", path="secret", options={"version": "2"})
    root.secrets.kv.v2.create_or_update_secret(path="flash-green", mount_point="secret", secret=bundle)
    token = root.auth.token.create(policies=["root"], ttl="1h")["auth"]["client_token"]
    moto.put_secret(SECRET_ID, json.dumps(bundle))
    vault_env = write_env_file(tmp / "vault.env", {"VAULT_ADDR": vault.url, "VAULT_TOKEN": token,
                                                  "VAULT_CACERT": str(vault.ca_path),
                                                  "VAULT_SECRET_PATH": PATH}, "bench")
    aws_env = write_env_file(tmp / "aws.env", {
        "AWS_SECRETS_REGION": REGION, "AWS_SECRETS_ID": SECRET_ID, "AWS_ENDPOINT_URL": moto.url,
        "AWS_ACCESS_KEY_ID": moto.access_key_id, "AWS_SECRET_ACCESS_KEY": moto.secret_access_key}, "bench")

    def stage(path: Path):
        return lambda: secrets.run(new_context(read_env_file(path), contract, Settings()))

    import boto3
    import hvac

    # The baseline makes its client each time too, as the stage must (one run per process).
    def bare_vault_read():
        hvac.Client(url=vault.url, token=token, timeout=5, verify=str(vault.ca_path)).secrets.kv.v2.read_secret_version(
            path="flash-green", mount_point="secret", raise_on_deleted_version=True)

    def bare_aws_read():
        boto3.session.Session(region_name=REGION, aws_access_key_id=moto.access_key_id,
                              aws_secret_access_key=moto.secret_access_key).client(
            "secretsmanager", endpoint_url=moto.url).get_secret_value(SecretId=SECRET_ID)

    # Warm imports, and prove the stage works here: a stage failing fast would look cheap.
    for name, path in (("vault", vault_env), ("aws", aws_env)):
        bad = [f"{f.check} {f.status.value}" for f in stage(path)() if f.applies and f.status.value not in ("PASS", "WARN")]
        if bad:
            print(f"{name}: the stage does not pass against the stand-in ({', '.join(bad)}): no figures")
            return 1
    bare_vault_read(), bare_aws_read()
    print(f"warm, in process, new client per run, {args.repeat} runs each")
    row("vault: stage vs one kv v2 read", timings(stage(vault_env), args.repeat),
        timings(bare_vault_read, args.repeat))
    row("aws: stage vs one get_secret_value", timings(stage(aws_env), args.repeat),
        timings(bare_aws_read, args.repeat))

    cold_repeat = max(args.repeat // 4, 3)
    print(f"cold, a new process each, {cold_repeat} runs each")
    cli = str(REPO / "scripts" / "preflight_check.py")
    # hvac and boto3 read the token, the CA and the keys from the environment.
    bare_vault = ("import hvac; hvac.Client(url=%r, timeout=5).secrets.kv.v2.read_secret_version("
                  "path='flash-green', mount_point='secret', raise_on_deleted_version=True)" % vault.url)
    bare_aws = ("import boto3; boto3.client('secretsmanager', region_name=%r, endpoint_url=%r)"
                ".get_secret_value(SecretId=%r)" % (REGION, moto.url, SECRET_ID))
    row("vault: CLI vs bare hvac process",
        cold([cli, "--stage", "secrets", "--env-file", str(vault_env)], cold_repeat),
        cold(["-c", bare_vault], cold_repeat, {"VAULT_TOKEN": token, "VAULT_CACERT": str(vault.ca_path)}))
    row("aws: CLI vs bare boto3 process",
        cold([cli, "--stage", "secrets", "--env-file", str(aws_env)], cold_repeat),
        cold(["-c", bare_aws], cold_repeat, {"AWS_ACCESS_KEY_ID": moto.access_key_id,
                                             "AWS_SECRET_ACCESS_KEY": moto.secret_access_key}))

    too_slow = False
    with silent_listener() as port:
        print(f"unreachable (silent listener), --secrets-timeout {args.timeout:g}")
        for name, values in (("vault", {"VAULT_ADDR": f"http://127.0.0.1:{port}", "VAULT_TOKEN": token,
                                        "VAULT_SECRET_PATH": PATH}),
                             ("aws", {"AWS_SECRETS_REGION": REGION, "AWS_SECRETS_ID": SECRET_ID,
                                      "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
                                      "AWS_ACCESS_KEY_ID": moto.access_key_id,
                                      "AWS_SECRET_ACCESS_KEY": moto.secret_access_key})):
            path = write_env_file(tmp / f"silent-{name}.env", values, "bench")
            ctx = new_context(read_env_file(path), contract, Settings(secrets_timeout=args.timeout))
            started = time.perf_counter()
            secrets.run(ctx)
            elapsed = time.perf_counter() - started
            too_slow |= elapsed >= args.timeout + 1
            verdict = "ok" if elapsed < args.timeout + 1 else "TOO SLOW"
            print(f"{name + ': unreachable':<34} {elapsed:6.2f} s (limit {args.timeout + 1:g} s) {verdict}")
    return 1 if too_slow else 0


if __name__ == "__main__":
    sys.exit(main())
