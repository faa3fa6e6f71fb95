"""One error type for the desk: an HTTP status, a stable code for programs and a message for people (中文)."""

from __future__ import annotations


class DeskError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None):
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}
        super().__init__(f"{status} {code}: {message}")
