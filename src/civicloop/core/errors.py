"""Errors every layer understands.

Actions raise these with a message a person can read (translated); views and the
API turn them into inline errors or 4xx answers. ``code`` is a stable identifier
for machines (API clients, tests), never shown as the message itself.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    NOT_FOUND = "not_found"
    FORBIDDEN = "forbidden"
    ILLEGAL_TRANSITION = "illegal_transition"
    CONFLICT = "conflict"
    INVALID = "invalid"
    OUTSIDE_GRID = "outside_grid"
    UNKNOWN_CATEGORY = "unknown_category"
    REASON_REQUIRED = "reason_required"
    BAD_FILE = "bad_file"
    FILE_TOO_LARGE = "file_too_large"
    RATE_LIMITED = "rate_limited"


class CivicError(Exception):
    """Base for refusals that carry a readable reason."""

    code: ErrorCode = ErrorCode.INVALID

    def __init__(self, message: str, *, code: ErrorCode | None = None, field: str | None = None):
        super().__init__(message)
        self.message = str(message)
        if code is not None:
            self.code = code
        self.field = field

    def __str__(self) -> str:
        return self.message


class NotFoundOrForbidden(CivicError):
    """Same answer for "missing" and "not yours": never leak that a case exists."""

    code = ErrorCode.NOT_FOUND


class PermissionRefused(CivicError):
    code = ErrorCode.FORBIDDEN


class TransitionRefused(CivicError):
    code = ErrorCode.ILLEGAL_TRANSITION


class ConflictError(CivicError):
    code = ErrorCode.CONFLICT


class ValidationFailed(CivicError):
    code = ErrorCode.INVALID


class RateLimited(CivicError):
    """Too many requests from one caller; ``retry_after`` is whole seconds until the window ends."""

    code = ErrorCode.RATE_LIMITED

    def __init__(self, message: str, *, retry_after: int):
        super().__init__(message)
        self.retry_after = max(1, int(retry_after))
