"""The pages' HTML without a browser: structure, filters, forms, charts, and escaping of
everything that a charge point, an operator or a URL controls."""

import re
from collections import Counter
from html import unescape
from html.parser import HTMLParser
from typing import Any

import pytest

from ocppd.web import (
    bulk,
    charge_point,
    commands,
    id_tags,
    jobs,
    message_log,
    overview,
    reservations,
    security_events,
    sites,
    smart_charging,
    transactions,
)
from ocppd.web.layout import STATIC_VERSION, login_page
from ocppd.web.markup import charge_point_href, segment
from ocppd.web.natural_sort import natural_key

HOSTILE = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "'onmouseover='alert(1)",
    "</textarea></pre><svg onload=alert(1)>",
    "a&amp;b",
    "CP/../../api?x=1#y",
]
HARMLESS = "plain"


class Parsed(HTMLParser):
    """Tags, attributes and text as a browser's parser sees them."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def names(self) -> Counter[str]:
        return Counter(tag for tag, _ in self.tags)

    def attributes(self) -> set[str]:
        return {name for _, attrs in self.tags for name in attrs}

    def joined(self) -> str:
        return " ".join("".join(self.text).split())


def assert_inert(html: str, hostile: str, baseline: str) -> Parsed:
    """`html` (rendered with `hostile`) has exactly the elements of `baseline` (the same
    render with a harmless value), no event handler, one script (ours), and `hostile` as text
    or as an attribute value."""
    parsed = Parsed(html)
    assert parsed.names() == Parsed(baseline).names()
    scripts = [attrs for tag, attrs in parsed.tags if tag == "script"]
    assert scripts in ([], [{"src": f"/static/app.js?v={STATIC_VERSION}", "defer": None}])
    assert not {a for a in parsed.attributes() if a.startswith("on")}
    assert hostile in "".join(parsed.text) or any(
        hostile in (v or "") for _, attrs in parsed.tags for v in attrs.values()
    )
    return parsed


def a_charge_point(identity: str, **overrides: Any) -> dict[str, Any]:
    return {
        "chargePointId": identity,
        "registrationStatus": "Accepted",
        "connected": True,
        "connectedAt": "2026-11-25T12:00:00Z",
        "lastHeartbeat": "2026-11-25T12:00:05.123Z",
        "boot": {
            "chargePointVendor": "V",
            "chargePointModel": "M",
            "firmwareVersion": "1.2.3",
            "timestamp": "2026-11-25T12:00:00Z",
        },
        "connectors": [
            {
                "connectorId": 1,
                "status": "Charging",
                "errorCode": "NoError",
                "info": None,
                "timestamp": "2026-11-25T12:00:00Z",
            },
        ],
    } | overrides


def a_transaction(value: str = "7.2", **overrides: Any) -> dict[str, Any]:
    return {
        "transactionId": 7,
        "chargePointId": "CP1",
        "connectorId": 1,
        "idTag": "TAG1",
        "startStatus": "Accepted",
        "meterStart": 1000,
        "startedAt": "2026-11-25T10:00:00Z",
        "reservationId": None,
        "active": True,
        "meterStop": None,
        "stoppedAt": None,
        "reason": None,
        "stopIdTag": None,
        "energyWh": 2000,
        "meterValues": [
            {
                "timestamp": f"2026-11-25T10:{minute:02}:00Z",
                "sampledValue": [
                    {
                        "value": str(1000 + minute * 100),
                        "context": "Sample.Periodic",
                        "format": "Raw",
                        "measurand": "Energy.Active.Import.Register",
                        "location": "Outlet",
                        "unit": "Wh",
                    },
                    {
                        "value": value,
                        "context": "Sample.Periodic",
                        "format": "Raw",
                        "measurand": "Power.Active.Import",
                        "location": "Outlet",
                        "unit": "kW",
                    },
                ],
            }
            for minute in (0, 10, 20)
        ],
    } | overrides


@pytest.mark.parametrize("hostile", HOSTILE)
def test_a_hostile_identity_stays_text_on_the_charge_point_page(hostile: str) -> None:
    html = charge_point.charge_point_page(hostile, hostile, hostile)
    parsed = assert_inert(html, hostile, charge_point.charge_point_page(HARMLESS))
    body = next(attrs for tag, attrs in parsed.tags if tag == "body")
    assert body["data-charge-point-id"] == hostile
    h1 = html.split('<h1 class="cp-id">')[1].split("</h1>")[0]
    assert "<" not in h1
    # Every API path of the page keeps the identity in one segment.
    apis = [attrs["data-api"] or "" for _, attrs in parsed.tags if "data-api" in attrs]
    assert apis and all(a.startswith(charge_point_href(hostile)) for a in apis)


@pytest.mark.parametrize("hostile", HOSTILE)
def test_a_hostile_identity_stays_text_in_the_overview(hostile: str) -> None:
    html = overview.overview_fragment([a_charge_point(hostile)])
    parsed = assert_inert(html, hostile, overview.overview_fragment([a_charge_point(HARMLESS)]))
    links = [attrs["href"] for tag, attrs in parsed.tags if tag == "a"]
    assert links == [charge_point_href(hostile)]
    assert links[0].count("/") == 2 and "?" not in links[0] and "#" not in links[0]


def hostile_charge_point(value: str) -> dict[str, Any]:
    return a_charge_point(
        "CP1",
        registrationStatus=value,
        boot={key: value for key, _ in charge_point.BOOT_FIELDS} | {"timestamp": value},
        connectors=[
            {
                "connectorId": value,
                "status": value,
                "errorCode": value,
                "info": value,
                "timestamp": value,
            }
        ],
        lastHeartbeat=value,
    )


def hostile_messages(value: str) -> list[dict[str, Any]]:
    return [
        {
            "id": 3,
            "direction": "out",
            "messageType": 4,
            "action": value,
            "uniqueId": value,
            "frame": [4, value, "InternalError", value, {value: value}],
            "at": value,
        },
        {
            "id": value,
            "direction": "in",
            "messageType": 2,
            "action": value,
            "uniqueId": value,
            "frame": [2, value, value, {"vendorErrorCode": value, value: [value]}],
            "at": value,
        },
        {
            "id": 2,
            "direction": "in",
            "messageType": None,
            "action": None,
            "frame": value,
            "at": "2026-11-25T12:00:00Z",
        },
    ]


@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_boot_fields_connectors_readings_and_frames_stay_text(hostile: str) -> None:
    def render(value: str) -> str:
        running = a_transaction(value, idTag=value)
        running["meterValues"][0]["sampledValue"][0] |= {"measurand": value, "phase": value}
        return charge_point.charge_point_fragment(
            hostile_charge_point(value), [running]
        ) + message_log.fragment(value, hostile_messages(value), value, {"action": value})

    parsed = assert_inert(render(hostile), hostile, render(HARMLESS))
    classes = {attrs.get("class") for _, attrs in parsed.tags}
    # An unknown status gets the neutral colour, not a class named after it.
    assert "badge s-unknown" in classes
    assert all(hostile not in (c or "") for c in classes)


@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_configuration_stays_text(hostile: str) -> None:
    def render(value: str) -> str:
        found = {
            "configurationKey": [
                {
                    "key": value,
                    "readonly": False,
                    "value": value,
                    "rebootRequired": True,
                    "updatedAt": "2026-11-25T12:00:00Z",
                },
                {
                    "key": "K2",
                    "readonly": True,
                    "value": value,
                    "rebootRequired": False,
                    "updatedAt": value,
                },
            ],
            "unknownKey": [value],
        }
        return charge_point.configuration_fragment(value, found)

    parsed = assert_inert(render(hostile), hostile, render(HARMLESS))
    inputs = [attrs for tag, attrs in parsed.tags if tag == "input"]
    assert {
        "type": "hidden",
        "id": "cfg-0-key",
        "name": "key",
        "data-type": "text",
        "value": hostile,
    } in inputs
    assert any(a.get("name") == "value" and a.get("value") == hostile for a in inputs)


@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_transactions_id_tags_and_reservations_stay_text(hostile: str) -> None:
    def render(value: str) -> str:
        tx = a_transaction(value, chargePointId=value, idTag=value, reason=value)
        tag = {
            "idTag": value,
            "status": value,
            "expiryDate": value,
            "parentIdTag": value,
            "updatedAt": value,
        }
        reservation = {
            "reservationId": 3,
            "chargePointId": value,
            "connectorId": value,
            "idTag": value,
            "expiryDate": value,
            "state": "Active",
            "status": value,
            "transactionId": None,
        }
        return (
            transactions.list_fragment([tx], value, {"idTag": value, "cursor": value})
            + transactions.list_page({"idTag": value, "cursor": value})
            + transactions.detail_fragment(tx)
            + id_tags.fragment([tag], value, {"status": value, "cursor": value})
            + reservations.fragment([reservation], 4, value, {"idTag": value, "cursor": value})
        )

    assert_inert(render(hostile), hostile, render(HARMLESS))

    def tags_page(value: str) -> str:
        return id_tags.page({"status": value, "prefix": value, "cursor": value})

    assert_inert(tags_page(hostile), hostile, tags_page(HARMLESS))


def test_the_transactions_list_pages_through_the_api_cursor_keeping_its_filters() -> None:
    filters = {"idTag": "T 1", "state": "stopped"}
    first = transactions.list_fragment([a_transaction()], "CUR/1", filters)
    assert paging_links(first) == {"Older": "/transactions?idTag=T+1&state=stopped&cursor=CUR%2F1"}
    older = transactions.list_fragment([a_transaction()], None, filters | {"cursor": "C"})
    assert paging_links(older) == {"Newest": "/transactions?idTag=T+1&state=stopped"}
    assert transactions.api_params(filters | {"cursor": "C"})["cursor"] == "C"
    gone = transactions.list_fragment([], None, {"idTag": "x", "cursor": "C"})
    assert paging_links(gone) == {"Newest": "/transactions?idTag=x"}
    assert paging_links(transactions.list_fragment([], None, {"idTag": "x"})) == {}
    page = Parsed(transactions.list_page({"cursor": "C"}))
    hidden = [a for t, a in page.tags if t == "input" and a.get("name") == "cursor"]
    assert [(a["type"], a["value"]) for a in hidden] == [("hidden", "C")]


def test_the_reservations_list_pages_the_same_way() -> None:
    reservation = {"reservationId": 3, "chargePointId": "CP1", "state": "Active"}
    first = reservations.fragment([reservation], 4, "R/9", {"state": "Active"})
    assert paging_links(first) == {"Older": "/reservations?state=Active&cursor=R%2F9"}
    older = reservations.fragment([reservation], 4, None, {"state": "Active", "cursor": "R"})
    assert paging_links(older) == {"Newest": "/reservations?state=Active"}
    assert reservations.api_params({"cursor": "R"})["cursor"] == "R"
    gone = reservations.fragment([], 4, None, {"cursor": "R"})
    assert paging_links(gone) == {"Newest": "/reservations"}
    page = Parsed(reservations.page({"cursor": "R"}))
    hidden = [a for t, a in page.tags if t == "input" and a.get("name") == "cursor"]
    assert [(a["type"], a["value"]) for a in hidden] == [("hidden", "R")]


def test_the_id_tags_list_pages_from_a_keeping_its_status_filter() -> None:
    tag = {"idTag": "T1", "status": "Blocked"}
    first = id_tags.fragment([tag], "t1", {"status": "Blocked"})
    assert paging_links(first) == {"Next": "/id-tags?status=Blocked&cursor=t1"}
    assert "1 shown, from A." in first
    further = id_tags.fragment([tag], None, {"status": "Blocked", "cursor": "t0"})
    assert paging_links(further) == {"First": "/id-tags?status=Blocked"}
    assert "1 shown, further on." in further
    assert id_tags.api_params({"status": "Blocked", "cursor": "t0"}) == {
        "status": "Blocked",
        "cursor": "t0",
        "limit": str(id_tags.LIST_LIMIT),
    }
    assert "status" not in id_tags.api_params({"status": "Bogus"})
    assert id_tags.api_params({"prefix": "Fl"})["prefix"] == "Fl"
    by_prefix = id_tags.fragment([tag], "t1", {"prefix": "T 1"})
    assert paging_links(by_prefix) == {"Next": "/id-tags?prefix=T+1&cursor=t1"}
    gone = id_tags.fragment([], None, {"cursor": "zzz"})
    assert "No id tag matches." in gone and paging_links(gone) == {"First": "/id-tags"}
    assert paging_links(id_tags.fragment([], None, {"status": "Blocked"})) == {}
    page = Parsed(id_tags.page({"status": "Blocked", "cursor": "t0"}))
    hidden = [a for t, a in page.tags if t == "input" and a.get("name") == "cursor"]
    assert [(a["type"], a["value"]) for a in hidden] == [("hidden", "t0")]


def paging_links(fragment: str) -> dict[str, str]:
    """The list's paging links, by their text."""
    found = re.findall(r'<a href="([^"]*)">(Older|Newest|Next|First)</a>', fragment)
    return {text: unescape(href) for href, text in found}


