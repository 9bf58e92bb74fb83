import random
from collections import Counter
from datetime import UTC, date, datetime, timedelta, timezone
from itertools import pairwise

import pytest

from tumbler.core import schedule as s
from tumbler.core.errors import InvalidParameter
from tumbler.core.schedule import Rules, Window, parse_rules

H = timedelta(hours=1)
T0 = datetime(2025, 12, 31, 23, 30, tzinfo=UTC)  # just before Thursday 2026-01-01


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def cron(expression: str, duration: str | None = None) -> Rules:
    raw = {"ScheduleExpression": expression} | ({"Duration": duration} if duration else {})
    return parse_rules(raw)


def starts(rules: Rules, count: int, after: datetime = T0) -> list[datetime]:
    return [w.start for w in s.windows(rules, None, after, after, count)]


def days(rules: Rules, count: int, after: datetime = T0) -> list[date]:
    return [w.start.date() for w in s.windows(rules, None, after, after, count)]


def length(rules: Rules) -> timedelta:
    w = s.next_window(rules, None, T0, T0)
    return w.end - w.start


# --- AWS's documented examples ------------------------------------------------------------------
# User guide, "Rotation schedules" (rotate-secrets_schedule.html), cron example table and rate list.
DOC_CRON = [
    ("cron(0 /8 * * ? *)", [at(2026, 1, 1, 0), at(2026, 1, 1, 8), at(2026, 1, 1, 16), at(2026, 1, 2, 0)], H),
    ("cron(0 8/8 * * ? *)", [at(2026, 1, 1, 8), at(2026, 1, 1, 16), at(2026, 1, 2, 8)], H),
    # "The rotation windows will start at 2:00, 12:00, and 22:00, and then the next day at 2:00 ..."
    ("cron(0 2/10 * * ? *)", [at(2026, 1, 1, 2), at(2026, 1, 1, 12), at(2026, 1, 1, 22), at(2026, 1, 2, 2)], H),
    # "cron(0 4/12 * * ? *) means 4:00 AM, 4:00 PM, and then the next day 4:00 AM, 4:00 PM"
    ("cron(0 4/12 * * ? *)", [at(2026, 1, 1, 4), at(2026, 1, 1, 16), at(2026, 1, 2, 4), at(2026, 1, 2, 16)], H),
    ("cron(0 10 * * ? *)", [at(2026, 1, 1, 10), at(2026, 1, 2, 10), at(2026, 1, 3, 10)], 14 * H),
    ("cron(0 18 ? * SAT *)", [at(2026, 1, 3, 18), at(2026, 1, 10, 18), at(2026, 1, 17, 18)], 6 * H),
    ("cron(0 8 1 * ? *)", [at(2026, 1, 1, 8), at(2026, 2, 1, 8), at(2026, 3, 1, 8)], 16 * H),
    ("cron(0 1 ? 1/3 SUN#1 *)", [at(2026, 1, 4, 1), at(2026, 4, 5, 1), at(2026, 7, 5, 1), at(2026, 10, 4, 1)], 23 * H),
    ("cron(0 17 L * ? *)", [at(2026, 1, 31, 17), at(2026, 2, 28, 17), at(2026, 3, 31, 17)], 7 * H),
    ("cron(0 8 ? * MON-FRI *)", [at(2026, 1, 1, 8), at(2026, 1, 2, 8), at(2026, 1, 5, 8), at(2026, 1, 6, 8)], 16 * H),
    ("cron(0 16 1,15 * ? *)", [at(2026, 1, 1, 16), at(2026, 1, 15, 16), at(2026, 2, 1, 16)], 8 * H),
    ("cron(0 0 ? * SUN#1 *)", [at(2026, 1, 4), at(2026, 2, 1), at(2026, 3, 1)], 24 * H),
    # "Starting in January, every 11 months on the first Monday at midnight."
    ("cron(0 0 ? 1/11 2#1 *)", [at(2026, 1, 5), at(2026, 12, 7), at(2027, 1, 4)], 24 * H),
]


