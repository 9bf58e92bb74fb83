"""Rotation schedules: Secrets Manager's RotationRules, validated, and the windows they define.

Everything is UTC and pure: the caller passes the times in. A schedule is either an interval
counted from the last rotation (``AutomaticallyAfterDays``, ``rate(N days)``) or a grid of
window starts fixed by the clock (``rate(N hours)``, ``cron(...)``). A window is where a
rotation may start; ``pick_moment`` chooses when, spreading load as AWS does.

The cron dialect is AWS's six-field one (1 = Sunday, ``?``, ``L``, ``W``, ``#``), matched here
day by day. croniter was considered and not used: it numbers Sunday 0, ORs day-of-month with
day-of-week, and has no ``W`` or ``?``; translating into it would take as much code as the
matcher below, which only has to decide whether one date matches (``calendar`` knows month
lengths and leap years). The tests use croniter as an oracle where the dialects overlap.
"""

from __future__ import annotations

import math
import random
import re
from calendar import monthrange
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from typing import Any

from tumbler.core.errors import InvalidParameter

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
SECOND = timedelta(seconds=1)

MAX_AFTER_DAYS = 1000
MIN_RATE_HOURS, MAX_RATE_HOURS = 4, 23
MAX_RATE_DAYS = 999
MIN_GAP_HOURS = 4  # "You can rotate a secret as often as every four hours"
MAX_SCAN_DAYS = 8 * 366  # Feb 29 can be 8 years away (2096 -> 2104)
MINUTE_SCALE = 10.0  # mean minutes past the hour of a picked moment, before truncation at 60

# AWS's messages. BOTH is quoted from real responses; the rest are second-hand or ours (see the report).
BOTH = "You cannot specify both rotation frequency and schedule expression together."
NO_SCHEDULE = "You must specify either AutomaticallyAfterDays or ScheduleExpression."
AFTER_DAYS_RANGE = "AutomaticallyAfterDays must be between 1 and 1000."
INVALID_EXPRESSION = "Invalid schedule expression."
RATE_HOURS = "Rate in hour should be least 4 and less than 24."
RATE_DAYS = "Rate in day should be greater than 0 and less than 1000."
DURATION_FORMAT = "Duration must be a whole number of hours, for example 3h."
DURATION_RANGE = "Duration must be at least 1 hour, at most 24 hour."
DURATION_OVER_RATE = "Duration cannot be greater than Rate in hour."
DURATION_OVER_GAP = "Duration cannot be greater than the time between two rotation windows."
WITHIN_DAY = "Starting hour and duration must be within a day."

