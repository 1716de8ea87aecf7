"""The AWS Secrets Manager backend (boto3, the standard credential chain): the secret, and the bundle."""
from __future__ import annotations

import json
from datetime import datetime, timezone

from flash_green_ops import redact
from flash_green_ops.context import RunContext
from flash_green_ops.credentials import AWS_KEYS
from flash_green_ops.findings import Finding, Status, failed, passed, warned
from flash_green_ops.neterrors import connection_reason
from flash_green_ops.secrets.common import check_bundle_keys, register_bundle, seconds, skip_rest, timed_check

KEYS = AWS_KEYS
CHECKS = ("secrets.aws_secret", "secrets.bundle")

# Env-file keys handed to boto3 explicitly; when absent, boto3's standard chain decides.
_AWS_SESSION_KEYS = {"AWS_ACCESS_KEY_ID": "aws_access_key_id",
                     "AWS_SECRET_ACCESS_KEY": "aws_secret_access_key",
                     "AWS_SESSION_TOKEN": "aws_session_token"}


def _aws_client(ctx: RunContext):
    import boto3  # lazy: only the AWS backend needs it
    from botocore.config import Config

    values = ctx.values
    session_kwargs = {arg: values[k].strip() for k, arg in _AWS_SESSION_KEYS.items() if (values.get(k) or "").strip()}
    timeout = ctx.settings.timeout("secrets_timeout")  # capped to the time left in wait-until mode
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
                 client) -> Finding:
    """Turn a boto3/botocore exception into a finding that names the secret ID and the fix."""
    from botocore import exceptions as bx

    region = ctx.values["AWS_SECRETS_REGION"].strip()
    id_line = ctx.source.where("AWS_SECRETS_ID")
    endpoint = client.meta.endpoint_url
    timeout = seconds(client.meta.config.connect_timeout)  # this call's (_aws_client)
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
    # Only a timeout can be helped by a longer one; a refused connection is answered at once.
    if isinstance(exc, (bx.ConnectTimeoutError, bx.ReadTimeoutError)):
        fix += ", or raise --secrets-timeout"
    return failed(check, f"AWS Secrets Manager at {endpoint} is unreachable ({found}): expected an answer to "
                         f"{operation}; {fix}", endpoint)


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
        return _aws_failure(check, exc, secret_id, "DescribeSecret", ctx, client), False
    except (bx.BotoCoreError, OSError) as exc:
        return _aws_failure(check, exc, secret_id, "DescribeSecret", ctx, client), False
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
        return _aws_failure(check, exc, secret_id, "GetSecretValue", ctx, client), None
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
    register_bundle(data)
    if not isinstance(data, dict):
        kind = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(type(data), "a number")
        return failed(check, f"secret {secret_id}'s SecretString is JSON but {kind}, not an object: expected "
                             f"a JSON object with {', '.join(ctx.contract.bundle_keys)}", endpoint), None
    finding = check_bundle_keys(data, ctx.contract.bundle_keys, f"secret {secret_id}",
                                f"set them (aws secretsmanager put-secret-value --secret-id {secret_id} "
                                f"--secret-string with the whole object)",
                                endpoint)
    return finding, data if finding.status is Status.PASS else None


def checks(ctx: RunContext) -> tuple[list[Finding], dict | None]:
    secret_id = ctx.values["AWS_SECRETS_ID"].strip()
    try:
        client = _aws_client(ctx)
    except Exception as exc:  # botocore refuses a malformed region or endpoint before any call
        finding = failed("secrets.aws_secret", redact.mask(
            f"boto3 cannot make a Secrets Manager client ({type(exc).__name__}: {exc}): check "
            f"AWS_SECRETS_REGION ({ctx.source.where('AWS_SECRETS_REGION')}) and AWS_ENDPOINT_URL"), ctx.source.name)
        return [finding, *skip_rest(CHECKS[1:], finding, ctx.source.name)], None
    endpoint = client.meta.endpoint_url
    try:
        finding, readable = timed_check("secrets.aws_secret", endpoint, lambda: check_aws_secret(client, secret_id, ctx))
        if not readable:
            return [finding, *skip_rest(CHECKS[1:], finding, endpoint)], None
        client.close()
        client = _aws_client(ctx)  # botocore fixes the timeouts when a client is made: this call's own
        bundle_finding, bundle = timed_check("secrets.bundle", endpoint, lambda: read_aws_bundle(client, secret_id, ctx))
        return [finding, bundle_finding], bundle
    finally:
        client.close()  # its urllib3 pool's sockets, now, not at GC