@pytest.mark.parametrize(("expression", "expected", "window"), DOC_CRON)
def test_documented_cron_examples(expression: str, expected: list[datetime], window: timedelta) -> None:
    rules = cron(expression)
    assert starts(rules, len(expected)) == expected
    assert length(rules) == window


# Same page: "rate(4 hours)", "rate(1 day)", "rate(10 days)"; an older revision: "rate(8 days)".
DOC_RATE = [
    ("rate(4 hours)", [at(2026, 1, 1, 0), at(2026, 1, 1, 4), at(2026, 1, 1, 8), at(2026, 1, 1, 12)], H),
    ("rate(1 day)", [at(2026, 1, 1), at(2026, 1, 2), at(2026, 1, 3)], 24 * H),
    ("rate(10 days)", [at(2026, 1, 10), at(2026, 1, 20), at(2026, 1, 30)], 24 * H),
    ("rate(8 days)", [at(2026, 1, 8), at(2026, 1, 16)], 24 * H),
]


@pytest.mark.parametrize(("expression", "expected", "window"), DOC_RATE)
def test_documented_rate_examples(expression: str, expected: list[datetime], window: timedelta) -> None:
    rules = cron(expression)
    assert starts(rules, len(expected)) == expected
    assert length(rules) == window


# Same page, "Cron expression requirements in Secrets Manager": the examples in its wildcard table.
DOC_FIELDS = [
    ("cron(0 0 1,15 * ? *)", {1, 15}),
    ("cron(0 0 1-15 * ? *)", set(range(1, 16))),
    ("cron(0 0 * * ? *)", set(range(1, 32))),
    ("cron(0 0 1/2 * ? *)", set(range(1, 32, 2))),
    ("cron(0 0 L * ? *)", {31}),
    ("cron(0 0 SUNL * ? *)", {25}),  # "SUNL means the last Sunday of the month"
    ("cron(0 0 ? * TUE#3 *)", {20}),  # "TUE#3 means the third Tuesday of the month"
    ("cron(0 0 ? * 1,4 *)", {4, 11, 18, 25, 7, 14, 21, 28}),  # Sundays and Wednesdays
    ("cron(0 0 ? * 1-4 *)", {d for d in range(1, 32) if date(2026, 1, d).isoweekday() in (7, 1, 2, 3)}),
    ("cron(0 0 ? * 1/2 *)", {d for d in range(1, 32) if date(2026, 1, d).isoweekday() in (7, 2, 4, 6)}),
    ("cron(0 0 ? * L *)", {3, 10, 17, 24, 31}),  # "L ... specifies the last day of the week": Saturday
]


@pytest.mark.parametrize(("expression", "january"), DOC_FIELDS)
def test_documented_field_examples(expression: str, january: set[int]) -> None:
    matched = {d.day for d in days(cron(expression), 40) if (d.year, d.month) == (2026, 1)}
    assert matched == january


@pytest.mark.parametrize(
    ("expression", "months"),
    [
        ("cron(0 0 1 JAN,APR,JUL,OCT ? *)", [1, 4, 7, 10]),
        ("cron(0 0 1 1-3 ? *)", [1, 2, 3]),
        ("cron(0 0 1 1/3 ? *)", [1, 4, 7, 10]),
    ],
)
def test_documented_month_examples(expression: str, months: list[int]) -> None:
    assert [d.month for d in days(cron(expression), len(months))] == months


