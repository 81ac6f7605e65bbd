"""Schedules fire: EventBridge rules with a ScheduleExpression and EventBridge Scheduler
schedules deliver to their targets on time, driven by one background thread.

moto 5.2.5 stores both (checking only the expression's outline) and never fires either.

Time can run fast: `QLDB_DR_LOCAL_TIME_SCALE` is the number of real seconds one scheduled
second takes (default 1; 0.01 makes `rate(5 minutes)` fire every 3 s and a daily cron
every 14.4 min). The scale is read at every tick, so it can change while the endpoint
runs; schedules then continue on a clock that runs at the new speed.

Semantics, as on AWS unless said otherwise:

* `rate(n minute|minutes|hour|hours|day|days)` fires every n units, first n units after
  the rule or schedule is seen enabled, or after its StartDate (re-enabling restarts the
  count);
* `cron(minutes hours day-of-month month day-of-week year)` with `* ? , - /`, names
  (JAN-DEC, SUN-SAT, 1 = Sunday), `L`, `LW`, `nW` in day-of-month and `L`, `nL`,
  `n#k` in day-of-week; in UTC for rules, in ScheduleExpressionTimezone for schedules;
* `at(yyyy-mm-ddThh:mm:ss)` (Scheduler only) fires once; ActionAfterCompletion DELETE
  then deletes the schedule;
* a rule's scheduled event is `{"detail-type": "Scheduled Event", "source": "aws.events",
  "resources": [rule ARN], "detail": {}, …}` and goes through the rule's targets like any
  event (Input, InputPath, InputTransformer); a Scheduler schedule sends its Target.Input
  (`{}` if none) to a Step Functions target — other Scheduler targets are not delivered;
* Scheduler's StartDate / EndDate bound the firings; FlexibleTimeWindow is ignored (every
  firing is on time); a firing missed while the thread was busy is made once, late, not
  once per missed period; the event's `time` is the real time of the firing.

The thread is a daemon started by `install()`; `stop()` ends it (the endpoint's process
ends it otherwise). moto's state is process-wide, so one thread serves every endpoint in
the process.
"""

from __future__ import annotations

import atexit
import calendar
import datetime
import functools
import logging
import os
import re
import threading
import time
import uuid
import zoneinfo
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from qldb_dr.local.aws import events

log = logging.getLogger(__name__)

TIME_SCALE_ENV = "QLDB_DR_LOCAL_TIME_SCALE"
UTC = datetime.UTC


class InvalidSchedule(ValueError):
    """A schedule expression this module cannot evaluate."""


class Schedule(Protocol):
    def next_after(self, moment: datetime.datetime, anchor: datetime.datetime) -> datetime.datetime | None:
        """The first firing strictly after `moment` (None: never again); `anchor` is when
        the schedule was seen enabled."""


@dataclass(frozen=True)
class Rate:
    period: datetime.timedelta

    def next_after(self, moment: datetime.datetime, anchor: datetime.datetime) -> datetime.datetime:
        periods = max(0, int((moment - anchor) / self.period))
        following = anchor + self.period * periods
        while following <= moment:
            following += self.period
        return following


@dataclass(frozen=True)
class At:
    moment: datetime.datetime

    def next_after(self, moment: datetime.datetime, anchor: datetime.datetime) -> datetime.datetime | None:
        return self.moment if self.moment > moment else None


