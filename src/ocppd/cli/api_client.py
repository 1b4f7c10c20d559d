"""A small client of the ocppd HTTP API, on the standard library (urllib): the CLI needs a
handful of JSON requests, not another dependency."""

import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

DEFAULT_URL = "http://127.0.0.1:9000"
UNDECODED = "surrogateescape"
"""How a path or query value goes out: an argument the locale could not decode as the bytes it
was (the API answers 400 for text that is no UTF-8), rather than a UnicodeEncodeError here."""


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any
    raw: bytes = b""
    """The body as received."""


class ApiError(Exception):
    """An answer with an error status, or no answer at all (status 0)."""

    def __init__(self, status: int, body: Any) -> None:
        message = body.get("error") if isinstance(body, dict) else body
        super().__init__(f"{status}: {message}" if status else str(message))
        self.status = status
        self.body = body


class ApiClient:
    def __init__(self, url: str, token: str | None, timeout: float = 60.0) -> None:
        self.base = url.rstrip("/") + "/api/v1"
        self.token = token
        self.timeout = timeout

    def send(
        self,
        method: str,
        path: str,
        body: Any = None,
        query: dict[str, Any] | None = None,
        raw: bytes | None = None,
    ) -> Answer:
        """Any answer, errors included (status >= 400); ApiError(0) when nothing answers."""
        url = self.base + path
        params = {k: _query_value(v) for k, v in (query or {}).items() if v is not None}
        if params:
            url += "?" + urllib.parse.urlencode(params, errors=UNDECODED)
        data = raw if raw is not None else None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                data = response.read()
                return Answer(response.status, _json(data), data)
        except urllib.error.HTTPError as error:
            with error:
                data = error.read()
                return Answer(error.code, _json(data), data)
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise ApiError(0, f"cannot reach {self.base}: {reason}") from None

    def download(self, path: str) -> bytes:
        """The bytes of a successful answer (a file); ApiError otherwise."""
        answer = self.send("GET", path)
        if answer.status >= 400:
            raise ApiError(answer.status, answer.body)
        return answer.raw

    def request(self, method: str, path: str, body: Any = None, **query: Any) -> Any:
        """The body of a successful answer; ApiError otherwise."""
        answer = self.send(method, path, body, query)
        if answer.status >= 400:
            raise ApiError(answer.status, answer.body)
        return answer.body


def quote(segment: str) -> str:
    """A path segment (charge point identities may hold spaces or slashes)."""
    return urllib.parse.quote(segment, safe="", errors=UNDECODED)


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _json(data: bytes) -> Any:
    if not data:
        return None
    try:
        return json.loads(data)
    except ValueError:
        return data.decode("utf-8", "replace")