# --- invalid rules and their messages ------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"AutomaticallyAfterDays": 7, "ScheduleExpression": "rate(7 days)"}, s.BOTH),
        ({}, s.NO_SCHEDULE),
        ({"Duration": "3h"}, s.NO_SCHEDULE),
        ({"AutomaticallyAfterDays": 0}, s.AFTER_DAYS_RANGE),
        ({"AutomaticallyAfterDays": 1001}, s.AFTER_DAYS_RANGE),
        ({"AutomaticallyAfterDays": True}, s.AFTER_DAYS_RANGE),
        ({"AutomaticallyAfterDays": "30"}, s.AFTER_DAYS_RANGE),
        ({"ScheduleExpression": "rate(3 hours)"}, s.RATE_HOURS),
        ({"ScheduleExpression": "rate(24 hours)"}, s.RATE_HOURS),
        ({"ScheduleExpression": "rate(1 hour)"}, s.RATE_HOURS),
        ({"ScheduleExpression": "rate(0 days)"}, s.RATE_DAYS),
        ({"ScheduleExpression": "rate(1000 days)"}, s.RATE_DAYS),
        ({"ScheduleExpression": "rate(5 minutes)"}, s.INVALID_EXPRESSION),
        ({"ScheduleExpression": "rate(2 weeks)"}, s.INVALID_EXPRESSION),
        ({"ScheduleExpression": "rate(-4 hours)"}, s.INVALID_EXPRESSION),
        ({"ScheduleExpression": "rate(4hours)"}, s.INVALID_EXPRESSION),
        ({"ScheduleExpression": "every day"}, s.INVALID_EXPRESSION),
        ({"ScheduleExpression": 7}, s.INVALID_EXPRESSION),
        ({"ScheduleExpression": "cron(0 10 * * ?)"}, s.INVALID_EXPRESSION),  # five fields
        ({"ScheduleExpression": "cron(30 10 * * ? *)"}, s.INVALID_EXPRESSION),  # minutes must be 0
        ({"ScheduleExpression": "cron(0/30 10 * * ? *)"}, s.INVALID_EXPRESSION),
        ({"ScheduleExpression": "cron(0 10 * * ? 2027)"}, s.INVALID_EXPRESSION),  # year must be *
        ({"ScheduleExpression": "cron(0 10 ? * ? *)"}, s.INVALID_EXPRESSION),  # both days "any"
        ({"ScheduleExpression": "cron(0 10 1 * MON *)"}, s.INVALID_EXPRESSION),  # neither
        # An older revision of the doc page showed this; its own rule ("must use a ?") rejects it.
        ({"ScheduleExpression": "cron(0 1 * 1/3 SUN *)"}, s.INVALID_EXPRESSION),
        ({"ScheduleExpression": "cron(0 0/2 * * ? *)"}, s.INVALID_EXPRESSION),  # more often than every 4 hours
        ({"ScheduleExpression": "cron(0 * * * ? *)"}, s.INVALID_EXPRESSION),
        ({"ScheduleExpression": "cron(0 1,3 * * ? *)"}, s.INVALID_EXPRESSION),
        ({"ScheduleExpression": "cron(0 24 * * ? *)"}, s.INVALID_EXPRESSION),
        ({"ScheduleExpression": "cron(0 0 32 * ? *)"}, s.INVALID_EXPRESSION),
        ({"ScheduleExpression": "cron(0 0 ? * 8 *)"}, s.INVALID_EXPRESSION),
        ({"ScheduleExpression": "cron(0 0 ? * 0 *)"}, s.INVALID_EXPRESSION),  # 1 = Sunday, there is no 0
        ({"ScheduleExpression": "cron(0 0 1 13 ? *)"}, s.INVALID_EXPRESSION),
        ({"ScheduleExpression": "cron(0 0 1 FOO ? *)"}, s.INVALID_EXPRESSION),
        ({"ScheduleExpression": "cron(0 0 15-1 * ? *)"}, s.INVALID_EXPRESSION),
        ({"ScheduleExpression": "cron(0 0 1/0 * ? *)"}, s.INVALID_EXPRESSION),
        ({"ScheduleExpression": "cron(0 0 1,,2 * ? *)"}, s.INVALID_EXPRESSION),
        ({"ScheduleExpression": "cron(0 0 ? * MON#6 *)"}, s.INVALID_EXPRESSION),
        ({"ScheduleExpression": "cron(0 0 ? * MONW *)"}, s.INVALID_EXPRESSION),  # W is day-of-month only
        ({"ScheduleExpression": "cron(0 0 1#2 * ? *)"}, s.INVALID_EXPRESSION),  # # is day-of-week only
        ({"ScheduleExpression": "cron(0 0 1 L ? *)"}, s.INVALID_EXPRESSION),  # L is not a month
        ({"ScheduleExpression": "cron(0 0 32W * ? *)"}, s.INVALID_EXPRESSION),
        ({"ScheduleExpression": "cron(0 0 30 2 ? *)"}, s.INVALID_EXPRESSION),  # never happens
        ({"ScheduleExpression": "rate(1 day)", "Duration": "0h"}, s.DURATION_RANGE),
        ({"ScheduleExpression": "rate(1 day)", "Duration": "25h"}, s.DURATION_RANGE),
        ({"ScheduleExpression": "rate(1 day)", "Duration": "3"}, s.DURATION_FORMAT),
        ({"ScheduleExpression": "rate(1 day)", "Duration": "3H"}, s.DURATION_FORMAT),
        ({"ScheduleExpression": "rate(1 day)", "Duration": 3}, s.DURATION_FORMAT),
        ({"ScheduleExpression": "rate(6 hours)", "Duration": "7h"}, s.DURATION_OVER_RATE),
        ({"ScheduleExpression": "rate(10 hours)", "Duration": "5h"}, s.WITHIN_DAY),  # 20:00 + 5h
        ({"ScheduleExpression": "cron(0 10 * * ? *)", "Duration": "15h"}, s.WITHIN_DAY),
        ({"ScheduleExpression": "cron(0 4/12 * * ? *)", "Duration": "13h"}, s.DURATION_OVER_GAP),
        ({"ScheduleExpression": "cron(0 4/12 * * ? *)", "Duration": "9h"}, s.WITHIN_DAY),  # 16:00 + 9h
    ],
)
def test_invalid_rules(raw: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidParameter) as caught:
        parse_rules(raw)
    assert caught.value.message == message


