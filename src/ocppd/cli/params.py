"""Command-line values ocppd stores itself (`charge-point add`, `token create`), checked before
the database is opened: text as every database holds it, within its column.

An argument the locale could not decode (bytes that are no UTF-8 under a UTF-8 locale) reaches
Python with lone surrogates in place of those bytes; no database driver encodes them. Values
that go to a running ocppd instead (`ocppd call`, `transactions`, ...) are sent as the bytes
they were, and the API's own rules answer (`ocppd.api.operator_input`).
"""

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
