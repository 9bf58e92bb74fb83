"""LastAccessedDate's day: midnight UTC of the moment, however the moments come."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tumbler.ops.secretsmanager.common import day_of


def test_a_moment_gives_its_own_midnight_in_any_order() -> None:
    late = datetime(2026, 12, 5, 23, 59, 59, 999_999, tzinfo=UTC)
    moments = [late, late + timedelta(microseconds=1), late - timedelta(days=3), late, late + timedelta(days=400)]
    for moment in moments:
        assert day_of(moment) == datetime(moment.year, moment.month, moment.day, tzinfo=UTC)


def test_midnight_is_its_own_day() -> None:
    midnight = datetime(2026, 12, 6, tzinfo=UTC)
    assert day_of(midnight - timedelta(microseconds=1)) == midnight - timedelta(days=1)
    assert day_of(midnight) == midnight
