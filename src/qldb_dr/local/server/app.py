"""The local endpoint: one WSGI application that routes each request by the service and
region in its SigV4 credential scope.

Any credentials are accepted (signatures are not checked: this endpoint listens on
127.0.0.1 only); the region comes from the scope, and each region has its own ledgers.

A region can be lost (`POST /_qldb-dr/outage {"region": R}`, as a drill does): from then on
every request signed for it, to any service, is refused as an unreachable region's would
fail (503 ServiceUnavailable), until `DELETE /_qldb-dr/outage?region=R` brings it back.
What the endpoint does for that region inside its own process — a workflow already running
there — goes on, but every call it makes to the region's services is refused too.
"""

from __future__ import annotations

import json
import logging
import re
import time
import urllib.parse
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import boto3

from qldb_dr.local.ledger.errors import LedgerError
from qldb_dr.local.ledger.exports import Exports, S3ClientFactory
from qldb_dr.local.ledger.registry import Registry
from qldb_dr.local.server.control import ControlService
from qldb_dr.local.server.journal import JournalService
from qldb_dr.local.server.session import Limits, SessionService

log = logging.getLogger(__name__)

DEFAULT_REGION = "us-east-1"
_SCOPE = re.compile(r"Credential=[^/,]+/\d{8}/([^/,]+)/([^/,]+)/aws4_request")

StartResponse = Callable[[str, list[tuple[str, str]]], Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

_REASONS = {
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    409: "Conflict",
    412: "Precondition Failed",
    500: "Internal Server Error",
    501: "Not Implemented",
    503: "Service Unavailable",
}


def credential_scope(environ: dict[str, Any]) -> tuple[str, str]:
    """(region, service) from the Authorization header or a presigned URL's X-Amz-Credential."""
    header = environ.get("HTTP_AUTHORIZATION", "")
    match = _SCOPE.search(header)
    if match is None:
        query = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""))
        credential = query.get("X-Amz-Credential", [""])[0]
        match = _SCOPE.search("Credential=" + credential)
    if match is None:
        return DEFAULT_REGION, ""
    return match.group(1), match.group(2)


HEALTH_PATH = "/_qldb-dr/health"
OUTAGE_PATH = "/_qldb-dr/outage"
SERVICES = ("qldb", "qldb-session", "s3", "stepfunctions", "lambda", "events", "iam", "sts", "kms", "logs")


