"""Lambda for the local endpoint: a function runs its `Handler` without Docker, in worker
processes of its own as on AWS Lambda (environments.py), or in this process.

moto's Lambda runs every invocation in a Docker container (`LambdaFunction._invoke_lambda`),
and there is no Docker daemon where qldb-dr runs locally. The patch below imports the
function's handler (`tasks.verify_export.handler`, or AWS's file form
`tasks/verify_export.handler`) and calls it with the decoded event and a Lambda-like
context. What a handler sees is what it sees on AWS Lambda:

* its Environment.Variables, and Lambda's own (AWS_REGION, AWS_LAMBDA_FUNCTION_NAME, …), as
  its process environment and through `qldb_dr.runtime.environment()`;
* an exception becomes a function error whose payload is AWS's
  `{"errorType": <class name>, "errorMessage": str(exc), "stackTrace": [...]}`, so ASL
  Retry/Catch match the project's error names exactly as on AWS;
* a result that is not JSON is `Runtime.MarshalError`, a handler that cannot be imported
  `Runtime.ImportModuleError` / `Runtime.HandlerNotFound`, a run longer than the function's
  Timeout `Sandbox.Timedout` (Step Functions then fails the task with that error name), a
  process that dies `Runtime.ExitError`.

Two modes (`QLDB_DR_LOCAL_LAMBDA`, read at install, or `set_mode()`):

* "process" (the default: `qldb-dr local up`, the drill, the tests' endpoints): each function
  has its own execution environments, processes that run one invocation at a time, warm,
  up to the function's concurrency — so a Distributed Map runs on every core, a timeout kills
  the handler, and a crash or a changed os.environ stays in its process.
* "inline": handlers run on the calling thread of this process, many side by side, with
  their variables in a context variable (`qldb_dr.runtime.invocation_environment`); a timeout
  is reported only when the handler returns. For tests that patch a handler's code in the
  test process, or read what it recorded there.
"""

from __future__ import annotations

import io
import json
import os
import sys
import uuid
import zipfile
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from qldb_dr.local.aws import environments
from qldb_dr.local.aws.handler import LambdaContext, run_handler

MODE_ENV = "QLDB_DR_LOCAL_LAMBDA"
MODES = ("process", "inline")


class _Settings:
    mode = "process"
    concurrency = environments.DEFAULT_CONCURRENCY


_settings = _Settings()


def set_mode(mode: str) -> None:
    """Run handlers in worker processes ("process") or on the calling thread ("inline")."""
    if mode not in MODES:
        raise ValueError(f"{MODE_ENV}={mode!r}: give one of {', '.join(MODES)}")
    _settings.mode = mode


def mode() -> str:
    return _settings.mode


def set_concurrency(concurrency: int) -> None:
    """The execution environments a function without reserved concurrency may have at once."""
    if concurrency < 1:
        raise ValueError(f"concurrency must be 1 or more, got {concurrency}")
    _settings.concurrency = concurrency


ROLE_NAME = "qldb-dr-local-lambda"
_TRUST_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
)


# -- the patch on moto's LambdaFunction ---------------------------------------------------------


def _function_variables(function: Any, context: LambdaContext) -> dict[str, str]:
    """Lambda's reserved variables for this invocation, then the function's own on top."""
    region = str(function.region)
    variables = {
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{function.run_time}",
        "AWS_LAMBDA_FUNCTION_NAME": context.function_name,
        "AWS_LAMBDA_FUNCTION_VERSION": context.function_version,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(context.memory_limit_in_mb),
        "AWS_LAMBDA_LOG_GROUP_NAME": context.log_group_name,
        "AWS_LAMBDA_LOG_STREAM_NAME": context.log_stream_name,
        "_HANDLER": str(function.handler),
    }
    variables.update({str(k): str(v) for k, v in (function.environment_vars or {}).items()})
    return variables


def _fingerprint(function: Any) -> tuple[Any, ...]:
    """What a function's environments are made from: a change retires them (as on AWS)."""
    variables = tuple(sorted((str(k), str(v)) for k, v in (function.environment_vars or {}).items()))
    return (
        str(function.handler),
        str(function.run_time),
        float(function.timeout),
        int(function.memory_size),
        variables,
        str(getattr(function, "code_sha_256", "")),
    )


