"""S3 → EventBridge → targets on top of moto: a bucket with EventBridge notifications sends
AWS-shaped events to its region's default bus, and rules deliver matching events to their
targets, Step Functions state machines included.

What moto 5.2.5 already does, and is kept: PutBucketNotificationConfiguration stores
`EventBridgeConfiguration`; PutObject, CopyObject and CompleteMultipartUpload call its S3
notification hook; event patterns (prefix, suffix, wildcard, anything-but, numeric, …)
are matched; SQS, CloudWatch Logs, archive and event-bus targets are delivered.

What moto lacks, and `install()` adds (see each patch):

* the S3 event is not AWS's: `eTag` for `etag`, `reason` "ObjectCreated" for
  "PutObject" / "POST Object" / "CopyObject" / "CompleteMultipartUpload", no
  `deletion-type`, a fixed `id`, a numeric `time`, `version-id` "null" in unversioned
  buckets; it goes to every bus of the region, not only the default bus;
* it is sent from inside the write, before the version's metadata and tags are set,
  and twice for a multipart upload (Put, then CompleteMultipartUpload); every PutObject
  also sends "Object Tags Added";
* a rule's target that is a Step Functions state machine raises NotImplementedError,
  which the S3 hook swallows together with every target after it;
* a DISABLED rule still delivers;
* a target's Input and InputPath are ignored; InputTransformer produces invalid JSON
  for unquoted string placeholders and is ignored for S3 events;
* GetBucketNotificationConfiguration omits EventBridgeConfiguration.

Events from S3 are delivered when the request that caused them completes (see s3_async).
"""

from __future__ import annotations

import copy
import datetime
import functools
import json
import logging
import re
import time
import uuid
from typing import Any

from qldb_dr.local.aws import s3_async

log = logging.getLogger(__name__)


# s3:ObjectCreated:* event name → the `reason` of AWS's "Object Created" event.
CREATED_REASONS = {
    "s3:ObjectCreated:Put": "PutObject",
    "s3:ObjectCreated:Post": "POST Object",
    "s3:ObjectCreated:Copy": "CopyObject",
    "s3:ObjectCreated:CompleteMultipartUpload": "CompleteMultipartUpload",
}
DELETION_TYPES = {
    "s3:ObjectRemoved:Delete": "Permanently Deleted",
    "s3:ObjectRemoved:DeleteMarkerCreated": "Delete Marker Created",
}
TAGS_ADDED = "s3:ObjectTagging:Put"


def iso_time(value: Any) -> str:
    """An event's `time` as AWS writes it (moto keeps epoch seconds internally)."""
    if isinstance(value, int | float):
        moment = datetime.datetime.fromtimestamp(value, datetime.UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(value)


def s3_event(account_id: str, bucket: Any, event_name: str, key: Any) -> dict[str, Any]:
    """The EventBridge event S3 sends for `event_name` on this version (AWS's shape, see
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/ev-events.html)."""
    from moto.s3 import notifications

    event_name = str(getattr(event_name, "value", event_name))
    detail_type = notifications._detail_type(event_name)
    obj: dict[str, Any] = {"key": key.name}
    if detail_type != "Object Deleted":
        obj["size"] = key.size
        obj["etag"] = key.etag.replace('"', "")
    if getattr(key, "version_id", "null") != "null":
        obj["version-id"] = key.version_id
    obj["sequencer"] = f"{time.time_ns():018X}"
    detail: dict[str, Any] = {
        "version": "0",
        "bucket": {"name": bucket.name},
        "object": obj,
        "request-id": uuid.uuid4().hex[:16].upper(),
        "requester": account_id,
        "source-ip-address": "127.0.0.1",
    }
    if event_name in CREATED_REASONS:
        detail["reason"] = CREATED_REASONS[event_name]
    elif event_name in DELETION_TYPES:
        detail["reason"] = "DeleteObject"
        detail["deletion-type"] = DELETION_TYPES[event_name]
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": "aws.s3",
        "account": account_id,
        "time": time.time(),
        "region": bucket.region_name,
        "resources": [bucket.arn],
        "detail": detail,
    }


