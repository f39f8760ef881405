"""The dispatcher: claims due nudge rows under a lease and hands each to a sender.

Rows, not jobs: any number of dispatchers can share one PostgreSQL database, because a row
is claimed with `FOR UPDATE SKIP LOCKED` (SQLite: inside one `BEGIN IMMEDIATE`), and a row
whose dispatcher died is claimed again once its lease expires. A claimed batch is read in a
handful of queries, sent by a few threads at once (Slack's latency, not our CPU, is what a
sequential loop would wait on) and recorded in one short write.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

import sqlalchemy as sa
from sqlmodel import Session, col, select

from scheduler.nudges import UNCERTAIN, is_uncertain, reminder_key
from scheduler.planning import Rules, in_window, next_window_start, reminder_slot, zone
from storage import crud
from storage.db import UNAVAILABLE, Database, is_sqlite
from storage.models import (
    MANAGER_PROMPTS,
    Enrollment,
    EnrollmentStatus,
    Nudge,
    NudgeKind,
    NudgeStatus,
    Person,
    utcnow,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Sent:
    channel: str
    ts: str


@dataclass(frozen=True)
class Deferred:
    """Not now: the recipient is away. Tried again at `due_at`."""

    due_at: datetime | None
    reason: str


@dataclass(frozen=True)
class Skipped:
    reason: str


@dataclass(frozen=True)
class Failed:
    """Slack refused for good (unknown user, deactivated account...): never retried."""

    reason: str


@dataclass(frozen=True)
class RetryLater:
    """A passing fault (rate limit, 5xx, time-out): tried again after a back-off.

    `uncertain` when the message may have reached Slack all the same (the answer was lost):
    the next attempt then looks for it before posting. `rate_limited` for a 429: Slack did
    nothing and said when to come back, so the row is due exactly `after_seconds` later and
    the attempt does not count against `max_attempts`.
    """

    reason: str
    after_seconds: float = 0.0
    uncertain: bool = False
    rate_limited: bool = False


SendResult = Sent | Deferred | Skipped | Failed | RetryLater

# Told of each outcome once it is stored (metrics): the nudge's kind, the outcome (sent,
# deferred, skipped, failed, retried) and, for a sent one, the seconds from due to sent.
OutcomeHook = Callable[[str, str, float | None], None]


# What a sender hands back for a nudge that is ready to go: called on a sending thread, it
# makes the Slack call(s) and says how it went. It touches no database session.
Delivery = Callable[[], SendResult]


class Sender(Protocol):
    """What the dispatcher is handed: renders nudges and sends each as one Slack DM.

    `prepare` runs on the dispatcher's thread, with one session for the whole batch, and
    returns per nudge id either an outcome decided without Slack (away, say) or a `Delivery`.
    `maybe_sent` holds the ids whose earlier attempt may have reached Slack before its
    process died; their delivery looks for the message before posting again.
    """

    def prepare(
        self, session: Session, nudges: Sequence[Nudge], *, now: datetime, maybe_sent: set[int]
    ) -> dict[int, SendResult | Delivery]: ...


@dataclass
class TickReport:
    claimed: int = 0
    sent: int = 0
    deferred: int = 0
    skipped: int = 0
    failed: int = 0
    retried: int = 0
    reclaimed: int = 0
    outcomes: dict[int, str] = field(default_factory=dict)
    # The soonest retry this tick put back (a 429's Retry-After, a short back-off): the
    # polling job runs again then instead of a whole interval later (scheduler/jobs.py).
    wake_at: datetime | None = None

    def count(self, nudge_id: int, outcome: str) -> None:
        with _COUNT_LOCK:  # the senders of one batch count from several threads
            self.outcomes[nudge_id] = outcome
            setattr(self, outcome, getattr(self, outcome) + 1)

    def add(self, other: TickReport) -> None:
        """Take in the outcomes of one recorded batch."""
        for name in ("sent", "deferred", "skipped", "failed", "retried"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.outcomes.update(other.outcomes)
        if other.wake_at is not None:
            self.wake(other.wake_at)

    def wake(self, at: datetime) -> None:
        if self.wake_at is None or at < self.wake_at:
            self.wake_at = at


_COUNT_LOCK = threading.Lock()

# 5xx and time-outs: the first retry a few seconds later, then doubling, at most an hour
# apart; ten attempts span about 43 minutes of a Slack outage before a row fails.
RETRY_FIRST_SECONDS = 5
RETRY_MAX_SECONDS = 3600
# The database gone (a restart, a failover) while a claimed batch is on its way: reading
# the batch and recording its outcomes are tried again for this long, well inside the
# lease, so a short outage costs seconds, not a lease's expiry and a look into every DM.
DB_WAIT_SECONDS = 60.0


class Dispatcher:
    def __init__(
        self,
        db: Database,
        sender: Sender,
        *,
        rules: Rules,
        default_tz: str,
        clock: Callable[[], datetime] = utcnow,
        batch_size: int = 100,
        lease_seconds: int = 300,
        max_attempts: int = 10,
        owner: str = "",
        workers: int = 16,
        on_outcome: OutcomeHook | None = None,
    ) -> None:
        self.db = db
        self.sender = sender
        self.rules = rules
        self.default_tz = default_tz
        self.clock = clock
        self.batch_size = batch_size
        self.lease = timedelta(seconds=lease_seconds)
        self.max_attempts = max_attempts
        self.owner = owner
        # Threads sending a batch at once: enough to cover Slack's latency, which is what they
        # wait on; a batch no bigger than this runs inline.
        self.workers = max(1, workers)
        self.on_outcome = on_outcome
        self._lock = threading.Lock()

    # -- claiming ----------------------------------------------------------------------

    def claim(
        self, now: datetime, limit: int, only: Sequence[int] | None = None
    ) -> list[tuple[int, bool]]:
        """Atomically lease up to `limit` due rows; returns (id, maybe_sent) pairs.

        `maybe_sent` is true for a row whose earlier lease expired: its dispatcher died
        somewhere between claiming and recording the outcome, perhaps after Slack posted.
        """
        if not is_sqlite(self.db.engine):
            claimed = self._claim_postgres(now, limit, only)
        else:
            claimed = self._claim_sqlite(now, limit, only)
        reclaimed = sum(again for _, again in claimed)
        if reclaimed:
            log.warning("nudge.reclaimed count=%s owner=%s", reclaimed, self.owner)
        return claimed

    def _lease(self, now: datetime) -> dict[str, object]:
        table = Nudge.__table__  # type: ignore[attr-defined]
        return {
            "status": NudgeStatus.SENDING.value,
            "lease_until": now + self.lease,
            "attempts": table.c.attempts + 1,
            "updated_at": now,
        }

    def _claim_postgres(
        self, now: datetime, limit: int, only: Sequence[int] | None
    ) -> list[tuple[int, bool]]:
        # Twice when the first finds nothing: a claim that read the due rows just before
        # another dispatcher's claim committed picks that claim's people, now unlocked, and
        # then none of their rows (no longer pending); a fresh statement sees past them.
        for _attempt in range(2):
            with self.db.engine.begin() as conn:
                rows = list(conn.execute(self.claim_statement(now, limit, only)))
            if rows:
                break
        return [(r.id, bool(r.again)) for r in sorted(rows, key=_claim_order)]

    def claim_statement(
        self, now: datetime, limit: int, only: Sequence[int] | None = None
    ) -> sa.Update:
        """PostgreSQL's claim, one statement and one round trip: pick with `SKIP LOCKED`,
        lease, and return (id, again, at) where `again` marks a row whose lease expired.

        Due rows are claimed by recipient, every due row of up to `limit` people at once, so
        that a person's day's message holds all that is due for them: each claim locks the
        people it takes (`FOR NO KEY UPDATE SKIP LOCKED` on their person rows, which leaves
        inserts that reference them alone), and a dispatcher claiming at the same moment
        takes the next people instead of half of someone's rows."""
        table = Nudge.__table__  # type: ignore[attr-defined]
        person = Person.__table__  # type: ignore[attr-defined]
        expired = (
            sa.select(table.c.id, sa.literal(True).label("again"), table.c.lease_until.label("at"))
            .where(table.c.status == NudgeStatus.SENDING.value, table.c.lease_until < now)
            .where(*_only(table, only))
            .order_by(table.c.lease_until, table.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .cte("expired")
        )
        pending = (table.c.status == NudgeStatus.PENDING.value, table.c.due_at <= now)
        first_due = (
            sa.select(table.c.recipient_id, sa.func.min(table.c.due_at).label("first"))
            .where(*pending, *_only(table, only))
            .group_by(table.c.recipient_id)
            .subquery("first_due")
        )
        people = (
            sa.select(person.c.id)
            .join(first_due, first_due.c.recipient_id == person.c.id)
            .order_by(first_due.c.first, person.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True, key_share=True, of=person)
            .cte("people")
        )
        due = (
            sa.select(table.c.id, sa.literal(False).label("again"), table.c.due_at.label("at"))
            .where(*pending, table.c.recipient_id.in_(sa.select(people.c.id)))
            .with_for_update(skip_locked=True)
            .cte("due")
        )
        # Rows whose dispatcher died (sorted first, by _claim_order), and the due ones.
        picked = sa.select(expired).union_all(sa.select(due)).cte("picked")
        return (
            table.update()
            .where(table.c.id == picked.c.id)
            .values(**self._lease(now))
            .returning(table.c.id, picked.c.again, picked.c.at)
        )

    def _claim_sqlite(
        self, now: datetime, limit: int, only: Sequence[int] | None
    ) -> list[tuple[int, bool]]:
        table = Nudge.__table__  # type: ignore[attr-defined]
        expired = (
            sa.select(table.c.id)
            .where(table.c.status == NudgeStatus.SENDING.value, table.c.lease_until < now)
            .where(*_only(table, only))
            .order_by(table.c.lease_until, table.c.id)
            .limit(limit)
        )
        with self.db.engine.connect() as conn:
            # Takes the write lock at BEGIN, so two claims never read the same rows.
            conn.execution_options(sqlite_begin="IMMEDIATE")
            with conn.begin():
                reclaimed = list(conn.execute(expired).scalars())
                due = (
                    sa.select(table.c.id)
                    .where(table.c.status == NudgeStatus.PENDING.value, table.c.due_at <= now)
                    .where(*_only(table, only))
                    .order_by(table.c.due_at, table.c.id)
                    .limit(limit - len(reclaimed))
                )
                fresh = list(conn.execute(due).scalars()) if len(reclaimed) < limit else []
                ids = reclaimed + fresh
                if ids:
                    conn.execute(
                        table.update().where(table.c.id.in_(ids)).values(**self._lease(now))
                    )
                # Fewer than asked for: every due row is in already.
                full = len(fresh) == limit - len(reclaimed)
                siblings = self._claim_siblings(conn, now, ids) if full else []
        return [(i, True) for i in reclaimed] + [(i, False) for i in fresh] + siblings

    def _claim_siblings(
        self, conn: sa.Connection, now: datetime, ids: Sequence[int]
    ) -> list[tuple[int, bool]]:
        """SQLite: lease the other due rows of the people this claim reached, in the same
        transaction (whose write lock keeps any other claim out meanwhile).

        A person's day's message holds all that is due for them: a batch that stopped at its
        limit halfway through one manager's prompts would send the rest a day late.
        """
        if not ids:
            return []
        table = Nudge.__table__  # type: ignore[attr-defined]
        reached = sa.select(table.c.recipient_id).where(table.c.id.in_(ids)).distinct()
        pick = sa.select(table.c.id).where(
            table.c.status == NudgeStatus.PENDING.value,
            table.c.due_at <= now,
            table.c.recipient_id.in_(reached),
        )
        rows = list(conn.execute(pick).scalars())
        if rows:
            conn.execute(table.update().where(table.c.id.in_(rows)).values(**self._lease(now)))
        return [(i, False) for i in sorted(rows)]

    # -- one tick ----------------------------------------------------------------------

    def tick(self) -> TickReport:
        """Send everything due now, batch after batch, then return what happened.

        Batches overlap: while one batch's DMs are in flight, the next is claimed and
        rendered, and only then is the first one recorded.
        """
        report = TickReport()
        if not self._lock.acquire(blocking=False):
            return report  # the previous tick of this process is still running
        try:
            with ThreadPoolExecutor(self.workers, "dispatch") as pool:
                seen: set[int] = set()
                in_flight: _Batch | None = None
                while True:
                    now = self.clock()
                    try:
                        claimed = self.claim(now, self.batch_size)
                    except Exception:
                        if in_flight is not None:
                            # Its DMs are out: record them (once the database answers).
                            self._finish(in_flight, report)
                        raise
                    batch = self._start(claimed, now, pool) if claimed else None
                    if in_flight is not None:
                        self._finish(in_flight, report)
                    in_flight = batch
                    if not claimed:
                        break
                    report.claimed += len(claimed)
                    report.reclaimed += sum(maybe_sent for _, maybe_sent in claimed)
                    # A row retried within this tick (a zero back-off on a frozen clock) would
                    # otherwise be claimed again and again; it waits for the next tick instead.
                    fresh = {i for i, _ in claimed} - seen
                    seen.update(fresh)
                    if len(claimed) < self.batch_size or not fresh:
                        break
                if in_flight is not None:
                    self._finish(in_flight, report)
        finally:
            self._lock.release()
        return report

    def deliver(self, ids: Sequence[int]) -> TickReport:
        """Send these nudges now if they are due, as a tick would (a goal just shared)."""
        report = TickReport()
        now = self.clock()
        claimed = self.claim(now, len(ids), only=ids)
        if claimed:
            report.claimed = len(claimed)
            with ThreadPoolExecutor(self.workers, "deliver") as pool:
                batch = self._start(claimed, now, pool)
                if batch is not None:
                    self._finish(batch, report)
        return report

    def _start(
        self, claimed: list[tuple[int, bool]], now: datetime, pool: ThreadPoolExecutor
    ) -> _Batch | None:
        """Read the batch in one session and start sending it.

        The Slack calls happen outside any write transaction: on SQLite, a writer holding the
        lock for a round trip to Slack would hold every other sender and the webhook too.
        """
        try:
            work = self._when_db_answers("prepare", lambda: self._prepare(claimed, now))
        except Exception:
            # The rows keep their lease and are claimed again once it expires.
            log.exception("nudge.batch_error count=%s", len(claimed))
            return None
        # One delivery may carry several nudges (a person's day's message): it runs once.
        jobs: dict[int, tuple[Delivery, list[int]]] = {}
        for w in work:
            if callable(w.outcome):
                jobs.setdefault(id(w.outcome), (w.outcome, []))[1].append(w.nudge_id)
        # A batch no bigger than the pool goes one by one: then a 429 on the first call holds
        # the rest back, where threads would already have sent them.
        if len(jobs) <= self.workers:
            done = {}
            for job, ids in jobs.values():
                result = _run(ids[0], job)
                done.update(dict.fromkeys(ids, result))
            return _Batch(work, now, done, {})
        futures = {}
        for job, ids in jobs.values():
            future = pool.submit(_run, ids[0], job)
            futures.update(dict.fromkeys(ids, future))
        return _Batch(work, now, {}, futures)

    def _finish(self, batch: _Batch, report: TickReport) -> None:
        """Wait for the batch's DMs and record every outcome in one write."""
        # _run turns an error into an outcome; this re-raises only a crash of the process.
        outcomes = {**batch.done, **{i: f.result() for i, f in batch.futures.items()}}

        def record() -> TickReport:
            # Counted afresh by each try: a write that failed counted nothing.
            counted = TickReport()
            self._record(batch.work, outcomes, batch.now, counted)
            return counted

        try:
            report.add(self._when_db_answers("record", record))
        except Exception:
            # Posted but not recorded: the lease runs out, and whoever claims the rows again
            # looks for each message in the DM before posting it.
            log.exception("nudge.record_error count=%s", len(batch.work))

    def _when_db_answers(self, step: str, work: Callable[[], Any]) -> Any:
        """Run `work` (one transaction); while the database is unreachable, try it again
        with a growing pause, for DB_WAIT_SECONDS (at most half the lease) in all."""
        budget = min(DB_WAIT_SECONDS, self.lease.total_seconds() / 2)
        deadline = time.monotonic() + budget
        pause = 0.2
        while True:
            try:
                return work()
            except UNAVAILABLE as exc:
                if time.monotonic() + pause > deadline:
                    raise
                log.warning(
                    "nudge.db_unavailable step=%s error=%s retry_in=%.1fs",
                    step,
                    type(exc).__name__,
                    pause,
                )
                time.sleep(pause)
                pause = min(pause * 2, 5.0)

    def _prepare(self, claimed: list[tuple[int, bool]], now: datetime) -> list[_Work]:
        ids = [i for i, _ in claimed]
        with Session(self.db.engine, expire_on_commit=False) as session:
            # A snapshot read: on SQLite this takes no write lock.
            session.connection(execution_options={"sqlite_begin": "DEFERRED"})
            nudges = {n.id: n for n in session.exec(select(Nudge).where(col(Nudge.id).in_(ids)))}
            parents = crud.rows_by_id(session, Nudge, {n.parent_id for n in nudges.values()})
            enrollments = crud.rows_by_id(
                session, Enrollment, {n.enrollment_id for n in nudges.values()}
            )
            recipients = crud.rows_by_id(session, Person, {n.recipient_id for n in nudges.values()})
            reminders = self._reminders_so_far(session, nudges.values(), parents)
            work: list[_Work] = []
            for nudge_id, was_claimed_again in claimed:
                nudge = nudges.get(nudge_id)
                if nudge is None or not self._ours(nudge, now):
                    continue
                maybe_sent = was_claimed_again or is_uncertain(nudge.reason)
                parent = parents.get(nudge.parent_id)
                enrollment = enrollments.get(nudge.enrollment_id)
                recipient = recipients.get(nudge.recipient_id)
                work.append(
                    _Work(
                        nudge_id,
                        maybe_sent,
                        self._precheck(nudge, enrollment, recipient, parent, now),
                        self._reminder(nudge, enrollment, recipient, parent, reminders, now),
                    )
                )
            to_send = [nudges[w.nudge_id] for w in work if w.outcome is None]
            if to_send:
                prepared = self.sender.prepare(
                    session,
                    to_send,
                    now=now,
                    maybe_sent={w.nudge_id for w in work if w.maybe_sent},
                )
                for w in work:
                    if w.outcome is None:
                        w.outcome = prepared.get(w.nudge_id) or RetryLater("not prepared")
            session.rollback()
        return work

    def _record(
        self, work: list[_Work], outcomes: dict[int, SendResult], now: datetime, report: TickReport
    ) -> None:
        if not work:
            return
        stored: list[tuple[str, int, float | None]] = []
        with self.db.session() as session:
            query = select(Nudge).where(col(Nudge.id).in_([w.nudge_id for w in work]))
            if not is_sqlite(self.db.engine):
                query = query.with_for_update()  # SQLite: the write lock is held from BEGIN
            rows = {n.id: n for n in session.exec(query)}
            for w in work:
                nudge = rows.get(w.nudge_id)
                if nudge is None or not self._ours(nudge, self.clock()):
                    continue
                asked_slack = w.nudge_id in outcomes
                outcome = outcomes.get(w.nudge_id, w.outcome)
                assert outcome is not None and not callable(outcome)
                lag = (now - nudge.due_at).total_seconds() if isinstance(outcome, Sent) else None
                # Held back before the sender could look: the doubt carries over.
                self._apply(session, nudge, outcome, now, report, w.maybe_sent and not asked_slack)
                if isinstance(outcome, Sent) and w.reminder is not None:
                    session.add(w.reminder)
                stored.append((str(nudge.kind), w.nudge_id, lag))
        self._tell(stored, report)

    def _tell(self, stored: list[tuple[str, int, float | None]], report: TickReport) -> None:
        """Once the outcomes are committed, hand each to `on_outcome`; a failing hook (the
        metrics) never fails a batch that is already stored."""
        if self.on_outcome is None:
            return
        for kind, nudge_id, lag in stored:
            try:
                self.on_outcome(kind, report.outcomes[nudge_id], lag)
            except Exception:
                log.warning("nudge.outcome_hook_failed nudge=%s", nudge_id, exc_info=True)

    @staticmethod
    def _ours(nudge: Nudge, now: datetime) -> bool:
        if nudge.status != NudgeStatus.SENDING:
            return False
        # Too slow: another dispatcher may hold this row by now; leave it to them.
        return nudge.lease_until is None or nudge.lease_until > now

    def _precheck(
        self,
        nudge: Nudge,
        enrollment: Enrollment | None,
        recipient: Person | None,
        parent: Nudge | None,
        now: datetime,
    ) -> SendResult | None:
        if enrollment is None or enrollment.status == EnrollmentStatus.CANCELLED:
            return Skipped("enrollment cancelled")
        if recipient is None or not recipient.active:
            return Skipped("recipient is deactivated in Slack")
        if not recipient.slack_id:
            return Skipped("recipient has no Slack account")
        if nudge.kind == NudgeKind.REMINDER and (
            parent is None or parent.status != NudgeStatus.SENT
        ):
            return Skipped("the prompt was answered, snoozed or closed")
        tz = zone(recipient.tz, self.default_tz)
        rules = self.rules.for_place(recipient.country, recipient.tz)
        if not in_window(now, tz, rules):
            # A retry or a slow batch must never reach someone outside their working hours.
            return Deferred(next_window_start(now, tz, rules), OUTSIDE_WINDOW)
        return None

    def _apply(
        self,
        session: Session,
        nudge: Nudge,
        outcome: SendResult,
        now: datetime,
        report: TickReport,
        uncertain: bool = False,
    ) -> None:
        nudge.updated_at = now
        nudge.lease_until = None
        assert nudge.id is not None
        if isinstance(outcome, Sent):
            nudge.status = NudgeStatus.SENT
            nudge.channel, nudge.ts = outcome.channel, outcome.ts
            nudge.sent_at = now
            nudge.deliveries += 1
            nudge.reason = None
            session.add(nudge)
            report.count(nudge.id, "sent")
            log.info("nudge.sent nudge=%s kind=%s", nudge.id, nudge.kind)
        elif isinstance(outcome, Deferred):
            nudge.status = NudgeStatus.PENDING
            nudge.attempts = 0  # a new day, a new budget of attempts
            if outcome.reason not in (OUTSIDE_WINDOW, WAITS_FOR_TOMORROW):
                nudge.ooo_deferrals += 1
            nudge.reason = _reason(outcome.reason, uncertain)
            if outcome.due_at is None:
                nudge.status = NudgeStatus.SKIPPED
                report.count(nudge.id, "skipped")
            else:
                nudge.due_at = outcome.due_at
                report.count(nudge.id, "deferred")
            session.add(nudge)
            log.info("nudge.deferred nudge=%s reason=%s", nudge.id, outcome.reason)
        elif isinstance(outcome, Skipped):
            nudge.status, nudge.reason = NudgeStatus.SKIPPED, outcome.reason
            session.add(nudge)
            report.count(nudge.id, "skipped")
            log.info("nudge.skipped nudge=%s reason=%s", nudge.id, outcome.reason)
        elif isinstance(outcome, Failed):
            nudge.status, nudge.reason = NudgeStatus.FAILED, outcome.reason
            session.add(nudge)
            report.count(nudge.id, "failed")
            log.warning("nudge.failed nudge=%s reason=%s", nudge.id, outcome.reason)
        else:
            if outcome.rate_limited:
                # Slack did nothing: not an attempt, and due exactly when Slack said.
                nudge.attempts = max(0, nudge.attempts - 1)
                delay = outcome.after_seconds
            else:
                backoff = RETRY_FIRST_SECONDS * 2 ** max(0, nudge.attempts - 1)
                delay = max(min(backoff, RETRY_MAX_SECONDS), outcome.after_seconds)
            if not outcome.rate_limited and nudge.attempts >= self.max_attempts:
                nudge.status = NudgeStatus.FAILED
                nudge.reason = f"gave up after {nudge.attempts} attempts: {outcome.reason}"
                report.count(nudge.id, "failed")
                log.warning("nudge.failed nudge=%s reason=%s", nudge.id, nudge.reason)
            else:
                # Past the recipient's window, the claim defers it to the next window instead.
                nudge.status = NudgeStatus.PENDING
                nudge.due_at = now + timedelta(seconds=delay)
                nudge.reason = _reason(outcome.reason, uncertain or outcome.uncertain)
                report.count(nudge.id, "retried")
                report.wake(nudge.due_at)
                log.info(
                    "nudge.retry nudge=%s reason=%s after=%.3fs", nudge.id, outcome.reason, delay
                )
            session.add(nudge)

    def _reminders_so_far(
        self, session: Session, nudges: Iterable[Nudge], parents: dict[int | None, Nudge]
    ) -> dict[int, list[Nudge]]:
        """The reminders each prompt of the batch already has, in one query."""
        prompts = {p.id for n in nudges if (p := _prompt(n, parents.get(n.parent_id)))}
        found: dict[int, list[Nudge]] = {p: [] for p in prompts if p is not None}
        if prompts:
            query = select(Nudge).where(
                col(Nudge.parent_id).in_(prompts), Nudge.kind == NudgeKind.REMINDER
            )
            for reminder in session.exec(query):
                found[reminder.parent_id].append(reminder)  # type: ignore[index]
        return found

    def _reminder(
        self,
        nudge: Nudge,
        enrollment: Enrollment | None,
        recipient: Person | None,
        parent: Nudge | None,
        reminders: dict[int, list[Nudge]],
        now: datetime,
    ) -> Nudge | None:
        """The reminder to plan if `nudge` goes out now, if any."""
        prompt = _prompt(nudge, parent)
        if prompt is None or prompt.id is None or recipient is None or enrollment is None:
            return None
        existing = reminders.get(prompt.id, [])
        # A snooze cancels the pending reminder; the prompt that comes back earns its own.
        counted = [r for r in existing if r.status != NudgeStatus.CANCELLED]
        if len(counted) >= self.rules.max_reminders:
            return None
        slot = reminder_slot(
            sent_at=now,
            tz=zone(recipient.tz, self.default_tz),
            rules=self.rules.for_place(recipient.country, recipient.tz),
            starts_on=enrollment.starts_on if prompt.kind == NudgeKind.PRE_TRAINING else None,
        )
        if slot.due_at is None:
            log.info("nudge.no_reminder nudge=%s reason=%s", prompt.id, slot.skip_reason)
            return None
        return Nudge(
            enrollment_id=nudge.enrollment_id,
            kind=NudgeKind.REMINDER,
            recipient_id=nudge.recipient_id,
            parent_id=prompt.id,
            due_at=slot.due_at,
            idempotency_key=reminder_key(prompt, len(existing) + 1),
        )


@dataclass
class _Work:
    """One claimed nudge on its way: what is known before, and what to do after, sending."""

    nudge_id: int
    maybe_sent: bool
    outcome: SendResult | Delivery | None
    reminder: Nudge | None  # planned if the nudge goes out


@dataclass
class _Batch:
    """A claimed batch whose DMs are going out: done inline, or still in the pool."""

    work: list[_Work]
    now: datetime
    done: dict[int, SendResult]
    futures: dict[int, Future[SendResult]]


def _only(table: sa.Table, ids: Sequence[int] | None) -> list[sa.ColumnElement[bool]]:
    return [] if ids is None else [table.c.id.in_(list(ids))]


def _claim_order(row: sa.Row[Any]) -> tuple[bool, datetime, int]:
    return (not row.again, row.at, row.id)


def _prompt(nudge: Nudge, parent: Nudge | None) -> Nudge | None:
    """The manager prompt whose reminder is due once `nudge` goes out, if any."""
    if nudge.kind == NudgeKind.REMINDER:
        return parent
    return nudge if nudge.kind in MANAGER_PROMPTS else None


def _run(nudge_id: int, delivery: Delivery) -> SendResult:
    try:
        return delivery()
    except Exception as exc:  # a bug or an outage must not stop the batch
        log.exception("nudge.send_error nudge=%s", nudge_id)
        # Whether the post went out before the error is unknown.
        return RetryLater(type(exc).__name__, uncertain=True)


OUTSIDE_WINDOW = "outside the delivery window"
# A nudge that fell due after the person's day's message went out waits for the next one.
WAITS_FOR_TOMORROW = "the day's message went out already"


def _reason(reason: str, uncertain: bool) -> str:
    text = reason.removeprefix(UNCERTAIN)
    return (UNCERTAIN + text if uncertain else text)[:300]