def test_bounds_that_are_valid() -> None:
    for raw in (
        {"AutomaticallyAfterDays": 1},
        {"AutomaticallyAfterDays": 1000},
        {"ScheduleExpression": "rate(23 hours)"},
        {"ScheduleExpression": "rate(999 days)"},
        {"ScheduleExpression": "rate(1 days)"},  # AWS names the units, not a singular/plural rule
        {"ScheduleExpression": "rate(5 day)"},
        {"ScheduleExpression": "cron(0 0/4 * * ? *)"},
        {"ScheduleExpression": "cron(0 0 * * ? *)", "Duration": "24h"},
        {"ScheduleExpression": "cron(0 10 * * ? *)", "Duration": "14h"},
        {"ScheduleExpression": "cron(0 4/12 * * ? *)", "Duration": "8h"},
        {"ScheduleExpression": "rate(6 hours)", "Duration": "6h"},
        {"ScheduleExpression": "rate(10 hours)", "Duration": "4h"},
        {"ScheduleExpression": "cron(0 0 ? * sun#1 *)"},  # names are case-insensitive
    ):
        parse_rules(raw)


def test_parse_keeps_what_was_given() -> None:
    assert parse_rules({"AutomaticallyAfterDays": 30}) == Rules(after_days=30)
    rules = parse_rules({"ScheduleExpression": "rate(6 hours)", "Duration": "2h"})
    assert rules == Rules(expression="rate(6 hours)", duration=2 * H)


# --- durations: AWS's defaults and limits ----------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "window"),
    [
        ({"AutomaticallyAfterDays": 3}, 24 * H),  # the whole UTC day
        ({"AutomaticallyAfterDays": 3, "Duration": "3h"}, 3 * H),
        ({"ScheduleExpression": "rate(6 hours)"}, H),  # "closes after one hour" for a schedule in hours
        ({"ScheduleExpression": "rate(2 days)"}, 24 * H),  # "at the end of the day" for one in days
        ({"ScheduleExpression": "rate(2 days)", "Duration": "1h"}, H),
        ({"ScheduleExpression": "cron(0 0/6 * * ? *)"}, H),
        ({"ScheduleExpression": "cron(0 23 * * ? *)"}, H),  # 23:00 until midnight
        ({"ScheduleExpression": "cron(0 9 * * ? *)", "Duration": "2h"}, 2 * H),
    ],
)
def test_window_lengths(raw: dict[str, object], window: timedelta) -> None:
    assert length(parse_rules(raw)) == window


