"""The operators' audit log over real HTTP: every kind of change recorded with the token's
name and the outcome, no secret in it, admin only, a page at a time; a change whose entry
cannot be written is not made."""

import asyncio
import re
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from litestar.routes import HTTPRoute
from ocpp.v16 import call

from ocppd.api.audit_log import AUDITED
from ocppd.api.tokens import Role
from tests.api.conftest import Api, Silent, charge_point
from tests.api.test_certificate_authority import ec_key, make_csr, third_party, with_ca
from tests.csms.conftest import FixedClock
from tests.eventually import eventually


async def entries(api: Api, **query: Any) -> list[dict[str, Any]]:
    answer = await api.client(Role.ADMIN)("GET", "/audit-log", **query)
    assert answer.status == 200, answer.body
    items: list[dict[str, Any]] = answer.body["items"]
    return items


async def last(api: Api, **query: Any) -> dict[str, Any]:
    found = await entries(api, limit=1, **query)
    assert found, query
    return found[0]


async def test_a_command_accepted_names_the_token_and_the_answer(api: Api) -> None:
    operator = api.client(Role.OPERATOR)
    async with charge_point(api, "CP1") as cp:
        cp.replies["RemoteStartTransaction"] = {"status": "Accepted"}
        body = {"idTag": "TAG1", "connectorId": 1}
        answer = await operator("POST", "/charge-points/CP1/commands/RemoteStartTransaction", body)
        assert answer.status == 200, answer.body
    entry = await last(api)
    tokens = await api.client(Role.ADMIN)("GET", "/tokens")
    operator_id = next(t["id"] for t in tokens.body if t["role"] == "operator")
    assert entry["at"] == "2026-11-25T12:00:00Z"  # the central system's clock
    assert {k: entry[k] for k in ("tokenId", "actor", "role", "method")} == {
        "tokenId": operator_id,
        "actor": "operator",
        "role": "operator",
        "method": "POST",
    }
    assert entry["route"] == "/api/v1/charge-points/{chargePointId}/commands/RemoteStartTransaction"
    assert entry["operation"] == "RemoteStartTransaction"
    assert entry["chargePointId"] == "CP1"
    assert entry["request"] == {"path": {"chargePointId": "CP1"}, "body": body}
    assert (entry["status"], entry["outcome"], entry["result"]) == (200, "succeeded", "Accepted")
    assert entry["response"] == {"status": "Accepted"}


async def test_a_command_in_flight_is_logged_before_it_is_sent(api: Api) -> None:
    """The attempt is written first (its outcome unknown while the charger has not answered),
    its outcome before the answer goes out."""
    operator = api.client(Role.OPERATOR)
    async with charge_point(api, "CP1") as cp:
        cp.replies["Reset"] = Silent()
        sent = asyncio.create_task(
            operator("POST", "/charge-points/CP1/commands/Reset", {"type": "Soft"}, timeout=120)
        )
        await eventually(lambda: ("Reset", {"type": "Soft"}) in cp.received, "Reset sent")
        pending = await last(api)
        assert (pending["operation"], pending["outcome"], pending["status"]) == (
            "Reset",
            "unknown",
            None,
        )
        assert [e["id"] for e in await entries(api, outcome="unknown")] == [pending["id"]]
        await cp.answer("Reset", {"status": "Rejected"})
        assert (await sent).status == 200
    done = await last(api)
    assert (done["id"], done["status"], done["result"]) == (pending["id"], 200, "Rejected")


async def test_a_command_refused_409_is_recorded_as_refused(api: Api) -> None:
    operator = api.client(Role.OPERATOR)
    await api.client(Role.ADMIN)("PUT", "/charge-points/CP2", {})
    answer = await operator(
        "POST", "/charge-points/CP2/commands/Reset", {"type": "Hard"}, force=True
    )
    assert answer.status == 409
    entry = await last(api, chargePointId="CP2")
    assert (entry["actor"], entry["operation"], entry["status"]) == ("operator", "Reset", 409)
    assert entry["outcome"] == "refused"
    assert entry["result"] == "charge point 'CP2' is not connected"
    assert entry["request"]["query"] == {"force": "true"}
    assert entry["response"]["error"] == entry["result"]


async def test_a_token_created_and_revoked_never_shows_its_secret(api: Api) -> None:
    admin = api.client(Role.ADMIN)
    created = await admin("POST", "/tokens", {"role": "viewer", "name": "wallboard"})
    assert created.status == 201
    secret, token_id = created.body["token"], created.body["id"]
    assert (await admin("DELETE", f"/tokens/{token_id}")).status == 204
    revoked, made = await entries(api, limit=2)
    assert (made["operation"], made["actor"], made["status"]) == ("create_token", "admin", 201)
    assert made["request"] == {"body": {"role": "viewer", "name": "wallboard"}}
    assert made["response"] == {"id": token_id}  # the new token's id, never its secret
    assert (revoked["operation"], revoked["status"], revoked["outcome"]) == (
        "revoke_token",
        204,
        "succeeded",
    )
    assert revoked["route"] == "/api/v1/tokens/{tokenId}"
    assert revoked["request"] == {"path": {"tokenId": token_id}}
    whole = await admin("GET", "/audit-log")
    assert secret not in whole.raw.decode()
    async with api.system.engine.connect() as db:
        stored = (await db.execute(sa.text("SELECT * FROM audit_log"))).all()
    assert all(secret not in str(value) for row in stored for value in row)