_MONTHS = {
    name: number
    for number, name in enumerate(
        ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"), start=1
    )
}
_DAYS = {name: number for number, name in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"), start=1)}


def _aws_weekday(day: datetime.date) -> int:
    """1 = Sunday … 7 = Saturday, as cron expressions count."""
    return (day.weekday() + 1) % 7 + 1


def _values(field_text: str, low: int, high: int, names: dict[str, int] | None = None) -> frozenset[int]:
    """The numbers a cron field of `* , - /` and names selects."""
    selected: set[int] = set()

    def number(token: str) -> int:
        token = token.upper()
        value = names[token] if names and token in names else int(token)
        if not low <= value <= high:
            raise InvalidSchedule(f"{token} is outside {low}-{high}")
        return value

    for item in field_text.split(","):
        stepped = "/" in item
        part, step = item, 1
        if stepped:
            part, step_text = item.split("/", 1)
            step = int(step_text)
            if step < 1:
                raise InvalidSchedule(f"step {step_text} is not positive")
        if part in ("*", "?"):
            start, end = low, high
        elif "-" in part:
            first, last = part.split("-", 1)
            start, end = number(first), number(last)
        else:
            start = number(part)
            end = high if stepped else start  # "5/15": from 5, every 15
        selected.update(range(start, end + 1, step))
    return frozenset(selected)


@dataclass(frozen=True)
class Cron:
    minutes: frozenset[int]
    hours: frozenset[int]
    months: frozenset[int]
    years: frozenset[int]
    day_matches: Callable[[datetime.date], bool]
    zone: datetime.tzinfo = UTC

    @classmethod
    def parse(cls, text: str, zone: datetime.tzinfo = UTC) -> Cron:
        fields = text.split()
        if len(fields) != 6:
            raise InvalidSchedule(f"cron({text}) needs 6 fields")
        minute, hour, day_of_month, month, day_of_week, year = fields
        if (day_of_month == "?") == (day_of_week == "?"):
            raise InvalidSchedule("exactly one of day-of-month and day-of-week must be ?")
        try:
            return cls(
                minutes=_values(minute, 0, 59),
                hours=_values(hour, 0, 23),
                months=_values(month, 1, 12, _MONTHS),
                years=_values(year, 1970, 2199),
                day_matches=_day_of_week(day_of_week) if day_of_month == "?" else _day_of_month(day_of_month),
                zone=zone,
            )
        except (ValueError, KeyError) as exc:
            raise InvalidSchedule(f"cron({text}): {exc}") from exc

    def next_after(self, moment: datetime.datetime, anchor: datetime.datetime) -> datetime.datetime | None:
        local = moment.astimezone(self.zone)
        day = local.date()
        for _ in range(366 * 8):  # every day of the next 8 years at most
            if day.year > max(self.years):
                return None
            if day.year in self.years and day.month in self.months and self.day_matches(day):
                for hour in sorted(self.hours):
                    for minute in sorted(self.minutes):
                        naive = datetime.datetime(day.year, day.month, day.day, hour, minute)
                        candidate = naive.replace(tzinfo=self.zone).astimezone(UTC)
                        if candidate > moment:
                            return candidate
            day += datetime.timedelta(days=1)
        return None


def _last_day(day: datetime.date) -> int:
    return calendar.monthrange(day.year, day.month)[1]


def _nearest_weekday(year: int, month: int, wanted: int) -> int:
    """The weekday (Mon-Fri) nearest the `wanted` day, within the month."""
    last = calendar.monthrange(year, month)[1]
    wanted = min(wanted, last)
    weekday = datetime.date(year, month, wanted).weekday()
    if weekday == 5:  # Saturday → Friday, or Monday when the 1st
        return wanted - 1 if wanted > 1 else wanted + 2
    if weekday == 6:  # Sunday → Monday, or Friday when the last day
        return wanted + 1 if wanted < last else wanted - 2
    return wanted


def _day_of_month(text: str) -> Callable[[datetime.date], bool]:
    if text == "L":
        return lambda day: day.day == _last_day(day)
    if text == "LW":
        return lambda day: day.day == _nearest_weekday(day.year, day.month, _last_day(day))
    if text.endswith("W"):
        wanted = int(text[:-1])
        return lambda day: day.day == _nearest_weekday(day.year, day.month, wanted)
    values = _values(text, 1, 31)
    return lambda day: day.day in values


def _day_of_week(text: str) -> Callable[[datetime.date], bool]:
    if text == "L":
        return lambda day: _aws_weekday(day) == 7
    if text.endswith("L"):
        weekday = _values(text[:-1], 1, 7, _DAYS)
        return lambda day: _aws_weekday(day) in weekday and day.day + 7 > _last_day(day)
    if "#" in text:
        weekday_text, nth_text = text.split("#", 1)
        weekday, nth = _values(weekday_text, 1, 7, _DAYS), int(nth_text)
        return lambda day: _aws_weekday(day) in weekday and (day.day - 1) // 7 + 1 == nth
    values = _values(text, 1, 7, _DAYS)
    return lambda day: _aws_weekday(day) in values


_RATE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$")
_CRON = re.compile(r"^cron\((.*)\)$")
_AT = re.compile(r"^at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)$")


def parse(expression: str, timezone: str | None = None) -> Schedule:
    """A ScheduleExpression: rate(…), cron(…) or at(…)."""
    zone: datetime.tzinfo = zoneinfo.ZoneInfo(timezone) if timezone and timezone != "UTC" else UTC
    expression = expression.strip()
    if rate := _RATE.match(expression):
        value, unit = int(rate.group(1)), rate.group(2).rstrip("s")
        if value < 1:
            raise InvalidSchedule(f"{expression}: the rate must be positive")
        return Rate(datetime.timedelta(**{unit + "s": value}))
    if cron := _CRON.match(expression):
        return Cron.parse(cron.group(1), zone)
    if at := _AT.match(expression):
        return At(datetime.datetime.fromisoformat(at.group(1)).replace(tzinfo=zone).astimezone(UTC))
    raise InvalidSchedule(f"unsupported schedule expression {expression!r}")


# --- the clock ------------------------------------------------------------------------


def time_scale() -> float:
    """Real seconds per scheduled second, from QLDB_DR_LOCAL_TIME_SCALE (default 1)."""
    text = os.environ.get(TIME_SCALE_ENV, "").strip()
    try:
        scale = float(text) if text else 1.0
    except ValueError:
        log.warning("ignoring %s=%r: not a number", TIME_SCALE_ENV, text)
        return 1.0
    return scale if scale > 0 else 1.0


class Clock:
    """Scheduled time: starts at the real time and runs 1/scale times as fast."""

    def __init__(self, real: Callable[[], float] = time.time, scale: Callable[[], float] = time_scale) -> None:
        self._real, self._scale = real, scale
        self._origin_real = self._origin_scheduled = real()
        self._current_scale = scale()
        self._last = (self._origin_real, self._origin_scheduled)  # the last reading: (real, scheduled)

    def now(self) -> datetime.datetime:
        real, scale = self._real(), self._scale()
        if scale != self._current_scale:  # the new speed counts from the last reading: no jump
            self._origin_real, self._origin_scheduled = self._last
            self._current_scale = scale
        scheduled = self._origin_scheduled + (real - self._origin_real) / scale
        self._last = (real, scheduled)
        return datetime.datetime.fromtimestamp(scheduled, UTC)

    def tick_seconds(self) -> float:
        """How long the thread sleeps between looks: a few per scheduled minute at most."""
        return min(1.0, max(0.02, self._scale() * 5))


# --- what fires -----------------------------------------------------------------------


@dataclass
class Entry:
    """One schedule's state between firings."""

    owner: Any  # the moto Rule or Schedule object; a new object restarts the schedule
    expression: str
    schedule: Schedule | None
    anchor: datetime.datetime
    following: datetime.datetime | None = None


@dataclass
class Due:
    key: tuple[str, ...]
    owner: Any
    expression: str
    timezone: str | None
    enabled: bool
    fire: Callable[[], None]
    start: datetime.datetime | None = None
    end: datetime.datetime | None = None
    after_completion: Callable[[], None] | None = None


def _rules() -> Iterator[Due]:
    from moto.events.models import events_backends

    backends: list[tuple[str, str, Any]] = list(events_backends.iter_backends())
    for account, region, backend in backends:
        for bus in list(backend.event_buses.values()):
            for rule in list(bus.rules.values()):
                if rule.scheduled_expression:
                    yield Due(
                        key=("rule", account, region, bus.name, rule.name),
                        owner=rule,
                        expression=rule.scheduled_expression,
                        timezone=None,
                        enabled=rule.state == "ENABLED",
                        fire=functools.partial(fire_rule, rule, account, region),
                    )


def fire_rule(rule: Any, account: str, region: str) -> None:
    event = {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": account,
        "time": time.time(),
        "region": region,
        "resources": [rule.arn],
        "detail": {},
    }
    rule.send_to_targets(event, transform_input=False)


def _epoch(value: Any) -> datetime.datetime | None:
    if value is None:
        return None
    if isinstance(value, int | float | str) and str(value).replace(".", "", 1).isdigit():
        return datetime.datetime.fromtimestamp(float(value), UTC)
    if isinstance(value, datetime.datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _schedules() -> Iterator[Due]:
    from moto.scheduler.models import scheduler_backends

    backends: list[tuple[str, str, Any]] = list(scheduler_backends.iter_backends())
    for account, region, backend in backends:
        for group in list(backend.schedule_groups.values()):
            for schedule in list(group.schedules.values()):
                delete = schedule.action_after_completion == "DELETE"
                yield Due(
                    key=("schedule", account, region, group.name, schedule.name),
                    owner=schedule,
                    expression=schedule.schedule_expression,
                    timezone=schedule.schedule_expression_timezone,
                    enabled=schedule.state == "ENABLED",
                    fire=functools.partial(fire_schedule, schedule),
                    start=_epoch(schedule.start_date),
                    end=_epoch(schedule.end_date),
                    after_completion=functools.partial(group.schedules.pop, schedule.name, None) if delete else None,
                )


def fire_schedule(schedule: Any) -> None:
    target = schedule.target or {}
    arn = str(target.get("Arn", ""))
    if not events.is_state_machine(arn):
        log.warning("schedule %s: target %s is not delivered by the local endpoint", schedule.arn, arn)
        return
    events.start_execution(arn, str(target.get("Input") or "{}"))


@dataclass
class Scheduler:
    """Fires due schedules; `poll()` does one look (the thread calls it every tick)."""

    clock: Clock = field(default_factory=Clock)
    sources: tuple[Callable[[], Iterator[Due]], ...] = (_rules, _schedules)
    entries: dict[tuple[str, ...], Entry] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def poll(self) -> int:
        """Fire what is due; the number fired."""
        now = self.clock.now()
        seen, fired = set(), 0
        for source in self.sources:
            try:
                dues = list(source())
            except Exception:
                log.exception("cannot list schedules")
                continue
            for due in dues:
                seen.add(due.key)
                fired += self._consider(due, now)
        for key in set(self.entries) - seen:
            del self.entries[key]
        return fired

    def _consider(self, due: Due, now: datetime.datetime) -> int:
        entry = self.entries.get(due.key)
        if entry is None or entry.owner is not due.owner or entry.expression != due.expression:
            try:
                schedule: Schedule | None = parse(due.expression, due.timezone)
            except (InvalidSchedule, zoneinfo.ZoneInfoNotFoundError) as exc:
                log.warning("%s will never fire: %s", "/".join(due.key), exc)
                schedule = None
            entry = self.entries[due.key] = Entry(
                due.owner, due.expression, schedule, anchor=max(now, due.start or now)
            )
        if not due.enabled or entry.schedule is None:
            entry.following = None
            entry.anchor = max(now, due.start or now)  # counting restarts when it is enabled again
            return 0
        if entry.following is None:
            entry.following = entry.schedule.next_after(entry.anchor if entry.anchor > now else now, entry.anchor)
        if entry.following is None or entry.following > now:
            return 0
        if due.end is not None and entry.following > due.end:
            entry.following = None
            return 0
        entry.following = entry.schedule.next_after(now, entry.anchor)
        try:
            due.fire()
        except Exception:
            log.exception("%s: delivery failed", "/".join(due.key))
        if entry.following is None and due.after_completion is not None:
            due.after_completion()
        return 1

    def run(self) -> None:
        while not self._stop.wait(self.clock.tick_seconds()):
            try:
                self.poll()
            except Exception:
                log.exception("schedule poll failed")

    def start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self.run, name="qldb-dr-schedules", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None


_lock = threading.Lock()


@functools.cache
def scheduler() -> Scheduler:
    """The process's scheduler (moto's state is process-wide, so is the thread)."""
    atexit.register(stop)
    return Scheduler()


def install() -> None:
    """Start the schedule thread (idempotent); rules deliver through events.install()."""
    events.install()
    with _lock:
        scheduler().start()


def stop() -> None:
    """Stop the schedule thread (install() starts it again)."""
    with _lock:
        scheduler().stop()