def test_windows_never_cross_midnight_or_overlap() -> None:
    for rules in (cron("rate(7 hours)", "3h"), cron("cron(0 2/10 * * ? *)", "2h"), cron("rate(1 day)", "24h")):
        ws = s.windows(rules, None, T0, T0, 50)
        assert all(w.start.date() == (w.end - timedelta(microseconds=1)).date() for w in ws)
        assert all(a.end <= b.start for a, b in pairwise(ws))


# --- month ends, leap days, L, W, #, day-of-week numbering -----------------------------------------


@pytest.mark.parametrize(
    ("last", "after_days", "day"),
    [
        (at(2027, 1, 31, 15), 28, date(2027, 2, 28)),
        (at(2028, 1, 31, 15), 29, date(2028, 2, 29)),
        (at(2028, 1, 31, 15), 30, date(2028, 3, 1)),
        (at(2028, 2, 29, 23, 59), 1, date(2028, 3, 1)),
        (at(2027, 12, 31, 8), 1, date(2028, 1, 1)),
        (at(2026, 1, 1), 1000, date(2028, 9, 27)),
    ],
)
def test_after_days_counts_calendar_days(last: datetime, after_days: int, day: date) -> None:
    w = s.next_window(Rules(after_days=after_days), last, T0, last)
    assert w == Window(
        datetime.combine(day, datetime.min.time(), UTC), datetime.combine(day, datetime.min.time(), UTC) + 24 * H
    )


def test_rate_days_through_a_leap_day() -> None:
    assert days(cron("rate(1 day)"), 3, at(2028, 2, 27, 15)) == [date(2028, 2, 28), date(2028, 2, 29), date(2028, 3, 1)]


def test_last_day_of_february() -> None:
    rules = cron("cron(0 17 L * ? *)")
    assert days(rules, 2, at(2027, 1, 31, 18)) == [date(2027, 2, 28), date(2027, 3, 31)]
    assert days(rules, 2, at(2028, 1, 31, 18)) == [date(2028, 2, 29), date(2028, 3, 31)]


def test_february_29th_waits_for_a_leap_year() -> None:
    rules = cron("cron(0 0 29 2 ? *)")
    assert days(rules, 2, at(2027, 3, 1)) == [date(2028, 2, 29), date(2032, 2, 29)]
    assert days(rules, 1, at(2096, 3, 1)) == [date(2104, 2, 29)]  # 2100 is not a leap year


def test_day_31_skips_short_months() -> None:
    assert [d.month for d in days(cron("cron(0 0 31 * ? *)"), 4)] == [1, 3, 5, 7]


@pytest.mark.parametrize(
    ("dom", "month", "day"),
    [
        ("15W", 2, 16),  # Sunday the 15th: Monday
        ("15W", 8, 14),  # Saturday the 15th: Friday
        ("1W", 8, 3),  # Saturday the 1st: Monday the 3rd, not July 31st
        ("31W", 5, 29),  # Sunday the 31st: Friday the 29th, not June 1st
        ("10W", 6, 10),  # a Wednesday stays
        ("LW", 1, 30),  # Saturday the 31st: Friday the 30th
        ("LW", 2, 27),
    ],
)
def test_nearest_weekday(dom: str, month: int, day: int) -> None:
    first = days(cron(f"cron(0 0 {dom} {month} ? *)"), 1)[0]
    assert first == date(2026, month, day)
    assert first.weekday() < 5


def test_nearest_weekday_skips_months_without_the_day() -> None:
    assert days(cron("cron(0 0 31W 4,5 ? *)"), 2) == [date(2026, 5, 29), date(2027, 5, 31)]


def test_day_of_week_numbering_starts_at_sunday() -> None:
    for number, name, iso in (("1", "SUN", 7), ("2", "MON", 1), ("4", "WED", 3), ("7", "SAT", 6)):
        by_number, by_name = cron(f"cron(0 0 ? * {number} *)"), cron(f"cron(0 0 ? * {name} *)")
        assert days(by_number, 5) == days(by_name, 5)
        assert {d.isoweekday() for d in days(by_number, 5)} == {iso}


