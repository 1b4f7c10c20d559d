"""Replay of a recorded exchange, as a station, against the test central system."""

import json
import time
from pathlib import Path

import pytest

from ocppd.chargepoint.replay import read_recording, replay
from tests.chargepoint.central import CentralSystem
from tests.chargepoint.test_simulate_command import simulate

BOOT = [2, "b1", "BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"}]
STATUS = {"connectorId": 1, "errorCode": "NoError", "status": "Available"}


def recording(path: Path) -> Path:
    lines = [
        # A row of a message log export: the frame as text, with its time.
        {"direction": "in", "payload": json.dumps(BOOT), "at": "2026-01-01T10:00:00Z"},
        {"direction": "out", "payload": '[3,"b1",{}]', "at": "2026-01-01T10:00:00.1Z"},
        {"direction": "in", "payload": [2, "h1", "Heartbeat", {}], "at": "2026-01-01T10:00:30Z"},
        # A call of the central system: it is not the station's to send.
        {"direction": "out", "payload": [2, "r1", "Reset", {"type": "Soft"}]},
        # A bare frame; then one the central system must refuse.
        [2, "s1", "StatusNotification", STATUS],
        [2, "s2", "StatusNotification", {"connectorId": 1, "status": "Available"}],
    ]
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n\n")
    return path


def test_reading_keeps_only_the_charge_points_calls(tmp_path: Path) -> None:
    calls, skipped = read_recording(recording(tmp_path / "r.jsonl"))
    assert [(c.unique_id, c.action) for c in calls] == [
        ("b1", "BootNotification"),
        ("h1", "Heartbeat"),
        ("s1", "StatusNotification"),
        ("s2", "StatusNotification"),
    ]
    assert skipped == 2
    assert calls[1].at is not None and calls[2].at is None
    (tmp_path / "bad.jsonl").write_text("[2, \n")
    with pytest.raises(ValueError, match=r"bad\.jsonl:1"):
        read_recording(tmp_path / "bad.jsonl")


async def test_a_recording_is_replayed_with_its_timing_or_faster(tmp_path: Path) -> None:
    calls, _ = read_recording(recording(tmp_path / "r.jsonl"))
    async with CentralSystem() as central:
        started = time.monotonic()
        result = await replay(central.url, "REPLAY", calls, speed=100, answer_timeout=5)
        elapsed = time.monotonic() - started
    assert elapsed >= 0.3  # 30 recorded seconds at speed 100
    assert result.sent == 4
    assert result.answered == {"BootNotification": 1, "Heartbeat": 1, "StatusNotification": 1}
    # The mobilityhouse central system calls a missing field a ProtocolError.
    assert result.errors == {"StatusNotification ProtocolError": 1}
    received = [action for action, _ in central.logs["REPLAY"].received]
    assert received == ["BootNotification", "Heartbeat", "StatusNotification"]


async def test_simulate_replays_a_file(tmp_path: Path) -> None:
    path = recording(tmp_path / "r.jsonl")
    async with CentralSystem() as central:
        code, out, err = await simulate(
            "--url", central.url, "--id", "REPLAY", "--replay", str(path),
            "--replay-speed", "0", "--json",
        )  # fmt: skip
    assert code == 0, err
    summary = json.loads(out)
    assert summary["sent"] == 4 and summary["skipped"] == 2
    assert summary["answered"]["Heartbeat"] == 1


def test_a_page_of_the_message_log_api_is_replayed_oldest_first(tmp_path: Path) -> None:
    def item(frame: list[object], at: str) -> dict[str, object]:
        return {"id": 1, "chargePointId": "CP1", "direction": "in", "frame": frame, "at": at}

    page = {
        "items": [  # the API lists the newest first
            item([2, "h1", "Heartbeat", {}], "2026-01-01T10:00:30Z"),
            item([3, "b1", {"status": "Accepted"}], "2026-01-01T10:00:01Z"),
            item(BOOT, "2026-01-01T10:00:00Z"),
        ],
        "nextCursor": None,
    }
    path = tmp_path / "page.jsonl"
    path.write_text(json.dumps(page) + "\n")
    calls, skipped = read_recording(path)
    assert [c.action for c in calls] == ["BootNotification", "Heartbeat"]
    assert skipped == 1
