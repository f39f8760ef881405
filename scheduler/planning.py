"""When each nudge is due: pure planning rules over dates, zones and an explicit "now"."""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from scheduler.calendar import Holidays, place_codes

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_FULL_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


@dataclass(frozen=True)
class Rules:
    delivery_time: time = time(9, 30)
    delivery_end: time = time(17, 0)
    delivery_days: frozenset[int] = frozenset({0, 1, 2, 3, 4})  # Monday=0
    goal_invite_days: int = 5  # working days before start
    pre_training_days: int = 3  # working days before start
    post_training_days: int = 1  # working days after end
    # Calendar days after the end, one follow-up round each (strictly increasing), each
    # moved to the next working day.
    follow_up_days: tuple[int, ...] = (30,)
    reminder_after_days: int = 2  # working days after the local date a prompt was sent
    max_reminders: int = 1
    max_late_days: int = 14  # a debrief or follow-up later than this is skipped
    ooo_max_working_days: int = 10  # out-of-office deferral limit
    # HOLIDAYS: "auto" (each person's country), "off", or codes for everyone ("GB,US").
    holidays: str = "off"
    # The public holidays of the place these rules are for (see `for_place`); None: none.
    days_off: Holidays | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        # Validated here so that a bad configuration fails at start-up with a clear message
        # instead of as an endless search for a window that never opens.
        if self.delivery_time.tzinfo is not None or self.delivery_end.tzinfo is not None:
            raise ValueError("delivery times must be local wall-clock times without a zone")
        if self.delivery_end <= self.delivery_time:
            raise ValueError(
                f"the delivery window is empty: delivery end {self.delivery_end:%H:%M} "
                f"must be later than delivery time {self.delivery_time:%H:%M}"
            )
        days = frozenset(self.delivery_days)
        if not days:
            raise ValueError("at least one delivery day is needed")
        if not days <= frozenset(range(7)):
            raise ValueError(f"delivery days must be 0 (Monday) to 6 (Sunday), got {sorted(days)}")
        object.__setattr__(self, "delivery_days", days)
        for name in (
            "goal_invite_days",
            "pre_training_days",
            "post_training_days",
            "reminder_after_days",
            "max_reminders",
            "max_late_days",
            "ooo_max_working_days",
        ):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")
        rounds = tuple(self.follow_up_days)
        if not rounds:
            raise ValueError("at least one follow-up day is needed")
        if rounds[0] < 0 or any(b <= a for a, b in itertools.pairwise(rounds)):
            raise ValueError(f"follow-up days must be increasing and not negative, got {rounds}")
        object.__setattr__(self, "follow_up_days", rounds)

    def for_place(self, country: str | None, tz_name: str | None) -> Rules:
        """These rules with the public holidays of a person's place as days off."""
        return _for_codes(self, place_codes(self.holidays, country, tz_name))


@functools.lru_cache(maxsize=1024)
def _for_codes(rules: Rules, codes: tuple[str, ...]) -> Rules:
    return replace(rules, days_off=Holidays(codes) if codes else None)


@dataclass(frozen=True)
class Slot:
    due_at: datetime | None  # aware UTC when it should go out, None when skipped
    skip_reason: str | None = None

    def __post_init__(self) -> None:
        if (self.due_at is None) == (self.skip_reason is None):
            raise ValueError("a slot has either a due time or a skip reason, not both or neither")
        if self.due_at is not None:
            _require_aware(self.due_at, "due_at")


def _require_aware(value: datetime, name: str) -> None:
    # A naive datetime would silently be read in the server's zone, which INTERFACE.md forbids.
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {value!r}")


def zone(tz_name: str | None, default: str) -> ZoneInfo:
    """The IANA zone `tz_name`, or `default` when it is missing or unknown.

    An invalid `default` raises ValueError: that is a configuration error, not a user's.
    """
    if tz_name:
        try:
            return ZoneInfo(tz_name)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            pass
    try:
        return ZoneInfo(default)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise ValueError(
            f"unknown time zone {default!r}: use an IANA name like Europe/Paris"
        ) from exc


def _is_working_day(day: date, rules: Rules) -> bool:
    if day.weekday() not in rules.delivery_days:
        return False
    return rules.days_off is None or day not in rules.days_off


