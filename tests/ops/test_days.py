"""LastAccessedDate's day: midnight UTC of the moment, however the moments come."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

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


def test_a_moment_in_another_zone_gives_utcs_midnight_and_leaves_the_next_caller_right() -> None:
    east = timezone(timedelta(hours=5))
    early = datetime(2026, 12, 6, 2, 0, tzinfo=east)  # 2026-12-05 21:00 UTC
    assert day_of(early) == datetime(2026, 12, 5, tzinfo=UTC)
    assert day_of(early).tzinfo is UTC
    assert day_of(datetime(2026, 12, 6, 1, 0, tzinfo=UTC)) == datetime(2026, 12, 6, tzinfo=UTC)
    assert day_of(datetime(2026, 12, 6, 4, 0, tzinfo=east)) == datetime(2026, 12, 5, tzinfo=UTC)


def test_the_last_day_of_the_calendar_has_a_midnight_too() -> None:
    last = datetime(9999, 12, 31, 12, tzinfo=UTC)
    assert day_of(last) == day_of(last) == datetime(9999, 12, 31, tzinfo=UTC)