def _invoke(self: Any, event: Any = None) -> tuple[str, bool, str]:
    """Replaces `LambdaFunction._invoke_lambda` (moto: runs the function in Docker)."""
    # moto decodes the request body; an empty body reaches here as the text "{}" (AWS passes {}).
    if event is None or event == "{}":
        event = {}
    request_id = str(uuid.uuid4())
    today = datetime.now(UTC).strftime("%Y/%m/%d")
    context = LambdaContext(
        function_name=str(self.function_name),
        function_version=str(self.version),
        invoked_function_arn=str(self.function_arn),
        memory_limit_in_mb=int(self.memory_size),
        aws_request_id=request_id,
        log_group_name=str(self.logs_group_name),
        log_stream_name=f"{today}/[{self.version}]{request_id.replace('-', '')}",
        timeout_seconds=float(self.timeout),
    )
    variables = _function_variables(self, context)
    if _settings.mode == "inline":
        done = run_handler(str(self.handler), event, context, variables)
        return done.payload, done.errored, done.log
    request = environments.Request(
        handler=str(self.handler),
        event=event,
        context={
            "function_name": context.function_name,
            "function_version": context.function_version,
            "invoked_function_arn": context.invoked_function_arn,
            "memory_limit_in_mb": context.memory_limit_in_mb,
            "aws_request_id": context.aws_request_id,
            "log_group_name": context.log_group_name,
            "log_stream_name": context.log_stream_name,
            "timeout_seconds": context.timeout_seconds,
        },
        environment={**os.environ, **variables},
    )
    key = (str(self.account_id), str(self.region), str(self.function_name), str(self.version))
    concurrency = int(self.reserved_concurrency) if self.reserved_concurrency else _settings.concurrency
    outcome = environments.invoke(key, _fingerprint(self), concurrency, request, context.timeout_seconds)
    return outcome.payload, outcome.errored, outcome.log


def _retiring_on_reset(original: Callable[..., Any]) -> Callable[..., Any]:
    """Wraps `LambdaBackend.reset`: a reset of moto's Lambda ends its functions' environments."""

    def reset(self: Any) -> None:
        account, region = str(self.account_id), str(self.region_name)
        environments.retire(lambda key: key[:2] == (account, region))
        original(self)

    reset.__wrapped__ = original  # type: ignore[attr-defined]
    return reset


def _retiring_on_delete(original: Callable[..., Any]) -> Callable[..., Any]:
    """Wraps `LambdaBackend.delete_function`: a deleted function's environments end."""

    def delete_function(self: Any, function_name: str, qualifier: str | None = None) -> None:
        original(self, function_name, qualifier)
        account, region = str(self.account_id), str(self.region_name)
        name = function_name.split(":")[6] if function_name.startswith("arn:") else function_name
        environments.retire(lambda key: key[:3] == (account, region, name))

    delete_function.__wrapped__ = original  # type: ignore[attr-defined]
    return delete_function


def _invoke_unhandled(original: Callable[..., Any]) -> Callable[..., Any]:
    """Wraps `LambdaFunction.invoke`: moto labels every function error "Handled"; AWS labels an
    exception that escapes the handler "Unhandled" (X-Amz-Function-Error)."""

    def invoke(self: Any, body: Any, request_headers: Any, response_headers: Any) -> Any:
        result = original(self, body, request_headers, response_headers)
        if response_headers.get("x-amz-function-error") == "Handled":
            response_headers["x-amz-function-error"] = "Unhandled"
        return result

    invoke.__wrapped__ = original  # type: ignore[attr-defined]
    return invoke


