"""The single table from domain errors to wire errors."""

from tumbler.core import errors as core
from tumbler.wire import errors as wire

SECRETSMANAGER: dict[type[core.DomainError], str] = {
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
}


def to_wire(service: str, err: core.DomainError) -> wire.WireError:
    for kind in type(err).__mro__:
        code = SECRETSMANAGER.get(kind)
        if code is not None:
            return wire.error(service, code, err.message)
    return wire.error(
        service,
        "InternalServiceError" if service == "secretsmanager" else "ServiceException",
        "An error occurred on the server side.",
    )
