"""The dashboard's jobs page and fragments with FTP (issue 20): the transport chosen per job
(or the charge point's default), the form that changes that default, an FTP job and its failed
transfer shown as text."""

from ocppd.web import jobs
from tests.web.test_pages import Parsed, a_job


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
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "over FTP" not in jobs.jobs_fragment("diagnostics", [a_job(5, transport="http")])
    assert "JobFileFailed" in jobs.EVENTS
