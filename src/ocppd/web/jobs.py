"""Diagnostics, logs and firmware: a charge point's jobs (requested, each status the charger
reported, the diagnostics file or log to download), the forms that start them (GetLog and
SignedUpdateFirmware of the security extension too: the signed update is signed by ocppd's
firmware-signing key; an operator's own signature goes through the API or the CLI), and the
firmware images operators upload.

The forms use the API's job routes, not the raw commands: ocppd gives the charger a one-time
location of its own (an upload place for diagnostics, the image for firmware), so an
operator needs no file server. Downloading a diagnostics file needs an operator token (the
API's rule: it may tell more than a viewer should see).

Each form may choose the transport (http, or ftp: ocppd's FTP server); left blank, the charge
point's default, shown at the top of the page (and on the charge point's page) and changed
by the "File transport" form (admin). A job shows an FTP
transport and the last transfer that failed on ocppd's side (nothing of it kept).
"""

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from ocppd.web.forms import Field, api_form
from ocppd.web.layout import layout, region
from ocppd.web.markup import (
    badge,
    charge_point_href,
    dash,
    empty,
    esc,
    link,
    pretty_json,
    segment,
    table,
    transaction_href,
    when,
)

EVENTS = "JobCreated JobStatus JobFile JobFileFailed"
DONE = {"Uploaded", "Installed"}
FAILED = {
    "UploadFailed",
    "DownloadFailed",
    "InstallationFailed",
    "NothingToUpload",
    "UploadFailure",
    "BadMessage",
    "PermissionDenied",
    "NotSupportedOperation",
    "InvalidSignature",
    "InstallVerificationFailed",
    "Rejected",
    "InvalidCertificate",
    "RevokedCertificate",
}
FILES = {"diagnostics": "/diagnostics", "logs": "/logs"}
"""The kinds whose charger uploads a file, and where the API serves it."""
JOBS_SHOWN = 20
RETRIES = (
    Field("retries", "Retries", "int", minimum=0),
    Field("retryInterval", "Retry interval (s)", "int", minimum=0),
)
TRANSPORTS = (("http", "HTTP"), ("ftp", "FTP"))
TRANSPORT = Field(
    "transport",
    "Transport",
    "select",
    options=tuple(key for key, _ in TRANSPORTS),
    labels=TRANSPORTS,
    blank="(the charge point's)",
)


def transport_label(cp: Mapping[str, Any]) -> str:
    """The charge point's default transport (`fileTransport`), as the forms name it."""
    value = cp.get("fileTransport")
    return esc(dict(TRANSPORTS).get(str(value), value))


def file_transport_fragment(cp: Mapping[str, Any]) -> str:
    """The default in force: what a job left at "(the charge point's)" uses."""
    return (
        f'<p>Default file transport: <strong id="file-transport-default">{transport_label(cp)}'
        '</strong> (a job left at "(the charge point\'s)" uses it)</p>'
    )


def file_transport_form(charge_point_id: str) -> str:
    """The charge point's default transport (admin: the API's PATCH)."""
    return api_form(
        "file-transport",
        f"/charge-points/{segment(charge_point_id)}",
        [replace(TRANSPORT, name="fileTransport", label="Default", blank="(unchanged)")],
        "Save",
        title="File transport",
        method="PATCH",
        needs="admin",
        refresh="file-transport-now",
    )


def diagnostics_form(charge_point_id: str, refresh: str = "") -> str:
    return api_form(
        "job-diagnostics",
        f"/charge-points/{segment(charge_point_id)}/diagnostics",
        [
            Field("startTime", "From", "datetime", hint="UTC"),
            Field("stopTime", "Until", "datetime", hint="UTC"),
            *RETRIES,
            TRANSPORT,
        ],
        "Request upload",
        title="Get diagnostics",
        refresh=refresh,
    )


def firmware_form(charge_point_id: str, refresh: str = "") -> str:
    return api_form(
        "job-firmware",
        f"/charge-points/{segment(charge_point_id)}/firmware-updates",
        [
            Field(
                "firmwareId",
                "Firmware image id",
                "int",
                required=True,
                minimum=1,
                hint="see Firmware",
            ),
            Field("retrieveDate", "Retrieve at", "datetime", hint="UTC; empty = now"),
            *RETRIES,
            TRANSPORT,
        ],
        "Update",
        title="Update firmware",
        refresh=refresh,
    )


def log_form(charge_point_id: str, refresh: str = "") -> str:
    return api_form(
        "job-log",
        f"/charge-points/{segment(charge_point_id)}/logs",
        [
            Field(
                "logType",
                "Log",
                "select",
                required=True,
                options=("SecurityLog", "DiagnosticsLog"),
                labels=(("SecurityLog", "Security log"), ("DiagnosticsLog", "Diagnostics log")),
            ),
            Field("oldestTimestamp", "From", "datetime", hint="UTC"),
            Field("latestTimestamp", "Until", "datetime", hint="UTC"),
            *RETRIES,
            TRANSPORT,
        ],
        "Request upload",
        title="Get log",
        refresh=refresh,
    )


def signed_firmware_form(charge_point_id: str, refresh: str = "") -> str:
    return api_form(
        "job-signed-firmware",
        f"/charge-points/{segment(charge_point_id)}/firmware-updates",
        [
            Field("signed", "Signed", "json", hidden=True, value="true"),
            Field(
                "firmwareId",
                "Firmware image id",
                "int",
                required=True,
                minimum=1,
                hint="see Firmware; signed by ocppd's key",
            ),
            Field("retrieveDate", "Retrieve at", "datetime", hint="UTC; empty = now"),
            Field("installDate", "Install at", "datetime", hint="UTC; empty = at once"),
            *RETRIES,
            TRANSPORT,
        ],
        "Update",
        title="Signed firmware update",
        refresh=refresh,
    )