def test_overview_counts_and_colours() -> None:
    cps = [
        a_charge_point("A"),
        a_charge_point(
            "B",
            connected=False,
            connectors=[
                {
                    "connectorId": 1,
                    "status": "Faulted",
                    "errorCode": "GroundFailure",
                    "timestamp": "2026-11-25T12:00:00Z",
                }
            ],
        ),
        a_charge_point("C", connectors=[]),
    ]
    parsed = Parsed(overview.overview_fragment(cps))
    text = parsed.joined()
    # B's last status was Faulted, but it is offline: nobody knows what it does now.
    assert "Charge points3 Connected2 Charging1 Faulted0" in text
    badges = [
        attrs["class"]
        for tag, attrs in parsed.tags
        if tag == "span" and "badge" in (attrs.get("class") or "")
    ]
    assert badges == [
        "badge online",
        "badge s-charging",
        "badge offline",
        "badge s-unknown offline-connector",
        "badge online",
    ]
    assert "1.2.3" in text and "2026-11-25 12:00:05 UTC" in text


def test_an_offline_chargers_connectors_are_unknown_with_the_last_status_as_a_tooltip() -> None:
    charging = a_charge_point("CP1", connected=False)
    for html in (
        overview.overview_fragment([charging]),
        charge_point.charge_point_fragment(charging),
    ):
        parsed = Parsed(html)
        unknown = [a for t, a in parsed.tags if "offline-connector" in (a.get("class") or "")]
        last = "Last known: Charging (since 2026-11-25 12:00:00 UTC)"
        assert [a["title"] for a in unknown] == [last]
        assert "Unknown. " + last in parsed.joined()  # said to screen readers too
        assert "s-charging" not in html
    online = overview.overview_fragment([a_charge_point("CP1")])
    assert "s-charging" in online and "offline-connector" not in online
    never = charge_point.charge_point_fragment(
        a_charge_point("CP1", connected=False, connectors=[{"connectorId": 1}])
    )
    assert 'title="Last known: nothing"' in never


