"""What the message log and the audit log keep of a file location: no token, no password."""

import pytest

from ocppd.csms.transfer_credentials import hide_url_passwords, redact_transfer_credentials


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("ftp://login:secret@host:21/", "ftp://login:<redacted>@host:21/"),
        # An unescaped @ in the password: hidden up to the last one before the host.
        ("ftp://login:se@cret@host/x", "ftp://login:<redacted>@host/x"),
        ("https://host/a@b and ftp://u:p@h/", "https://host/a@b and ftp://u:<redacted>@h/"),
        ("https://user@host/", "https://user@host/"),
    ],
)
def test_url_passwords_are_hidden(text: str, kept: str) -> None:
    assert hide_url_passwords(text) == kept


def test_a_frame_keeps_its_shape_with_the_link_token_hidden() -> None:
    frame = (
        '[2,"1","GetLog",{"log":{"remoteLocation":"http://h:9/files/log/AbC-_9/"},'
        '"other":"ftp://a:b@h/"}]'
    )
    assert redact_transfer_credentials(frame) == (
        '[2,"1","GetLog",{"log":{"remoteLocation":"http://h:9/files/log/<redacted>/"},'
        '"other":"ftp://a:<redacted>@h/"}]'
    )
