"""The tables from domain errors to wire errors, one per service."""

from tumbler.core import errors as core
from tumbler.wire import errors as wire

SECRETSMANAGER: dict[type[core.DomainError], str] = {
    core.InvalidInput: "ValidationException",
    core.NotFound: "ResourceNotFoundException",
    core.AlreadyExists: "ResourceExistsException",
    core.InvalidRequest: "InvalidRequestException",
    core.InvalidParameter: "InvalidParameterException",
    core.LimitExceeded: "LimitExceededException",
    core.MalformedPolicy: "MalformedPolicyDocumentException",
    core.PublicPolicy: "PublicPolicyException",
    core.PreconditionNotMet: "PreconditionNotMetException",
    core.InvalidNextToken: "InvalidNextTokenException",
    core.DecryptionFailure: "DecryptionFailure",
    core.EncryptionFailure: "EncryptionFailure",
    core.AccessDenied: "AccessDeniedException",
}

# Lambda: statuses come from its model (ResourceNotFoundException 404, ResourceConflictException 409, ...).
LAMBDA: dict[type[core.DomainError], str] = {
    core.InvalidInput: "ValidationException",
    core.NotFound: "ResourceNotFoundException",
    core.AlreadyExists: "ResourceConflictException",
    core.InvalidParameter: "InvalidParameterValueException",
    core.InvalidRequest: "InvalidRequestContentException",
    core.PreconditionNotMet: "PreconditionFailedException",
}

TABLES: dict[str, dict[type[core.DomainError], str]] = {"secretsmanager": SECRETSMANAGER, "lambda": LAMBDA}
INTERNAL = {"secretsmanager": "InternalServiceError", "lambda": "ServiceException"}


def to_wire(service: str, err: core.DomainError) -> wire.WireError:
    table = TABLES.get(service, {})
    for kind in type(err).__mro__:
        code = table.get(kind)
        if code is not None:
            return wire.error(service, code, err.message)
    return wire.error(service, INTERNAL.get(service, "ServiceException"), "An error occurred on the server side.")
