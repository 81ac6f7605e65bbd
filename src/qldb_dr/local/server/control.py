"""QLDB control plane (`qldb`, REST JSON): ledgers and their tags.

Journal operations (digests, blocks, revisions, exports) are added by the journal control
plane; Kinesis streaming is answered "not supported".
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Callable
from typing import Any

from qldb_dr.local.ledger.errors import BadRequest, InvalidParameter, ResourceNotFound
from qldb_dr.local.ledger.registry import LedgerDescription, Registry

Handler = Callable[[dict[str, str], dict[str, Any], dict[str, list[str]], str], tuple[int, dict[str, Any]]]


def page_token(offset: int) -> str:
    return f"page-{offset:08d}"  # QLDB's NextToken is at least 4 characters


def page_start(query: dict[str, list[str]]) -> int:
    token = query.get("next_token", [""])[0]
    if not token:
        return 0
    if not token.startswith("page-") or not token[5:].isdigit():
        raise InvalidParameter(f"NextToken {token!r} was not issued by this endpoint")
    return int(token[5:])


class ControlService:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.routes: list[tuple[str, re.Pattern[str], Handler]] = []
        for method, template, handler in [
            ("POST", "/ledgers", self.create_ledger),
            ("GET", "/ledgers", self.list_ledgers),
            ("GET", "/ledgers/{name}", self.describe_ledger),
            ("PATCH", "/ledgers/{name}", self.update_ledger),
            ("PATCH", "/ledgers/{name}/permissions-mode", self.update_permissions_mode),
            ("DELETE", "/ledgers/{name}", self.delete_ledger),
            ("GET", "/tags/{arn}", self.list_tags),
            ("POST", "/tags/{arn}", self.tag_resource),
            ("DELETE", "/tags/{arn}", self.untag_resource),
            ("POST", "/ledgers/{name}/journal-kinesis-streams", self.streams_not_supported),
            ("GET", "/ledgers/{name}/journal-kinesis-streams", self.streams_not_supported),
            ("GET", "/ledgers/{name}/journal-kinesis-streams/{stream}", self.streams_not_supported),
            ("DELETE", "/ledgers/{name}/journal-kinesis-streams/{stream}", self.streams_not_supported),
        ]:
            self.add(method, template, handler)

    def add(self, method: str, template: str, handler: Handler) -> None:
        pattern = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template)
        self.routes.append((method, re.compile(f"^{pattern}$"), handler))

    def handle(
        self, method: str, path: str, query: dict[str, list[str]], body: dict[str, Any], region: str
    ) -> tuple[int, dict[str, Any]]:
        for route_method, pattern, handler in self.routes:
            match = pattern.match(path)
            if match and route_method == method:
                params = {k: urllib.parse.unquote(v) for k, v in match.groupdict().items()}
                return handler(params, body, query, region)
        raise BadRequest(f"{method} {path} is not a QLDB operation this endpoint serves")

    # -- ledgers -------------------------------------------------------------------------------

    @staticmethod
    def _ledger(d: LedgerDescription) -> dict[str, Any]:
        return {
            "Name": d.name,
            "Arn": d.arn,
            "State": d.state,
            "CreationDateTime": d.created.timestamp(),
            "PermissionsMode": d.permissions_mode,
            "DeletionProtection": d.deletion_protection,
        }

    def _encryption(self, d: LedgerDescription) -> dict[str, Any]:
        key = d.kms_key
        arn = key if key.startswith("arn:") else f"arn:aws:kms:{d.region}:123456789012:key/{key}"
        return {"KmsKeyArn": arn, "EncryptionStatus": "ENABLED"}

    def create_ledger(
        self, _: dict[str, str], body: dict[str, Any], __: Any, region: str
    ) -> tuple[int, dict[str, Any]]:
        if "Name" not in body or "PermissionsMode" not in body:
            raise InvalidParameter("CreateLedger needs Name and PermissionsMode")
        d = self.registry.create(
            region,
            body["Name"],
            permissions_mode=body["PermissionsMode"],
            deletion_protection=body.get("DeletionProtection", True),
            kms_key=body.get("KmsKey"),
            tags=body.get("Tags"),
        )
        return 200, {**self._ledger(d), "KmsKeyArn": self._encryption(d)["KmsKeyArn"]}

    def describe_ledger(self, params: dict[str, str], _: Any, __: Any, region: str) -> tuple[int, dict[str, Any]]:
        d = self.registry.describe(region, params["name"])
        return 200, {**self._ledger(d), "EncryptionDescription": self._encryption(d)}

    def list_ledgers(self, _: Any, __: Any, query: dict[str, list[str]], region: str) -> tuple[int, dict[str, Any]]:
        names = self.registry.names(region)
        size = int(query.get("max_results", ["100"])[0])
        start = page_start(query)
        page = names[start : start + size]
        ledgers = []
        for name in page:
            d = self.registry.describe(region, name)
            ledgers.append({"Name": d.name, "State": d.state, "CreationDateTime": d.created.timestamp()})
        result: dict[str, Any] = {"Ledgers": ledgers}
        if start + size < len(names):
            result["NextToken"] = page_token(start + size)
        return 200, result

    def update_ledger(
        self, params: dict[str, str], body: dict[str, Any], _: Any, region: str
    ) -> tuple[int, dict[str, Any]]:
        d = self.registry.update(
            region, params["name"], deletionProtection=body.get("DeletionProtection"), kmsKey=body.get("KmsKey")
        )
        return 200, {**self._ledger(d), "EncryptionDescription": self._encryption(d)}

    def update_permissions_mode(
        self, params: dict[str, str], body: dict[str, Any], _: Any, region: str
    ) -> tuple[int, dict[str, Any]]:
        mode = body.get("PermissionsMode")
        if mode not in ("ALLOW_ALL", "STANDARD"):
            raise InvalidParameter("PermissionsMode must be ALLOW_ALL or STANDARD")
        d = self.registry.update(region, params["name"], permissionsMode=mode)
        return 200, {"Name": d.name, "Arn": d.arn, "PermissionsMode": d.permissions_mode}

    def delete_ledger(self, params: dict[str, str], _: Any, __: Any, region: str) -> tuple[int, dict[str, Any]]:
        self.registry.delete(region, params["name"])
        return 200, {}

    # -- tags ----------------------------------------------------------------------------------

    def _arn(self, arn: str, region: str) -> str:
        match = re.match(r"^arn:aws:qldb:([^:]+):\d{12}:ledger/(.+)$", arn)
        if match is None or match.group(1) != region:
            raise ResourceNotFound(f"{arn} is not a ledger in {region}")
        return match.group(2)

    def list_tags(self, params: dict[str, str], _: Any, __: Any, region: str) -> tuple[int, dict[str, Any]]:
        return 200, {"Tags": self.registry.describe(region, self._arn(params["arn"], region)).tags}

    def tag_resource(
        self, params: dict[str, str], body: dict[str, Any], _: Any, region: str
    ) -> tuple[int, dict[str, Any]]:
        self.registry.tag(region, self._arn(params["arn"], region), dict(body.get("Tags") or {}))
        return 200, {}

    def untag_resource(
        self, params: dict[str, str], _: Any, query: dict[str, list[str]], region: str
    ) -> tuple[int, dict[str, Any]]:
        self.registry.untag(region, self._arn(params["arn"], region), query.get("tagKeys", []))
        return 200, {}

    def streams_not_supported(self, *_: Any) -> tuple[int, dict[str, Any]]:
        raise InvalidParameter(
            "journal streaming to Kinesis is not supported by the local ledger; use ExportJournalToS3"
        )
