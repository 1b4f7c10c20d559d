"""Commands from any node (issue 18, behaviour 2): real `ocppd serve` processes on one
PostgreSQL and one Redis; the request travels to the node holding the charger."""

import pytest

from tests.cluster_nodes import CallError, Cluster, Silent, charger

pytestmark = pytest.mark.slow


async def test_a_command_through_another_node_is_answered_by_the_charger(
    cluster: Cluster,
) -> None:
    a, b = cluster.start("A"), cluster.start("B")
    async with charger(a, "CP1") as cp:
        cp.replies["Reset"] = {"status": "Accepted"}
        answer = await b.api("POST", "/charge-points/CP1/commands/Reset", {"type": "Soft"})
        assert (answer.status, answer.body) == (200, {"status": "Accepted"})
        assert cp.received == [("Reset", {"type": "Soft"})]
        cp.replies["Reset"] = {"status": "Rejected"}
        again = await a.api("POST", "/charge-points/CP1/commands/Reset", {"type": "Hard"})
        assert (again.status, again.body) == (200, {"status": "Rejected"})
    gone = await b.api("POST", "/charge-points/CP1/commands/Reset", {"type": "Soft"})
    assert gone.status == 409, gone.body
    unknown = await b.api("POST", "/charge-points/NOPE/commands/Reset", {"type": "Soft"})
    assert unknown.status == 404, unknown.body


async def test_every_failure_has_the_same_status_through_another_node(cluster: Cluster) -> None:
    """What the holder's call raised is raised again on the asking node: the API answers
    as for a charger connected to it (api/sending.py)."""
    a, b = cluster.start("A"), cluster.start("B")
    async with charger(a, "CP1") as cp:
        cp.replies["Reset"] = CallError("NotSupported", "no resets here", {"why": "test"})
        answer = await b.api("POST", "/charge-points/CP1/commands/Reset", {"type": "Soft"})
        assert answer.status == 502, answer.body
        assert answer.body["code"] == "NotSupported"
        assert answer.body["description"] == "no resets here"
        assert answer.body["details"] == {"why": "test"}

        cp.replies["Reset"] = {"status": "Maybe"}
        answer = await b.api("POST", "/charge-points/CP1/commands/Reset", {"type": "Soft"})
        assert answer.status == 502, answer.body
        assert answer.body["field"] == "$.status" and answer.body["code"]

        cp.replies["Reset"] = Silent()
        answer = await b.api(
            "POST", "/charge-points/CP1/commands/Reset", {"type": "Soft"}, timeout=1
        )
        assert answer.status == 504, answer.body

        reserve = {
            "connectorId": 1,
            "expiryDate": "2030-01-01T00:00:00Z",
            "idTag": "TAG1",
            "reservationId": 2**63,
        }
        answer = await b.api("POST", "/charge-points/CP1/commands/ReserveNow", reserve)
        assert answer.status == 400 and "not sent" in answer.body["error"], answer.body
        assert [action for action, _ in cp.received].count("ReserveNow") == 0

        await a.api("PATCH", "/charge-points/CP1", {"registrationStatus": "Rejected"})
        boot = await cp.ask("BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"})
        assert boot["status"] == "Rejected"
        cp.replies["Reset"] = {"status": "Accepted"}
        answer = await b.api("POST", "/charge-points/CP1/commands/Reset", {"type": "Soft"})
        assert answer.status == 409 and "Rejected" in answer.body["error"], answer.body
        forced = await b.api(
            "POST", "/charge-points/CP1/commands/Reset", {"type": "Soft"}, force="true"
        )
        assert (forced.status, forced.body) == (200, {"status": "Accepted"})


async def test_the_security_gate_holds_through_another_node(cluster: Cluster) -> None:
    """The charger's security settings, changed on one node, gate the commands another node
    sends through the node holding it (issue 19): the same 409 and reason."""
    a, b = cluster.start("A"), cluster.start("B")
    async with charger(a, "CP1") as cp:
        cp.replies["GetInstalledCertificateIds"] = {"status": "NotFound"}
        cp.replies["ChangeConfiguration"] = {"status": "Accepted"}
        body = {"certificateType": "CentralSystemRootCertificate"}
        path = "/charge-points/CP1/commands/GetInstalledCertificateIds"
        refused = await b.api("POST", path, body)
        assert refused.status == 409, refused.body
        assert "securityExtension is false" in refused.body["error"]
        changed = await b.api(
            "PATCH", "/charge-points/CP1", {"securityExtension": True, "securityProfile": 2}
        )
        assert changed.status == 200, changed.body
        sent = await b.api("POST", path, body)
        assert (sent.status, sent.body) == (200, {"status": "NotFound"})
        change = "/charge-points/CP1/commands/ChangeConfiguration"
        lower = await b.api("POST", change, {"key": "SecurityProfile", "value": "1"})
        assert lower.status == 409 and "downgrade" in lower.body["error"], lower.body
        higher = await b.api("POST", change, {"key": "SecurityProfile", "value": "3"})
        assert (higher.status, higher.body) == (200, {"status": "Accepted"})
        assert [action for action, _ in cp.received] == [
            "GetInstalledCertificateIds",
            "ChangeConfiguration",
        ]