def invoke_function(
    function_name: str,
    payload: bytes | str | None,
    *,
    region: str,
    account_id: str | None = None,
    qualifier: str | None = None,
    invocation_type: str = "RequestResponse",
) -> dict[str, Any]:
    """Invoke a function of the local Lambda service in this thread, without HTTP; returns what
    boto3's `lambda.invoke` returns (Payload already read as bytes). Unknown functions raise
    botocore's ClientError, as boto3 would.

    The Step Functions executor calls functions through this: a Map of N concurrent items
    would otherwise hold N of the endpoint's HTTP threads while the handlers wait for their
    own S3 and QLDB requests on the same endpoint, and deadlock once N reaches the pool size.
    """
    from botocore.exceptions import ClientError
    from moto.awslambda.models import lambda_backends
    from moto.core.exceptions import JsonRESTError
    from moto.core.models import DEFAULT_ACCOUNT_ID

    if account_id is None:
        parts = function_name.split(":")
        account_id = parts[4] if function_name.startswith("arn:") and len(parts) > 4 else DEFAULT_ACCOUNT_ID
    body = payload.decode() if isinstance(payload, bytes) else (payload or "")
    headers = {"x-amz-invocation-type": invocation_type}
    response_headers: dict[str, str] = {}
    try:
        backend = lambda_backends[account_id][region]
        function = backend.get_function(function_name, qualifier)
        result = backend.invoke(function_name, qualifier, body, headers, response_headers)
    except JsonRESTError as exc:
        error: Any = {
            "Error": {"Code": exc.error_type, "Message": exc.message},
            "ResponseMetadata": {"HTTPStatusCode": int(exc.code), "RequestId": str(uuid.uuid4())},
        }
        raise ClientError(error, "Invoke") from exc
    data = result.encode() if isinstance(result, str) else bytes(result or b"")
    if invocation_type == "Event":  # AWS answers 202 with no payload (moto runs the function all the same)
        data = b""
    response: dict[str, Any] = {
        "StatusCode": 202 if invocation_type == "Event" else 200,
        "ExecutedVersion": str(function.version),
        "Payload": data,
    }
    if "x-amz-function-error" in response_headers:
        response["FunctionError"] = response_headers["x-amz-function-error"]
    return response


def install() -> None:
    """Patch moto's Lambda (idempotent). Reads QLDB_DR_LOCAL_LAMBDA and
    QLDB_DR_LOCAL_LAMBDA_CONCURRENCY once."""
    from moto.awslambda.models import LambdaBackend, LambdaFunction

    from qldb_dr.local.aws.patching import first_time, replace

    if not first_time("lambdas"):
        return
    set_mode(os.environ.get(MODE_ENV, "").strip() or "process")
    set_concurrency(environments.default_concurrency())
    # moto lacks: running a function without Docker. This one method is the Docker path.
    replace(LambdaFunction, "_invoke_lambda", _invoke)
    # Environments end with their function (moto keeps no process to end).
    replace(LambdaBackend, "reset", _retiring_on_reset(LambdaBackend.reset))
    replace(LambdaBackend, "delete_function", _retiring_on_delete(LambdaBackend.delete_function))
    # moto lacks: AWS's "Unhandled" function-error label.
    replace(LambdaFunction, "invoke", _invoke_unhandled(LambdaFunction.invoke))


# -- deploying a function ------------------------------------------------------------------------


def minimal_zip() -> bytes:
    """A valid deployment package; the code itself comes from this process's import path."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("README.txt", "qldb-dr local function: the handler is imported from the endpoint's path\n")
    return buffer.getvalue()


def deploy_function(
    client: Any,
    name: str,
    handler: str,
    environment: Mapping[str, str] | None = None,
    timeout: int = 60,
    *,
    memory_mb: int = 512,
    iam: Any = None,
) -> str:
    """Create or update function `name` running `handler`; returns its ARN. Idempotent.

    `client` is a boto3 Lambda client; `iam` an IAM client (default: one on the same
    endpoint and region). moto refuses CreateFunction unless the role exists and the Code
    is a package, so this creates the role `qldb-dr-local-lambda` if needed and ships a
    minimal zip: the local endpoint imports the handler, it does not unpack code.
    """
    import boto3

    if iam is None:
        iam = boto3.client("iam", region_name=client.meta.region_name, endpoint_url=client.meta.endpoint_url)
    try:
        role = iam.get_role(RoleName=ROLE_NAME)["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        try:
            role = iam.create_role(RoleName=ROLE_NAME, AssumeRolePolicyDocument=_TRUST_POLICY)["Role"]["Arn"]
        except iam.exceptions.EntityAlreadyExistsException:  # created meanwhile by another deployer
            role = iam.get_role(RoleName=ROLE_NAME)["Role"]["Arn"]
    config = {
        "Handler": handler,
        "Role": role,
        "Runtime": f"python{sys.version_info.major}.{sys.version_info.minor}",
        "Timeout": timeout,
        "MemorySize": memory_mb,
        "Environment": {"Variables": dict(environment or {})},
    }
    try:
        arn: str = client.create_function(FunctionName=name, Code={"ZipFile": minimal_zip()}, **config)["FunctionArn"]
    except client.exceptions.ResourceConflictException:
        arn = client.update_function_configuration(FunctionName=name, **config)["FunctionArn"]
    return arn
