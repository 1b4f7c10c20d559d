"""The pages' HTML without a browser: structure, filters, and escaping of everything that a
charge point, an operator or a URL controls."""

from html.parser import HTMLParser
from typing import Any

import pytest

from ocppd.web import pages

HOSTILE = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "'onmouseover='alert(1)",
    "</textarea></pre><svg onload=alert(1)>",
    "a&amp;b",
    "CP/../../api?x=1#y",
]


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

    def names(self) -> set[str]:
        return {tag for tag, _ in self.tags}

    def attributes(self) -> set[str]:
        return {name for _, attrs in self.tags for name in attrs}


def assert_inert(html: str, hostile: str) -> Parsed:
    parsed = Parsed(html)
    assert not {"img", "svg", "textarea", "iframe"} & parsed.names()
    assert [attrs for tag, attrs in parsed.tags if tag == "script"] == [
        {"src": f"/static/app.js?v={pages.STATIC_VERSION}", "defer": None}
    ] or "script" not in parsed.names()
    assert not {a for a in parsed.attributes() if a.startswith("on")}
    assert hostile in "".join(parsed.text) or any(
        hostile in (v or "") for _, attrs in parsed.tags for v in attrs.values()
    )
    return parsed


def charge_point(identity: str, **overrides: Any) -> dict[str, Any]:
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


@pytest.mark.parametrize("hostile", HOSTILE)
def test_a_hostile_identity_stays_text_on_the_charge_point_page(hostile: str) -> None:
    html = pages.charge_point_page(hostile)
    parsed = assert_inert(html, hostile)
    body = next(attrs for tag, attrs in parsed.tags if tag == "body")
    assert body["data-charge-point-id"] == hostile
    h1 = html.split('<h1 class="cp-id">')[1].split("</h1>")[0]
    assert "<" not in h1


@pytest.mark.parametrize("hostile", HOSTILE)
def test_a_hostile_identity_stays_text_in_the_overview(hostile: str) -> None:
    html = pages.overview_fragment([charge_point(hostile)])
    parsed = assert_inert(html, hostile)
    links = [attrs["href"] for tag, attrs in parsed.tags if tag == "a"]
    # One path segment, whatever the identity holds.
    assert links == [pages.charge_point_href(hostile)]
    assert links[0].count("/") == 2 and "?" not in links[0] and "#" not in links[0]


@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_boot_fields_connectors_and_frames_stay_text(hostile: str) -> None:
    cp = charge_point(
        "CP1",
        registrationStatus=hostile,
        boot={key: hostile for key, _ in pages.BOOT_FIELDS} | {"timestamp": hostile},
        connectors=[
            {
                "connectorId": hostile,
                "status": hostile,
                "errorCode": hostile,
                "info": hostile,
                "timestamp": hostile,
            }
        ],
        lastHeartbeat=hostile,
    )
    messages = [
        {
            "id": hostile,
            "direction": "in",
            "messageType": 2,
            "action": hostile,
            "frame": [2, hostile, hostile, {"vendorErrorCode": hostile, hostile: [hostile]}],
            "at": hostile,
        },
        {
            "id": 2,
            "direction": "in",
            "messageType": None,
            "action": None,
            "frame": hostile,
            "at": "2026-11-25T12:00:00Z",
        },
    ]
    html = pages.charge_point_fragment(cp, messages)
    parsed = assert_inert(html, hostile)
    # An unknown status gets the neutral colour, not a class named after it.
    classes = {attrs.get("class") for _, attrs in parsed.tags}
    assert "badge s-unknown" in classes
    assert all(hostile not in (c or "") for c in classes)


def test_overview_counts_and_colours() -> None:
    cps = [
        charge_point("A"),
        charge_point(
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
        charge_point("C", connectors=[]),
    ]
    parsed = Parsed(pages.overview_fragment(cps))
    text = " ".join("".join(parsed.text).split())
    assert "Charge points3 Connected2 Charging1 Faulted1" in text
    badges = [
        attrs["class"]
        for tag, attrs in parsed.tags
        if tag == "span" and "badge" in (attrs.get("class") or "")
    ]
    assert badges == [
        "badge online",
        "badge s-charging",
        "badge offline",
        "badge s-faulted",
        "badge online",
    ]
    assert "1.2.3" in text and "2026-11-25 12:00:05 UTC" in text


@pytest.mark.parametrize(
    ("query", "state", "shown"),
    [
        ("", "", ["A", "B", "C"]),
        ("", "connected", ["A", "C"]),
        ("", "disconnected", ["B"]),
        ("", "charging", ["A"]),
        ("", "faulted", ["B"]),
        ("b", "", ["B"]),
        ("1.2.3", "", ["A", "B", "C"]),
        ("v m", "connected", ["A", "C"]),
        ("nothing", "", []),
    ],
)
def test_filters(query: str, state: str, shown: list[str]) -> None:
    cps = [
        charge_point("A"),
        charge_point("B", connected=False, connectors=[{"connectorId": 1, "status": "Faulted"}]),
        charge_point("C", connectors=[]),
    ]
    parsed = Parsed(pages.overview_fragment(cps, query, state))
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
    parsed = assert_inert(pages.overview_page(hostile, hostile), hostile)
    search = next(attrs for tag, attrs in parsed.tags if attrs.get("id") == "q")
    assert search["value"] == hostile
    selected = [attrs for tag, attrs in parsed.tags if tag == "option" and "selected" in attrs]
    assert selected == []  # an unknown state selects nothing


def test_every_control_has_a_label() -> None:
    for html in (pages.login_page(), pages.overview_page(), pages.charge_point_page("CP1")):
        parsed = Parsed(html)
        labelled = {attrs["for"] for tag, attrs in parsed.tags if tag == "label"}
        controls = {
            attrs["id"] for tag, attrs in parsed.tags if tag in ("input", "select", "textarea")
        }
        assert controls <= labelled, controls - labelled
        ids = [attrs["id"] for _, attrs in parsed.tags if "id" in attrs]
        assert len(ids) == len(set(ids)), "duplicate ids"


def test_the_command_forms() -> None:
    parsed = Parsed(pages.charge_point_page("CP1"))
    commands = [attrs["data-command"] for tag, attrs in parsed.tags if tag == "form"]
    assert commands == [
        "Reset",
        "UnlockConnector",
        "RemoteStartTransaction",
        "RemoteStopTransaction",
        "ChangeAvailability",
        "TriggerMessage",
    ]