def put_on_default_bus(account_id: str, region: str, event: dict[str, Any]) -> None:
    """Deliver an event that an AWS service emits to the region's default bus."""
    from moto.events.models import events_backends

    bus: Any = events_backends[account_id][region].event_buses.get("default")
    rules: list[Any] = list(bus.rules.values()) if bus is not None else []
    for rule in rules:
        rule.send_to_targets(event, transform_input=False)


def _send_to_event_bridge(account_id: str, bucket: Any, event_name: str, key: Any) -> None:
    """Replaces moto.s3.notifications._send_event_bridge_message."""
    put_on_default_bus(account_id, bucket.region_name, s3_event(account_id, bucket, event_name, key))


# --- targets --------------------------------------------------------------------------

_PATH_STEP = re.compile(r"\.([^.\[\]]+)|\[\s*'([^']*)'\s*\]|\[\s*\"([^\"]*)\"\s*\]|\[(\d+)\]")


def select(document: Any, path: str) -> Any:
    """The value at a JSON path of EventBridge's subset ($, .name with dashes, ['name'],
    [index]); None when absent."""
    path = path.strip()
    if not path.startswith("$"):
        raise ValueError(f"not a JSON path: {path}")
    position, value = 1, document
    while position < len(path):
        step = _PATH_STEP.match(path, position)
        if step is None:
            raise ValueError(f"unsupported JSON path: {path}")
        position = step.end()
        name, quoted, double, index = step.groups()
        if index is not None:
            value = value[int(index)] if isinstance(value, list) and int(index) < len(value) else None
        else:
            field = name if name is not None else quoted if quoted is not None else double
            value = value.get(field) if isinstance(value, dict) else None
        if value is None:
            return None
    return value


_PLACEHOLDER = re.compile(r"<([A-Za-z0-9_.\-]+)>")


def render(template: str, values: dict[str, Any]) -> str:
    """An InputTemplate with its <placeholders> filled. In a JSON template a placeholder
    inside a string is replaced by the escaped text of its value, elsewhere by the value
    as JSON (a string gets quotes); in a text template, by the value's text."""
    is_json = template.lstrip()[:1] in ("{", "[")
    out: list[str] = []
    in_string = escaped = False
    position = 0
    while position < len(template):
        char = template[position]
        if is_json and in_string and escaped:
            escaped = False
        elif is_json and char == "\\" and in_string:
            escaped = True
        elif is_json and char == '"':
            in_string = not in_string
        elif char == "<" and (match := _PLACEHOLDER.match(template, position)) and match.group(1) in values:
            value = values[match.group(1)]
            text = value if isinstance(value, str) else json.dumps(value)
            if not is_json:
                out.append(text)
            elif in_string:
                out.append(json.dumps(text)[1:-1])
            else:
                out.append(json.dumps(value))
            position = match.end()
            continue
        out.append(char)
        position += 1
    return "".join(out)


def target_input(target: dict[str, Any], event: dict[str, Any], rule: Any) -> str:
    """What a rule sends to a target: Input, InputPath, InputTransformer, or the event."""
    if target.get("Input") is not None:
        return str(target["Input"])
    if target.get("InputPath"):
        return json.dumps(select(event, target["InputPath"]))
    transformer = target.get("InputTransformer")
    if transformer:
        values = {name: select(event, path) for name, path in (transformer.get("InputPathsMap") or {}).items()}
        without_detail = {k: v for k, v in event.items() if k != "detail"}
        values.update(
            {
                "aws.events.rule-arn": rule.arn,
                "aws.events.rule-name": rule.name,
                "aws.events.event.ingestion-time": event["time"],
                "aws.events.event": without_detail,
                "aws.events.event.json": event,
            }
        )
        return render(str(transformer["InputTemplate"]), values)
    return json.dumps(event)


