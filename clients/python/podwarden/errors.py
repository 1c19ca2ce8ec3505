"""Errors the API answers, typed by what the caller can do about them.

Every error carries the API's ``code`` (stable, for programs), ``message`` (for people) and
``hint`` (what to do), and the HTTP ``status``. The API token is never part of one.
"""

from __future__ import annotations


class PodwardenError(Exception):
    """An error answer from podwarden (or no answer at all: ``status`` 0)."""

    def __init__(self, status: int, code: str, message: str, hint: str | None = None):
        self.status = status
        self.code = code
        self.message = message
        self.hint = hint
        text = f"{message} ({code}, HTTP {status})"
        if hint:
            text += f"; hint: {hint}"
        super().__init__(text)


class Unauthorized(PodwardenError):
    """401: the token is missing, wrong or revoked."""


class Forbidden(PodwardenError):
    """403: the caller may not do this (e.g. an admin-only route)."""


class NotFound(PodwardenError):
    """404: no such job, request, endpoint or volume — or it is another user's."""


class Conflict(PodwardenError):
    """409: the name is taken, or the state does not allow it."""


class PaymentRequired(PodwardenError):
    """402: the spend cap is reached (``spend_cap_reached``) or the RunPod account has no funds."""


class Invalid(PodwardenError):
    """400/413/422: the request is wrong; ``message`` names the field."""


class RateLimited(PodwardenError):
    """429: wait ``retry_after`` seconds (RunPod's request budget, or too many wrong tokens)."""

    retry_after: float | None = None


class Unavailable(PodwardenError):
    """5xx or no answer: podwarden or RunPod failed; nothing was changed, retry."""


_BY_STATUS: dict[int, type[PodwardenError]] = {
    400: Invalid,
    401: Unauthorized,
    402: PaymentRequired,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    413: Invalid,
    422: Invalid,
    429: RateLimited,
}


def from_response(status: int, body: bytes, retry_after: str | None = None) -> PodwardenError:
    """The typed error for an error answer (`{code, message, hint?}`, or anything else)."""
    import json

    try:
        b = json.loads(body)
        code, message, hint = str(b["code"]), str(b["message"]), b.get("hint")
    except (ValueError, KeyError, TypeError):
        code, message, hint = "unexpected", body[:500].decode("utf-8", "replace"), None
    cls = _BY_STATUS.get(status, Unavailable if status >= 500 else PodwardenError)
    e = cls(status, code, message, hint)
    if isinstance(e, RateLimited) and retry_after:
        try:
            e.retry_after = float(retry_after)
        except ValueError:
            pass
    return e
