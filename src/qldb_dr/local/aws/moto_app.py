"""moto (pinned) as the local endpoint's S3, Step Functions, Lambda, IAM, STS, KMS,
EventBridge and CloudWatch Logs, in this process, with qldb-dr's patches installed.

moto's Step Functions executor (a port of LocalStack's ASL interpreter) calls the services
a state machine uses over HTTP at localhost:$MOTO_PORT; that must be this endpoint's own
port, so the app is built once the port is bound.

Lambda functions run their handlers in this process (lambdas.py), so the process
environment is every handler's base environment: AWS SDK clients a handler creates reach
this endpoint unless AWS_ENDPOINT_URL says otherwise, with dummy credentials and a
default region when the process has none (per-function values — the function's region and
Environment.Variables — come through `qldb_dr.runtime.environment()`).
"""

from __future__ import annotations

import os

from qldb_dr.local.server.app import WsgiApp


def install_patches() -> None:
    """Install every qldb-dr patch on moto (idempotent)."""
    from qldb_dr.local.aws import (
        events,
        executor,
        lambdas,
        maps,
        mockconfig,
        object_lock,
        public_access,
        replication,
        schedules,
    )

    lambdas.install()  # functions run their handlers in this process
    executor.install()  # Step Functions: time scale, names, Lambda calls in process
    maps.install()  # Distributed Map: tolerated failures, result files
    mockconfig.install()  # Step Functions Local's mock configuration file
    object_lock.install()  # S3 Object Lock enforced
    public_access.install()  # S3 Block Public Access enforced
    replication.install()  # S3 replication
    events.install()  # S3 notifications to EventBridge, rules to targets
    schedules.install()  # scheduled rules and schedules fire


def moto_app(port: int) -> WsgiApp:
    os.environ["MOTO_PORT"] = str(port)
    os.environ.setdefault("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    if not ({"AWS_ACCESS_KEY_ID", "AWS_PROFILE"} & os.environ.keys()):
        os.environ["AWS_ACCESS_KEY_ID"] = os.environ["AWS_SECRET_ACCESS_KEY"] = "local"
    from moto.core.config import default_user_config
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    default_user_config["stepfunctions"]["execute_state_machine"] = True
    install_patches()
    app: WsgiApp = DomainDispatcherApplication(create_backend_app)
    return app