def start_execution(state_machine_arn: str, execution_input: str) -> str:
    """StartExecution as EventBridge calls it (a generated execution name)."""
    from moto.stepfunctions.responses import get_backend

    _, _, _, region, account, _ = state_machine_arn.split(":", 5)
    backend = get_backend(account, region)
    execution = backend.start_execution(state_machine_arn, name=str(uuid.uuid4()), execution_input=execution_input)
    arn: str = execution.execution_arn
    return arn


def is_state_machine(arn: str) -> bool:
    return arn.startswith("arn:") and arn.split(":")[2:3] == ["states"] and ":stateMachine:" in arn


def as_delivered(event: dict[str, Any]) -> dict[str, Any]:
    """The event as AWS hands it to a target: ISO time, no moto-internal fields."""
    delivered = {k: v for k, v in event.items() if k != "ingestion-time"}
    delivered["time"] = iso_time(event.get("time", time.time()))
    return delivered


def _send_to_targets(original: Any) -> Any:
    @functools.wraps(original)
    def send_to_targets(self: Any, event: dict[str, Any], transform_input: bool = True) -> None:
        if self.state != "ENABLED" or not self.event_pattern.matches_event(event):
            return
        delivered = as_delivered(event)
        for target in list(self.targets):
            if is_state_machine(target["Arn"]):
                payload = target_input(target, delivered, self)
                s3_async.run(functools.partial(start_execution, target["Arn"], payload))
            else:  # moto's own delivery, one target at a time so one failure stops no other
                alone = copy.copy(self)
                alone.targets = [target]
                s3_async.run(functools.partial(original, alone, event, transform_input))

    return send_to_targets


# --- S3 hooks -------------------------------------------------------------------------


def _deferred(send_event: Any) -> Any:
    """moto.s3.notifications.send_event, deferred until the S3 request completes."""

    @functools.wraps(send_event)
    def send_event_later(account_id: str, event_name: Any, bucket: Any, key: Any) -> None:
        name = str(getattr(event_name, "value", event_name))
        scope = s3_async.current()
        dedupe = None
        if scope is not None:
            created: set[int] = scope.notes.setdefault("events.created", set())
            if name in CREATED_REASONS:
                created.add(id(key))
                dedupe = ("created", id(key))  # CompleteMultipartUpload replaces moto's earlier Put
            elif name == TAGS_ADDED and id(key) in created:
                return  # tags written with the new version: AWS sends no "Object Tags Added"
        s3_async.defer(functools.partial(send_event, account_id, event_name, bucket, key), key=dedupe)

    return send_event_later


def install() -> None:
    """Patch moto's S3 notifications and EventBridge rules (idempotent)."""
    from moto.events.models import Rule
    from moto.s3 import notifications
    from moto.s3.responses import S3Response

    from qldb_dr.local.aws.patching import first_time, original, replace

    s3_async.install()
    if not first_time("events"):
        return
    replace(notifications, "send_event", _deferred(original(notifications, "send_event")))
    replace(notifications, "_send_event_bridge_message", _send_to_event_bridge)
    replace(Rule, "send_to_targets", _send_to_targets(original(Rule, "send_to_targets")))

    get_bucket_notification = original(S3Response, "get_bucket_notification")

    @functools.wraps(get_bucket_notification)
    def get_bucket_notification_with_event_bridge(self: Any) -> Any:
        response = get_bucket_notification(self)
        configuration = self.backend.get_bucket_notification_configuration(self.bucket_name)
        if configuration is None or configuration.event_bridge is None:
            return response
        status, headers, body = response
        text = body.decode() if isinstance(body, bytes) else str(body)
        closing = "</NotificationConfiguration>"
        if closing in text:
            text = text.replace(closing, f"<EventBridgeConfiguration/>{closing}")
        else:  # moto answered an empty document
            text = (
                '<?xml version="1.0" encoding="UTF-8"?><NotificationConfiguration '
                'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><EventBridgeConfiguration/>'
                "</NotificationConfiguration>"
            )
        headers = {k: v for k, v in headers.items() if k.lower() != "content-length"}
        return status, headers, text

    replace(S3Response, "get_bucket_notification", get_bucket_notification_with_event_bridge)
