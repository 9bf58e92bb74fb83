from datetime import datetime
from typing import Protocol


class Clock(Protocol):
    """Where time comes from, so rules and schedules can be tested without waiting."""

    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...