async def test_an_id_tag_set_and_deleted(api: Api) -> None:
    operator = api.client(Role.OPERATOR)
    assert (await operator("PUT", "/id-tags/ABC", {"status": "Blocked"})).status == 201
    assert (await operator("DELETE", "/id-tags/NOPE")).status == 404
    deleted, put = await entries(api, limit=2)
    assert (put["operation"], put["status"], put["outcome"]) == ("put_id_tag", 201, "succeeded")
    assert put["request"] == {"path": {"idTag": "ABC"}, "body": {"status": "Blocked"}}
    assert put["response"] == {"status": "Blocked"}
    assert (deleted["operation"], deleted["status"]) == ("delete_id_tag", 404)
    assert deleted["result"] == "unknown id tag 'NOPE'"


async def test_a_charge_point_changed_keeps_its_key_out(api: Api) -> None:
    admin = api.client(Role.ADMIN)
    key = "S3cretAuthKey-0123456789"
    put = await admin("PUT", "/charge-points/CP7", {"authorizationKey": key})
    assert put.status == 201
    patched = await admin(
        "PATCH", "/charge-points/CP7", {"registrationStatus": "Rejected", "authorizationKey": key}
    )
    assert patched.status == 200
    changed, registered = await entries(api, chargePointId="CP7")
    assert registered["operation"] == "put_charge_point"
    assert registered["request"]["body"] == {"authorizationKey": "<redacted>"}
    assert changed["operation"] == "patch_charge_point"
    assert changed["request"]["body"] == {
        "registrationStatus": "Rejected",
        "authorizationKey": "<redacted>",
    }
    assert (changed["status"], changed["outcome"]) == (200, "succeeded")
    assert key not in (await admin("GET", "/audit-log")).raw.decode()


async def test_secrets_in_command_payloads_are_redacted(api: Api) -> None:
    operator = api.client(Role.OPERATOR)
    async with charge_point(api, "CP1") as cp:
        cp.replies["ChangeConfiguration"] = {"status": "Accepted"}
        cp.replies["GetDiagnostics"] = {"fileName": "diag.zip"}
        key = "0123456789abcdef0123456789abcdef"
        body = {"key": "AuthorizationKey", "value": key}
        path = "/charge-points/CP1/commands/"
        assert (await operator("POST", path + "ChangeConfiguration", body)).status == 200
        location = "ftp://diag:Pa55word@files.example.com/upload/"
        assert (
            await operator("POST", path + "GetDiagnostics", {"location": location})
        ).status == 200
    diagnostics, configuration = await entries(api, limit=2)
    assert configuration["request"]["body"] == {"key": "AuthorizationKey", "value": "<redacted>"}
    assert configuration["result"] == "Accepted"
    assert diagnostics["request"]["body"] == {
        "location": "ftp://diag:<redacted>@files.example.com/upload/"
    }
    assert diagnostics["response"] == {"fileName": "diag.zip"}
    raw = (await api.client(Role.ADMIN)("GET", "/audit-log")).raw.decode()
    assert key not in raw and "Pa55word" not in raw


async def test_a_role_too_low_is_recorded_and_the_log_is_admin_only(api: Api) -> None:
    for role in (Role.VIEWER, Role.OPERATOR):
        answer = await api.client(role)("GET", "/audit-log")
        assert answer.status == 403, answer.body
    viewer = api.client(Role.VIEWER)
    assert (await viewer("PUT", "/id-tags/ABC", {"status": "Accepted"})).status == 403
    entry = await last(api)
    assert (entry["actor"], entry["role"], entry["operation"]) == ("viewer", "viewer", "put_id_tag")
    assert (entry["status"], entry["outcome"]) == (403, "refused")
    assert entry["result"] == "this needs the operator role; the token is viewer"
    # No token, or one never issued: nobody to name, and not recorded.
    for client in (api.client(None), api.client(token="ocppd_never_issued")):
        assert (await client("PUT", "/id-tags/ABC", {"status": "Accepted"})).status == 401
    assert (await last(api))["id"] == entry["id"]


