"""Per-message cost of ocppd's protocol layer next to the mobilityhouse `ocpp` package (2.1.0).

For the same frames, in the same process, with warm caches:

- receive: text -> validated payload. ocppd: `parse_frame` and the action's codec `decode`
  (typed, snake_case objects). Peer: `ocpp.messages.unpack` and its schema validation
  (`_validate_payload`: the work of `validate_payload` without the thread-pool hop its default
  `ASYNC_VALIDATION` adds, and without the camelCase -> snake_case copy made before a handler).
- send: typed payload -> validated frame text. ocppd: the codec's `encode` (which validates)
  and `encode_call` / `encode_result`. Peer: what `ChargePoint.call` and `route_message` do:
  dataclass -> camelCase dict, `Call` / `CallResult`, validation, `to_json()`.
- errors: an invalid frame until the error is raised (ocppd: `OCPPError`, i.e. `PayloadError`
  or `FrameError`; peer: its `OCPPError` subclasses), and one invalid payload on send.

Every operation is checked once before it is timed: both sides must produce the same JSON, and
both must refuse every invalid frame. Times are per operation, timeit-style (gc off), the
median and the best of the repeats, ocppd's and the peer's repeats interleaved; ratios are
peer / ocppd, from the medians.

    .venv/bin/python bench/protocol.py           # full run (make bench)
    .venv/bin/python bench/protocol.py --quick   # smoke run, tiny repeat counts
"""

import argparse
import asyncio
import importlib.metadata
import json
import os
import platform
import statistics
import sys
import timeit
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import ocpp.exceptions
import ocpp.messages
from ocpp.charge_point import remove_nones, serialize_as_dict, snake_to_camel_case
from ocpp.v16 import call as peer_call
from ocpp.v16 import call_result as peer_result
from ocpp.v16 import datatypes as pdt
from ocpp.v16 import enums as pe

from ocppd.protocol import CORE, OCPPError, parse_frame, spec_for_request
from ocppd.protocol.frames import Call, CallResult, encode_call, encode_result
from ocppd.protocol.messages import BootNotificationRequest

TARGET_RATIO = 100.0
TIMESTAMP = "2024-05-01T10:00:00Z"


def frame(*items: Any) -> str:
    return json.dumps(list(items), separators=(",", ":"))


# The frames. Requests are CALLs; the `.conf` rows are the CALLRESULTs answering them.

BOOT = {
    "chargePointVendor": "VendorX",
    "chargePointModel": "SingleSocketCharger",
    "chargePointSerialNumber": "CP-000123",
    "firmwareVersion": "1.8.2",
    "meterType": "ACME 3P",
}
METER_VALUES = {
    "connectorId": 1,
    "transactionId": 42,
    "meterValue": [
        {
            "timestamp": TIMESTAMP,
            "sampledValue": [
                {
                    "value": "1234.5",
                    "context": "Sample.Periodic",
                    "measurand": "Energy.Active.Import.Register",
                    "unit": "kWh",
                },
                {"value": "16.1", "measurand": "Current.Import", "phase": "L1", "unit": "A"},
                {"value": "230.2", "measurand": "Voltage", "phase": "L1-N", "unit": "V"},
                {
                    "value": "3.7",
                    "measurand": "Power.Active.Import",
                    "location": "Outlet",
                    "unit": "kW",
                },
            ],
        }
    ],
}
START = {"connectorId": 1, "idTag": "04A2B3C4D5E6F7", "meterStart": 1234500, "timestamp": TIMESTAMP}
PROFILE = {
    "connectorId": 1,
    "csChargingProfiles": {
        "chargingProfileId": 10,
        "stackLevel": 0,
        "chargingProfilePurpose": "TxDefaultProfile",
        "chargingProfileKind": "Recurring",
        "recurrencyKind": "Daily",
        "chargingSchedule": {
            "chargingRateUnit": "A",
            "startSchedule": TIMESTAMP,
            "chargingSchedulePeriod": [
                {"startPeriod": 0, "limit": 32.0},
                {"startPeriod": 3600, "limit": 16.0, "numberPhases": 3},
                {"startPeriod": 7200, "limit": 6.5},
            ],
        },
    },
}


