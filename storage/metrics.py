"""L&D metrics, aggregated in SQL per ISO week and per training, on SQLite and PostgreSQL.

Every metric is defined once, here. A week is an ISO week (Monday 00:00 to the next Monday
00:00) of one time zone (DEFAULT_TIMEZONE); dates such as "before the start" are read in that
zone too. Cancelled enrollments count nowhere.

Each metric, for week W: what it counts over, and what it is.

- enrollments: enrollments created in W.
- without a manager: of those, how many have no manager (so nobody is prompted).
- started / finished: enrollments whose start / end date is in W.
- pre-training conversation rate: over enrollments with a manager starting in W, the share
  whose manager logged the pre-training conversation on or before the start date.
- goal rate: over enrollments starting in W, the share whose learner shared an application
  goal on or before the start date.
- quadrant mix: pre-training conversations of enrollments starting in W, by quadrant.
- debrief rate: over enrollments with a manager whose 7-day debrief window closed in W (they
  ended in W-1), the share whose manager logged the debrief within 7 days after the end date.
- application rate: over managers' follow-up answers logged in W, the share "applied" or
  "partly"; "applied", "partly" and "not yet" are also counted apart.
- learner-manager agreement: over enrollments whose manager's follow-up was answered in W and
  whose learner answered too, the share where both gave the same answer.
- median time to answer: over manager prompts (pre-training, debrief, follow-up) answered in
  W, the median time from the prompt's DM (sent_at) to the answer.
- overdue prompts: manager prompts whose reminder day fell in W (up to now) and that are
  still unanswered.

A rate is a share of its own group ("counted over"), so every number can be checked by hand.
In the per-training breakdown, a training with fewer than MIN_GROUP_SIZE enrollments counted
in the week is folded into "other trainings"; totals always include everyone.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy import ColumnElement, func
from sqlmodel import Session

from storage.models import (
    CaseRecord,
    CaseSide,
    ConversationRecord,
    Enrollment,
    EnrollmentStatus,
    Goal,
    Nudge,
    NudgeKind,
    NudgeStatus,
    Outcome,
    Person,
    Quadrant,
    Training,
)

DEBRIEF_DAYS = 7
OTHER = 0  # the group key of trainings too small to break out
APPLICATION_OUTCOMES = (Outcome.APPLIED.value, Outcome.PARTLY.value, Outcome.NOT_YET.value)
PROMPT_KINDS = (NudgeKind.PRE_TRAINING.value, NudgeKind.DEBRIEF.value, NudgeKind.FOLLOW_UP.value)
QUADRANTS = tuple(q.value for q in Quadrant)

_WEEK = re.compile(r"^(\d{4})-?W(\d{2})$", re.IGNORECASE)

E = Enrollment.__table__  # type: ignore[attr-defined]
R = ConversationRecord.__table__  # type: ignore[attr-defined]
N = Nudge.__table__  # type: ignore[attr-defined]
G = Goal.__table__  # type: ignore[attr-defined]
T = Training.__table__  # type: ignore[attr-defined]
C = CaseRecord.__table__  # type: ignore[attr-defined]
P = Person.__table__  # type: ignore[attr-defined]


# --- weeks -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Week:
    """One ISO week of a time zone: its label, its dates and the UTC instants it spans."""

    monday: date
    tz: str

    @property
    def label(self) -> str:
        year, number, _ = self.monday.isocalendar()
        return f"{year}-W{number:02d}"

    @property
    def sunday(self) -> date:
        return self.monday + timedelta(days=6)

    @property
    def start(self) -> datetime:
        return local_midnight(self.monday, ZoneInfo(self.tz))

    @property
    def end(self) -> datetime:
        return local_midnight(self.monday + timedelta(days=7), ZoneInfo(self.tz))

    def shifted(self, weeks: int) -> Week:
        return Week(self.monday + timedelta(weeks=weeks), self.tz)

    @property
    def first(self) -> date:
        return self.monday

    @property
    def last(self) -> date:
        return self.sunday


@dataclass(frozen=True)
class Span:
    """Any run of whole days of a time zone, `first` to `last` included: a summary's
    `YYYY-MM-DD..YYYY-MM-DD`. The metrics read it as they read a week."""

    first: date
    last: date
    tz: str

    @property
    def label(self) -> str:
        return f"{self.first.isoformat()}..{self.last.isoformat()}"

    @property
    def start(self) -> datetime:
        return local_midnight(self.first, ZoneInfo(self.tz))

    @property
    def end(self) -> datetime:
        return local_midnight(self.last + timedelta(days=1), ZoneInfo(self.tz))


# What a summary covers: an ISO week, or a span of days.
Period = Week | Span


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def week_of(moment: datetime, tz: str) -> Week:
    local = moment.astimezone(ZoneInfo(tz)).date()
    return Week(local - timedelta(days=local.weekday()), tz)


def parse_week(text: str, tz: str) -> Week:
    """`2026-W48` (or `2026W48`); ValueError when it is not an ISO week that exists."""
    match = _WEEK.match(text.strip())
    if not match:
        raise ValueError(f"not an ISO week such as 2026-W48: {text!r}")
    year, number = int(match.group(1)), int(match.group(2))
    try:
        monday = date.fromisocalendar(year, number, 1)
    except ValueError:
        raise ValueError(f"{year} has no week {number}") from None
    return Week(monday, tz)


def weeks_ending(last: Week, count: int) -> list[Week]:
    return [last.shifted(-i) for i in range(count - 1, -1, -1)]


# --- results ---------------------------------------------------------------------------------


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


@dataclass
class Counts:
    """The raw counts behind every metric of one group (a week, a training or everyone)."""

    enrollments: int = 0
    without_manager: int = 0
    started: int = 0
    finished: int = 0
    pre_cohort: int = 0
    pre_logged: int = 0
    goal_cohort: int = 0
    goals: int = 0
    debrief_cohort: int = 0
    debriefs: int = 0
    applied: int = 0
    partly: int = 0
    not_yet: int = 0
    pairs: int = 0
    agreeing: int = 0
    answers: int = 0
    median_answer_seconds: float | None = None
    overdue: int = 0
    quadrants: dict[str, int] = field(default_factory=lambda: dict.fromkeys(QUADRANTS, 0))

    @property
    def follow_ups(self) -> int:
        return self.applied + self.partly + self.not_yet

    @property
    def pre_training_rate(self) -> float | None:
        return _rate(self.pre_logged, self.pre_cohort)

    @property
    def goal_rate(self) -> float | None:
        return _rate(self.goals, self.goal_cohort)

    @property
    def debrief_rate(self) -> float | None:
        return _rate(self.debriefs, self.debrief_cohort)

    @property
    def application_rate(self) -> float | None:
        return _rate(self.applied + self.partly, self.follow_ups)

    @property
    def agreement_rate(self) -> float | None:
        return _rate(self.agreeing, self.pairs)

    @property
    def quadrant_total(self) -> int:
        return sum(self.quadrants.values())


@dataclass
class Group:
    training_id: int  # OTHER (0) for the folded small trainings
    name: str
    size: int  # enrollments counted in the week
    counts: Counts
    trainings: int = 1  # how many trainings the group holds (several for "other")


@dataclass
class WeekReport:
    week: Period
    total: Counts
    groups: list[Group]  # big trainings by size, then "other" if any


# --- SQL helpers -----------------------------------------------------------------------------


def _int(value: int) -> ColumnElement[int]:
    # Inline constants: a bound parameter in a GROUP BY key confuses PostgreSQL.
    return sa.literal_column(str(int(value)), sa.Integer)


def _count_if(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(sa.case((condition, _int(1)), else_=_int(0))), _int(0))


def _bucket(column: Any, bounds: Sequence[Any], first: int = 0) -> ColumnElement[int]:
    """`first` + the index of the interval of `bounds` (ascending) that `column` falls in;
    filter first."""
    if len(bounds) <= 2:
        return _int(first)
    whens = [(column < bound, _int(first + i)) for i, bound in enumerate(bounds[1:-1])]
    return sa.case(*whens, else_=_int(first + len(bounds) - 2))


def _offsets(tz: ZoneInfo, lo: datetime, hi: datetime) -> list[tuple[datetime, int]]:
    """The zone's UTC offsets from `lo` to `hi`: (from when, offset in seconds), ascending."""

    def offset(at: datetime) -> int:
        delta = at.astimezone(tz).utcoffset()
        return int(delta.total_seconds()) if delta else 0

    found = [(lo, offset(lo))]
    step = lo
    while step < hi:
        nxt = min(step + timedelta(hours=12), hi)
        if offset(nxt) != found[-1][1]:
            a, b = step, nxt  # the change is in (a, b]: narrow it to the minute
            while b - a > timedelta(minutes=1):
                mid = a + (b - a) / 2
                a, b = (mid, b) if offset(mid) == found[-1][1] else (a, mid)
            found.append((b, offset(b)))
        step = nxt
    return found


