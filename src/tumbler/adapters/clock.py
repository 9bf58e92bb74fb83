from datetime import UTC, datetime
from functools import partial


class SystemClock:
    """The real clock (the ``Clock`` port)."""

    # datetime.now itself, bound to UTC: every request asks for the time, and a method would add a call.
    now = staticmethod(partial(datetime.now, UTC))
