"""podwarden's Python client: submit GPU jobs and serverless requests to a podwarden server,
follow them live, read metrics, logs and cost, and manage a user's own RunPod key.

``podwarden._generated`` is generated from ``docs/openapi.json`` (``scripts/gen-clients``);
``Podwarden`` is the small hand-written layer apps use.
"""

from ._generated import models
from .client import FINAL, Event, Podwarden
from .errors import (
    Conflict,
    Forbidden,
    Invalid,
    NotFound,
    PaymentRequired,
    PodwardenError,
    RateLimited,
    Unauthorized,
    Unavailable,
)

__all__ = [
    "FINAL",
    "Conflict",
    "Event",
    "Forbidden",
    "Invalid",
    "NotFound",
    "PaymentRequired",
    "Podwarden",
    "PodwardenError",
    "RateLimited",
    "Unauthorized",
    "Unavailable",
    "models",
]
