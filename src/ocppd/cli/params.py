"""Command-line values ocppd stores itself (`charge-point add`, `token create`), checked before
the database is opened: text as every database holds it, within its column. And the addresses
and tokens it connects with (`--url`, `--token`), checked before anything is sent.

An argument the locale could not decode (bytes that are no UTF-8 under a UTF-8 locale) reaches
Python with lone surrogates in place of those bytes; no database driver encodes them. Values
that go to a running ocppd instead (`ocppd call`, `transactions`, ...) are sent as the bytes
they were, and the API's own rules answer (`ocppd.api.operator_input`).
"""

import urllib.parse
from typing import Any

import click

NUL = "\x00"


class StoredText(click.ParamType[str]):
    """A string a column holds: UTF-8 without NUL, at most `max_length` characters."""

    name = "text"

    def __init__(self, max_length: int | None = None) -> None:
        self.max_length = max_length

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        text = str(value)
        try:
            text.encode()
        except UnicodeEncodeError:
            self.fail("not UTF-8", param, ctx)
        if NUL in text:
            self.fail("contains NUL (U+0000)", param, ctx)
        if self.max_length is not None and len(text) > self.max_length:
            self.fail(f"longer than {self.max_length} characters", param, ctx)
        return text


class Url(click.ParamType[str]):
    """A URL with one of `schemes`, in printable ASCII: an undecodable argument or a non-ASCII
    character cannot go in a request line (written %-encoded they can)."""

    name = "url"

    def __init__(self, schemes: tuple[str, ...], example: str) -> None:
        self.schemes = schemes
        self.example = example

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        url = str(value)
        if not _printable_ascii(url):
            self.fail("a URL is printable ASCII without spaces (%-encode the rest)", param, ctx)
        try:
            parts = urllib.parse.urlsplit(url)
        except ValueError as error:
            self.fail(f"not a URL: {error}", param, ctx)
        if parts.scheme not in self.schemes or not parts.netloc:
            wanted = " or ".join(f"{scheme}://" for scheme in self.schemes)
            self.fail(f"not a {wanted} URL, like {self.example}", param, ctx)
        return url


class Token(click.ParamType[str]):
    """A bearer token: printable ASCII (`ocppd token create`), as a header carries it."""

    name = "token"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        token = str(value)
        if not _printable_ascii(token):
            self.fail("not a token: tokens are printable ASCII without spaces", param, ctx)
        return token


def _printable_ascii(text: str) -> bool:
    return text.isascii() and text.isprintable() and " " not in text
