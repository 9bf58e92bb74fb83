"""Errors as they travel on the wire.

A ``WireError`` carries the AWS error code, the HTTP status and the message. Errors a
service model declares take their status from the model (its ``error`` trait, 500 for a
``fault`` shape, 400 otherwise); errors common to every AWS service are in ``COMMON``.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from tumbler.wire import spec

# Errors every AWS JSON service can return that no service model declares: code -> HTTP status.
COMMON: dict[str, int] = {
    "ValidationException": 400,
    "SerializationException": 400,
    "UnknownOperationException": 400,
    "InvalidSignatureException": 400,
    "IncompleteSignatureException": 400,  # JSON services' name; IncompleteSignature is the query protocol's
    "MissingAuthenticationTokenException": 400,
    "UnrecognizedClientException": 400,
    "AccessDeniedException": 400,
    "InvalidAction": 400,
    "RequestEntityTooLargeException": 413,
    "ThrottlingException": 400,
    "InternalFailure": 500,
}

# Secrets Manager's model marks no error as a fault, yet AWS answers InternalServiceError with 500.
SERVER_FAULTS = frozenset({"InternalServiceError"})


class WireError(Exception):
    """An error response: ``code`` becomes ``__type``, ``message`` the ``Message`` member."""

    def __init__(self, code: str, message: str, status: int = 400, **fields: Any) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.fields = fields


@cache
def _model_status(service: str, code: str) -> int | None:
    model = spec.load(service)
    try:
        shape = model.shape_for(code)
    except Exception:
        return None
    if not shape.metadata.get("exception"):
        return None
    trait = shape.metadata.get("error") or {}
    if "httpStatusCode" in trait:
        return int(trait["httpStatusCode"])
    return 500 if shape.metadata.get("fault") or code in SERVER_FAULTS else 400


def error(service: str, code: str, message: str, **fields: Any) -> WireError:
    """A ``WireError`` for ``code``, declared by ``service``'s model or common to AWS."""
    status = _model_status(service, code)
    if status is None:
        if code not in COMMON:
            raise KeyError(f"{code} is neither declared by {service} nor a common AWS error")
        status = COMMON[code]
    return WireError(code, message, status, **fields)
