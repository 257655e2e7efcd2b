"""Server-sent events, as Vicky streams them: ``data: {"delta": "..."}`` per piece of text,
then ``event: done`` with the whole response body, then ``data: [DONE]``; an error after
the first byte comes as ``event: error``."""

from __future__ import annotations

import json
from typing import Any

from vokaflow_sdk.errors import StreamError

DONE = "[DONE]"


class SSEDecoder:
    """Fed the stream's lines one by one; hands back the text pieces each line completes."""

    def __init__(self) -> None:
        self._event = "message"
        self._data: list[str] = []
        self.final: Any = None  # the ``done`` event's body
        self.finished = False  # ``[DONE]`` was seen

    def feed(self, line: str) -> list[str]:
        line = line.rstrip("\r")
        if not line:
            return self._dispatch()
        if line.startswith(":"):  # a comment (keep-alive)
            return []
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        return []

    def close(self) -> list[str]:
        """The stream ended: an event not yet closed by a blank line still counts."""
        return self._dispatch()

    def _dispatch(self) -> list[str]:
        event, data = self._event, "\n".join(self._data)
        self._event, self._data = "message", []
        if not data:
            return []
        return self._handle(event, data)

    def _handle(self, event: str, data: str) -> list[str]:
        if data == DONE:
            self.finished = True
            return []
        payload = _parse(data)
        if event == "error":
            raise _stream_error(payload)
        if event == "done":
            self.final = payload
            return []
        delta = payload.get("delta") if isinstance(payload, dict) else None
        return [delta] if isinstance(delta, str) and delta else []


def _parse(data: str) -> Any:
    try:
        return json.loads(data)
    except ValueError as exc:
        raise StreamError(f"Unreadable server-sent event data: {data[:200]!r}") from exc


def _stream_error(payload: Any) -> StreamError:
    if not isinstance(payload, dict):
        return StreamError(f"The stream failed: {payload!r}")
    message = str(payload.get("message") or "The stream failed")
    code = payload.get("error")
    return StreamError(message, code=None if code is None else str(code), body=payload)
