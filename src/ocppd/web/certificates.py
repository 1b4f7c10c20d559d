"""Chargers' certificates: the CA's root (its fingerprint, to compare with what a charger
installed), the requests waiting for an admin with approve and reject buttons, and the
latest requests with what became of them (decision 0007)."""

from collections.abc import Mapping, Sequence
from typing import Any

from ocppd.web.forms import Field, api_form
from ocppd.web.layout import layout, region
from ocppd.web.markup import (
    badge,
    charge_point_href,
    dash,
    empty,
    esc,
    facts,
    link,
    table,
    when,
)

EVENTS = "CertificateRequested CertificateSent"
RECENT_SHOWN = 50
GOOD = {"accepted", "in-use"}
BAD = {"rejected", "refused"}


def page() -> str:
    body = f"""<h1>Certificates</h1>
<section class="card" aria-labelledby="authority-title">
<h2 id="authority-title">Certificate authority</h2>
{region("authority", "/fragments/certificate-authority", "")}
</section>
<section class="card" aria-labelledby="pending-title">
<h2 id="pending-title">Waiting for approval</h2>
{region("pending", "/fragments/certificate-requests/pending", EVENTS)}
</section>
<section class="card" aria-labelledby="recent-title">
<h2 id="recent-title">Latest requests</h2>
{region("recent", "/fragments/certificate-requests", EVENTS)}
</section>"""
    return layout("Certificates", body, "certificates")


def authority_fragment(authority: Mapping[str, Any]) -> str:
    signing = authority.get("firmwareSigningCertificate")
    return facts(
        [
            ("Root SHA-256", f'<code class="hash">{esc(authority.get("rootFingerprint"))}</code>'),
            ("Root valid until", when(authority.get("rootNotAfter"))),
            ("Signing", esc(authority.get("certificateSigning"))),
            ("Firmware signing", "present" if signing else '<span class="muted">none</span>'),
        ]
    )


def no_authority_fragment() -> str:
    return empty("ocppd has no CA: run `ocppd ca init` (or start with --ca-cert/--ca-key).")


def status_badge(status: str) -> str:
    kind = "s-available" if status in GOOD else "s-faulted" if status in BAD else "s-preparing"
    return badge(status, kind)


def pending_fragment(items: Sequence[Mapping[str, Any]]) -> str:
    if not items:
        return empty("No request waits.")
    rows = [_pending_row(item) for item in items]
    headers = ("Request", "Charge point", "Subject", "Key", "Requested", "Decision")
    return table("Certificate requests waiting for approval", headers, rows)


def _pending_row(item: Mapping[str, Any]) -> tuple[str, ...]:
    request_id = item.get("id")
    base = f"/certificate-requests/{esc(request_id)}"
    approve = api_form(
        f"approve-{request_id}",
        base + "/approve",
        [],
        "Approve and send",
        needs="admin",
        refresh="pending recent",
        classes="inline",
    )
    reject = api_form(
        f"reject-{request_id}",
        base + "/reject",
        [Field("reason", "Reason", max_length=1000)],
        "Reject",
        needs="admin",
        confirm="Reject this certificate request?",
        refresh="pending recent",
        classes="inline",
    )
    return (
        f"#{esc(request_id)}",
        _charge_point(item),
        dash(item.get("subject")),
        _key(item),
        when(item.get("requestedAt")),
        approve + reject,
    )


def recent_fragment(items: Sequence[Mapping[str, Any]]) -> str:
    if not items:
        return empty("No request yet.")
    rows = [
        (
            f"#{esc(item.get('id'))}",
            _charge_point(item),
            status_badge(str(item.get("status"))),
            dash(item.get("reason")),
            dash(item.get("serialNumber")),
            dash(item.get("chargerAnswer")),
            when(item.get("requestedAt")),
        )
        for item in items[:RECENT_SHOWN]
    ]
    headers = ("Request", "Charge point", "Status", "Reason", "Serial", "Answer", "Requested")
    return table("Latest certificate requests", headers, rows)


def _charge_point(item: Mapping[str, Any]) -> str:
    identity = str(item.get("chargePointId"))
    return link(charge_point_href(identity), identity)


def _key(item: Mapping[str, Any]) -> str:
    kind, bits = item.get("keyType"), item.get("keyBits")
    return dash(f"{kind} {bits}" if kind and bits else None)