class Endpoint:
    """Serves QLDB and QLDB Session; other services go to `fallback` (the local AWS services)."""

    def __init__(
        self,
        data_dir: Path,
        *,
        limits: Limits | None = None,
        fallback: WsgiApp | None = None,
        registry: Registry | None = None,
        s3_client: S3ClientFactory | None = None,
    ) -> None:
        self.registry = registry or Registry(data_dir)
        self.sessions = SessionService(self.registry, limits=limits)
        self.control = ControlService(self.registry)
        self.exports = Exports(s3_client or (lambda region: boto3.client("s3", region_name=region)))
        JournalService(self.registry, self.exports).register(self.control)
        for region, name in self.registry.all():
            self.exports.resume(self.registry.ledger(region, name, active=False))
        self.fallback = fallback
        self.deployment: dict[str, Any] | None = None  # what `local up` deployed, once it has
        self.lost: set[str] = set()  # regions whose requests are refused (an outage)

    def health(self) -> dict[str, Any]:
        """`GET /_qldb-dr/health` (as LocalStack's `/_localstack/health`): ready once the
        workflows are deployed, and what is deployed."""
        return {
            "status": "ready" if self.deployment is not None else "starting",
            "services": {name: "available" for name in SERVICES},
            "deployment": self.deployment,
            "lostRegions": sorted(self.lost),
        }

    def _outage(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        """Lose a region (POST {"region": R}) or bring it back (DELETE ?region=R)."""
        method = environ.get("REQUEST_METHOD")
        if method == "POST":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            try:
                region = str(json.loads(environ["wsgi.input"].read(length) or b"{}")["region"])
            except (ValueError, KeyError, TypeError):
                return _respond(start_response, 400, {"message": 'POST {"region": "<region>"} to lose a region'})
            self.lost.add(region)
            log.warning("region %s is lost: its requests are refused from now on", region)
        elif method == "DELETE":
            region = urllib.parse.parse_qs(environ.get("QUERY_STRING", "")).get("region", [""])[0]
            self.lost.discard(region)
            log.warning("region %s is back", region)
        elif method != "GET":
            return _respond(start_response, 400, {"message": "GET, POST or DELETE"})
        return _respond(start_response, 200, {"lostRegions": sorted(self.lost)})

    def close(self) -> None:
        """Orderly stop: let running exports finish writing, then close every ledger."""
        self.exports.wait(timeout=60)
        self.registry.close()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == HEALTH_PATH and environ.get("REQUEST_METHOD") == "GET":
            return _respond(start_response, 200, self.health())
        if environ.get("PATH_INFO") == OUTAGE_PATH:
            return self._outage(environ, start_response)
        region, service = credential_scope(environ)
        if region in self.lost:
            return _respond(
                start_response,
                503,
                {"__type": "ServiceUnavailable", "message": f"region {region} is unreachable (lost: {OUTAGE_PATH})"},
                extra=[("x-amzn-ErrorType", "ServiceUnavailable")],
            )
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if service == "qldb" or target.startswith("QLDBSession."):
            return self._qldb(environ, start_response, region, target)
        if self.fallback is not None:
            return self.fallback(environ, start_response)
        return _respond(
            start_response,
            501,
            {
                "__type": "UnknownServiceException",
                "message": f"service {service or '(unsigned request)'} is not served by this endpoint",
            },
        )

    def _qldb(
        self, environ: dict[str, Any], start_response: StartResponse, region: str, target: str
    ) -> Iterable[bytes]:
        started = time.perf_counter()
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        try:
            body = json.loads(raw) if raw else {}
            if not isinstance(body, dict):
                raise ValueError("not an object")
        except ValueError:
            return _error(start_response, LedgerError("the request body is not a JSON object"))
        try:
            if target.startswith("QLDBSession."):
                if target != "QLDBSession.SendCommand":
                    raise LedgerError(f"unknown operation {target}")
                result = self.sessions.handle(body, region)
                return _respond(start_response, 200, result, "application/x-amz-json-1.0")
            # Match on the raw path: an ARN in a path segment arrives as %2F-encoded slashes.
            raw = environ.get("RAW_URI") or environ.get("REQUEST_URI") or environ.get("PATH_INFO", "")
            path = raw.split("?", 1)[0]
            query = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""))
            status, result = self.control.handle(environ["REQUEST_METHOD"], path, query, body, region)
            return _respond(start_response, status, result)
        except LedgerError as exc:
            return _error(start_response, exc)
        except Exception:  # a bug in the endpoint: QLDB answers 500 and pyqldb retries
            log.exception("internal error")
            return _respond(start_response, 500, {"__type": "InternalFailure", "message": "internal error"})
        finally:
            log.debug(
                "%s %s %.1f ms", region, target or environ.get("PATH_INFO"), (time.perf_counter() - started) * 1e3
            )


def _error(start_response: StartResponse, error: LedgerError) -> Iterable[bytes]:
    return _respond(
        start_response,
        error.status,
        {"__type": error.code, "Message": error.message, "message": error.message},
        extra=[("x-amzn-ErrorType", error.code)],
    )


def _respond(
    start_response: StartResponse,
    status: int,
    body: dict[str, Any],
    content_type: str = "application/json",
    extra: list[tuple[str, str]] | None = None,
) -> Iterable[bytes]:
    data = json.dumps(body).encode()
    headers = [
        ("Content-Type", content_type),
        ("Content-Length", str(len(data))),
        ("x-amzn-RequestId", "local"),
        *(extra or []),
    ]
    start_response(f"{status} {_REASONS.get(status, 'Error')}", headers)
    return [data]
