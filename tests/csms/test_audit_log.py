"""What an audit entry keeps of a request: secrets redacted, and small whatever was sent."""

import msgspec

from ocppd.csms.audit_log import BUDGET, MAX_ITEMS, MAX_STRING, outcome_of, summary

KEY_PEM = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEI...\n-----END EC PRIVATE KEY-----\n"
CSR_PEM = "-----BEGIN CERTIFICATE REQUEST-----\nMIIB...\n-----END CERTIFICATE REQUEST-----\n"


def test_secrets_are_redacted_by_name_and_by_value() -> None:
    request = {
        "token": "ocppd_abc",
        "authorizationKey": "k",
        "ftpPassword": "p",
        "clientSecret": "s",
        "csr": "x",
        "tokenId": 3,
        "firmwareSigningKey": KEY_PEM,
        "request": CSR_PEM,
        "certificate": "-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----\n",
        "nested": [{"key": "authorizationkey", "value": "hidden"}, {"key": "Other", "value": "v"}],
        "location": "ftp://user:pw@host:2121/logs/ and sftp://u:p@h/",
    }
    kept = summary(request)
    assert kept == {
        "token": "<redacted>",
        "authorizationKey": "<redacted>",
        "ftpPassword": "<redacted>",
        "clientSecret": "<redacted>",
        "csr": "<redacted>",
        "tokenId": 3,
        "firmwareSigningKey": "<redacted>",
        "request": "<redacted>",
        "certificate": request["certificate"],  # public
        "nested": [
            {"key": "authorizationkey", "value": "<redacted>"},
            {"key": "Other", "value": "v"},
        ],
        "location": "ftp://user:<redacted>@host:2121/logs/ and sftp://u:<redacted>@h/",
    }
    assert request["nested"][0]["value"] == "hidden"  # the caller's value is left alone


def test_a_summary_is_small_whatever_was_sent() -> None:
    long = "x" * 10_000
    kept = summary({"data": long, "list": list(range(1000)), "deep": [[[[[[[[[[1]]]]]]]]]]})
    assert kept["data"] == "x" * MAX_STRING + "… (10000 characters)"
    assert kept["list"][:MAX_ITEMS] == list(range(MAX_ITEMS))
    assert kept["list"][MAX_ITEMS] == f"… ({1000 - MAX_ITEMS} more)"
    assert "…" in msgspec.json.encode(kept["deep"]).decode()
    huge = {f"field{n}": [long] * 50 for n in range(200)}
    assert len(msgspec.json.encode(summary(huge))) < 3 * BUDGET


def test_outcomes() -> None:
    assert [outcome_of(s) for s in (200, 201, 204, 400, 403, 409, 500, 502, 504)] == [
        "succeeded",
        "succeeded",
        "succeeded",
        "refused",
        "refused",
        "refused",
        "failed",
        "failed",
        "failed",
    ]