def test_nth_and_last_weekday_of_month() -> None:
    assert days(cron("cron(0 0 ? * 6#5 *)"), 3) == [date(2026, 1, 30), date(2026, 5, 29), date(2026, 7, 31)]
    assert days(cron("cron(0 0 ? * 6L *)"), 3) == [date(2026, 1, 30), date(2026, 2, 27), date(2026, 3, 27)]
    assert days(cron("cron(0 0 ? * FRIL *)"), 3) == days(cron("cron(0 0 ? * 6L *)"), 3)


# --- which window is next, what DescribeSecret shows, missed windows -------------------------------


def test_rotation_inside_a_window_moves_on_to_the_next() -> None:
    rules = cron("cron(0 10 * * ? *)", "3h")
    assert s.next_window(rules, at(2026, 3, 2, 10, 20), T0, at(2026, 3, 2, 10, 20)).start == at(2026, 3, 3, 10)
    assert s.next_window(rules, at(2026, 3, 2, 9), T0, at(2026, 3, 2, 9)).start == at(2026, 3, 2, 10)


def test_never_rotated_counts_from_creation() -> None:
    assert s.next_window(Rules(after_days=7), None, at(2026, 3, 2, 14), at(2026, 3, 2, 14)).start == at(2026, 3, 9)


def test_missed_window_is_overdue_and_after_skips_it() -> None:
    rules, last = Rules(after_days=1), at(2026, 3, 1, 9)
    due = s.next_window(rules, last, T0, last)
    assert due == Window(at(2026, 3, 2), at(2026, 3, 3))
    now = at(2026, 3, 5, 12)
    assert s.is_overdue(due, now)
    assert s.late_by(due, now) == timedelta(days=2, hours=12)
    assert s.next_rotation_date(rules, last, T0) == at(2026, 3, 2, 23, 59, 59)  # stays in the past
    assert s.next_window(rules, last, T0, now) == Window(at(2026, 3, 5), at(2026, 3, 6))


def test_overdue_only_once_the_window_closes() -> None:
    w = Window(at(2026, 3, 2, 10), at(2026, 3, 2, 11))
    assert not s.is_overdue(w, at(2026, 3, 2, 10, 59, 59))
    assert s.late_by(w, at(2026, 3, 2, 10, 30)) is None
    assert s.late_by(w, at(2026, 3, 2, 11)) == timedelta(0)


# DescribeSecret responses from real accounts, quoted in public repositories (UTC here).
@pytest.mark.parametrize(
    ("raw", "last", "shown"),
    [
        ({"AutomaticallyAfterDays": 30}, at(2026, 1, 22, 6, 42, 22), at(2026, 2, 21, 23, 59, 59)),
        ({"AutomaticallyAfterDays": 30}, at(2024, 2, 22, 7, 16, 15), at(2024, 3, 23, 23, 59, 59)),
        # LastRotatedDate was the 2nd, but a PutSecretValue on the 3rd counts as a rotation
        ({"AutomaticallyAfterDays": 30}, at(2026, 2, 3, 17, 42, 24), at(2026, 3, 5, 23, 59, 59)),
        ({"ScheduleExpression": "cron(0 0 ? * 2 *)"}, at(2023, 10, 16, 7, 18, 2), at(2023, 10, 23, 23, 59, 59)),
        ({"ScheduleExpression": "cron(0 0 ? * 2 *)"}, at(2026, 9, 7, 18, 14, 58), at(2026, 9, 14, 23, 59, 59)),
    ],
)
def test_next_rotation_date_matches_aws(raw: dict[str, object], last: datetime, shown: datetime) -> None:
    assert s.next_rotation_date(parse_rules(raw), last, T0) == shown


