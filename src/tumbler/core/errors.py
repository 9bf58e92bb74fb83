"""Domain errors: a Secrets Manager or Lambda rule was broken.

Each kind maps to exactly one wire error per service in ``tumbler.ops.errors``; the message
is what the user reads, so it must never contain a secret value.
"""


class DomainError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(DomainError):
    """Input the service refuses before looking anything up (ValidationException)."""


class NotFound(DomainError):
    """The secret, version or label does not exist (ResourceNotFoundException)."""


class AlreadyExists(DomainError):
    """A secret or version with that identity exists already (ResourceExistsException)."""


class InvalidRequest(DomainError):
    """The request is well formed but not valid in the secret's state (InvalidRequestException)."""


class InvalidParameter(DomainError):
    """A parameter value is not valid (InvalidParameterException)."""


class LimitExceeded(DomainError):
    """A quota would be exceeded (LimitExceededException)."""


class MalformedPolicy(DomainError):
    """A resource policy is not a valid policy document (MalformedPolicyDocumentException)."""


class PublicPolicy(DomainError):
    """A resource policy would grant public access (PublicPolicyException)."""


class PreconditionNotMet(DomainError):
    """A precondition of the request is not met (PreconditionNotMetException)."""


class InvalidNextToken(DomainError):
    """The pagination token is not valid (InvalidNextTokenException)."""


class DecryptionFailure(DomainError):
    """A stored value cannot be decrypted with its key (DecryptionFailure)."""


class EncryptionFailure(DomainError):
    """A value cannot be encrypted with the requested key (EncryptionFailure)."""


class AccessDenied(DomainError):
    """The request is not allowed (AccessDeniedException)."""