def peer_meter_values() -> peer_call.MeterValues:
    def sampled(value: str, measurand: pe.Measurand, unit: pe.UnitOfMeasure, **kw: Any) -> Any:
        return pdt.SampledValue(value=value, measurand=measurand, unit=unit, **kw)

    samples = [
        sampled(
            "1234.5",
            pe.Measurand.energy_active_import_register,
            pe.UnitOfMeasure.kwh,
            context=pe.ReadingContext.sample_periodic,
        ),
        sampled("16.1", pe.Measurand.current_import, pe.UnitOfMeasure.a, phase=pe.Phase.l1),
        sampled("230.2", pe.Measurand.voltage, pe.UnitOfMeasure.v, phase=pe.Phase.l1_n),
        sampled(
            "3.7",
            pe.Measurand.power_active_import,
            pe.UnitOfMeasure.kw,
            location=pe.Location.outlet,
        ),
    ]
    meter_value = pdt.MeterValue(timestamp=TIMESTAMP, sampled_value=samples)
    return peer_call.MeterValues(connector_id=1, transaction_id=42, meter_value=[meter_value])


def peer_set_charging_profile() -> peer_call.SetChargingProfile:
    periods = [
        pdt.ChargingSchedulePeriod(start_period=0, limit=32.0),
        pdt.ChargingSchedulePeriod(start_period=3600, limit=16.0, number_phases=3),
        pdt.ChargingSchedulePeriod(start_period=7200, limit=6.5),
    ]
    schedule = pdt.ChargingSchedule(
        charging_rate_unit=pe.ChargingRateUnitType.amps,
        start_schedule=TIMESTAMP,
        charging_schedule_period=periods,
    )
    profile = pdt.ChargingProfile(
        charging_profile_id=10,
        stack_level=0,
        charging_profile_purpose=pe.ChargingProfilePurposeType.tx_default_profile,
        charging_profile_kind=pe.ChargingProfileKindType.recurring,
        recurrency_kind=pe.RecurrencyKind.daily,
        charging_schedule=schedule,
    )
    return peer_call.SetChargingProfile(connector_id=1, cs_charging_profiles=profile)


@dataclass
class Message:
    """One message both ways. `peer_payload` is the peer's dataclass for the same payload."""

    name: str
    action: str
    payload: dict[str, Any]
    peer_payload: Any
    result: bool = False

    @property
    def text(self) -> str:
        if self.result:
            return frame(3, "42", self.payload)
        return frame(2, "42", self.action, self.payload)


MESSAGES = [
    Message(
        "BootNotification",
        "BootNotification",
        BOOT,
        peer_call.BootNotification(
            charge_point_vendor="VendorX",
            charge_point_model="SingleSocketCharger",
            charge_point_serial_number="CP-000123",
            firmware_version="1.8.2",
            meter_type="ACME 3P",
        ),
    ),
    Message("Heartbeat", "Heartbeat", {}, peer_call.Heartbeat()),
    Message("MeterValues (4 values)", "MeterValues", METER_VALUES, peer_meter_values()),
    Message(
        "StartTransaction",
        "StartTransaction",
        START,
        peer_call.StartTransaction(
            connector_id=1, id_tag="04A2B3C4D5E6F7", meter_start=1234500, timestamp=TIMESTAMP
        ),
    ),
    Message("SetChargingProfile", "SetChargingProfile", PROFILE, peer_set_charging_profile()),
    Message(
        "BootNotification.conf",
        "BootNotification",
        {"status": "Accepted", "currentTime": TIMESTAMP, "interval": 300},
        peer_result.BootNotification(
            current_time=TIMESTAMP, interval=300, status=pe.RegistrationStatus.accepted
        ),
        result=True,
    ),
    Message(
        "Heartbeat.conf",
        "Heartbeat",
        {"currentTime": TIMESTAMP},
        peer_result.Heartbeat(current_time=TIMESTAMP),
        result=True,
    ),
    Message("MeterValues.conf", "MeterValues", {}, peer_result.MeterValues(), result=True),
    Message(
        "StartTransaction.conf",
        "StartTransaction",
        {"idTagInfo": {"status": "Accepted", "expiryDate": TIMESTAMP}, "transactionId": 42},
        peer_result.StartTransaction(
            transaction_id=42,
            id_tag_info=pdt.IdTagInfo(
                status=pe.AuthorizationStatus.accepted, expiry_date=TIMESTAMP
            ),
        ),
        result=True,
    ),
    Message(
        "SetChargingProfile.conf",
        "SetChargingProfile",
        {"status": "Accepted"},
        peer_result.SetChargingProfile(status=pe.ChargingProfileStatus.accepted),
        result=True,
    ),
]


