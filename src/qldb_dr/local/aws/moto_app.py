"""moto (pinned) as the local endpoint's S3, Step Functions, Lambda, IAM, STS, KMS,
EventBridge and CloudWatch Logs, in this process.

moto's Step Functions executor (a port of LocalStack's ASL interpreter) calls the services
a state machine uses over HTTP at localhost:$MOTO_PORT; that must be this endpoint's own
port, so the app is built once the port is bound.
"""

from __future__ import annotations

import os

from qldb_dr.local.server.app import WsgiApp


def moto_app(port: int) -> WsgiApp:
    os.environ["MOTO_PORT"] = str(port)
    from moto.core.config import default_user_config
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    default_user_config["stepfunctions"]["execute_state_machine"] = True
    app: WsgiApp = DomainDispatcherApplication(create_backend_app)
    return app