def test_identities_in_natural_order_a_page_at_a_time_keeping_the_filters(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(overview, "LIST_LIMIT", 2)
    names = ["CP1-10", "cp1-2", "CP1-1", "CP2", "CP10", "CP1-2"]
    fleet = [a_charge_point(n) for n in names]

    def rows(html: str) -> list[str]:
        return re.findall(r'<tr data-charge-point-id="([^"]*)"', html)

    first = overview.overview_fragment(fleet, "cp", "connected")
    assert rows(first) == ["CP1-1", "CP1-2"]
    assert paging_links(first) == {"Next": "/?q=cp&state=connected&cursor=CP1-2"}
    assert "2 shown, from A." in first
    assert '<dd id="count-all">6</dd>' in first  # the counts are the whole fleet's
    second = overview.overview_fragment(fleet, "cp", "connected", "CP1-2")
    assert rows(second) == ["cp1-2", "CP1-10"]
    assert paging_links(second) == {
        "First": "/?q=cp&state=connected",
        "Next": "/?q=cp&state=connected&cursor=CP1-10",
    }
    last = overview.overview_fragment(fleet, "cp", "connected", "CP1-10")
    assert rows(last) == ["CP2", "CP10"]
    assert paging_links(last) == {"First": "/?q=cp&state=connected"}
    gone = overview.overview_fragment(fleet, "", "", "CP99")
    assert rows(gone) == [] and paging_links(gone) == {"First": "/"}
    page = Parsed(overview.overview_page("cp", "", "CP1-2"))
    hidden = [a for t, a in page.tags if t == "input" and a.get("name") == "cursor"]
    assert [(a["type"], a["value"]) for a in hidden] == [("hidden", "CP1-2")]


@pytest.mark.parametrize(
    ("query", "state", "shown"),
    [
        ("", "", ["A", "B", "C", "D"]),
        ("", "connected", ["A", "C", "D"]),
        ("", "disconnected", ["B"]),
        ("", "charging", ["A"]),
        ("", "faulted", ["D"]),
        ("b", "", ["B"]),
        ("1.2.3", "", ["A", "B", "C", "D"]),
        ("v m", "connected", ["A", "C", "D"]),
        ("nothing", "", []),
    ],
)
def test_filters(query: str, state: str, shown: list[str]) -> None:
    cps = [
        a_charge_point("A"),
        a_charge_point("B", connected=False, connectors=[{"connectorId": 1, "status": "Faulted"}]),
        a_charge_point("C", connectors=[]),
        a_charge_point("D", connectors=[{"connectorId": 1, "status": "Faulted"}]),
    ]
    parsed = Parsed(overview.overview_fragment(cps, query, state))
    rows = [
        attrs["data-charge-point-id"]
        for tag, attrs in parsed.tags
        if tag == "tr" and "data-charge-point-id" in attrs
    ]
    assert rows == shown
    if not shown:
        assert "No charge point matches the filter." in "".join(parsed.text)


@pytest.mark.parametrize("hostile", HOSTILE)
def test_the_filter_form_keeps_a_hostile_query_as_a_value(hostile: str) -> None:
    parsed = assert_inert(
        overview.overview_page(hostile, hostile), hostile, overview.overview_page(HARMLESS)
    )
    search = next(attrs for tag, attrs in parsed.tags if attrs.get("id") == "filters-q")
    assert search["value"] == hostile
    html = overview.overview_page(hostile, hostile)
    filters = Parsed(html[html.index('<form id="filters"') :].split("</form>")[0])
    selected = [attrs for tag, attrs in filters.tags if tag == "option" and "selected" in attrs]
    assert selected == [{"value": "", "selected": None}]  # an unknown state selects "All"


def every_page() -> list[str]:
    return [
        login_page(),
        overview.overview_page(),
        charge_point.charge_point_page("CP1"),
        transactions.list_page({}),
        transactions.detail_page(7),
        id_tags.page(),
        reservations.page({}),
        smart_charging.page("CP1", {}),
        sites.list_page(),
        sites.page("depot"),
        jobs.page("CP1"),
        jobs.firmware_page(),
    ]


def every_fragment() -> list[str]:
    return [
        charge_point.charge_point_fragment(a_charge_point("CP1"), [a_transaction()]),
        charge_point.configuration_fragment(
            "CP1",
            {
                "configurationKey": [
                    {"key": "A", "readonly": False, "value": "1", "rebootRequired": False},
                    {"key": "B", "readonly": False, "value": "2", "rebootRequired": False},
                ]
            },
        ),
        transactions.detail_fragment(a_transaction()),
        id_tags.fragment(
            [{"idTag": "T1", "status": "Accepted"}, {"idTag": "T2", "status": "Blocked"}]
        ),
        reservations.fragment([{"reservationId": 1, "chargePointId": "CP1", "state": "Active"}], 2),
    ]


def test_every_control_has_a_label_and_ids_are_unique() -> None:
    for html in every_page() + every_fragment():
        parsed = Parsed(html)
        labelled = {attrs["for"] for tag, attrs in parsed.tags if tag == "label"}
        controls = {
            attrs["id"]
            for tag, attrs in parsed.tags
            if tag in ("input", "select", "textarea") and attrs.get("type") != "hidden"
        }
        assert controls <= labelled, controls - labelled
        ids = [attrs["id"] for _, attrs in parsed.tags if "id" in attrs]
        assert len(ids) == len(set(ids)), [i for i in ids if ids.count(i) > 1]


def test_a_form_for_every_command_built_from_its_request_type() -> None:
    parsed = Parsed(charge_point.charge_point_page("CP 1/a"))
    forms = {attrs["id"]: attrs for tag, attrs in parsed.tags if tag == "form"}
    sent = {f.removeprefix("cmd-") for f in forms if f.startswith("cmd-")}
    jobs_ = {"GetDiagnostics", "UpdateFirmware", "GetLog", "SignedUpdateFirmware"}
    assert sent | jobs_ == commands.every_action()
    assert forms["job-diagnostics"]["data-api"] == "/charge-points/CP%201%2Fa/diagnostics"
    assert forms["job-firmware"]["data-api"] == "/charge-points/CP%201%2Fa/firmware-updates"
    assert forms["job-log"]["data-api"] == "/charge-points/CP%201%2Fa/logs"
    signed = forms["job-signed-firmware"]
    assert signed["data-api"] == "/charge-points/CP%201%2Fa/firmware-updates"
    assert forms["cmd-DeleteCertificate"]["data-api"].endswith("/commands/DeleteCertificate")
    assert forms["cmd-Reset"]["data-api"] == "/charge-points/CP%201%2Fa/commands/Reset"
    assert forms["cmd-SendLocalList"]["data-api"] == "/charge-points/CP%201%2Fa/local-list"
    # Operators' forms start hidden; the script shows them when the token's role allows. The
    # security settings are an admin's (the API's PATCH of the charge point).
    security = forms.pop("security-settings")
    assert (security["data-needs"], security["data-method"]) == ("admin", "PATCH")
    assert security["data-api"] == "/charge-points/CP%201%2Fa" and "hidden" in security
    assert all(
        "hidden" in f and f["data-needs"] == "operator" for f in forms.values() if "data-api" in f
    )
    controls = {attrs.get("id"): attrs for _, attrs in parsed.tags}
    assert controls["security-settings-securityProfile"]["data-type"] == "int"
    assert controls["security-settings-securityExtension"]["data-type"] == "json"
    # The request types' constraints, as the API's codec checks them.
    assert controls["cmd-RemoteStartTransaction-idTag"]["maxlength"] == "20"
    assert "required" in controls["cmd-RemoteStartTransaction-idTag"]
    assert "required" not in controls["cmd-RemoteStartTransaction-connectorId"]
    assert controls["cmd-RemoteStartTransaction-connectorId"]["data-type"] == "int"
    assert controls["cmd-ReserveNow-expiryDate"]["data-type"] == "datetime"
    assert controls["cmd-SetChargingProfile-csChargingProfiles"]["data-type"] == "json"
    assert controls["cmd-ChangeConfiguration-key"]["maxlength"] == "50"
    assert controls["cmd-ChangeConfiguration-value"]["maxlength"] == "500"
    assert controls["cmd-GetConfiguration-key"]["data-type"] == "list"
    # The security extension's: a PEM goes as its lines, hash data as JSON, a bool typed.
    assert controls["cmd-InstallCertificate-certificate"]["data-type"] == "pem"
    assert controls["cmd-InstallCertificate-certificate"]["maxlength"] == "5500"
    assert controls["cmd-DeleteCertificate-certificateHashData"]["data-type"] == "json"
    assert controls["job-signed-firmware-signed"] == {
        "type": "hidden",
        "id": "job-signed-firmware-signed",
        "name": "signed",
        "data-type": "json",
        "value": "true",
    }
    assert "required" in controls["job-log-logType"]
    options = [
        attrs["value"]
        for tag, attrs in parsed.tags
        if tag == "option" and parsed.tags.index((tag, attrs)) > 0
    ]
    assert {"Hard", "Soft", "Operative", "Inoperative", "ChargePointMaxProfile"} <= set(options)


def test_the_chart_follows_the_readings() -> None:
    html = transactions.detail_fragment(a_transaction())
    parsed = Parsed(html)
    lines = [attrs["points"] for tag, attrs in parsed.tags if tag == "polyline"]
    assert len(lines) == 2  # power and energy
    power = [tuple(map(float, p.split(","))) for p in (lines[0] or "").split()]
    energy = [tuple(map(float, p.split(","))) for p in (lines[1] or "").split()]
    assert len(power) == len(energy) == 3
    # Evenly spaced in time, left to right; constant power is flat, energy rises.
    xs = [x for x, _ in energy]
    assert xs[0] < xs[1] < xs[2] and abs((xs[1] - xs[0]) - (xs[2] - xs[1])) < 0.2
    assert len({y for _, y in power}) == 1
    assert energy[0][1] > energy[1][1] > energy[2][1]  # SVG y grows downwards
    assert "3 readings from 2026-11-25 10:00:00 to 10:20:00 UTC" in Parsed(html).joined()


def test_power_is_derived_from_energy_when_the_charger_sends_none() -> None:
    tx = a_transaction()
    for group in tx["meterValues"]:
        group["sampledValue"] = group["sampledValue"][:1]
    power, energy = transactions.series(tx["meterValues"], tx["meterStart"])
    assert [round(v, 3) for _, v in energy] == [0.0, 1.0, 2.0]
    # 1 kWh every 10 minutes: 6 kW, at the end of each interval.
    assert [round(v, 3) for _, v in power] == [6.0, 6.0]


def test_unreadable_readings_are_skipped_not_fatal() -> None:
    tx = a_transaction("not a number")
    tx["meterValues"].append({"timestamp": "garbage", "sampledValue": [{"value": "1"}]})
    tx["meterValues"].append({"timestamp": "2026-11-25T10:30:00Z", "sampledValue": []})
    power, energy = transactions.series(tx["meterValues"], tx["meterStart"])
    assert power and len(energy) == 3
    assert "<svg" in transactions.detail_fragment(tx)
    assert "No meter values yet." in transactions.detail_fragment(a_transaction(meterValues=[]))


def a_held_profile(value: Any = 16.0, **overrides: Any) -> dict[str, Any]:
    return {
        "connectorId": 1,
        "transactionId": None,
        "pending": False,
        "installedAt": "2026-11-25T10:00:00Z",
        "chargingProfile": {
            "chargingProfileId": 3,
            "stackLevel": 0,
            "chargingProfilePurpose": "TxDefaultProfile",
            "chargingProfileKind": "Relative",
            "chargingSchedule": {
                "chargingRateUnit": "A",
                "chargingSchedulePeriod": [{"startPeriod": 0, "limit": value}],
            },
        },
    } | overrides


def a_composite(**overrides: Any) -> dict[str, Any]:
    return {
        "chargePointId": "CP1",
        "connectorId": 1,
        "start": "2026-11-25T10:00:00Z",
        "end": "2026-11-25T13:00:00Z",
        "chargingRateUnit": "A",
        "voltage": 230.0,
        "phases": 3,
        "intervals": [
            {
                "start": "2026-11-25T10:00:00Z",
                "end": "2026-11-25T11:00:00Z",
                "limit": 16.0,
                "numberPhases": 3,
            },
            {
                "start": "2026-11-25T11:00:00Z",
                "end": "2026-11-25T12:00:00Z",
                "limit": 8.0,
                "numberPhases": None,
            },
            {
                "start": "2026-11-25T12:00:00Z",
                "end": "2026-11-25T13:00:00Z",
                "limit": None,
                "numberPhases": None,
            },
        ],
    } | overrides


def a_check(matches: bool, value: Any = 6.0) -> dict[str, Any]:
    return {
        "id": 1,
        "checkedAt": "2026-11-25T10:00:00Z",
        "duration": 3600,
        "chargingRateUnit": "A",
        "matches": matches,
        "mismatch": None
        if matches
        else {"at": "2026-11-25T10:30:00Z", "predictedLimit": None, "reportedLimit": value},
    }


@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_smart_charging_stays_text(hostile: str) -> None:
    def render(value: str) -> str:
        held = a_held_profile(value, connectorId=value, installedAt=value)
        held["chargingProfile"]["chargingProfilePurpose"] = value
        composite = a_composite(chargingRateUnit=value, voltage=value)
        composite["intervals"][0]["limit"] = value
        composite["intervals"][1]["start"] = value  # unreadable: left out of the chart
        return (
            smart_charging.profiles_fragment({"items": [held]})
            + smart_charging.composite_fragment(composite, [a_check(False, value)])
            + smart_charging.page(value, {"duration": value, "chargingRateUnit": value})
        )

    assert_inert(render(hostile), hostile, render(HARMLESS))


def test_the_composite_as_steps_with_no_limit_shaded() -> None:
    parsed = Parsed(smart_charging.composite_fragment(a_composite(), []))
    lines = [attrs["points"] or "" for tag, attrs in parsed.tags if tag == "polyline"]
    assert len(lines) == 1  # one run: 16 A then 8 A; the unlimited hour breaks nothing after
    points = [tuple(map(float, p.split(","))) for p in lines[0].split()]
    (x0, y16), (x1, y16b), (x2, y8), (x3, y8b) = points
    assert y16 == y16b and y8 == y8b and y8 > y16  # 8 A lower on the chart than 16 A
    assert x0 < x1 == x2 < x3
    shaded = [attrs for tag, attrs in parsed.tags if tag == "rect"]
    assert len(shaded) == 1 and abs(float(shaded[0]["x"] or 0) - x3) < 0.2
    text = parsed.joined()
    assert "no limit" in text and "8 A" in text and "230.0 V, 3 phases" in text
    assert "has not answered a GetCompositeSchedule" in text


def test_the_window_accepts_only_its_choices() -> None:
    assert smart_charging.window({}) == {
        "connectorId": "",
        "duration": "86400",
        "chargingRateUnit": "A",
    }
    hostile = {"connectorId": "1/../x", "duration": "99999999", "chargingRateUnit": "<b>"}
    assert smart_charging.window(hostile) == smart_charging.window({})
    path, query = smart_charging.api_paths("CP 1/a", {"connectorId": "2", "duration": "3600"})
    assert path == "/charge-points/CP%201%2Fa/connectors/2/composite-schedule"
    assert query == {"duration": "3600", "chargingRateUnit": "A"}
    unchosen, _ = smart_charging.api_paths("CP1", {}, 3)
    assert unchosen == "/charge-points/CP1/connectors/3/composite-schedule"
    chosen, _ = smart_charging.api_paths("CP1", {"connectorId": "0"}, 3)
    assert chosen == "/charge-points/CP1/connectors/0/composite-schedule"


def test_the_composite_defaults_to_the_first_connector_with_profiles() -> None:
    held = [a_held_profile(connectorId=c) for c in (0, 3, 2, 3)]
    assert smart_charging.first_with_profiles({"items": held}) == 2
    only_whole = {"items": [a_held_profile(connectorId=0)]}
    assert smart_charging.first_with_profiles(only_whole) == 0
    assert smart_charging.first_with_profiles({"items": []}) == 0
    default = Parsed(smart_charging.composite_fragment(a_composite(connectorId=2), [], False))
    assert "Connector 2 (the first with profiles)." in default.joined()
    # The page's connector field takes it, so the window stays on it.
    hints = [a for t, a in default.tags if "data-suggest" in a]
    assert hints == [{"hidden": None, "data-suggest": "sc-window-connectorId", "data-value": "2"}]
    whole = smart_charging.composite_fragment(a_composite(connectorId=0), [], False)
    assert "Connector 0 (the whole charger: no connector has profiles of its own)." in whole
    picked = smart_charging.composite_fragment(a_composite(connectorId=2), [])
    assert "Connector 2." in picked and "data-suggest" not in picked


def ticks(html: str) -> list[str]:
    """The labels on a chart's axes."""
    return re.findall(r'<text class="tick"[^>]*>([^<]*)</text>', html)


def axis_units(html: str) -> list[str]:
    """The unit at the head of each chart's value axis."""
    return re.findall(r'<text class="tick unit"[^>]*>([^<]*)</text>', html)


def test_every_amount_has_its_unit_and_one_decimal() -> None:
    held = a_held_profile(11.11111)
    held["chargingProfile"]["chargingSchedule"]["chargingSchedulePeriod"].append(
        {"startPeriod": 900, "limit": 8.0}
    )
    profiles = Parsed(smart_charging.profiles_fragment({"items": [held]}))
    assert "+0 s: 11.1 A+900 s: 8 A" in profiles.joined()  # a line each
    table = next(a for t, a in profiles.tags if t == "table")
    assert table["class"] == "cards words"  # names are not broken inside (app.css)
    power = transactions.detail_fragment(a_transaction())
    assert axis_units(power) == ["kW", "kWh"]
    assert "8" in ticks(power) and "1" in ticks(power)
    assert axis_units(smart_charging.composite_fragment(a_composite(), [])) == ["A"]
    shares = an_allocation(limit=100.0, allocated=99.9)
    shares["transactions"][0]["share"] = 11.1111
    bar = Parsed(sites.allocation_fragment(shares))
    labels = [t for t in bar.text if t.strip()]
    assert "11.1 A" in labels and "11.1111" not in bar.joined()
    assert "Allocated99.9 A" in bar.joined()


def a_site(value: Any = "Depot", **overrides: Any) -> dict[str, Any]:
    return {
        "siteId": "depot",
        "config": {
            "name": value,
            "limit": 32.0,
            "unit": "A",
            "minPerCar": None,
            "maxPerCar": None,
            "voltage": 230.0,
            "phases": 3,
            "timezone": "UTC",
            "schedule": [{"start": "18:00", "limit": 16.0}],
        },
        "chargePoints": ["CP1", "CP2"],
    } | overrides


def an_allocation(**overrides: Any) -> dict[str, Any]:
    def share(tx: int, cp: str, amount: float, state: str) -> dict[str, Any]:
        return {
            "transactionId": tx,
            "chargePointId": cp,
            "connectorId": 1,
            "startedAt": "2026-11-25T10:00:00Z",
            "share": amount,
            "appliedLimitA": amount,
            "draw": amount - 1,
            "state": state,
            "fallback": None,
        }

    return {
        "siteId": "depot",
        "at": "2026-11-25T10:05:00Z",
        "unit": "A",
        "limit": 32.0,
        "allocated": 26.0,
        "drawn": 24.0,
        "transactions": [share(1, "CP1", 16.0, "Charging"), share(2, "CP2", 10.0, "Pending")],
        "withoutDefault": [],
        "failures": [],
    } | overrides


@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_sites_stay_text(hostile: str) -> None:
    def render(value: str) -> str:
        site = a_site(value, siteId=value, chargePoints=[value])
        site["config"]["schedule"] = [{"start": value, "limit": value}]
        allocation = an_allocation(
            unit=value,
            withoutDefault=[value],
            failures=[
                {"at": value, "chargePointId": value, "transactionId": value, "reason": value}
            ],
        )
        allocation["transactions"][0] |= {"chargePointId": value, "state": value, "fallback": value}
        return (
            sites.list_fragment([site])
            + sites.site_fragment(site)
            + sites.allocation_fragment(allocation)
            + sites.page(value)
        )

    assert_inert(render(hostile), hostile, render(HARMLESS))


def test_the_allocation_bar_splits_the_limit() -> None:
    parsed = Parsed(sites.allocation_fragment(an_allocation()))
    rects = {(attrs.get("class") or ""): attrs for tag, attrs in parsed.tags if tag == "rect"}
    whole = float(rects["whole"]["width"] or 0)
    first = float(rects["part p0"]["width"] or 0)
    second = float(rects["part p1"]["width"] or 0)
    assert abs(first / whole - 16 / 32) < 0.01 and abs(second / whole - 10 / 32) < 0.01
    text = parsed.joined()
    assert "26 of 32 A shared" in text and "Pending" in text
    over = Parsed(sites.allocation_fragment(an_allocation(limit=20.0)))
    widths = {
        (a.get("class") or ""): float(a.get("width") or 0) for t, a in over.tags if t == "rect"
    }
    assert widths["whole"] < widths["part p0"] + widths["part p1"]  # over the limit: shown


def a_job(job_id: Any, value: Any = "log.zip", **overrides: Any) -> dict[str, Any]:
    return {
        "jobId": job_id,
        "chargePointId": "CP1",
        "kind": "diagnostics",
        "status": "Uploaded",
        "file": {"name": value, "size": 12, "sha256": "ab", "receivedAt": "2026-11-25T10:00:00Z"},
        "firmwareId": None,
        "createdAt": "2026-11-25T09:59:00Z",
        "updatedAt": "2026-11-25T10:00:00Z",
        "endedAt": "2026-11-25T10:00:00Z",
    } | overrides


def an_image(firmware_id: Any, value: Any = "fw-1.2.bin") -> dict[str, Any]:
    return {
        "firmwareId": firmware_id,
        "name": value,
        "size": 1024,
        "sha256": "cd",
        "uploadedAt": "2026-11-25T10:00:00Z",
    }


@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_jobs_and_images_stay_text(hostile: str) -> None:
    def render(value: str) -> str:
        job = a_job(value, value, status=value, createdAt=value, firmwareId=value)
        return (
            jobs.jobs_fragment("diagnostics", [job])
            + jobs.firmware_fragment([an_image(value, value)])
            + jobs.page(value)
        )

    parsed = assert_inert(render(hostile), hostile, render(HARMLESS))
    downloads = [a["data-download"] for _, a in parsed.tags if "data-download" in a]
    assert downloads == [f"/diagnostics/{segment(hostile)}/file"]  # one path segment


def test_job_statuses_are_coloured_and_the_file_downloads_for_operators() -> None:
    failed = Parsed(jobs.jobs_fragment("diagnostics", [a_job(1, status="UploadFailed", file=None)]))
    assert ("span", {"class": "badge s-faulted"}) in failed.tags
    assert not [a for _, a in failed.tags if "data-download" in a]
    done = Parsed(jobs.jobs_fragment("diagnostics", [a_job(7)]))
    assert ("span", {"class": "badge s-available"}) in done.tags
    holder = next(a for t, a in done.tags if a.get("data-needs") == "operator")
    assert "hidden" in holder
    assert (
        "button",
        {"type": "button", "class": "secondary", "data-download": "/diagnostics/7/file"},
    ) in done.tags
    deleted_file = a_job(7)["file"] | {"deletedAt": "2027-02-23T10:00:00Z"}
    deleted = jobs.jobs_fragment("diagnostics", [a_job(7, file=deleted_file)])
    assert "deleted 2027-02-23T10:00:00Z" in deleted
    assert not [a for _, a in Parsed(deleted).tags if "data-download" in a], "nothing to fetch"


def test_a_downloaded_firmware_job_says_which_transactions_installation_waits_for() -> None:
    waiting = a_job(3, kind="firmware", status="Downloaded", endedAt=None, file=None)
    one = jobs.jobs_fragment("firmware-updates", [waiting | {"waitingForTransactions": [5]}])
    assert (
        '<strong class="waiting">Installation waits for transaction '
        '<a href="/transactions/5">#5</a> to end</strong>'
    ) in one
    two = jobs.jobs_fragment("firmware-updates", [waiting | {"waitingForTransactions": [5, 6]}])
    assert "waits for transactions <a" in two and '<a href="/transactions/6">#6</a>' in two
    none = jobs.jobs_fragment("firmware-updates", [waiting | {"waitingForTransactions": None}])
    assert "waits" not in none


def test_natural_order_compares_digit_runs_as_numbers_of_any_length() -> None:
    names = ["a10", "a9", "A2b", "a02", "a2", "b", "a", "a" + "9" * 5000, "a1" + "0" * 5000]
    assert sorted(names, key=natural_key) == [
        "a",
        "a02",
        "a2",
        "A2b",
        "a9",
        "a10",
        "a" + "9" * 5000,
        "a1" + "0" * 5000,
        "b",
    ]
    hostile = overview.overview_fragment([a_charge_point("CP1")], cursor="CP" + "7" * 100_000)
    assert "No charge point matches the filter." in hostile


def a_frame(
    frame_id: int, direction: str, kind: int, unique_id: str, action: str = "Heartbeat"
) -> dict[str, Any]:
    payloads = {2: [2, unique_id, action, {"n": frame_id}], 3: [3, unique_id, {"n": frame_id}]}
    return {
        "id": frame_id,
        "chargePointId": "CP1",
        "direction": direction,
        "messageType": kind,
        "action": action,
        "uniqueId": unique_id,
        "frame": payloads.get(kind, [4, unique_id, "NotSupported", "no", {}]),
        "at": f"2026-11-25T12:00:{frame_id:02}Z",
    }


def test_a_call_and_its_answer_are_shown_together_with_both_payloads() -> None:
    frames = [  # newest first, as the API lists them
        a_frame(7, "in", 3, "1", "Reset"),  # the answer to the central system's call "1"
        a_frame(6, "out", 3, "1"),  # the answer to the charger's call "1"
        a_frame(5, "in", 2, "9", "MeterValues"),  # not answered yet
        a_frame(4, "out", 2, "1", "Reset"),
        a_frame(3, "in", 2, "1"),  # the charger's "1": the same id, the other caller
        a_frame(2, "out", 4, "5", "DataTransfer"),
        a_frame(1, "in", 2, "5", "DataTransfer"),
        a_frame(0, "in", 3, "0", "Reset"),  # its call is on an older page
    ]
    shown = message_log.exchanges(frames)
    assert [[f["id"] for f in e.frames] for e in shown] == [[5], [4, 7], [3, 6], [1, 2], [0]]
    html = message_log.fragment("CP1", frames, None, {})
    parsed = Parsed(html)
    items = [a for t, a in parsed.tags if t == "li"]
    assert [a["data-unique-id"] for a in items] == ["9", "1", "1", "5", "0"]
    text = parsed.joined()
    assert "No answer (yet)." in text and "Its call is not shown." in text
    assert "CALLERROR NotSupported" in text and '"errorCode": "NotSupported"' in text
    # Payloads in view, no click needed: no <details> around them.
    assert html.count("<pre>") == len(frames) and "<details" not in html
    assert '"n": 4' in text and '"n": 7' in text
    assert message_log.calls_wanted(frames) == {("central system", "0")}
    older = [
        a_frame(-1, "out", 3, "3"),
        a_frame(-2, "out", 2, "0", "Reset"),
        a_frame(-3, "in", 2, "4"),
    ]
    assert message_log.reach(older, {("central system", "0")}) == 2
    assert message_log.reach(older, {("charger", "0")}) == 0


def test_the_message_log_pages_to_older_frames_keeping_its_filters() -> None:
    frames = [a_frame(2, "in", 2, "2"), a_frame(1, "in", 2, "1")]
    query = {"action": "Heartbeat", "direction": "in"}
    first = message_log.fragment("CP 1", frames, "C/1", query)
    assert paging_links(first) == {
        "Older": "/charge-points/CP%201?action=Heartbeat&direction=in&cursor=C%2F1"
    }
    older = message_log.fragment("CP 1", frames, None, query | {"cursor": "C"})
    assert paging_links(older) == {"Newest": "/charge-points/CP%201?action=Heartbeat&direction=in"}
    gone = message_log.fragment("CP 1", [], None, {"cursor": "C"})
    assert "No messages match." in gone and paging_links(gone) == {
        "Newest": "/charge-points/CP%201"
    }
    page = Parsed(charge_point.charge_point_page("CP 1", "Heartbeat", "in", "C"))
    hidden = [a for t, a in page.tags if t == "input" and a.get("name") == "cursor"]
    assert [(a["type"], a["value"]) for a in hidden] == [("hidden", "C")]


def test_the_limit_in_force_is_drawn_over_the_power_curve() -> None:
    running = a_transaction()  # readings at 10:00, 10:10, 10:20; 7.2 kW
    path, query = transactions.limits_query(running) or ("", {})
    assert path == "/charge-points/CP1/connectors/1/composite-schedule"
    assert query == {
        "start": "2026-11-25T10:00:00+00:00",
        "duration": "1201",
        "chargingRateUnit": "W",
    }
    assert transactions.limits_query(a_transaction(active=False)) is None
    assert transactions.limits_query(a_transaction(meterValues=[])) is None
    composite = a_composite(chargingRateUnit="W")
    composite["intervals"][0] |= {"start": "2026-11-25T09:00:00Z", "end": "2026-11-25T10:05:00Z"}
    composite["intervals"][0]["limit"] = 11000.0
    composite["intervals"][1] |= {"start": "2026-11-25T10:05:00Z", "end": "2026-11-25T10:15:00Z"}
    composite["intervals"][1]["limit"] = 3700.0
    composite["intervals"][2] |= {"start": "2026-11-25T10:15:00Z", "end": "2026-11-25T11:00:00Z"}
    html = transactions.detail_fragment(running, composite)
    parsed = Parsed(html)
    lines = [a["points"] or "" for t, a in parsed.tags if a.get("class") == "limit-line"]
    assert len(lines) == 1  # 11 kW then 3.7 kW; nothing where no limit holds
    points = [tuple(map(float, p.split(","))) for p in lines[0].split()]
    (x0, y11), (x1, _), (x2, y37), (x3, _) = points
    power = next(a["points"] or "" for t, a in parsed.tags if a.get("class") == "series power")
    xs = [float(p.split(",")[0]) for p in power.split()]
    # Clipped to the readings' time: from the first reading, up to 10:15 (3/4 of the way).
    assert x0 == xs[0] and x1 == x2 and abs((x3 - xs[0]) / (xs[-1] - xs[0]) - 0.75) < 0.01
    y72 = float(power.split()[0].split(",")[1])
    assert y11 < y72 < y37  # 11 kW above the 7.2 kW curve, 3.7 kW below it
    assert "limit in force (dashed): 3.7 kW, 11 kW" in parsed.joined()
    assert "limit-line" not in transactions.detail_fragment(running)
    amps = transactions.detail_fragment(running, a_composite())  # not W: not drawn
    assert "limit-line" not in amps
    stopped = transactions.detail_fragment(a_transaction(active=False))
    assert "The limit in force is drawn while a transaction runs" in stopped


def test_one_command_to_the_ticked_charge_points_for_operators() -> None:
    page = Parsed(overview.overview_page())
    fieldsets = {a["data-action"]: a for t, a in page.tags if t == "fieldset"}
    # Every command a charge point's page sends to one charger's route, jobs aside.
    assert set(fieldsets) == commands.every_action() - set(commands.JOBS)
    assert fieldsets["Reset"]["data-path"] == "/commands/Reset"
    assert fieldsets["SendLocalList"]["data-path"] == "/local-list"
    shown = [name for name, a in fieldsets.items() if "disabled" not in a]
    assert shown == [bulk.FIRST]  # the others wait for the script to show them
    needs = [a for t, a in page.tags if a.get("class") == "card bulk"]
    assert needs == [{"class": "card bulk", "data-needs": "operator", "hidden": None}]
    ids = {a.get("id") for t, a in page.tags}
    assert {"bulk-Reset-type", "bulk-TriggerMessage-requestedMessage", "bulk-results"} <= ids
    html = overview.overview_fragment([a_charge_point("CP2"), a_charge_point("CP10 a")])
    ticks = [a for t, a in Parsed(html).tags if t == "input"]
    assert [a.get("value") for a in ticks] == [None, "CP2", "CP10 a"]  # select all, then each
    assert ticks[0] == {
        "type": "checkbox",
        "data-select-all": None,
        "aria-label": "Select all shown",
    }
    cells = [a for t, a in Parsed(html).tags if a.get("data-needs") == "operator"]
    assert len(cells) == 3 and all("hidden" in a for a in cells)  # shown by the role


def test_the_cursor_after_the_frames_a_page_reached_into() -> None:
    older = {"items": [{"id": 9}, {"id": 8}, {"id": 7}], "nextCursor": "7"}
    assert message_log.cursor_after(older, 2) == "8"  # frame 7 is on the next page
    assert message_log.cursor_after(older, 3) == "7"
    assert message_log.cursor_after({"items": [{"id": 9}], "nextCursor": None}, 1) is None


def test_security_upgrade_steps_are_badges_a_failure_stands_out_names_stay_whole() -> None:
    upgrade = {
        "profile": 3,
        "previous": 1,
        "status": "failed",
        "startedAt": "2026-11-25T10:00:00Z",
        "endedAt": "2026-11-25T10:00:01Z",
        "steps": [
            {"name": "InstallRootCertificate", "status": "done", "at": "2026-11-25T10:00:00Z"},
            {"name": "SignChargePointCertificate", "status": "failed", "detail": "<b>x</b>"},
            {"name": "ChangeSecurityProfile", "status": "skipped"},
            {"name": "ReconnectOnNewProfile", "status": "<script>"},
        ],
    }
    parsed = Parsed(charge_point.security_upgrade_fragment(upgrade))
    badges = [a["class"] for t, a in parsed.tags if "badge" in (a.get("class") or "")]
    assert badges == [
        "badge s-faulted",  # the upgrade
        "badge s-available",
        "badge s-faulted",
        "badge s-unknown",
        "badge s-unknown",  # not one of ours: grey, shown as text
    ]
    assert "cards words" in [a.get("class") for t, a in parsed.tags if t == "table"]
    assert "<script>" in parsed.joined() and "<b>x</b>" in parsed.joined()
    running = upgrade | {"status": "running", "endedAt": None}
    shown = Parsed(charge_point.security_upgrade_fragment(running)).joined()
    assert "never" not in shown, "a running upgrade or a waiting step has not ended *yet*"


def test_no_installed_certificate_does_not_claim_the_charger_was_never_asked() -> None:
    shown = Parsed(security_events.certificates_table([])).joined()
    assert "None reported" in shown and "answered NotFound" in shown


def test_a_charts_readings_are_shown_to_two_decimals() -> None:
    """A power reading of 11,111.1 W is 11.11 kW in the chart's caption, not 11.1111 (the
    table of readings shows each value as the charger sent it)."""
    caption = Parsed(transactions.detail_fragment(a_transaction("11.1111"))).joined()
    assert "11.11 to 11.11 kW" in caption and "11.1111 to" not in caption