# The two receive paths and the two send paths.


def ocppd_receive(text: str, action: str | None = None) -> Any:
    """A CALL, or (with the action of the pending CALL) a CALLRESULT, to a validated payload."""
    received = parse_frame(text)
    if isinstance(received, Call):
        return CORE[received.action].request_codec.decode(received.payload)
    assert isinstance(received, CallResult) and action is not None, received
    return CORE[action].response_codec.decode(received.payload)


def ocppd_send_call(unique_id: str, request: Any) -> bytes:
    spec = spec_for_request(request)
    return encode_call(unique_id, spec.name, spec.request_codec.encode(request))


def ocppd_send_result(unique_id: str, action: str, response: Any) -> bytes:
    return encode_result(unique_id, CORE[action].response_codec.encode(response))


def peer_receive(text: str, action: str | None = None) -> Any:
    """`route_message` (CALL) or `ChargePoint.call` (CALLRESULT) up to validated payload."""
    message = ocpp.messages.unpack(text)
    if action is not None:
        message.action = action
    ocpp.messages._validate_payload(message, "1.6")
    return message.payload


def peer_send_call(unique_id: str, payload: Any) -> str:
    """`ChargePoint.call` up to the text it sends."""
    camel_case_payload = snake_to_camel_case(serialize_as_dict(payload))
    message = ocpp.messages.Call(
        unique_id=unique_id,
        action=type(payload).__name__,
        payload=remove_nones(camel_case_payload),
    )
    ocpp.messages._validate_payload(message, "1.6")
    text: str = message.to_json()
    return text


def peer_send_result(request: ocpp.messages.Call, payload: Any) -> str:
    """`ChargePoint._handle_call` from the handler's return value to the text it sends."""
    camel_case_payload = snake_to_camel_case(remove_nones(serialize_as_dict(payload)))
    message = request.create_call_result(camel_case_payload)
    ocpp.messages._validate_payload(message, "1.6")
    text: str = message.to_json()
    return text


# Invalid input: (name, ocppd operation, peer operation). Each must raise its side's error.

Op = Callable[[], Any]


def invalid_receive(name: str, action: str, payload: dict[str, Any]) -> tuple[str, Op, Op]:
    text = frame(2, "42", action, payload)
    return name, lambda: ocppd_receive(text), lambda: peer_receive(text)