class _Sql:
    """Dialect-specific date arithmetic, for one time zone and one span of interest."""

    def __init__(self, session: Session, tz: str, lo: datetime, hi: datetime) -> None:
        self.pg = session.get_bind().dialect.name == "postgresql"
        self.tz = ZoneInfo(tz)
        # Offsets only matter near a deadline; far from one, any offset gives the same answer.
        self.offsets = [] if self.pg else _offsets(self.tz, lo - timedelta(days=2), hi)

    def local_date(self, column: Any) -> ColumnElement[Any]:
        if self.pg:
            return sa.cast(func.timezone(self.tz.key, column), sa.Date)
        mods: list[Any] = [sa.literal_column(f"'{off:+d} seconds'") for _, off in self.offsets]
        if len(mods) == 1:
            return func.date(column, mods[0])
        whens = [(column < since, mods[i]) for i, (since, _) in enumerate(self.offsets[1:])]
        return func.date(column, sa.case(*whens, else_=mods[-1]))

    def plus_days(self, column: Any, days: int) -> ColumnElement[Any]:
        if self.pg:
            return column + _int(days)
        return func.date(column, sa.literal_column(f"'{days:+d} days'"))

    def seconds_between(self, earlier: Any, later: Any) -> ColumnElement[float]:
        if self.pg:
            return sa.cast(func.extract("epoch", later - earlier), sa.Float)
        return (func.julianday(later) - func.julianday(earlier)) * 86400.0


