from typing import Any, Protocol


class AuditLog(Protocol):
    """Where rotation events go (RotationStarted, RotationSucceeded, ...): names and ids, never values."""

    def record(self, event: str, **fields: Any) -> None: ...


class NullAudit:
    """Records nothing: the default where no audit log is configured."""

    def record(self, event: str, **fields: Any) -> None:
        return None