def errors() -> list[tuple[str, Op, Op]]:
    boot_missing = {k: v for k, v in BOOT.items() if k != "chargePointModel"}
    boot_unknown = {**BOOT, "colour": "red"}
    meter_bad_enum = json.loads(json.dumps(METER_VALUES))
    meter_bad_enum["meterValue"][0]["sampledValue"][3]["measurand"] = "Power.Imaginary"
    start_bad_type = {**START, "meterStart": "1234500"}
    profile_bad_limit = json.loads(json.dumps(PROFILE))
    periods = profile_bad_limit["csChargingProfiles"]["chargingSchedule"]["chargingSchedulePeriod"]
    periods[2]["limit"] = 6.55
    not_json = '[2,"42","Heartbeat",{'

    long_vendor = "V" * 21
    ocppd_long = BootNotificationRequest(charge_point_vendor=long_vendor, charge_point_model="M")
    peer_long = peer_call.BootNotification(charge_point_vendor=long_vendor, charge_point_model="M")
    return [
        invalid_receive("BootNotification, missing field", "BootNotification", boot_missing),
        invalid_receive("BootNotification, unknown field", "BootNotification", boot_unknown),
        invalid_receive("MeterValues, bad enum value", "MeterValues", meter_bad_enum),
        invalid_receive("StartTransaction, string for integer", "StartTransaction", start_bad_type),
        invalid_receive("SetChargingProfile, limit 6.55", "SetChargingProfile", profile_bad_limit),
        ("Frame that is not JSON", lambda: ocppd_receive(not_json), lambda: peer_receive(not_json)),
        (
            "send: BootNotification, vendor too long",
            lambda: ocppd_send_call("42", ocppd_long),
            lambda: peer_send_call("42", peer_long),
        ),
    ]


def raising(op: Op, error: type[Exception]) -> Op:
    """`op`, which must raise `error`; the error is what is timed, and it is swallowed."""

    def run() -> None:
        try:
            op()
        except error:
            return
        raise AssertionError("expected an error")

    return run


# Timing


@dataclass
class Timing:
    median: float  # µs per operation
    best: float


def calibrated(op: Op, min_time: float) -> tuple[timeit.Timer, int]:
    """A timer for `op` and a loop count that takes at least `min_time` (also a warm-up)."""
    timer = timeit.Timer(op)
    number = 1
    while timer.timeit(number) < min_time:
        number *= 2
    return timer, number


def compare(ours: Op, theirs: Op, repeat: int, min_time: float) -> tuple[Timing, Timing]:
    """Both operations, their repeats interleaved so that both see the same machine."""
    timers = [calibrated(ours, min_time), calibrated(theirs, min_time)]
    runs: list[list[float]] = [[], []]
    for _ in range(repeat):
        for side, (timer, number) in enumerate(timers):
            runs[side].append(timer.timeit(number) / number * 1e6)
    ours_time, theirs_time = (Timing(statistics.median(r), min(r)) for r in runs)
    return ours_time, theirs_time


def peer_async_hop(repeat: int, min_time: float) -> float:
    """Extra µs per message of the peer's default `validate_payload` (thread-pool executor)."""
    message = ocpp.messages.unpack(frame(2, "42", "Heartbeat", {}))
    count = max(20, int(min_time * 10_000))

    async def per_message() -> tuple[float, float]:
        loop = asyncio.get_running_loop()
        with_hop, without = [], []
        for _ in range(count):  # warm-up: the executor starts its threads
            await ocpp.messages.validate_payload(message, "1.6")
        for _ in range(repeat):
            start = loop.time()
            for _ in range(count):
                await ocpp.messages.validate_payload(message, "1.6")
            middle = loop.time()
            for _ in range(count):
                ocpp.messages._validate_payload(message, "1.6")
            with_hop.append(middle - start)
            without.append(loop.time() - middle)
        return statistics.median(with_hop) / count, statistics.median(without) / count

    with_hop, without = asyncio.run(per_message())
    return (with_hop - without) * 1e6


# Checks before timing: same frames, same outcomes


def same_json(a: str | bytes, b: str | bytes) -> bool:
    return bool(json.loads(a) == json.loads(b))