_ENROLLED = E.c.status == EnrollmentStatus.ENROLLED.value
# The complement of _ENROLLED as two ranges, so that an index on status finds the few rows.
_NOT_ENROLLED = (E.c.status < EnrollmentStatus.ENROLLED.value) | (
    E.c.status > EnrollmentStatus.ENROLLED.value
)


def _enrolled(only: int | None) -> ColumnElement[bool]:
    """Enrolled, and of training `only` when one is asked for."""
    return _ENROLLED if only is None else _ENROLLED & (E.c.training_id == _int(only))


# --- the queries -----------------------------------------------------------------------------


class _Query:
    """Metric queries over contiguous weeks, grouped by week and optionally by training.

    The weeks from `full_from` on get every figure; earlier ones only what the chart draws
    (the four rates, the quadrant mix and the created counts), so a summary reads its chart
    weeks and its own week in the same statements.
    """

    def __init__(
        self,
        session: Session,
        weeks: Sequence[Period],
        *,
        trainings: Sequence[int] | None = None,
        only: int | None = None,
        overdue_sent: Sequence[tuple[datetime, datetime]] = (),
        rates_only: bool = False,
        full_from: int = 0,
    ) -> None:
        self.s = session
        self.weeks = list(weeks)
        self.full_from = len(self.weeks) if rates_only else full_from
        self.days = [w.first for w in self.weeks] + [self.weeks[-1].last + timedelta(days=1)]
        self.instants = [w.start for w in self.weeks] + [self.weeks[-1].end]
        self.trainings = trainings
        # With `only`, everything is about that one training.
        self.only = only
        self.enrolled = _enrolled(only)
        self.overdue_sent = list(overdue_sent)  # by week, from the first
        # (week, group, created, without a manager) of the last week when counted already.
        self.created: list[tuple[int, int, int, int]] | None = None
        # Everyone's median per week, from the same statement as the groups' (not additive).
        self.everyone: dict[int, Counts] = {}
        span_hi = self.instants[-1] + timedelta(days=DEBRIEF_DAYS + 2)
        self.sql = _Sql(session, self.weeks[0].tz, self.instants[0], span_hi)

    def _group(self) -> ColumnElement[int]:
        if self.trainings is None:
            return _int(OTHER)
        return sa.case(
            (E.c.training_id.in_(list(self.trainings)), E.c.training_id), else_=_int(OTHER)
        )

    def _rows(self, inner: Any, *aggregates: Any, extra: Sequence[Any] = ()) -> list[Any]:
        sub = inner.subquery()
        keys = [sub.c.w, sub.c.g, *(sub.c[name] for name in extra)]
        outer = sa.select(*keys, *(agg(sub) for agg in aggregates)).group_by(*keys)
        return list(self.s.execute(outer).all())

    def run(self) -> dict[tuple[int, int], Counts]:
        out: dict[tuple[int, int], Counts] = {}

        def at(w: int, g: int) -> Counts:
            return out.setdefault((w, g), Counts())

        weeks = len(self.weeks)
        full = self.full_from  # the first week that gets every figure
        created = E.c.created_at
        # The last week's created figures may come with its training sizes (see summary).
        rows = list(self.created or [])
        upto = weeks - 1 if self.created is not None else weeks
        if upto > 0:
            instants = self.instants[: upto + 1]
            inner = sa.select(
                _bucket(created, instants).label("w"),
                self._group().label("g"),
                (E.c.manager_id.is_(None)).label("nm"),
            ).where(self.enrolled, created >= instants[0], created < instants[-1])
            rows += self._rows(inner, lambda s: func.count(), lambda s: _count_if(s.c.nm))
        for w, g, n, nm in rows:
            at(w, g).enrollments += n
            at(w, g).without_manager += nm

        # Started: the pre-training and goal cohorts and their quadrant mix, in one pass over
        # the enrollments with their pre-training records beside them. An enrollment may have
        # several records (one per generation), hence the distinct counts. On PostgreSQL the
        # enrollments with a goal in time are found once, from the goals joined to the
        # enrollments that start in the weeks; SQLite looks each one up faster.
        local_answer = self.sql.local_date(R.c.answered_at)
        has_manager = E.c.manager_id.is_not(None)
        pre_logged = (
            has_manager & (R.c.outcome == Outcome.LOGGED.value) & (local_answer <= E.c.starts_on)
        )
        started = (E.c.starts_on >= self.days[0]) & (E.c.starts_on < self.days[-1])
        goal_shared: ColumnElement[bool] = sa.exists().where(
            G.c.enrollment_id == E.c.id,
            G.c.shared.is_(True),
            G.c.shared_at.is_not(None),
            self.sql.local_date(G.c.shared_at) <= E.c.starts_on,
        )
        if self.sql.pg:
            starter = E.alias("starter")
            goal_shared = E.c.id.in_(
                sa.select(G.c.enrollment_id)
                .select_from(G.join(starter, starter.c.id == G.c.enrollment_id))
                .where(
                    G.c.shared.is_(True),
                    G.c.shared_at.is_not(None),
                    starter.c.starts_on >= self.days[0],
                    starter.c.starts_on < self.days[-1],
                    self.sql.local_date(G.c.shared_at) <= starter.c.starts_on,
                )
            )
        inner = (
            sa.select(
                _bucket(E.c.starts_on, self.days).label("w"),
                self._group().label("g"),
                E.c.id.label("id"),
                sa.case((has_manager, E.c.id)).label("hm"),
                sa.case((pre_logged, E.c.id)).label("pre"),
                sa.case((goal_shared, E.c.id)).label("goal"),
                R.c.quadrant.label("q"),
            )
            .select_from(
                E.outerjoin(
                    R,
                    (R.c.enrollment_id == E.c.id) & (R.c.kind == NudgeKind.PRE_TRAINING.value),
                )
            )
            .where(self.enrolled, started)
        )
        for w, g, n, hm, pre, goal, *mix in self._rows(
            inner,
            lambda s: func.count(sa.distinct(s.c.id)),
            lambda s: func.count(sa.distinct(s.c.hm)),
            lambda s: func.count(sa.distinct(s.c.pre)),
            lambda s: func.count(sa.distinct(s.c.goal)),
            *((lambda s, q=q: _count_if(s.c.q == q)) for q in QUADRANTS),
        ):
            c = at(w, g)
            c.started += n
            c.goal_cohort += n
            c.pre_cohort += hm
            c.pre_logged += pre
            c.goals += goal
            for q, k in zip(QUADRANTS, mix, strict=True):
                c.quadrants[q] += k

        # Ended: the debrief window of trainings that ended the week before closes in the week,
        # and the weeks that get every figure count those that finished; one pass for both.
        debrief_days = [d - timedelta(days=DEBRIEF_DAYS) for d in self.days]
        debriefed: ColumnElement[bool] = sa.exists().where(
            R.c.enrollment_id == E.c.id,
            R.c.kind == NudgeKind.DEBRIEF.value,
            R.c.outcome == Outcome.LOGGED.value,
            local_answer <= self.sql.plus_days(E.c.ends_on, DEBRIEF_DAYS),
        )
        if self.sql.pg:  # as the goals above: the debriefed enrollments found once
            ender = E.alias("ender")
            debriefed = E.c.id.in_(
                sa.select(R.c.enrollment_id)
                .select_from(R.join(ender, ender.c.id == R.c.enrollment_id))
                .where(
                    R.c.kind == NudgeKind.DEBRIEF.value,
                    R.c.outcome == Outcome.LOGGED.value,
                    ender.c.ends_on >= debrief_days[0],
                    ender.c.ends_on < debrief_days[-1],
                    local_answer <= self.sql.plus_days(ender.c.ends_on, DEBRIEF_DAYS),
                )
            )
        in_window = has_manager & (E.c.ends_on < debrief_days[-1])
        finished = E.c.ends_on >= self.days[full]
        lo = debrief_days[0]
        hi = self.days[-1] if full < weeks else debrief_days[-1]
        week_finished = (
            sa.case((finished, _bucket(E.c.ends_on, self.days[full:], first=full)), else_=_int(-1))
            if full < weeks
            else _int(-1)
        )
        inner = sa.select(
            sa.case((in_window, _bucket(E.c.ends_on, debrief_days)), else_=_int(-1)).label("w"),
            week_finished.label("f"),
            self._group().label("g"),
            sa.case((in_window, _int(1)), else_=_int(0)).label("cohort"),
            sa.case((in_window & debriefed, _int(1)), else_=_int(0)).label("done"),
        ).where(self.enrolled, E.c.ends_on >= lo, E.c.ends_on < hi)
        for w, g, f, n, cohort, done in self._rows(
            inner,
            lambda s: func.count(),
            lambda s: func.sum(s.c.cohort),
            lambda s: func.sum(s.c.done),
            extra=("f",),
        ):
            if w >= 0:
                at(w, g).debrief_cohort += cohort
                at(w, g).debriefs += done
            if f >= 0:
                at(f, g).finished += n

        # Follow-ups answered by managers in the week. The chart's weeks hold most of them and
        # need no training: rather than look up each one's enrollment, the few enrollments
        # that are not enrolled are set aside once, and only the weeks that get every figure
        # look up the training.
        answered = R.c.answered_at
        in_weeks = (answered >= self.instants[0]) & (answered < self.instants[-1])
        group: ColumnElement[int] = _int(OTHER)
        if self.trainings is not None and full < weeks:
            training = sa.select(self._group()).where(E.c.id == R.c.enrollment_id).scalar_subquery()
            group = sa.case((answered >= self.instants[full], training), else_=_int(OTHER))
        inner = sa.select(
            _bucket(answered, self.instants).label("w"),
            group.label("g"),
            R.c.outcome.label("o"),
        ).where(
            R.c.enrollment_id.not_in(sa.select(E.c.id).where(_NOT_ENROLLED)),
            *self._of_training(R.c.enrollment_id),
            in_weeks,
            R.c.kind == NudgeKind.FOLLOW_UP.value,
            R.c.outcome.in_(APPLICATION_OUTCOMES),
        )
        for w, g, o, n in self._rows(inner, lambda s: func.count(), extra=("o",)):
            c = at(w, g)
            setattr(c, o, getattr(c, o) + n)

        if full < weeks:
            self.agreement(at)
            self.medians(out)

        # Overdue: manager prompts still unanswered whose reminder day fell in the week.
        for w, (lo_sent, hi_sent) in enumerate(self.overdue_sent):
            if hi_sent <= lo_sent:
                continue
            inner = (
                sa.select(_int(w).label("w"), self._group().label("g"))
                .select_from(N.join(E, E.c.id == N.c.enrollment_id))
                .where(
                    self.enrolled,
                    N.c.status == NudgeStatus.SENT.value,
                    N.c.kind.in_(PROMPT_KINDS),
                    N.c.sent_at >= lo_sent,
                    N.c.sent_at < hi_sent,
                )
            )
            for ww, g, n in self._rows(inner, lambda s: func.count()):
                at(ww, g).overdue += n
        return out

    def _of_training(self, enrollment_id: Any) -> list[ColumnElement[bool]]:
        """A condition on a row's enrollment id, when the query is about one training."""
        if self.only is None:
            return []
        return [enrollment_id.in_(sa.select(E.c.id).where(E.c.training_id == _int(self.only)))]

    def _answered_in_full_weeks(self) -> tuple[list[datetime], ColumnElement[bool]]:
        instants = self.instants[self.full_from :]
        answered = R.c.answered_at
        return instants, (answered >= instants[0]) & (answered < instants[-1])

    def agreement(self, at: Any) -> None:
        """Learner-manager agreement over the weeks that get every figure."""
        instants, in_weeks = self._answered_in_full_weeks()
        learner = R.alias("learner_answer")
        inner = (
            sa.select(
                _bucket(R.c.answered_at, instants, first=self.full_from).label("w"),
                self._group().label("g"),
                (learner.c.outcome == R.c.outcome).label("same"),
            )
            .select_from(
                R.join(E, E.c.id == R.c.enrollment_id).join(
                    learner,
                    (learner.c.enrollment_id == R.c.enrollment_id)
                    & (learner.c.kind == NudgeKind.LEARNER_FOLLOW_UP.value),
                )
            )
            .where(
                self.enrolled,
                in_weeks,
                R.c.kind == NudgeKind.FOLLOW_UP.value,
                R.c.outcome.in_(APPLICATION_OUTCOMES),
                learner.c.outcome.in_(APPLICATION_OUTCOMES),
            )
        )
        for w, g, n, same in self._rows(
            inner, lambda s: func.count(), lambda s: _count_if(s.c.same)
        ):
            at(w, g).pairs += n
            at(w, g).agreeing += same

    def medians(self, out: dict[tuple[int, int], Counts]) -> None:
        """Median time to answer a manager prompt: ranked in SQL, only middle rows come back."""
        instants, in_weeks = self._answered_in_full_weeks()
        answered = R.c.answered_at
        seconds = self.sql.seconds_between(N.c.sent_at, answered)
        timed = (
            sa.select(
                _bucket(answered, instants, first=self.full_from).label("w"),
                self._group().label("g"),
                seconds.label("secs"),
            )
            .select_from(R.join(N, N.c.id == R.c.nudge_id).join(E, E.c.id == R.c.enrollment_id))
            .where(
                self.enrolled,
                in_weeks,
                R.c.kind.in_(PROMPT_KINDS),
                N.c.sent_at.is_not(None),
                N.c.sent_at <= answered,
            )
            .subquery()
        )
        # One ranking per group and one over everyone, from the same rows: a CTE read twice.
        ranked = sa.select(
            timed.c.w,
            timed.c.g,
            timed.c.secs,
            func.row_number()
            .over(partition_by=(timed.c.w, timed.c.g), order_by=timed.c.secs)
            .label("rn"),
            func.count().over(partition_by=(timed.c.w, timed.c.g)).label("n"),
            func.row_number().over(partition_by=timed.c.w, order_by=timed.c.secs).label("rn_all"),
            func.count().over(partition_by=timed.c.w).label("n_all"),
        ).cte("ranked")

        def middle(rn: Any, n: Any, g: Any, keys: Sequence[Any]) -> Any:
            return (
                sa.select(ranked.c.w, g.label("g"), func.max(n), func.avg(ranked.c.secs))
                .where(rn.in_([(n + _int(1)) // _int(2), (n + _int(2)) // _int(2)]))
                .group_by(*keys)
            )

        groups = middle(ranked.c.rn, ranked.c.n, ranked.c.g, (ranked.c.w, ranked.c.g))
        # -1: no group has this key; a constant is no GROUP BY term (SQLite reads a position).
        everyone = middle(ranked.c.rn_all, ranked.c.n_all, _int(-1), (ranked.c.w,))
        both = sa.union_all(groups, everyone)
        for w, g, n, median in self.s.execute(both).all():
            c = (
                self.everyone.setdefault(w, Counts())
                if g == -1
                else out.setdefault((w, g), Counts())
            )
            c.answers += int(n)
            c.median_answer_seconds = float(median)

    def counted(self, *, created: bool = True) -> ColumnElement[bool]:
        """`enrollment_ids` as a condition on the enrollment row (without "created in the
        week" when `created` is false)."""
        lo, hi = self.instants[0], self.instants[-1]
        d0, d1 = self.days[0], self.days[-1]
        parts: list[ColumnElement[bool]] = [
            (E.c.starts_on >= d0) & (E.c.starts_on < d1),
            (E.c.ends_on >= d0 - timedelta(days=DEBRIEF_DAYS)) & (E.c.ends_on < d1),
            E.c.id.in_(
                sa.select(R.c.enrollment_id).where(R.c.answered_at >= lo, R.c.answered_at < hi)
            ),
        ]
        if created:
            parts.append((E.c.created_at >= lo) & (E.c.created_at < hi))
        parts += [E.c.id.in_(overdue) for overdue in self._overdue_enrollments()]
        return sa.or_(*parts)

    def enrollment_ids(self) -> Any:
        """Every enrollment some figure of the (single) week counts: the breakdown's groups."""
        lo, hi = self.instants[0], self.instants[-1]
        d0, d1 = self.days[0], self.days[-1]
        parts: list[Any] = [
            sa.select(E.c.id).where(E.c.created_at >= lo, E.c.created_at < hi),
            sa.select(E.c.id).where(E.c.starts_on >= d0, E.c.starts_on < d1),
            sa.select(E.c.id).where(
                E.c.ends_on >= d0 - timedelta(days=DEBRIEF_DAYS), E.c.ends_on < d1
            ),
            sa.select(R.c.enrollment_id).where(R.c.answered_at >= lo, R.c.answered_at < hi),
            sa.select(C.c.enrollment_id).where(C.c.answered_at >= lo, C.c.answered_at < hi),
        ]
        parts += self._overdue_enrollments()
        return sa.union(*parts)

    def _overdue_enrollments(self) -> list[Any]:
        """The enrollments of prompts still unanswered whose reminder day fell in the week,
        one select per span of `sent_at` in `overdue_sent`."""
        return [
            sa.select(N.c.enrollment_id).where(
                N.c.status == NudgeStatus.SENT.value,
                N.c.kind.in_(PROMPT_KINDS),
                N.c.sent_at >= sent_lo,
                N.c.sent_at < sent_hi,
            )
            for sent_lo, sent_hi in self.overdue_sent
            if sent_hi > sent_lo
        ]


# --- public functions ------------------------------------------------------------------------


def weekly_totals(
    session: Session,
    weeks: Sequence[Period],
    *,
    overdue_sent: Sequence[tuple[datetime, datetime]] = (),
    rates_only: bool = False,
    training_id: int | None = None,
) -> list[Counts]:
    """Everyone's counts for each of `weeks` (contiguous, ascending), for the chart.

    With `rates_only`, only what the chart draws: the four rates and the quadrant mix.
    """
    if not weeks:
        return []
    found = _Query(
        session, weeks, overdue_sent=overdue_sent, rates_only=rates_only, only=training_id
    ).run()
    return [found.get((i, OTHER), Counts()) for i in range(len(weeks))]


def week_report(
    session: Session,
    week: Period,
    *,
    min_group_size: int,
    overdue_sent: tuple[datetime, datetime] | None = None,
    training_id: int | None = None,
) -> WeekReport:
    """Totals for `week`, and per training where at least `min_group_size` are counted.

    `overdue_sent` is the span of `sent_at` whose reminder day fell in the week (up to now):
    the caller knows the working days, storage does not.
    """
    report, _ = summary_weeks(
        session,
        [week],
        min_group_size=min_group_size,
        overdue_sent=overdue_sent,
        training_id=training_id,
    )
    return report


def summary_weeks(
    session: Session,
    weeks: Sequence[Period],
    *,
    min_group_size: int,
    overdue_sent: tuple[datetime, datetime] | None = None,
    training_id: int | None = None,
) -> tuple[WeekReport, list[Counts]]:
    """`week_report` of the last of `weeks` (contiguous, ascending), and everyone's counts
    for the others as `weekly_totals(..., rates_only=True)` gives them: the same statements
    read the chart's weeks and the report's.
    """
    week = weeks[-1]
    last = len(weeks) - 1
    spans = [overdue_sent] if overdue_sent else []
    one = _Query(session, [week], overdue_sent=spans, only=training_id)
    # Each training's size and the "created" figures in one statement. Created in the week
    # may be every enrollment there is (a bulk import): those are counted per training from a
    # covering index, apart from the few the week counts otherwise, so no union of ids is
    # built; each part is counted before the names are joined to a row per training.
    lo, hi = one.instants[0], one.instants[-1]
    created = (E.c.created_at >= lo) & (E.c.created_at < hi)
    parts = sa.union_all(
        sa.select(
            E.c.training_id.label("t"),
            func.count().label("n"),
            func.count().label("c"),
            _count_if(E.c.manager_id.is_(None)).label("nm"),
        )
        .where(one.enrolled, created)
        .group_by(E.c.training_id),
        sa.select(E.c.training_id, func.count(), _int(0), _int(0))
        .where(
            one.enrolled,
            (E.c.created_at < lo) | (E.c.created_at >= hi),
            one.counted(created=False),
        )
        .group_by(E.c.training_id),
    ).subquery()
    sizes = session.execute(
        sa.select(
            parts.c.t, T.c.name, func.sum(parts.c.n), func.sum(parts.c.c), func.sum(parts.c.nm)
        )
        .select_from(parts.join(T, T.c.id == parts.c.t))
        .group_by(parts.c.t, T.c.name)
    ).all()
    big = {tid: (name, int(n)) for tid, name, n, _c, _nm in sizes if n >= min_group_size}
    small = [(tid, int(n)) for tid, _name, n, _c, _nm in sizes if n < min_group_size]
    query = _Query(
        session,
        weeks,
        trainings=sorted(big),
        only=training_id,
        overdue_sent=[(lo, lo)] * last + spans,
        full_from=last,
    )
    query.created = [
        (last, tid if tid in big else OTHER, int(c), int(nm)) for tid, _, _n, c, nm in sizes
    ]
    found = query.run()
    chart = [Counts() for _ in range(last)]
    groups: list[Group] = []
    total = Counts()
    for (w, _g), counts in found.items():
        _add(total if w == last else chart[w], counts)
    # The median is not additive: everyone's comes from its own ranking.
    everyone = query.everyone.get(last, Counts())
    total.answers, total.median_answer_seconds = everyone.answers, everyone.median_answer_seconds
    for tid, (name, n) in sorted(big.items(), key=lambda item: (-item[1][1], item[1][0])):
        groups.append(Group(tid, name, n, found.get((last, tid), Counts())))
    if small and groups:
        groups.append(
            Group(
                OTHER,
                "",
                sum(n for _, n in small),
                found.get((last, OTHER), Counts()),
                trainings=len(small),
            )
        )
    return WeekReport(week, total, groups), chart


def _add(into: Counts, more: Counts) -> None:
    for name in (
        "enrollments",
        "without_manager",
        "started",
        "finished",
        "pre_cohort",
        "pre_logged",
        "goal_cohort",
        "goals",
        "debrief_cohort",
        "debriefs",
        "applied",
        "partly",
        "not_yet",
        "pairs",
        "agreeing",
        "overdue",
    ):
        setattr(into, name, getattr(into, name) + getattr(more, name))
    for q, n in more.quadrants.items():
        into.quadrants[q] = into.quadrants.get(q, 0) + n


# --- per-enrollment rows (the CSV) -----------------------------------------------------------


@dataclass
class Answer:
    outcome: str
    answered_at: datetime
    quadrant: str | None = None
    texts: dict[str, str] = field(default_factory=dict)  # free text, by field name


@dataclass
class EnrollmentRow:
    id: int
    external_id: str | None
    training: str
    starts_on: date
    ends_on: date | None  # None: self-paced, not completed yet
    has_manager: bool
    first_goal_shared_at: datetime | None = None
    answers: dict[str, Answer] = field(default_factory=dict)  # by kind


_TEXT_FIELDS = ("what", "why", "how", "takeaways", "first_application", "support", "note")


def enrollment_rows(
    session: Session,
    week: Period,
    *,
    overdue_sent: tuple[datetime, datetime] | None = None,
    training_id: int | None = None,
) -> list[EnrollmentRow]:
    """The facts behind the week's figures, one row per enrollment counted in the week."""
    return list(
        iter_enrollment_rows(session, week, overdue_sent=overdue_sent, training_id=training_id)
    )


def iter_enrollment_rows(
    session: Session,
    week: Period,
    *,
    overdue_sent: tuple[datetime, datetime] | None = None,
    texts: bool = True,
    batch: int = 2000,
    training_id: int | None = None,
) -> Iterator[EnrollmentRow]:
    """`enrollment_rows`, streamed: a week can count every enrollment there is, so the rows
    come from one ordered query in batches and are never all held at once.

    An enrollment's records follow it (by id), so of several answers of one kind the latest
    stands, as in the per-enrollment view. Without `texts`, free text is not even read.
    """
    query = _Query(
        session, [week], overdue_sent=[overdue_sent] if overdue_sent else [], only=training_id
    )
    ids = query.enrollment_ids().subquery()
    first_goal = (
        sa.select(
            G.c.enrollment_id.label("eid"),
            sa.type_coerce(func.min(G.c.shared_at), G.c.shared_at.type).label("first"),
        )
        .where(G.c.shared.is_(True), G.c.shared_at.is_not(None))
        .group_by(G.c.enrollment_id)
        .subquery()
    )
    text_columns = [R.c[name] for name in _TEXT_FIELDS] if texts else []
    stmt = (
        sa.select(
            E.c.id,
            E.c.external_id,
            T.c.name,
            E.c.starts_on,
            E.c.ends_on,
            E.c.manager_id,
            first_goal.c.first,
            R.c.kind,
            R.c.outcome,
            R.c.answered_at,
            R.c.quadrant,
            *text_columns,
        )
        .select_from(
            E.join(T, T.c.id == E.c.training_id)
            .outerjoin(first_goal, first_goal.c.eid == E.c.id)
            .outerjoin(R, R.c.enrollment_id == E.c.id)
        )
        .where(query.enrolled, E.c.id.in_(sa.select(ids.c[0])))
        .order_by(E.c.starts_on, E.c.id, R.c.id)
        .execution_options(yield_per=batch)
    )
    row: EnrollmentRow | None = None
    for (
        eid,
        ext,
        name,
        starts_on,
        ends_on,
        manager_id,
        first,
        kind,
        outcome,
        at,
        q,
        *free,
    ) in session.execute(stmt):
        if row is None or row.id != eid:
            if row is not None:
                yield row
            row = EnrollmentRow(eid, ext, name, starts_on, ends_on, manager_id is not None, first)
        if kind is not None:
            found = {n: v for n, v in zip(_TEXT_FIELDS, free, strict=False) if v}
            row.answers[kind] = Answer(outcome, at, q, found)
    if row is not None:
        yield row


# --- Success Case answers --------------------------------------------------------------------


@dataclass(frozen=True)
class CaseRow:
    """One Success Case answer, as the case rules read it. The learner's name and the free
    text are read only where they may be shown: the learner's own answer with consent (and
    the manager's text when the organisation shares notes); otherwise they are None."""

    enrollment_id: int
    training_id: int
    training: str
    subject: str
    side: str
    round: int
    answer: str
    answered_at: datetime
    consent: bool
    learner: str | None = None
    learner_slack_id: str | None = None
    result: str | None = None
    evidence: str | None = None


def case_rows(
    session: Session,
    *,
    answered_to: datetime,
    answered_from: datetime | None = None,
    training_id: int | None = None,
    manager_texts: bool = False,
) -> list[CaseRow]:
    """Every Success Case answer given before `answered_to` of the enrollments that got one
    from `answered_from` on (all of them without it), so that each case is read from its
    latest round, with the earlier rounds beside it."""
    answered = C.c.answered_at < answered_to
    if answered_from is not None:
        answered = answered & (C.c.answered_at >= answered_from)
    touched = sa.select(C.c.enrollment_id).where(answered).distinct()
    named = (C.c.side == CaseSide.LEARNER.value) & C.c.consent.is_(True)
    shown = named | (C.c.side == CaseSide.MANAGER.value) if manager_texts else named
    stmt = (
        sa.select(
            C.c.enrollment_id,
            E.c.training_id,
            T.c.name,
            C.c.subject,
            C.c.side,
            C.c.follow_up_round,
            C.c.answer,
            C.c.answered_at,
            C.c.consent,
            sa.case((named, P.c.name)),
            sa.case((named, P.c.slack_id)),
            sa.case((shown, C.c.result)),
            sa.case((shown, C.c.evidence)),
        )
        .select_from(
            C.join(E, E.c.id == C.c.enrollment_id)
            .join(T, T.c.id == E.c.training_id)
            .join(P, P.c.id == E.c.learner_id)
        )
        .where(
            _enrolled(training_id),
            C.c.enrollment_id.in_(touched),
            C.c.answered_at < answered_to,
        )
        .order_by(C.c.enrollment_id, C.c.follow_up_round, C.c.id)
    )
    return [
        CaseRow(eid, tid, name, subj, side, rnd, ans, at, bool(ok), who, sid, res, ev)
        for eid, tid, name, subj, side, rnd, ans, at, ok, who, sid, res, ev in session.execute(stmt)
    ]


def training_names(session: Session) -> list[tuple[int, str]]:
    """Every training's id and name, for finding one a summary is asked about."""
    return [(int(tid), name) for tid, name in session.execute(sa.select(T.c.id, T.c.name))]
