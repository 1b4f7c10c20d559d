"""Id tags through the API, and what a charge point's Authorize then gets."""

from ocppd.api.tokens import Role
from tests.api.conftest import Api, charge_point


async def test_create_block_and_delete_as_a_charge_point_sees_it(api: Api) -> None:
    operator = api.client(Role.OPERATOR)
    async with charge_point(api) as cp:

        async def authorize(tag: str) -> dict[str, object]:
            answer = await cp.ask("Authorize", {"idTag": tag})
            info: dict[str, object] = answer["idTagInfo"]
            return info

        assert (await authorize("tag-1"))["status"] == "Invalid"
        created = await operator(
            "PUT",
            "/id-tags/TAG-1",
            {
                "status": "Accepted",
                "expiryDate": "2027-01-01T00:00:00+01:00",
                "parentIdTag": "FLEET",
            },
        )
        assert created.status == 201
        assert created.body == {
            "idTag": "TAG-1",
            "status": "Accepted",
            "expiryDate": "2026-12-31T23:00:00Z",
            "parentIdTag": "FLEET",
            "updatedAt": "2026-11-25T12:00:00Z",
        }
        assert await authorize("tag-1") == {
            "status": "Accepted",
            "expiryDate": "2026-12-31T23:00:00Z",
            "parentIdTag": "FLEET",
        }
        blocked = await operator("PUT", "/id-tags/tag-1", {"status": "Blocked"})
        assert blocked.status == 200 and blocked.body["idTag"] == "tag-1"
        assert await authorize("TAG-1") == {"status": "Blocked"}
        expired = await operator(
            "PUT", "/id-tags/tag-1", {"status": "Accepted", "expiryDate": "2026-11-25T11:00:00Z"}
        )
        assert expired.status == 200
        assert (await authorize("TAG-1"))["status"] == "Expired"
        assert (await operator("GET", "/id-tags/Tag-1")).body["status"] == "Accepted"
        assert (await operator("DELETE", "/id-tags/TAG-1")).status == 204
        assert (await authorize("tag-1"))["status"] == "Invalid"
    assert (await operator("GET", "/id-tags/tag-1")).status == 404
    assert (await operator("DELETE", "/id-tags/tag-1")).status == 404


async def test_bad_id_tag_bodies_are_400(api: Api) -> None:
    operator = api.client(Role.OPERATOR)
    for body in [
        {"status": "ConcurrentTx"},
        {"status": "Accepted", "expiryDate": "2027-01-01T00:00:00"},
        {"status": "Accepted", "parentIdTag": "P" * 21},
        {"status": "Accepted", "extra": True},
        {},
    ]:
        answer = await operator("PUT", "/id-tags/T1", body)
        assert answer.status == 400, (body, answer.body)
    assert (await operator("PUT", "/id-tags/" + "T" * 21, {"status": "Accepted"})).status == 400


async def test_list_filters_by_status_and_pages(api: Api) -> None:
    operator = api.client(Role.OPERATOR)
    for n in range(5):
        await operator("PUT", f"/id-tags/T{n}", {"status": "Blocked" if n % 2 else "Accepted"})
    blocked = (await operator("GET", "/id-tags", status="Blocked")).body
    assert [t["idTag"] for t in blocked["items"]] == ["T1", "T3"]
    first = (await operator("GET", "/id-tags", limit=2)).body
    rest = (await operator("GET", "/id-tags", limit=10, cursor=first["nextCursor"])).body
    assert [t["idTag"] for t in first["items"] + rest["items"]] == [f"T{n}" for n in range(5)]
    assert rest["nextCursor"] is None


async def test_list_by_prefix_in_any_case(api: Api) -> None:
    operator = api.client(Role.OPERATOR)
    for tag in ("FLEET-1", "fleet-2", "FLEETING", "OTHER", "50%_OFF", "50X"):
        await operator("PUT", f"/id-tags/{tag}", {"status": "Accepted"})

    async def listed(**query: object) -> list[str]:
        page = (await operator("GET", "/id-tags", **query)).body
        return [t["idTag"] for t in page["items"]]

    assert await listed(prefix="Fleet-") == ["FLEET-1", "fleet-2"]
    assert await listed(prefix="fleet") == ["FLEET-1", "fleet-2", "FLEETING"]
    assert await listed(prefix="50%_") == ["50%_OFF"], "% and _ are characters, not patterns"
    assert await listed(prefix="nothing") == []
    first = (await operator("GET", "/id-tags", prefix="FLEET", limit=2)).body
    rest = await listed(prefix="FLEET", cursor=first["nextCursor"])
    assert rest == ["FLEETING"]
    too_long = await operator("GET", "/id-tags", prefix="X" * 21)
    assert too_long.status == 400