async def test_pages_and_filters(api: Api, clock: FixedClock) -> None:
    operator, admin = api.client(Role.OPERATOR), api.client(Role.ADMIN)
    start = clock.now
    for n in range(5):
        clock.now = start + timedelta(minutes=n)
        assert (await operator("PUT", f"/id-tags/T{n}", {"status": "Accepted"})).status == 201
    assert (await admin("POST", "/tokens", {"role": "viewer", "name": "x"})).status == 201
    seen: list[int] = []
    cursor = None
    while True:
        page = await admin("GET", "/audit-log", limit=2, cursor=cursor, actor="operator")
        assert page.status == 200
        seen += [item["id"] for item in page.body["items"]]
        cursor = page.body["nextCursor"]
        if cursor is None:
            break
    assert len(seen) == 5 and seen == sorted(seen, reverse=True)
    assert [e["operation"] for e in await entries(api, actor="admin")] == ["create_token"]
    window = await entries(
        api,
        since=(start + timedelta(minutes=1)).isoformat(),
        until=(start + timedelta(minutes=3)).isoformat(),
    )
    assert [e["request"]["path"]["idTag"] for e in window] == ["T2", "T1"]
    assert len(await entries(api, outcome="succeeded")) == 6
    assert await entries(api, outcome="refused") == []
    assert await entries(api, operation="revoke_token") == []
    bad = await admin("GET", "/audit-log", outcome="maybe")
    assert bad.status == 400 and bad.body["field"] == "outcome"


async def test_a_change_whose_entry_cannot_be_written_is_not_made(api: Api) -> None:
    """Fail closed: the audit table gone (a real failure of the database's), the change is
    refused 503 and not carried out."""
    async with api.system.engine.begin() as db:
        await db.execute(sa.text("ALTER TABLE audit_log RENAME TO audit_log_away"))
    operator = api.client(Role.OPERATOR)
    answer = await operator("PUT", "/id-tags/ABC", {"status": "Accepted"})
    assert answer.status == 503
    assert "audit log" in answer.body["error"]
    assert (await operator("GET", "/id-tags/ABC")).status == 404  # not made
    async with api.system.engine.begin() as db:
        await db.execute(sa.text("ALTER TABLE audit_log_away RENAME TO audit_log"))
    assert (await operator("PUT", "/id-tags/ABC", {"status": "Accepted"})).status == 201


async def test_every_mutating_route_is_recorded(api: Api) -> None:
    """Generic: each POST/PUT/PATCH/DELETE route under /api/v1 (those other work adds
    included) records an attempt, here a viewer's, refused 403 (or run, for a route a
    viewer may use)."""
    viewer = api.client(Role.VIEWER)
    tried = 0
    for route in api.app.routes:
        if not isinstance(route, HTTPRoute) or not route.path.startswith("/api/v1/"):
            continue
        for method in sorted(set(route.methods) & AUDITED):
            path = re.sub(r"\{[^}:]+:int\}", "1", route.path)
            path = re.sub(r"\{[^}]+\}", "X1", path).removeprefix("/api/v1")
            answer = await viewer(method, path, raw=b"")
            entry = await last(api)
            assert (entry["method"], entry["actor"], entry["status"]) == (
                method,
                "viewer",
                answer.status,
            ), path
            assert entry["route"] == re.sub(r":[a-z]+\}", "}", route.path)
            tried += 1
    assert tried >= 30


async def test_a_body_that_is_no_json_or_no_utf8_is_recorded_as_such(api: Api) -> None:
    admin = api.client(Role.ADMIN)
    for raw, kept in [
        (b'{"status": "\xff"}', "not UTF-8 (15 bytes)"),
        (b'{"status": ', "not JSON (11 bytes)"),
    ]:
        answer = await admin("PUT", "/id-tags/T1", raw=raw)
        assert answer.status == 400, answer.body
        entry = await last(api)
        assert (entry["operation"], entry["status"]) == ("put_id_tag", 400)
        assert entry["request"]["body"] == kept


async def test_a_certificate_approved_or_rejected_names_its_charge_point(api: Api) -> None:
    """The routes of certificate requests name no charge point in their path: the entry takes
    the one the request is for from the answer, so the charger's entries show who signed its
    certificate."""
    await with_ca(api)
    async with third_party(api) as charger:
        for _ in range(2):  # the second supersedes the first: one to approve, one to reject
            await charger.call(call.SignCertificate(csr=make_csr(ec_key())))
    admin = api.client(Role.ADMIN)
    pending = await admin("GET", "/certificate-requests", status="pending")
    [request] = pending.body["items"]
    assert (await admin("POST", f"/certificate-requests/{request['id']}/approve")).status == 200
    assert (await admin("POST", "/certificate-requests/1/reject", {})).status == 409
    approved = await last(api, operation="approve_certificate_request")
    assert (approved["chargePointId"], approved["outcome"]) == ("CP1", "succeeded")
    refused = await last(api, operation="reject_certificate_request")
    assert (refused["chargePointId"], refused["outcome"]) == (None, "refused")
    assert [e["operation"] for e in await entries(api, chargePointId="CP1")] == [
        "approve_certificate_request"
    ]
