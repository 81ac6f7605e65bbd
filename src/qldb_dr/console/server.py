"""The console's HTTP side: a JSON API over `views` and `actions`, and the static page (plain
HTML, CSS and JavaScript, no build step), served by waitress on 127.0.0.1.

Requests that change something are POSTs of JSON: a browser sends no cross-site JSON without
asking first, and the console answers no such question — so another site cannot press its
buttons; and only a localhost Host is served (no DNS rebinding onto it).
"""

from __future__ import annotations

import json
import logging
import mimetypes
import threading
import urllib.parse
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from waitress import wasyncore
from waitress.server import create_server

from qldb_dr.console.actions import Actions
from qldb_dr.console.views import Reader, Unreachable, jsonable
from qldb_dr.errors import QldbDrError
from qldb_dr.workflows.deployment import BACKUP, RESTORE

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
LOCAL_HOSTS = {"127.0.0.1", "localhost", "[::1]"}

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


class Console:
    """The WSGI application."""

    def __init__(self, reader: Reader, actions: Actions, endpoint_url: str | None) -> None:
        self.reader, self.actions, self.endpoint_url = reader, actions, endpoint_url
        self.get: dict[str, Callable[[dict[str, str]], Any]] = {
            "/api/overview": lambda q: {
                **reader.overview(),
                "endpoint": endpoint_url or "AWS",
                "local": endpoint_url is not None,
            },
            "/api/executions": lambda q: reader.executions(
                BACKUP if q.get("workflow") == "backup" else RESTORE,
                reader.primary if q.get("workflow") == "backup" else reader.dr,
                int(q.get("limit", 15)),
            ),
            "/api/execution": lambda q: reader.execution(q["arn"]),
            "/api/recovery-points": lambda q: reader.recovery_points(),
            "/api/restores": lambda q: reader.restores(),
            "/api/drills": lambda q: actions.drills(),
            "/api/drill": lambda q: actions.drill(q["id"]),
        }
        self.post: dict[str, Callable[[dict[str, Any]], Any]] = {
            "/api/restores/plan": actions.plan_restore,
            "/api/restores": actions.start_restore,
            "/api/restores/retry": actions.retry,
            "/api/drills": actions.start_drill,
        }

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        host = environ.get("HTTP_HOST", "").rsplit(":", 1)[0]
        if host not in LOCAL_HOSTS:
            return _send(start_response, 403, {"error": f"the console answers localhost only, not {host!r}"})
        path, method = environ.get("PATH_INFO", "/"), environ.get("REQUEST_METHOD", "GET")
        try:
            if method == "GET" and path in self.get:
                query = {k: v[0] for k, v in urllib.parse.parse_qs(environ.get("QUERY_STRING", "")).items()}
                return _send(start_response, 200, self.get[path](query))
            if method == "POST" and path in self.post:
                if not environ.get("CONTENT_TYPE", "").startswith("application/json"):
                    return _send(start_response, 415, {"error": "send JSON (Content-Type: application/json)"})
                length = int(environ.get("CONTENT_LENGTH") or 0)
                body = json.loads(environ["wsgi.input"].read(length) or b"{}")
                if not isinstance(body, dict):
                    return _send(start_response, 400, {"error": "the request body is not a JSON object"})
                return _send(start_response, 200, self.post[path](body))
            if method == "GET":
                return _static(start_response, path)
            return _send(start_response, 405, {"error": f"{method} {path} is not an action of the console"})
        except KeyError as exc:
            return _send(start_response, 400, {"error": f"missing parameter {exc}"})
        except Unreachable as exc:
            return _send(start_response, 503, {"error": str(exc), "unreachable": True})
        except (QldbDrError, ValueError) as exc:
            hint = getattr(exc, "hint", "")
            return _send(start_response, 400, {"error": str(exc), "hint": hint or None})
        except Exception as exc:
            log.exception("console: %s %s", method, path)
            return _send(start_response, 500, {"error": f"internal error: {type(exc).__name__}: {exc}"})


def _send(start_response: StartResponse, status: int, body: Any) -> Iterable[bytes]:
    data = json.dumps(jsonable({"value": body})["value"]).encode()
    reasons = {
        200: "OK",
        400: "Bad Request",
        403: "Forbidden",
        404: "Not Found",
        405: "Method Not Allowed",
        415: "Unsupported Media Type",
        500: "Internal Server Error",
        503: "Service Unavailable",
    }
    start_response(
        f"{status} {reasons.get(status, 'Error')}",
        [("Content-Type", "application/json"), ("Content-Length", str(len(data))), ("Cache-Control", "no-store")],
    )
    return [data]


def _static(start_response: StartResponse, path: str) -> Iterable[bytes]:
    name = "index.html" if path in ("/", "/index.html") else path.removeprefix("/static/")
    file = (STATIC / name).resolve()
    if STATIC not in file.parents or not file.is_file():
        return _send(start_response, 404, {"error": f"no page {path}"})
    data = file.read_bytes()
    kind = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
    start_response(
        "200 OK",
        [("Content-Type", f"{kind}; charset=utf-8"), ("Content-Length", str(len(data))), ("Cache-Control", "no-cache")],
    )
    return [data]


class Server:
    """The console on 127.0.0.1:`port` (0: a free one), serving on a thread of its own."""

    def __init__(self, app: Console, port: int = 0) -> None:
        self._server: Any = create_server(app, host="127.0.0.1", port=port, threads=8, asyncore_use_poll=True)
        self.port: int = int(self._server.effective_port)
        self.thread = threading.Thread(target=self._server.run, name="console", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def start(self) -> Server:
        self.thread.start()
        return self

    def stop(self) -> None:
        """Close the connections and the listener from inside the serving loop (closing them
        from here races the loop onto closed descriptors), then stop the worker threads."""
        connections, trigger, listener = self._server._map, self._server.trigger, self._server

        def close_all() -> None:
            for channel in list(connections.values()):
                if channel is listener:
                    wasyncore.dispatcher.close(channel)
                elif channel is not trigger:
                    channel.close()
            trigger.del_channel()

        trigger.pull_trigger(close_all)
        self.thread.join(timeout=10)
        self._server.task_dispatcher.shutdown()
        if not self.thread.is_alive():
            trigger.close()