def next_working_day_on_or_after(day: date, rules: Rules) -> date:
    while not _is_working_day(day, rules):
        day += timedelta(days=1)
    return day


def _previous_working_day_on_or_before(day: date, rules: Rules) -> date:
    while not _is_working_day(day, rules):
        day -= timedelta(days=1)
    return day


def working_days_before(day: date, n: int, rules: Rules) -> date:
    """The n-th working day before `day` (`day` itself is not counted).

    With n == 0 it is `day` when that is a working day, else the working day before it, so the
    result is always a working day.
    """
    if n < 0:
        raise ValueError(f"n must not be negative, got {n}")
    if n == 0:
        return _previous_working_day_on_or_before(day, rules)
    while n:
        day -= timedelta(days=1)
        if _is_working_day(day, rules):
            n -= 1
    return day


def working_days_after(day: date, n: int, rules: Rules) -> date:
    """The n-th working day after `day` (`day` itself is not counted).

    With n == 0 it is `day` when that is a working day, else the next one.
    """
    if n < 0:
        raise ValueError(f"n must not be negative, got {n}")
    if n == 0:
        return next_working_day_on_or_after(day, rules)
    while n:
        day += timedelta(days=1)
        if _is_working_day(day, rules):
            n -= 1
    return day


def _local_naive(moment: datetime, tz: ZoneInfo) -> datetime:
    return moment.astimezone(tz).replace(tzinfo=None)


def _openings(day: date, tz: ZoneInfo, rules: Rules) -> list[datetime]:
    # The window opens at the first instant of the local day whose wall-clock reading is at
    # least delivery_time. Usually that is delivery_time itself; when a DST gap swallows it,
    # it is the end of the gap; when a DST fold repeats it, the clock reaches it twice and the
    # window reopens at the second occurrence.
    wall = datetime.combine(day, rules.delivery_time)
    first = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    second = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
    if _local_naive(first, tz) == wall:
        return [first] if first == second else sorted({first, second})
    # In a gap, fold=1 lands before it and fold=0 after it; search for the transition.
    low, high = min(first, second), max(first, second)
    low_s, high_s = int(low.timestamp()), int(high.timestamp())
    while high_s - low_s > 1:
        middle = (low_s + high_s) // 2
        if _local_naive(datetime.fromtimestamp(middle, UTC), tz) >= wall:
            high_s = middle
        else:
            low_s = middle
    return [datetime.fromtimestamp(high_s, UTC)]


def local_slot(day: date, tz: ZoneInfo, rules: Rules) -> datetime:
    """`day` at delivery_time in `tz`, as aware UTC, with that date's own DST offset.

    A delivery_time that does not exist on that date (skipped by a DST gap) gives the first
    instant after the gap (02:30 on a 02:00->03:00 night gives 03:00). One that occurs twice
    (DST fold) gives the first occurrence. Should the window not open at all on that local
    date (a zone that skipped the whole day), the next window start is returned instead.
    The weekday is not checked: pass a working day.
    """
    opening = _openings(day, tz, rules)[0]
    local = opening.astimezone(tz)
    if local.date() == day and rules.delivery_time <= local.time() < rules.delivery_end:
        return opening
    return next_window_start(opening, tz, rules)


def in_window(now: datetime, tz: ZoneInfo, rules: Rules) -> bool:
    """Whether `now` is in [delivery_time, delivery_end) on a working day, in `tz`."""
    _require_aware(now, "now")
    local = now.astimezone(tz)
    return (
        _is_working_day(local.date(), rules)
        and rules.delivery_time <= local.time() < rules.delivery_end
    )


def next_window_start(now: datetime, tz: ZoneInfo, rules: Rules) -> datetime:
    """`now` (as UTC) if it is inside the window, else the start of the next window."""
    if in_window(now, tz, rules):
        return now.astimezone(UTC)
    today = now.astimezone(tz).date()
    # A week always holds a delivery day; the margin covers runs of public holidays (a
    # Golden Week, the days around New Year) and zones that skipped a whole date.
    for offset in range(45):
        day = today + timedelta(days=offset)
        if not _is_working_day(day, rules):
            continue
        for opening in _openings(day, tz, rules):
            if opening > now and in_window(opening, tz, rules):
                return opening
    raise RuntimeError(f"no delivery window found in {tz.key} after {now.isoformat()}")


