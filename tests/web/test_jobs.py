"""The dashboard's jobs page and fragments with FTP (issue 20): the transport chosen per job
(or the charge point's default, shown on the jobs page and the charge point's page), the form
that changes that default, an FTP job and its failed transfer shown as text, marked failed."""

import pytest

from ocppd.web import charge_point, jobs
from tests.web.test_pages import Parsed, a_charge_point, a_job


def test_the_job_forms_offer_a_transport_and_the_default_is_changed_by_an_admin() -> None:
    parsed = Parsed(jobs.page("CP 1/a"))
    forms = {attrs["id"]: attrs for tag, attrs in parsed.tags if tag == "form"}
    default = forms["file-transport"]
    assert (default["data-api"], default["data-method"]) == ("/charge-points/CP%201%2Fa", "PATCH")
    assert default["data-needs"] == "admin"
    selects = [attrs["name"] for tag, attrs in parsed.tags if tag == "select"]
    # Diagnostics, logs, firmware and signed firmware; the default.
    assert selects.count("transport") == 4 and selects.count("fileTransport") == 1
    options = [attrs.get("value") for tag, attrs in parsed.tags if tag == "option"]
    assert options.count("ftp") == 5 and options.count("http") == 5


def test_an_ftp_job_shows_its_transport_and_its_failed_transfer_as_text() -> None:
    hostile = "<script>alert(1)</script>"
    job = a_job(4, file=None, status="Requested", endedAt=None) | {
        "transport": "ftp",
        "transferError": {"reason": f"upload of {hostile!r} over FTP: cut; nothing kept",
                          "at": "2026-11-25T10:00:00Z"},
    }  # fmt: skip
    html = jobs.jobs_fragment("diagnostics", [job])
    assert "over FTP" in html and "nothing kept" in html
    failed = Parsed(html)
    assert ("strong", {"class": "transfer-error"}) in failed.tags  # drawn as a failure
    assert "Transfer failed: upload of" in failed.joined()
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "over FTP" not in jobs.jobs_fragment("diagnostics", [a_job(5, transport="http")])
    assert "JobFileFailed" in jobs.EVENTS


@pytest.mark.parametrize(("stored", "shown"), [("http", "HTTP"), ("ftp", "FTP")])
def test_the_default_file_transport_is_shown_where_jobs_start_and_on_the_charger(
    stored: str, shown: str
) -> None:
    cp = a_charge_point("CP1", fileTransport=stored)
    for html, element in (
        (jobs.file_transport_fragment(cp), "file-transport-default"),
        (charge_point.charge_point_fragment(cp), "file-transport"),
    ):
        parsed = Parsed(html)
        assert any(attrs.get("id") == element for _, attrs in parsed.tags)
        assert shown in parsed.joined()
    page = Parsed(jobs.page("CP1"))
    region = next(a for t, a in page.tags if a.get("id") == "file-transport-now")
    assert region["data-fragment"] == "/fragments/charge-points/CP1/file-transport"
    form = next(a for t, a in page.tags if a.get("id") == "file-transport")
    assert form["data-refresh"] == "file-transport-now"  # saved: shown again at once