def page(charge_point_id: str) -> str:
    base = "/fragments" + charge_point_href(charge_point_id)
    body = f"""<p class="crumbs"><a href="/">Charge points</a> /
<a href="{esc(charge_point_href(charge_point_id))}">{esc(charge_point_id)}</a> /</p>
<h1>Diagnostics and firmware <span class="cp-id">{esc(charge_point_id)}</span></h1>
{region("file-transport-now", base + "/file-transport", "")}
<div class="commands">{diagnostics_form(charge_point_id, "diagnostics")}
{log_form(charge_point_id, "logs")}
{firmware_form(charge_point_id, "firmware-updates")}
{signed_firmware_form(charge_point_id, "firmware-updates")}
{file_transport_form(charge_point_id)}</div>
<section class="card" aria-labelledby="diagnostics-title">
<h2 id="diagnostics-title">Diagnostics</h2>
{region("diagnostics", base + "/diagnostics", EVENTS)}
</section>
<section class="card" aria-labelledby="logs-title">
<h2 id="logs-title">Logs</h2>
{region("logs", base + "/logs", EVENTS)}
</section>
<section class="card" aria-labelledby="firmware-updates-title">
<h2 id="firmware-updates-title">Firmware updates</h2>
{region("firmware-updates", base + "/firmware-updates", EVENTS)}
</section>"""
    return layout(
        f"Jobs {charge_point_id}",
        body,
        "jobs",
        data=f' data-charge-point-id="{esc(charge_point_id)}"',
    )


def status_badge(status: str) -> str:
    kind = "s-available" if status in DONE else "s-faulted" if status in FAILED else ("s-preparing")
    return badge(status, kind)


def jobs_fragment(kind: str, items: Sequence[Mapping[str, Any]]) -> str:
    if not items:
        return empty("None yet.")
    rows = [_job_row(kind, job) for job in items[:JOBS_SHOWN]]
    headers = ("Job", "Status", "Requested", "Updated", "Ended", "Details")
    return table("Jobs", headers, rows)


def _job_row(kind: str, job: Mapping[str, Any]) -> tuple[str, ...]:
    job_id = job.get("jobId")
    details = []
    file = job.get("file")
    if job.get("logType"):
        details.append(esc(job.get("logType")))
    if job.get("signedBy"):
        details.append(f"signed by {esc(job.get('signedBy'))}")
    if kind in FILES and isinstance(file, dict):
        described = f"{esc(file.get('name') or 'file')} ({esc(file.get('size'))} bytes)"
        if file.get("deletedAt"):
            details.append(f"{described}, deleted {esc(file.get('deletedAt'))}")
        else:
            download = f"{FILES[kind]}/{segment(str(job_id))}/file"
            details.append(
                f"{described} "
                f'<span data-needs="operator" hidden><button type="button" class="secondary" '
                f'data-download="{esc(download)}">Download</button>'
                '<output class="answer" aria-live="polite"></output></span>'
            )
    if job.get("firmwareId") is not None:
        details.append(f"image #{esc(job.get('firmwareId'))}")
    if job.get("transport") == "ftp":
        details.insert(0, badge("over FTP", "transport"))
    failed = job.get("transferError")
    if isinstance(failed, dict):
        details.append(
            f'<strong class="transfer-error">Transfer failed: {esc(failed.get("reason"))} '
            f"({when(failed.get('at'))})</strong>"
        )
    waiting = job.get("waitingForTransactions")
    if isinstance(waiting, list) and waiting:
        noun = "transaction" if len(waiting) == 1 else "transactions"
        ids = ", ".join(link(transaction_href(t), f"#{t}") for t in waiting)
        details.append(
            f'<strong class="waiting">Installation waits for {noun} {ids} to end</strong>'
        )
    plain = {k: v for k, v in job.items() if k not in ("history",) and v is not None}
    details.append(
        f'<details data-key="job-{esc(job_id)}"><summary>All fields</summary>'
        f"<pre>{esc(pretty_json(plain))}</pre></details>"
    )
    return (
        f"#{esc(job_id)}",
        status_badge(str(job.get("status", ""))),
        when(job.get("createdAt")),
        when(job.get("updatedAt")),
        when(job.get("endedAt")) if job.get("endedAt") else dash(None),
        " ".join(details),
    )


def firmware_page() -> str:
    upload = api_form(
        "firmware-upload",
        "/firmware",
        [Field("file", "Image", "file", required=True)],
        "Upload",
        title="Upload an image",
        refresh="live",
        reset=True,
    )
    body = "<h1>Firmware images</h1>" + upload + region("live", "/fragments/firmware", "")
    return layout("Firmware", body, "firmware")


def firmware_fragment(items: Sequence[Mapping[str, Any]]) -> str:
    if not items:
        return empty("No image uploaded yet.")
    rows = [
        (
            f"#{esc(f.get('firmwareId'))}",
            esc(f.get("name")),
            f"{esc(f.get('size'))} bytes",
            f'<code class="hash">{esc(f.get("sha256"))}</code>',
            when(f.get("uploadedAt")),
        )
        for f in items
    ]
    return table("Firmware images", ("Id", "Name", "Size", "SHA-256", "Uploaded"), rows)