def place_before_start(
    due_at: datetime, starts_on: date, now: datetime, tz: ZoneInfo, rules: Rules
) -> Slot:
    """Where a goal invite or pre-training prompt goes: as planned, late, or not at all.

    Late means at the next window (now, when inside it), provided that window opens on a local
    date no later than `starts_on`; otherwise the training has started and it is skipped.
    """
    _require_aware(due_at, "due_at")
    if due_at >= now:
        return Slot(due_at.astimezone(UTC))
    late = next_window_start(now, tz, rules)
    if late.astimezone(tz).date() <= starts_on:
        return Slot(late)
    return Slot(None, "training already started")


def place_after_end(due_at: datetime, now: datetime, tz: ZoneInfo, rules: Rules) -> Slot:
    """Where a debrief or follow-up goes: as planned, late, or skipped when too late.

    Lateness is measured at the moment it would actually go out (the next window), so nothing
    is ever sent more than max_late_days after its due time.
    """
    _require_aware(due_at, "due_at")
    if due_at >= now:
        return Slot(due_at.astimezone(UTC))
    late = next_window_start(now, tz, rules)
    if late - due_at > timedelta(days=rules.max_late_days):
        return Slot(None, f"more than {rules.max_late_days} days late")
    return Slot(late)


def follow_up_date(ends_on: date, rules: Rules, number: int = 1) -> date:
    """The day of follow-up round `number` (1 = the first of follow_up_days)."""
    days = rules.follow_up_days[number - 1]
    return next_working_day_on_or_after(ends_on + timedelta(days=days), rules)


def round_key(kind: str, number: int) -> str:
    """A follow-up's key in a plan: its kind for the first round, `kind.N` for round N."""
    return kind if number == 1 else f"{kind}.{number}"


def _goal_invite(starts_on: date, tz: ZoneInfo, now: datetime, rules: Rules) -> Slot:
    day = working_days_before(starts_on, rules.goal_invite_days, rules)
    return place_before_start(local_slot(day, tz, rules), starts_on, now, tz, rules)


def _pre_training(starts_on: date, tz: ZoneInfo, now: datetime, rules: Rules) -> Slot:
    day = working_days_before(starts_on, rules.pre_training_days, rules)
    return place_before_start(local_slot(day, tz, rules), starts_on, now, tz, rules)


def _debrief(ends_on: date, tz: ZoneInfo, now: datetime, rules: Rules) -> Slot:
    day = working_days_after(ends_on, rules.post_training_days, rules)
    return place_after_end(local_slot(day, tz, rules), now, tz, rules)


# A slot rule: (the day it counts from, the recipient's zone, now, the rules) -> Slot.
_Rule = Callable[[date, ZoneInfo, datetime, Rules], Slot]


@functools.lru_cache(maxsize=64)
def _follow_up(number: int) -> _Rule:
    """The rule of follow-up round `number`: one function per round, so PlanMemo keeps the
    rounds' slots apart."""

    def rule(ends_on: date, tz: ZoneInfo, now: datetime, rules: Rules) -> Slot:
        day = follow_up_date(ends_on, rules, number)
        return place_after_end(local_slot(day, tz, rules), now, tz, rules)

    return rule


def _self_paced_start(starts_on: date, tz: ZoneInfo, now: datetime, rules: Rules) -> Slot:
    """The goal invite or pre-training prompt of a self-paced training: due at once, as a
    late nudge (now inside the window, else at the next one). A self-paced course has begun
    for everyone the day it opens, so "already started" does not skip it; a course opened
    more than max_late_days before that window is too far along for it."""
    late = next_window_start(now, tz, rules)
    if late.astimezone(tz).date() > starts_on + timedelta(days=rules.max_late_days):
        return Slot(None, f"self-paced training started more than {rules.max_late_days} days ago")
    return Slot(late)


def _completed_before(completed_on: date, tz: ZoneInfo, now: datetime, rules: Rules) -> Slot:
    # A goal invite or pre-training prompt not sent by the time the learner completed has
    # missed its moment.
    return Slot(None, "training already completed")


def _debrief_after_completion(
    completed_on: date, tz: ZoneInfo, now: datetime, rules: Rules
) -> Slot:
    """The debrief of a reported completion: none when the completion is old news."""
    if (now.astimezone(tz).date() - completed_on).days > rules.max_late_days:
        return Slot(None, f"completed more than {rules.max_late_days} days ago")
    return _debrief(completed_on, tz, now, rules)