def test_reported_after_days() -> None:
    last = at(2023, 10, 16, 7, 18, 2)
    assert s.reported_after_days(cron("cron(0 0 ? * 2 *)"), last, T0) == 7  # AWS showed 7
    assert s.reported_after_days(cron("rate(10 hours)"), last, T0) == 1  # AWS showed 1
    assert s.reported_after_days(cron("rate(12 days)"), last, T0) == 12
    assert s.reported_after_days(Rules(after_days=30), last, T0) == 30


def test_times_in_other_zones_and_naive_times_are_utc() -> None:
    rules = cron("cron(0 10 * * ? *)")
    plus2 = datetime(2026, 3, 2, 11, 30, tzinfo=timezone(timedelta(hours=2)))  # 09:30 UTC
    assert s.next_window(rules, plus2, T0, plus2).start == at(2026, 3, 2, 10)
    naive = datetime(2026, 3, 2, 9, 30)
    assert s.next_window(rules, naive, T0, naive).start == at(2026, 3, 2, 10)


# --- when in the window ----------------------------------------------------------------------------


def test_moment_hours_uniform_and_minutes_weighted_to_the_top_of_the_hour() -> None:
    window, rng, n = Window(at(2026, 3, 2), at(2026, 3, 3)), random.Random(7), 24_000
    moments = [s.pick_moment(window, rng) for _ in range(n)]
    assert all(window.start <= m < window.end for m in moments)
    hours = Counter(m.hour for m in moments)
    expected = n / 24
    chi2 = sum((hours[h] - expected) ** 2 / expected for h in range(24))
    assert chi2 < 60  # 23 degrees of freedom: p < 0.001 above 49.7; a constant hour scores ~550,000
    minutes = [m.minute for m in moments]
    assert sum(x < 15 for x in minutes) / n > 0.6  # uniform would give 0.25
    assert sum(x >= 45 for x in minutes) / n < 0.05  # uniform would give 0.25
    assert len(set(minutes)) >= 50  # not a constant minute either
    assert 5 < sum(minutes) / n < 15


def test_moment_stays_in_short_windows() -> None:
    window, rng = Window(at(2026, 3, 2, 22), at(2026, 3, 3)), random.Random(1)
    moments = [s.pick_moment(window, rng) for _ in range(2000)]
    assert all(window.start <= m < window.end for m in moments)
    assert {m.hour for m in moments} == {22, 23}


def test_moment_is_deterministic_for_a_seed() -> None:
    window = Window(at(2026, 3, 2), at(2026, 3, 3))
    first = [s.pick_moment(window, random.Random(42)) for _ in range(3)]
    again = [s.pick_moment(window, random.Random(42)) for _ in range(3)]
    assert first == again
    assert s.pick_moment(window, random.Random(43)) != first[0]


# --- croniter as an oracle where the two dialects agree --------------------------------------------

ORACLE = [
    ("cron(0 /8 * * ? *)", "0 */8 * * *"),
    ("cron(0 2/10 * * ? *)", "0 2-23/10 * * *"),
    ("cron(0 8 1 * ? *)", "0 8 1 * *"),
    ("cron(0 17 L * ? *)", "0 17 L * *"),
    ("cron(0 8 ? * MON-FRI *)", "0 8 * * 1-5"),
    ("cron(0 3 ? * 1,4 *)", "0 3 * * 0,3"),
    ("cron(0 18 ? * SAT *)", "0 18 * * 6"),
    ("cron(0 0 ? * SUN#1 *)", "0 0 * * 0#1"),
    ("cron(0 1 ? 1/3 SUN#1 *)", "0 1 * 1-12/3 0#1"),
    ("cron(0 0 ? * 5L *)", "0 0 * * L4"),
    ("cron(0 6 1/10 JAN,APR ? *)", "0 6 1-31/10 1,4 *"),
    ("cron(0 0 29 2 ? *)", "0 0 29 2 *"),
    ("rate(6 hours)", "0 */6 * * *"),
]


@pytest.mark.parametrize(("expression", "classic"), ORACLE)
def test_agrees_with_croniter(expression: str, classic: str) -> None:
    croniter = pytest.importorskip("croniter").croniter
    it = croniter(classic, T0)
    assert starts(cron(expression), 25) == [it.get_next(datetime) for _ in range(25)]