MONTHS = {
    m: i for i, m in enumerate(["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"], 1)
}
WEEKDAYS = {d: i for i, d in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"], 1)}
_RATE = re.compile(r"rate\(([0-9]+) (hour|hours|day|days)\)")
_NUMBER = re.compile(r"[0-9]+")
_WEEKDAY = r"([0-9]+|[A-Z]{3})"


@dataclass(frozen=True)
class Rules:
    """Validated RotationRules. ``duration`` is None when AWS's default window applies."""

    after_days: int | None = None
    expression: str | None = None
    duration: timedelta | None = None


@dataclass(frozen=True)
class Window:
    """A rotation window: a rotation may start at or after ``start`` and before ``end``."""

    start: datetime
    end: datetime


@dataclass(frozen=True)
class _Days:
    """The days a cron expression matches: the union of its day-of-month or day-of-week terms."""

    months: frozenset[int]
    dom: frozenset[int] = frozenset()
    last: bool = False  # L: the last day of the month
    near: frozenset[int] = frozenset()  # nW: the weekday nearest day n; 0 stands for LW
    dow: frozenset[int] = frozenset()  # Python weekdays, Monday = 0
    last_dow: frozenset[int] = frozenset()  # nL: the month's last such weekday
    nth_dow: frozenset[tuple[int, int]] = frozenset()  # n#k: the month's k-th such weekday

    def matches(self, d: date) -> bool:
        if d.month not in self.months:
            return False
        length = monthrange(d.year, d.month)[1]
        return (
            d.day in self.dom
            or (self.last and d.day == length)
            or any(_nearest_weekday(d, n or length, length) == d.day for n in self.near)
            or d.weekday() in self.dow
            or (d.weekday() in self.last_dow and d.day + 7 > length)
            or (d.weekday(), (d.day - 1) // 7 + 1) in self.nth_dow
        )


@dataclass(frozen=True)
class _Plan:
    """A compiled schedule: an interval in days, or window start hours on matching days."""

    length: timedelta
    every_days: int | None = None
    hours: tuple[int, ...] = ()
    days: _Days | None = None  # None: every day


def parse_rules(raw: Mapping[str, Any]) -> Rules:
    """RotateSecret's RotationRules, validated as Secrets Manager does; raises InvalidParameter."""
    after_days, expression = raw.get("AutomaticallyAfterDays"), raw.get("ScheduleExpression")
    if after_days is not None and expression is not None:
        raise InvalidParameter(BOTH)
    if after_days is None and expression is None:
        raise InvalidParameter(NO_SCHEDULE)
    if after_days is not None and (type(after_days) is not int or not 1 <= after_days <= MAX_AFTER_DAYS):
        raise InvalidParameter(AFTER_DAYS_RANGE)
    if expression is not None and not isinstance(expression, str):
        raise InvalidParameter(INVALID_EXPRESSION)
    rules = Rules(after_days, expression, _parse_duration(raw.get("Duration")))
    _plan(rules)  # compiles and checks the expression and the window against each other
    return rules


def _parse_duration(raw: object) -> timedelta | None:
    if raw is None:
        return None
    if not isinstance(raw, str) or not re.fullmatch(r"[0-9]+h", raw):
        raise InvalidParameter(DURATION_FORMAT)
    hours = int(raw[:-1])
    if not 1 <= hours <= 24:
        raise InvalidParameter(DURATION_RANGE)
    return timedelta(hours=hours)


def _plan(rules: Rules) -> _Plan:
    if rules.after_days is not None:
        return _Plan(rules.duration or DAY, every_days=rules.after_days)
    expression = rules.expression or ""
    if expression.startswith("rate("):
        return _rate_plan(expression, rules.duration)
    if expression.startswith("cron(") and expression.endswith(")"):
        return _cron_plan(expression[5:-1], rules.duration)
    raise _invalid()


def _invalid() -> InvalidParameter:
    return InvalidParameter(INVALID_EXPRESSION)


def _rate_plan(expression: str, duration: timedelta | None) -> _Plan:
    """rate(N hours) opens windows at midnight and every N hours after, each UTC day, like cron's h/N."""
    match = _RATE.fullmatch(expression)
    if match is None:
        raise _invalid()
    value, unit = int(match[1]), match[2]
    if unit.startswith("day"):
        if not 1 <= value <= MAX_RATE_DAYS:
            raise InvalidParameter(RATE_DAYS)
        return _Plan(duration or DAY, every_days=value)
    if not MIN_RATE_HOURS <= value <= MAX_RATE_HOURS:
        raise InvalidParameter(RATE_HOURS)
    if duration is not None and duration > value * HOUR:
        raise InvalidParameter(DURATION_OVER_RATE)
    return _grid(tuple(range(0, 24, value)), None, duration)


def _cron_plan(body: str, duration: timedelta | None) -> _Plan:
    fields = body.upper().split(" ")  # names and L, W are case-insensitive
    if len(fields) != 6:
        raise _invalid()
    minutes, hours_field, dom, month, dow, year = fields
    if not _NUMBER.fullmatch(minutes) or int(minutes) != 0 or year != "*":
        raise _invalid()  # windows open on the hour, and schedules repeat at least yearly
    if (dom == "?") == (dow == "?"):
        raise _invalid()  # exactly one of the two day fields says "any"
    hours = tuple(sorted(_values(hours_field, 0, 23)))
    if any(b - a < MIN_GAP_HOURS for a, b in pairwise(hours)):
        raise _invalid()
    days = _Days(frozenset(_values(month, 1, 12, MONTHS)), **(_dom_terms(dom) if dow == "?" else _dow_terms(dow)))
    if _first_day(days, date(2000, 1, 1)) is None:
        raise _invalid()  # e.g. February 30th
    return _grid(hours, days, duration)


def _grid(hours: tuple[int, ...], days: _Days | None, duration: timedelta | None) -> _Plan:
    """Window length and checks: a window ends by midnight and before the next one opens."""
    if duration is None:  # one hour for a schedule in hours, the rest of the day for one in days
        return _Plan(HOUR if len(hours) > 1 else (24 - hours[0]) * HOUR, hours=hours, days=days)
    if any(b - a < duration / HOUR for a, b in pairwise(hours)):
        raise InvalidParameter(DURATION_OVER_GAP)
    if hours[-1] * HOUR + duration > DAY:
        raise InvalidParameter(WITHIN_DAY)
    return _Plan(duration, hours=hours, days=days)


def _values(part_list: str, lo: int, hi: int, names: Mapping[str, int] | None = None) -> set[int]:
    """A plain field: ``*``, ``n``, ``a-b``, steps (``a/s``, ``*/s``, ``a-b/s``, AWS's ``/s``), lists."""
    out: set[int] = set()
    for part in part_list.split(","):
        base, slash, step_text = part.partition("/")
        step = _number(step_text, None) if slash else 1
        if base in ("*", "") and (base or slash):
            first, last = lo, hi
        elif "-" in base:
            first, last = (_number(x, names) for x in base.split("-", 1))
        else:
            first = _number(base, names)
            last = hi if slash else first
        if not (lo <= first <= last <= hi and step >= 1):
            raise _invalid()
        out.update(range(first, last + 1, step))
    return out


def _number(text: str, names: Mapping[str, int] | None) -> int:
    if _NUMBER.fullmatch(text):
        return int(text)
    if names is not None and text.upper() in names:
        return names[text.upper()]
    raise _invalid()


def _weekday(text: str) -> int:
    """AWS's day of week (1-7, 1 = Sunday, or SUN-SAT) as a Python weekday (Monday = 0)."""
    value = _number(text, WEEKDAYS)
    if not 1 <= value <= 7:
        raise _invalid()
    return (value - 2) % 7


def _dom_terms(field: str) -> dict[str, Any]:
    """Day of month: values, ``L``, ``LW``, ``nW``; and ``DAYL``, which AWS's table lists here too."""
    dom: set[int] = set()
    near: set[int] = set()
    last_dow: set[int] = set()
    last = False
    for part in field.split(","):
        if part == "L":
            last = True
        elif part == "LW":
            near.add(0)
        elif match := re.fullmatch(r"([0-9]+)W", part):
            near.add(_check(int(match[1]), 1, 31))
        elif match := re.fullmatch(_WEEKDAY + "L", part):
            last_dow.add(_weekday(match[1]))
        else:
            dom |= _values(part, 1, 31)
    return {"dom": frozenset(dom), "last": last, "near": frozenset(near), "last_dow": frozenset(last_dow)}


def _dow_terms(field: str) -> dict[str, Any]:
    """Day of week: values (1 = Sunday), ``L`` (Saturday), ``nL`` (last n of the month), ``n#k``."""
    dow: set[int] = set()
    last_dow: set[int] = set()
    nth: set[tuple[int, int]] = set()
    for part in field.split(","):
        if part == "L":
            dow.add(_weekday("7"))
        elif match := re.fullmatch(_WEEKDAY + "L", part):
            last_dow.add(_weekday(match[1]))
        elif match := re.fullmatch(_WEEKDAY + "#([0-9]+)", part):
            nth.add((_weekday(match[1]), _check(int(match[2]), 1, 5)))
        else:
            dow |= {(v - 2) % 7 for v in _values(part, 1, 7, WEEKDAYS)}
    return {"dow": frozenset(dow), "last_dow": frozenset(last_dow), "nth_dow": frozenset(nth)}


def _check(value: int, lo: int, hi: int) -> int:
    if not lo <= value <= hi:
        raise _invalid()
    return value


def _nearest_weekday(d: date, target: int, length: int) -> int | None:
    """The day of ``d``'s month that ``targetW`` names: the closest Monday-Friday, never leaving the month."""
    if target > length:
        return None
    weekday = date(d.year, d.month, target).weekday()
    if weekday == 5:  # Saturday: the Friday before, or the Monday after on the 1st
        return target - 1 if target > 1 else target + 2
    if weekday == 6:  # Sunday: the Monday after, or the Friday before on the last day
        return target + 1 if target < length else target - 2
    return target


def _first_day(days: _Days, start: date) -> date | None:
    for offset in range(MAX_SCAN_DAYS):
        if days.matches(day := start + offset * DAY):
            return day
    return None


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _midnight(moment: datetime) -> datetime:
    return datetime.combine(moment.date(), time(), UTC)


def next_window(rules: Rules, last_rotated: datetime | None, created: datetime, after: datetime) -> Window:
    """The first window that opens after the last rotation (or creation) and ends after ``after``.

    ``after`` = the last rotation gives the window that is due, which may be over (missed);
    ``after`` = now skips the missed ones. Manual value changes count as rotations for AWS.
    """
    plan, anchor, after = _plan(rules), _utc(last_rotated or created), _utc(after)
    if plan.every_days is not None:  # the UTC day N days after the last rotation's, then every N days
        base, step = _midnight(anchor), plan.every_days * DAY
        start = base + max(1, (after - plan.length - base) // step + 1) * step
        return Window(start, start + plan.length)
    day = max(anchor, after - plan.length).date()
    for offset in range(MAX_SCAN_DAYS):
        current = day + offset * DAY
        if plan.days is None or plan.days.matches(current):
            for hour in plan.hours:
                start = datetime.combine(current, time(hour), UTC)
                if start > anchor and start + plan.length > after:
                    return Window(start, start + plan.length)
    raise _invalid()  # unreachable: parsing rejected expressions that never match


def windows(
    rules: Rules, last_rotated: datetime | None, created: datetime, after: datetime, count: int
) -> list[Window]:
    """``count`` windows in order from ``next_window``, as if each rotation happened in its window."""
    out: list[Window] = []
    while len(out) < count:
        window = next_window(rules, last_rotated, created, out[-1].end if out else after)
        last_rotated = window.start  # an interval restarts from the day it rotated on
        out.append(window)
    return out


def pick_moment(window: Window, rng: random.Random) -> datetime:
    """When in ``window`` the rotation starts: a uniformly random hour, a minute weighted to its top.

    AWS: "The service chooses the hour within that 24-hour date window randomly. The minute is also
    chosen somewhat randomly, but is weighted towards the top of the hour". Observed minutes sit
    around :05-:08, so the minute follows an exponential truncated to the hour (mean ~10 minutes).
    """
    hours = max(1, (window.end - window.start) // HOUR)
    tail = math.exp(-60 / MINUTE_SCALE)
    minutes = -MINUTE_SCALE * math.log(1 - rng.random() * (1 - tail))
    moment = window.start + rng.randrange(hours) * HOUR + timedelta(minutes=minutes)
    return min(moment.replace(microsecond=0), window.end - SECOND)


def next_rotation_date(rules: Rules, last_rotated: datetime | None, created: datetime) -> datetime:
    """DescribeSecret's NextRotationDate: the last second of the window that is due.

    AWS documents it as "the latest date that rotation will occur" and shows e.g.
    ``23:59:59`` UTC for day windows; it stays in the past while a due rotation has not happened.
    """
    return next_window(rules, last_rotated, created, _utc(last_rotated or created)).end - SECOND


def reported_after_days(rules: Rules, last_rotated: datetime | None, created: datetime) -> int:
    """The AutomaticallyAfterDays that DescribeSecret shows beside a ScheduleExpression.

    AWS computes it from the schedule (rate(10 hours) shows 1, a weekly cron 7): here the days from
    the last rotation's date to the due window's, at least 1.
    """
    if rules.after_days is not None:
        return rules.after_days
    anchor = _utc(last_rotated or created)
    window = next_window(rules, last_rotated, created, anchor)
    return max(1, (window.start.date() - anchor.date()).days)


def is_overdue(window: Window, now: datetime) -> bool:
    """True once the window has closed without the rotation it was for: the caller may catch up."""
    return _utc(now) >= window.end


def late_by(window: Window, now: datetime) -> timedelta | None:
    """How long after the window closed ``now`` is, or None if it has not closed."""
    return _utc(now) - window.end if is_overdue(window, now) else None