def plan_enrollment(
    *,
    starts_on: date,
    ends_on: date | None,
    learner_tz: ZoneInfo,
    manager_tz: ZoneInfo | None,
    now: datetime,
    rules: Rules,
    completed_on: date | None = None,
) -> dict[str, Slot]:
    """Every nudge of one enrollment, keyed by kind.

    Keys: goal_invite and learner_follow_up (learner); pre_training, debrief and follow_up
    (manager), omitted when `manager_tz` is None. Follow-ups after the first round of
    follow_up_days are keyed `learner_follow_up.2`, `follow_up.2`... (`round_key`).
    `ends_on` None is a self-paced training:
    its debrief and follow-ups wait for `completed_on`, from which they are planned as from
    an end, for scheduled trainings as well; until then they are omitted.
    """
    return PlanMemo(now=now, rules=rules).plan(
        starts_on=starts_on,
        ends_on=ends_on,
        learner_tz=learner_tz,
        manager_tz=manager_tz,
        completed_on=completed_on,
    )


class PlanMemo:
    """The slots of enrollments planned at one `now`, each slot worked out once.

    `plan_enrollment` plans one enrollment with it, an import thousands with one. Every slot
    depends on one date (the start, the end or the completion), one zone, `now` and the
    rules, and an import repeats the same few dates and zones thousands of times. The slots
    are the pure functions' own results (Slot is frozen, so sharing them is safe).
    """

    def __init__(self, *, now: datetime, rules: Rules) -> None:
        _require_aware(now, "now")
        self.now = now
        self.rules = rules
        self._slots: dict[tuple[Any, date, ZoneInfo, Holidays | None], Slot] = {}

    def _slot(self, rule: Any, day: date, tz: ZoneInfo, rules: Rules) -> Slot:
        key = (rule, day, tz, rules.days_off)
        slot = self._slots.get(key)
        if slot is None:
            slot = self._slots[key] = rule(day, tz, self.now, rules)
        return slot

    def plan(
        self,
        *,
        starts_on: date,
        ends_on: date | None,
        learner_tz: ZoneInfo,
        manager_tz: ZoneInfo | None,
        completed_on: date | None = None,
        learner_rules: Rules | None = None,
        manager_rules: Rules | None = None,
    ) -> dict[str, Slot]:
        """What `plan_enrollment` says of one enrollment: which rule plans each nudge, from
        which date, in whose zone, by whose working days (the memo's rules by default)."""
        if ends_on is not None and ends_on < starts_on:
            raise ValueError(f"ends_on {ends_on} is before starts_on {starts_on}")
        if completed_on is not None and completed_on < starts_on:
            raise ValueError(f"completed_on {completed_on} is before starts_on {starts_on}")
        slot = self._slot
        # Which rule plans the nudges before the training, and from which date; and the
        # date the debrief and follow-ups count from (None: they wait for the completion).
        goal_rule: _Rule
        pre_rule: _Rule
        debrief: _Rule = _debrief
        if completed_on is not None:
            goal_rule = pre_rule = _completed_before
            start, end, debrief = completed_on, completed_on, _debrief_after_completion
        elif ends_on is None:
            goal_rule = pre_rule = _self_paced_start
            start, end = starts_on, None
        else:
            goal_rule, pre_rule = _goal_invite, _pre_training
            start, end = starts_on, ends_on
        learner_rules = learner_rules or self.rules
        plan = {"goal_invite": slot(goal_rule, start, learner_tz, learner_rules)}
        rounds = range(1, len(self.rules.follow_up_days) + 1)
        if end is not None:
            for number in rounds:
                key = round_key("learner_follow_up", number)
                plan[key] = slot(_follow_up(number), end, learner_tz, learner_rules)
        if manager_tz is not None:
            manager_rules = manager_rules or self.rules
            plan["pre_training"] = slot(pre_rule, start, manager_tz, manager_rules)
            if end is not None:
                plan["debrief"] = slot(debrief, end, manager_tz, manager_rules)
                for number in rounds:
                    key = round_key("follow_up", number)
                    plan[key] = slot(_follow_up(number), end, manager_tz, manager_rules)
        return plan