def operations(message: Message) -> tuple[Op, Op, Op, Op]:
    """ocppd and peer receive, ocppd and peer send of one message, once checked.

    Both sides must accept the frame and send the same JSON as the frame's.
    """
    text, action = message.text, message.action
    if message.result:
        decoded = ocppd_receive(text, action)
        request = ocpp.messages.Call("42", action, {})
        ops: tuple[Op, Op, Op, Op] = (
            lambda: ocppd_receive(text, action),
            lambda: peer_receive(text, action),
            lambda: ocppd_send_result("42", action, decoded),
            lambda: peer_send_result(request, message.peer_payload),
        )
    else:
        decoded = ocppd_receive(text)
        ops = (
            lambda: ocppd_receive(text),
            lambda: peer_receive(text),
            lambda: ocppd_send_call("42", decoded),
            lambda: peer_send_call("42", message.peer_payload),
        )
    ops[1]()
    for name, sent in (("ocppd", ops[2]()), ("ocpp", ops[3]())):
        if not same_json(sent, text):
            raise AssertionError(f"{message.name}: {name} sent {sent!r}, not {text!r}")
    return ops


# Report


def ratio(ours: Timing, theirs: Timing) -> float:
    return theirs.median / ours.median


def columns(ours: Timing, theirs: Timing) -> str:
    def cell(timing: Timing) -> str:
        return f"{timing.median:.2f} ({timing.best:.2f})"

    return f"{cell(ours):>17}{cell(theirs):>19}{ratio(ours, theirs):>6.0f}x"


def environment() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next(line.split(":", 1)[1].strip() for line in info if "model name" in line)
    except (OSError, StopIteration):
        pass
    versions = ", ".join(
        f"{name} {importlib.metadata.version(name)}" for name in ("msgspec", "ocpp", "jsonschema")
    )
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"Python {platform.python_version()} on {cpu}, {os.cpu_count()} cores "
        f"(load {load:.2f}); {versions}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="ocppd vs ocpp: per-message protocol cost")
    parser.add_argument("--quick", action="store_true", help="smoke run: tiny repeat counts")
    args = parser.parse_args(argv)
    repeat, min_time = (2, 0.0005) if args.quick else (9, 0.02)

    print(environment())
    print("µs per operation, median (best) of the repeats; ratio = ocpp / ocppd, from the medians")
    print()
    head = f"{'message':<24}{'decode: ocppd':>17}{'ocpp':>19}{'ratio':>7}"
    head += f"{'encode: ocppd':>17}{'ocpp':>19}{'ratio':>7}"
    print(head)
    print("-" * len(head))
    ratios: list[float] = []
    for message in MESSAGES:
        ours_recv, peer_recv, ours_send, peer_send = operations(message)
        receive = compare(ours_recv, peer_recv, repeat, min_time)
        send = compare(ours_send, peer_send, repeat, min_time)
        ratios += [ratio(*receive), ratio(*send)]
        print(f"{message.name:<24}{columns(*receive)}{columns(*send)}")

    print()
    head = f"{'invalid input, until the error':<40}{'ocppd':>17}{'ocpp':>19}{'ratio':>7}"
    print(head)
    print("-" * len(head))
    for name, ours_op, peer_op in errors():
        ours = raising(ours_op, OCPPError)
        theirs = raising(peer_op, ocpp.exceptions.OCPPError)
        ours(), theirs()  # both must refuse it
        timings = compare(ours, theirs, repeat, min_time)
        ratios.append(ratio(*timings))
        print(f"{name:<40}{columns(*timings)}")

    print()
    hop = peer_async_hop(repeat, min_time)
    print(
        "Not counted above: the peer's default validate_payload (ASYNC_VALIDATION) runs each\n"
        f"validation in a thread pool, which adds about {hop:.0f} µs per validated message."
    )
    below = sorted(value for value in ratios if value < TARGET_RATIO)
    summary = f"{len(below)} of {len(ratios)} operations below the {TARGET_RATIO:.0f}x target"
    if below:
        summary += f" (their ratios: {below[0]:.0f}x to {below[-1]:.0f}x)"
    print(summary + ".")
    return 0


if __name__ == "__main__":
    sys.exit(main())