def reminder_slot(
    *,
    sent_at: datetime,
    tz: ZoneInfo,
    rules: Rules,
    starts_on: date | None = None,
    now: datetime | None = None,
) -> Slot:
    """The reminder of a prompt sent at `sent_at`; pass `starts_on` for a pre-training prompt.

    Counting reminders against max_reminders is the caller's business.
    """
    _require_aware(sent_at, "sent_at")
    day = working_days_after(sent_at.astimezone(tz).date(), rules.reminder_after_days, rules)
    due_at = local_slot(day, tz, rules)
    if now is not None and due_at < now:
        due_at = next_window_start(now, tz, rules)
    if starts_on is not None and due_at.astimezone(tz).date() > starts_on:
        return Slot(None, "after the training started")
    return Slot(due_at)


def snooze_slot(now: datetime, tz: ZoneInfo, rules: Rules) -> datetime:
    """ "Remind me tomorrow": delivery_time on the next working day after now's local date."""
    _require_aware(now, "now")
    return local_slot(working_days_after(now.astimezone(tz).date(), 1, rules), tz, rules)


_OOO_EMOJI = frozenset({"palm_tree", "airplane", "face_with_thermometer"})
_OOO_TEXT = re.compile(r"vacation|holiday|out of office|\booo\b|sick|\bleave\b", re.IGNORECASE)


def is_out_of_office(profile: Mapping[str, Any], now: datetime) -> bool:
    """Whether a Slack users.profile shows an absence that has not expired at `now`."""
    _require_aware(now, "now")
    expiration = profile.get("status_expiration") or 0
    try:
        expires = int(expiration)
    except (TypeError, ValueError):
        expires = 0  # an unreadable expiry is treated as "never", like Slack's 0
    if expires and expires <= now.timestamp():
        return False
    # Slack appends skin tones as ":emoji::skin-tone-2:".
    emoji = str(profile.get("status_emoji") or "").strip().lower()
    if emoji.split("::")[0].strip(":") in _OOO_EMOJI:
        return True
    # "Out-of-office" and "out_of   office" should count like "out of office".
    text = " ".join(re.sub(r"[-_]", " ", str(profile.get("status_text") or "")).split())
    return bool(_OOO_TEXT.search(text))


def ooo_defer(*, now: datetime, tz: ZoneInfo, deferrals_so_far: int, rules: Rules) -> Slot:
    """Where a nudge held back by an absence goes: the next working day, or skipped."""
    if deferrals_so_far >= rules.ooo_max_working_days:
        return Slot(None, f"out of office for {rules.ooo_max_working_days} working days")
    return Slot(snooze_slot(now, tz, rules))


_CLOCK = re.compile(r"(\d{1,2}):(\d{2})")


def parse_clock(text: str) -> time:
    """ "09:30" -> time(9, 30); 24-hour clock, minutes required."""
    match = _CLOCK.fullmatch(text.strip())
    if match:
        hour, minute = int(match[1]), int(match[2])
        if hour < 24 and minute < 60:
            return time(hour, minute)
    raise ValueError(f"invalid time {text!r}: expected HH:MM on a 24-hour clock, e.g. 09:30")


def _parse_day(token: str, text: str) -> int:
    name = token.strip().lower()
    if name in DAY_NAMES:
        return DAY_NAMES.index(name)
    if name in _FULL_DAY_NAMES:
        return _FULL_DAY_NAMES.index(name)
    raise ValueError(
        f"unknown day {token.strip()!r} in {text!r}: use mon, tue, wed, thu, fri, sat, sun"
    )


def parse_days(text: str) -> frozenset[int]:
    """ "mon,tue,wed" -> {0, 1, 2}; also full names and ranges such as "mon-fri" or "sun-thu"."""
    days: set[int] = set()
    for token in text.split(","):
        if not token.strip():
            continue
        if "-" in token:
            first, _, last = token.partition("-")
            start, end = _parse_day(first, text), _parse_day(last, text)
            days.update((start + i) % 7 for i in range((end - start) % 7 + 1))
        else:
            days.add(_parse_day(token, text))
    if not days:
        raise ValueError(f"no days in {text!r}: expected e.g. mon,tue,wed,thu,fri")
    return frozenset(days)
