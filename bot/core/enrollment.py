"""Enrollment intake: the one service function behind `/enroll`, the LMS webhook and CSV.

Every door hands over an `EnrollmentInput`; `Intake.enroll` validates it, finds the learner
and the manager, stores the enrollment idempotently and plans its nudges, all in the
caller's transaction so a refused input leaves nothing half-written.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import partial
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from bot.core.directory import (
    SLACK_ID_RE,
    ImportReport,
    apply_slack_user,
    profile_manager_ref,
    read_csv,
    valid_email,
)
from bot.core.limits import EXTERNAL_ID_MAX, TRAINING_NAME_MAX
from bot.core.lookup import LookupUnavailable, PeopleLookup
from bot.core.trainings import WhyTooLong, apply_why, clean_why
from scheduler.nudges import nudge_key, plan_nudges, planned_rounds
from scheduler.planning import PlanMemo, Rules, zone
from storage import crud
from storage.crud import PersonRow
from storage.db import Database
from storage.models import (
    Enrollment,
    EnrollmentStatus,
    Person,
    Source,
    Training,
    utcnow,
)

log = logging.getLogger(__name__)

EARLIEST, LATEST = date(2000, 1, 1), date(2100, 12, 31)
SLACK_AWAY = (
    "Slack did not answer while looking this person up; import the file again later "
    "(rows already imported are kept, and re-importing them changes nothing)"
)
BULK_BATCH = 5000  # rows per transaction of a CSV import
FIRST_GENERATION = 0  # of a new enrollment (re-enrolling after a cancel counts up)
# A status of the doors, not of the table: a completed enrollment is stored as enrolled, with
# its `completed_on`, so that every report still counts it.
COMPLETED = "completed"
STATUSES = (EnrollmentStatus.ENROLLED.value, EnrollmentStatus.CANCELLED.value, COMPLETED)
# A completion dated a day ahead of DEFAULT_TIMEZONE's today is the learner's own today.
COMPLETION_AHEAD_DAYS = 1


class IntakeError(ValueError):
    """Refused input: `field` names what to fix, the message says how."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class UnknownEnrollment(IntakeError):
    """A cancellation or completion that names only an external id nobody enrolled: there
    is nothing to cancel or complete, and too little to create it from."""


@dataclass(frozen=True)
class EnrollmentInput:
    """What every door hands over. With an `external_id` Coachbot knows already, a
    cancellation or a completion may leave `learner`, `training` and `starts_on` empty:
    they are the stored enrollment's."""

    learner: str  # email or Slack id
    training: str
    starts_on: date | str
    ends_on: date | str | None  # None or "": a self-paced training
    manager: str | None = None  # email or Slack id
    external_id: str | None = None
    status: str = EnrollmentStatus.ENROLLED  # or cancelled, or completed (COMPLETED)
    source: str = Source.SLACK
    enrolled_by: str | None = None
    # How each door names the people fields, so an error names the field the caller sent.
    learner_field: str = "learner"
    manager_field: str = "manager"
    completed_on: date | str | None = None  # with status completed; default: today
    sequence: int | None = None  # iCalendar's SEQUENCE: one lower than the stored is ignored
    # Why the training matters, and its sponsor (email or Slack id): properties of the
    # training, updated when given, left as stored when not.
    why: str | None = None
    sponsor: str | None = None
    sponsor_field: str = "sponsor"


@dataclass(frozen=True)
class EnrollResult:
    enrollment: Enrollment
    created: bool
    changed: bool
    no_manager: bool
    stale: bool = False  # an older revision (lower SEQUENCE) than the stored one: ignored

    @property
    def outcome(self) -> str:
        """`created`, `updated`, `duplicate` (nothing changed) or `stale`: the webhook's
        `result`."""
        if self.stale:
            return "stale"
        return "created" if self.created else ("updated" if self.changed else "duplicate")

    @property
    def status(self) -> str:
        """As the doors name it: `completed` for an enrollment with a completion."""
        e = self.enrollment
        if e.status == EnrollmentStatus.ENROLLED and e.completed_on is not None:
            return COMPLETED
        return e.status


@dataclass(frozen=True)
class _Clean:
    """An input checked field by field; `training` and `starts_on` are None when a
    cancellation or completion left them to the stored enrollment."""

    training: str | None
    starts_on: date | None
    ends_on: date | None
    status: str  # one of STATUSES
    external_id: str | None
    completed_on: date | None
    why: str | None = None  # None: leave the training's as stored

    @property
    def partial(self) -> bool:
        return self.training is None or self.starts_on is None

    @property
    def stored_status(self) -> str:
        return (
            EnrollmentStatus.CANCELLED if self.status == "cancelled" else EnrollmentStatus.ENROLLED
        )


def parse_date(value: date | str, field: str) -> date:
    if isinstance(value, date):
        parsed = value
    else:
        try:
            parsed = date.fromisoformat(str(value).strip())
        except ValueError:
            raise IntakeError(
                field, f"{field} must be a date as YYYY-MM-DD, such as 2026-12-01 (got {value!r})"
            ) from None
    if not EARLIEST <= parsed <= LATEST:
        raise IntakeError(field, f"{field} must be between {EARLIEST} and {LATEST}")
    return parsed


class Intake:
    def __init__(
        self,
        db: Database,
        *,
        rules: Rules,
        default_tz: str,
        people: PeopleLookup | None = None,
        manager_field_id: str = "",
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.rules = rules
        self.default_tz = default_tz
        self.people = people  # None: nobody is looked up in Slack
        self.manager_field_id = manager_field_id
        self.clock = clock

    # -- people --------------------------------------------------------------------------

    def resolve(self, session: Session, ref: str, field: str) -> Person:
        """A person by email or Slack id: the directory first, then Slack itself."""
        ref = (ref or "").strip()
        if not ref:
            raise IntakeError(field, f"{field} is required")
        if "@" in ref:
            if not valid_email(ref):
                raise IntakeError(field, f"{field} {ref!r} is not an email address")
        elif not SLACK_ID_RE.match(ref):
            raise IntakeError(field, f"{field} must be an email or a Slack user id (U...)")
        person = crud.find_person(session, key=ref)
        if person is not None and person.slack_id:
            return person
        try:
            user = self.people.user(ref) if self.people is not None else None
        except LookupUnavailable:
            log.warning("intake.slack_lookup_failed field=%s", field)
            if person is not None:
                return person  # the directory knows them; Slack can fill in the rest later
            # Not "matches nobody": that would be final. The caller answers "try again".
            raise
        if user is not None:
            found, _ = apply_slack_user(
                session, user, manager_field_id=self.manager_field_id, now=self.clock()
            )
            if found is not None:
                return found
        if person is not None:
            return person  # known from a CSV, not (yet) in Slack: kept, nudged once it is
        raise IntakeError(
            field, f"{field} {ref} matches nobody in the directory or in Slack; check the spelling"
        )

    def _manager_from_slack(self, session: Session, learner: Person) -> Person | None:
        if not (self._may_ask_slack_for_manager() and learner.slack_id):
            return None
        assert self.people is not None and learner.slack_id is not None
        profile = self.people.profile(learner.slack_id)
        ref = profile_manager_ref(profile or {}, self.manager_field_id)
        if not ref:
            return None
        try:
            manager = self.resolve(session, ref, "manager")
        except IntakeError:
            return None
        if manager.id != learner.id:
            learner.manager_id = manager.id
            session.add(learner)
            return manager
        return None

    # -- the service function ------------------------------------------------------------

    def today(self) -> date:
        """Today in DEFAULT_TIMEZONE: the date of a completion reported without one."""
        return self.clock().astimezone(zone(None, self.default_tz)).date()

    def enroll(self, session: Session, data: EnrollmentInput) -> EnrollResult:
        clean = _clean(data, today=self.today())
        external_id = clean.external_id
        existing = (
            crud.enrollment_by_external_id(session, external_id=external_id)
            if external_id
            else None
        )
        if (
            data.sequence is not None
            and existing is not None
            and existing.sequence is not None
            and data.sequence < existing.sequence
        ):
            log.info(
                "enrollment.stale enrollment=%s source=%s sequence=%s stored=%s",
                existing.id,
                data.source,
                data.sequence,
                existing.sequence,
            )
            return EnrollResult(existing, False, False, existing.manager_id is None, stale=True)

        learner_ref = (data.learner or "").strip()
        if clean.partial or not learner_ref:
            if existing is None:
                raise _unknown(data, clean)
            learner = session.get(Person, existing.learner_id)
            assert learner is not None
            if learner_ref:
                learner = self.resolve(session, learner_ref, data.learner_field)
        else:
            learner = self.resolve(session, learner_ref, data.learner_field)
        if data.manager and data.manager.strip():
            manager: Person | None = self.resolve(session, data.manager, data.manager_field)
            if manager is not None and manager.id == learner.id:
                raise IntakeError(data.manager_field, "a learner cannot be their own manager")
        elif clean.partial and existing is not None and existing.manager_id:
            manager = session.get(Person, existing.manager_id)
        elif learner.manager_id:
            manager = session.get(Person, learner.manager_id)
        else:
            manager = self._manager_from_slack(session, learner)
        sponsor = (
            self.resolve(session, data.sponsor, data.sponsor_field)
            if data.sponsor and data.sponsor.strip()
            else None
        )
        now = self.clock()
        if clean.training is not None:
            training = crud.training_by_name(session, name=clean.training, now=now)
        else:
            assert existing is not None
            training = session.get(Training, existing.training_id)
        assert training is not None and learner.id is not None
        why_changed = apply_why(training, why=clean.why, sponsor=sponsor)
        if why_changed:
            session.add(training)
            log.info("training.why_set training=%s source=%s", training.id, data.source)

        enrollment = existing
        if enrollment is None and not external_id:
            enrollment = crud.current_enrollment(
                session,
                learner_id=learner.id,
                training_id=training.id,  # type: ignore[arg-type]
            )
        starts_on = clean.starts_on or (existing.starts_on if existing else None)
        assert starts_on is not None
        if clean.completed_on is not None and clean.completed_on < starts_on:
            raise IntakeError(
                "completed_on",
                f"completed_on ({clean.completed_on}) is before starts_on ({starts_on})",
            )
        created = enrollment is None
        if enrollment is None:
            enrollment = Enrollment(
                external_id=external_id,
                learner_id=learner.id,
                training_id=training.id,  # type: ignore[arg-type]
                starts_on=starts_on,
                ends_on=clean.ends_on,
                source=data.source,
                enrolled_by=data.enrolled_by,
                created_at=now,
            )
            before: tuple[Any, ...] = ()
        else:
            before = _state(enrollment)
            if (
                enrollment.status == EnrollmentStatus.CANCELLED
                and clean.stored_status == EnrollmentStatus.ENROLLED
            ):
                enrollment.generation += 1  # enrolled again: plan afresh
        # The latest message wins: a completion completes, an enrollment (re)opens, and a
        # cancellation keeps the completion it may follow. Once there is a completion, it is
        # the end that the debrief and follow-ups are planned from.
        if clean.status == COMPLETED:
            completed_on: date | None = clean.completed_on
        elif clean.status == EnrollmentStatus.ENROLLED:
            completed_on = None
        else:
            completed_on = enrollment.completed_on
        ends_on = clean.ends_on
        if clean.partial and clean.status == EnrollmentStatus.CANCELLED and existing is not None:
            ends_on = existing.ends_on
        enrollment.learner_id = learner.id
        enrollment.training_id = training.id  # type: ignore[assignment]
        enrollment.starts_on = starts_on
        enrollment.completed_on = completed_on
        enrollment.ends_on = completed_on if completed_on is not None else ends_on
        enrollment.manager_id = manager.id if manager else None
        enrollment.status = clean.stored_status
        # A newer revision that changes nothing else is remembered all the same.
        sequence_moved = data.sequence is not None and data.sequence != enrollment.sequence
        if sequence_moved:
            enrollment.sequence = data.sequence
        changed = created or _state(enrollment) != before
        if changed or sequence_moved:
            enrollment.updated_at = now
            session.add(enrollment)
            session.flush()
        if changed:
            plan_nudges(session, enrollment, now=now, rules=self.rules, default_tz=self.default_tz)
        log.info(
            "enrollment.%s enrollment=%s source=%s no_manager=%s",
            "created" if created else ("updated" if changed else "unchanged"),
            enrollment.id,
            data.source,
            manager is None,
        )
        return EnrollResult(enrollment, created, changed or why_changed, manager is None)

    # -- the doors that carry many rows --------------------------------------------------

    def enroll_one(self, data: EnrollmentInput) -> EnrollResult:
        """One enrollment in its own transaction.

        Two deliveries of the same new enrollment can race to insert it; the loser's unique
        key fails, and its retry then finds the winner's row and answers as a duplicate.
        """
        for attempt in range(3):
            try:
                with self.db.session() as session:
                    return self.enroll(session, data)
            except IntegrityError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def import_csv(self, text: str) -> ImportReport:
        """Columns `learner_email,training,starts_on,ends_on[,manager_email][,external_id]`
        `[,status][,completed_on][,why][,sponsor_email][,sponsor_slack_id]`; an empty
        `ends_on` is a self-paced training."""
        report = ImportReport()
        rows, error = read_csv(
            text,
            ["learner_email", "training", "starts_on", "ends_on"],
            ["manager_email", "external_id", *COMPLETION_COLUMNS, *WHY_COLUMNS],
        )
        if error:
            report.errors.append((1, error))
            return report
        inputs: list[tuple[int, EnrollmentInput]] = []
        for row in rows:
            if "_error" in row:
                report.errors.append((row["_line"], row["_error"]))
                continue
            data = EnrollmentInput(
                learner=row.get("learner_email", ""),
                training=row.get("training", ""),
                starts_on=row.get("starts_on", ""),
                ends_on=row.get("ends_on", ""),
                manager=row.get("manager_email") or None,
                external_id=row.get("external_id") or None,
                source=Source.CSV,
                learner_field="learner_email",
                manager_field="manager_email",
                **_completion_columns(row),
                **_why_columns(row),
            )
            inputs.append((row["_line"], data))
        self.enroll_many(inputs, report)
        report.errors.sort()
        return report

    def enroll_many(
        self,
        inputs: Sequence[tuple[int, EnrollmentInput]],
        report: ImportReport,
        *,
        batch_size: int = BULK_BATCH,
    ) -> None:
        """Many enrollments, the same as `enroll_one` each, in one transaction per batch.

        The common row (both people known with a Slack id, an enrollment not seen before)
        is looked up in bulk and inserted with its nudges in one statement per table. Any
        other row (an update, a duplicate, someone to look up in Slack, a bad row) goes
        through `enroll` in a savepoint of its own, in file order, so a bad row never takes
        good ones down with it. A batch that meets a concurrent writer's unique key is
        rolled back and done again row by row.

        The bulk rows of one call are planned at one "now", so each distinct plan is worked
        out once (`_BulkPlans`).
        """
        planned = _BulkPlans(
            self.db.engine.dialect, now=self.clock(), rules=self.rules, default_tz=self.default_tz
        )
        # While one batch's new rows are stored (index and foreign-key upkeep, in the server
        # or in SQLite's C code, without the GIL), the next batch is read and sorted out in
        # a read-only transaction. It counts the stored batch's keys and (learner, training)
        # pairs as taken, as it would once they are committed. A batch that is not new rows
        # only waits for that, and is sorted out again and stored as one transaction.
        engine = self.db.engine
        if engine.dialect.name == "sqlite":
            engine = engine.execution_options(sqlite_begin="DEFERRED")  # WAL: reads never wait
        # PostgreSQL spreads two batches' key checks over two server processes; SQLite has
        # one writer at a time.
        in_flight = 1 if engine.dialect.name == "sqlite" else 2
        with ThreadPoolExecutor(max_workers=in_flight, thread_name_prefix="import") as writer:
            pending: deque[_Pending] = deque()
            try:
                for start in range(0, len(inputs), batch_size):
                    batch = inputs[start : start + batch_size]
                    counts = ImportReport()
                    try:
                        with Session(engine, expire_on_commit=False) as session:
                            sorted_out: _Sorted | None = self._sort_batch(
                                session,
                                batch,
                                counts,
                                planned,
                                [p.sorted for p in pending],
                                write=False,
                            )
                    except IntegrityError:
                        sorted_out = None
                    if sorted_out is not None and not sorted_out.slow:
                        while len(pending) >= in_flight:
                            self._settle(pending.popleft(), report)
                        future = writer.submit(self._store_new, sorted_out, planned)
                        pending.append(_Pending(future, batch, counts, sorted_out))
                        continue
                    while pending:
                        self._settle(pending.popleft(), report)
                    try:
                        with self.db.session() as session:
                            counts = ImportReport()
                            sorted_out = self._sort_batch(
                                session, batch, counts, planned, [], write=True
                            )
                            self._store(session, sorted_out, counts, planned)
                    except IntegrityError:
                        self._row_by_row(batch, report)
                        continue
                    _add(report, counts)
            finally:
                while pending:
                    self._settle(pending.popleft(), report)

    def _store_new(self, sorted_out: _Sorted, planned: _BulkPlans) -> None:
        """A batch of new rows only, in a transaction of its own (the background job)."""
        with self.db.bulk_session() as session:
            if sorted_out.fast:
                _insert_planned(session, sorted_out.fast, planned)

    def _settle(self, pending: _Pending | None, report: ImportReport) -> None:
        """Wait for a batch stored in the background and count it (row by row on a conflict)."""
        if pending is None:
            return
        try:
            pending.future.result()
        except IntegrityError:
            self._row_by_row(pending.batch, report)
            return
        pending.counts.created += len(pending.sorted.fast)
        _add(report, pending.counts)

    def _row_by_row(
        self, batch: Sequence[tuple[int, EnrollmentInput]], report: ImportReport
    ) -> None:
        log.warning("intake.batch_conflict rows=%s: retried row by row", len(batch))
        counts = ImportReport()
        for line, data in batch:
            self._enroll_counted(line, data, counts)
        _add(report, counts)

    def _enroll_counted(self, line: int, data: EnrollmentInput, report: ImportReport) -> None:
        _count_row(report, line, self.enroll_one, data)

    def _sort_batch(
        self,
        session: Session,
        batch: Sequence[tuple[int, EnrollmentInput]],
        report: ImportReport,
        planned: _BulkPlans,
        before: Sequence[_Sorted],
        *,
        write: bool,
    ) -> _Sorted:
        """Which rows of `batch` take the bulk path and which `enroll`; `before` are batches
        of new rows being stored meanwhile, whose keys count as taken. Without `write`
        `session` is only read (a missing training is created in a session of its own)."""
        cleaned: list[tuple[int, EnrollmentInput, _Clean]] = []
        slow: list[tuple[int, EnrollmentInput]] = []
        keys: set[Any] = set().union(*(b.keys for b in before))
        today = planned.now.astimezone(zone(None, self.default_tz)).date()
        for line, data in batch:
            try:
                clean = _clean(data, today=today)
            except IntakeError as exc:
                report.errors.append((line, exc.message))
                continue
            if clean.partial or data.sequence is not None:
                # Completes or cancels a stored enrollment (it has an external id): `enroll`.
                slow.append((line, data))
                keys.add(clean.external_id)
                continue
            cleaned.append((line, data, clean))
        people = crud.people_by_email(
            session,
            emails={
                ref.strip().lower()
                for _, data, _c in cleaned
                for ref in (data.learner, data.manager or "", data.sponsor or "")
                if "@" in (ref or "")
            },
        )
        managers = crud.people_by_id(
            session,
            ids={p.manager_id for p in people.values() if p.manager_id}
            - {p.id for p in people.values()},
        )
        managers.update({p.id: p for p in people.values()})
        trainings = crud.trainings_by_name(
            session, names={c.training for _, _d, c in cleaned if c.training}
        )
        by_external = crud.taken_external_ids(
            session, external_ids={c.external_id for _, _d, c in cleaned if c.external_id}
        )
        fast: list[tuple[_New, PersonRow, PersonRow | None]] = []
        natural: list[tuple[int, EnrollmentInput, PersonRow, tuple[Any, ...]]] = []
        for line, data, clean in cleaned:
            name, external_id = clean.training, clean.external_id
            assert name is not None and clean.starts_on is not None
            learner = people.get((data.learner or "").strip().lower())
            manager_ref = (data.manager or "").strip().lower()
            manager: PersonRow | None = people.get(manager_ref) if manager_ref else None
            if manager is None and not manager_ref and learner is not None:
                manager = managers.get(learner.manager_id) if learner.manager_id else None
            training = trainings.get(name.lower())
            key: Any = external_id or (learner.id if learner else None, name.lower())
            simple = (
                learner is not None
                and learner.slack_id
                and (not manager_ref or (manager is not None and manager.slack_id))
                and (manager is None or manager.id != learner.id)
                and (manager_ref or learner.manager_id or not self._may_ask_slack_for_manager())
                and key not in keys
                and not (external_id and external_id in by_external)
                and _why_unchanged(training, clean.why, data.sponsor, people)
            )
            keys.add(key)
            if external_id and learner is not None:
                # A later line without an id finds this enrollment by (learner, training).
                keys.add((learner.id, name.lower()))
            if not simple:
                slow.append((line, data))
                continue
            assert learner is not None
            if training is None:
                if write:
                    training = crud.training_by_name(session, name=name, now=planned.now)
                else:
                    # In a transaction of its own, so that sorting out stays read-only. Were
                    # the batch to fail, its rows, done one by one, would create it anyway.
                    with self.db.session() as own:
                        training = crud.training_by_name(own, name=name, now=planned.now)
                assert training is not None
                trainings[name.lower()] = training
            enrollment = _New(
                external_id,
                learner.id,
                manager.id if manager else None,
                training.id,  # type: ignore[arg-type]
                clean.starts_on,
                clean.completed_on or clean.ends_on,  # as `enroll` stores it
                clean.completed_on,
                clean.stored_status,
                data.source,
                data.enrolled_by,
            )
            if external_id:
                fast.append((enrollment, learner, manager))
            else:
                natural.append((line, data, learner, (enrollment, manager)))
        # Without an external id the key is (learner, training): one query for the batch.
        taken = crud.taken_pairs(
            session, pairs={(e.learner_id, e.training_id) for _, _d, _l, (e, _m) in natural}
        )
        for stored in before:
            taken |= stored.pairs
        for line, data, learner, (enrollment, manager) in natural:
            if (enrollment.learner_id, enrollment.training_id) in taken:
                slow.append((line, data))
            else:
                fast.append((enrollment, learner, manager))
        slow.sort(key=lambda item: item[0])
        pairs = {(new.learner_id, new.training_id) for new, _l, _m in fast}
        return _Sorted(fast, slow, keys, pairs)

    def _store(
        self, session: Session, sorted_out: _Sorted, report: ImportReport, planned: _BulkPlans
    ) -> None:
        if sorted_out.fast:
            _insert_planned(session, sorted_out.fast, planned)
        report.created += len(sorted_out.fast)
        enroll_nested = partial(self._enroll_nested, session)
        for line, data in sorted_out.slow:
            _count_row(report, line, enroll_nested, data)

    def _enroll_nested(self, session: Session, data: EnrollmentInput) -> EnrollResult:
        """`enroll` in a savepoint, so that a refused row leaves the batch's others alone."""
        with session.begin_nested():
            return self.enroll(session, data)

    def _may_ask_slack_for_manager(self) -> bool:
        return bool(self.manager_field_id and self.people is not None)


# A planned nudge, encoded for storage: (kind, to the learner?, due_at, status, reason).
_Template = tuple[str, bool, Any, str, str | None, int | None]


@dataclass(slots=True)
class _New:
    """A new enrollment on the bulk path, before it has an id."""

    external_id: str | None
    learner_id: int
    manager_id: int | None
    training_id: int
    starts_on: date
    ends_on: date | None
    completed_on: date | None
    status: str
    source: str
    enrolled_by: str | None


@dataclass(slots=True)
class _Sorted:
    """A batch sorted out: new rows for the bulk path, the rest for `enroll` in file order."""

    fast: list[tuple[_New, PersonRow, PersonRow | None]]
    slow: list[tuple[int, EnrollmentInput]]
    keys: set[Any]  # external ids and (learner, training name) seen in the batch
    pairs: set[tuple[int, int]]  # (learner, training) of its new rows


@dataclass(slots=True)
class _Pending:
    """A batch of new rows being stored in the background."""

    future: Future[None]
    batch: Sequence[tuple[int, EnrollmentInput]]
    counts: ImportReport
    sorted: _Sorted


def _why_unchanged(
    training: Training | None,
    why: str | None,
    sponsor_ref: str | None,
    people: Mapping[str, PersonRow],
) -> bool:
    """Whether a row leaves its training's why and sponsor as stored: only then may it take
    the bulk path, which writes no training. A row that changes them goes through `enroll`,
    in file order, so the last row of the file that names them wins."""
    ref = (sponsor_ref or "").strip().lower()
    if why is None and not ref:
        return True
    if training is None or (why is not None and training.why != why):
        return False
    if not ref:
        return True
    sponsor = people.get(ref)  # by email; a Slack id is looked up by `enroll`
    return sponsor is not None and sponsor.id == training.sponsor_id


def _add(report: ImportReport, counts: ImportReport) -> None:
    report.created += counts.created
    report.updated += counts.updated
    report.unchanged += counts.unchanged
    report.errors.extend(counts.errors)


class _BulkPlans:
    """`planned_rounds` for the bulk path's new enrollments, as `plan_nudges` stores them:
    worked out once per distinct (dates, zones, who is active) at one `now`, and kept
    encoded for storage."""

    def __init__(self, dialect: sa.Dialect, *, now: datetime, rules: Rules, default_tz: str):
        self.now = now
        self.default_tz = default_tz
        self.memo = PlanMemo(now=now, rules=rules)
        self.values = crud.BulkValues(dialect)
        self.now_stamp = self.values.stamp(now)
        self._templates: dict[tuple[Any, ...], list[_Template]] = {}

    def nudges(
        self,
        starts_on: date,
        ends_on: date | None,
        completed_on: date | None,
        learner: PersonRow,
        manager: PersonRow | None,
    ) -> list[_Template]:
        key = (
            starts_on,
            ends_on,
            completed_on,
            learner.tz,
            learner.active,
            None if manager is None else (manager.tz, manager.active),
        )
        found = self._templates.get(key)
        if found is None:
            plans = planned_rounds(
                self.memo,
                starts_on=starts_on,
                ends_on=ends_on,
                learner=learner,
                manager=manager,
                default_tz=self.default_tz,
                completed_on=completed_on,
            )
            found = self._templates[key] = [
                (
                    str(plan.kind),
                    plan.to_learner,
                    self.now_stamp if plan.due_at is None else self.values.stamp(plan.due_at),
                    str(plan.status),
                    plan.reason,
                    plan.follow_up_round,
                )
                for plan in plans.values()
            ]
        return found


def _insert_planned(
    session: Session,
    rows: Sequence[tuple[_New, PersonRow, PersonRow | None]],
    planned: _BulkPlans,
) -> None:
    """New enrollments and the nudges `plan_nudges` would give them (`planned_rounds`), in bulk.

    Plain tuples through `storage.bulk` (COPY or one executemany): binding values through
    SQLAlchemy row by row costs more than storing them.
    """
    created = updated = planned.now_stamp
    ids = crud.new_enrollment_ids(session, count=len(rows))
    day = planned.values.day
    crud.insert_enrollments(
        session,
        rows=[
            (
                new_id,
                new.external_id,
                new.learner_id,
                new.manager_id,
                new.training_id,
                day(new.starts_on),
                day(new.ends_on),
                day(new.completed_on),
                str(new.status),
                str(new.source),
                new.enrolled_by,
                FIRST_GENERATION,
                created,
                updated,
            )
            for (new, _learner, _manager), new_id in zip(rows, ids, strict=True)
        ],
    )
    nudges: list[tuple[Any, ...]] = []
    add = nudges.append
    for (new, learner, manager), new_id in zip(rows, ids, strict=True):
        if new.status == EnrollmentStatus.CANCELLED:
            continue  # plan_nudges plans nothing for a new, cancelled enrollment
        learner_id, manager_id = learner.id, manager.id if manager else None
        for kind, to_learner, due_at, status, reason, number in planned.nudges(
            new.starts_on, new.ends_on, new.completed_on, learner, manager
        ):
            add(
                (
                    new_id,
                    kind,
                    learner_id if to_learner else manager_id,
                    due_at,
                    status,
                    0,
                    0,
                    0,
                    reason,
                    nudge_key(new_id, FIRST_GENERATION, kind, number),
                    number,
                    created,
                    updated,
                )
            )
    if nudges:
        crud.insert_nudges(session, rows=nudges)
    log.info(
        "enrollment.bulk_created count=%s first=%s last=%s nudges=%s",
        len(rows),
        ids[0],
        ids[-1],
        len(nudges),
    )


# The columns of a self-paced training's completion (see `_completion_columns`).
COMPLETION_COLUMNS = ("status", "completed_on")


def _completion_columns(row: Mapping[str, Any]) -> dict[str, Any]:
    """`status` (enrolled, cancelled, completed) and `completed_on` of a CSV row."""
    return {
        "status": row.get("status") or EnrollmentStatus.ENROLLED,
        "completed_on": row.get("completed_on") or None,
    }


# The columns of why a training matters (see `_why_columns`).
WHY_COLUMNS = ("why", "sponsor_email", "sponsor_slack_id")


def _why_columns(row: Mapping[str, Any]) -> dict[str, Any]:
    """`why` and the sponsor (`sponsor_email`, else `sponsor_slack_id`) of a CSV row."""
    email = row.get("sponsor_email") or None
    slack_id = row.get("sponsor_slack_id") or None
    return {
        "why": row.get("why") or None,
        "sponsor": email or slack_id,
        "sponsor_field": "sponsor_slack_id" if slack_id and not email else "sponsor_email",
    }


def _count_row(
    report: ImportReport,
    line: int,
    enroll: Callable[[EnrollmentInput], EnrollResult],
    data: EnrollmentInput,
) -> None:
    """Counts what `enroll` did with the row of `line`, or records why it refused it."""
    try:
        result = enroll(data)
    except IntakeError as exc:
        report.errors.append((line, exc.message))
        return
    except LookupUnavailable:
        report.errors.append((line, SLACK_AWAY))
        return
    _count(report, result)


def _count(report: ImportReport, result: EnrollResult) -> None:
    if result.created:
        report.created += 1
    elif result.changed:
        report.updated += 1
    else:
        report.unchanged += 1


def _clean(data: EnrollmentInput, *, today: date) -> _Clean:
    """The checks every door shares, field by field, before anyone is looked up."""
    training_name = " ".join((data.training or "").split()) or None
    if training_name is not None and len(training_name) > TRAINING_NAME_MAX:
        raise IntakeError("training", f"training must be at most {TRAINING_NAME_MAX} characters")
    status = (data.status or EnrollmentStatus.ENROLLED).strip().lower()
    external_id = (data.external_id or "").strip() or None
    # Only a cancellation or a completion of an enrollment known by its external id may
    # leave the rest to the stored enrollment (whether it is known is the caller's check).
    may_be_partial = external_id is not None and status in (EnrollmentStatus.CANCELLED, COMPLETED)
    if training_name is None and not may_be_partial:
        raise IntakeError("training", "training is required: the name of the course")
    given_start = data.starts_on if isinstance(data.starts_on, date) else str(data.starts_on or "")
    starts_on = parse_date(given_start, "starts_on") if given_start or not may_be_partial else None
    ends_on = None if _blank(data.ends_on) else parse_date(data.ends_on, "ends_on")  # type: ignore[arg-type]
    if starts_on is not None and ends_on is not None and ends_on < starts_on:
        raise IntakeError("ends_on", f"ends_on ({ends_on}) is before starts_on ({starts_on})")
    if status not in STATUSES:
        raise IntakeError("status", "status must be enrolled, cancelled or completed")
    if external_id and len(external_id) > EXTERNAL_ID_MAX:
        raise IntakeError("external_id", f"external_id must be at most {EXTERNAL_ID_MAX} chars")
    completed_on = None
    if not _blank(data.completed_on):
        if status != COMPLETED:
            raise IntakeError(
                "completed_on", 'completed_on goes with "status": "completed"; leave it out'
            )
        completed_on = parse_date(data.completed_on, "completed_on")  # type: ignore[arg-type]
    elif status == COMPLETED:
        completed_on = today
    try:
        why = clean_why(data.why)
    except WhyTooLong as exc:
        raise IntakeError("why", str(exc)) from None
    if completed_on is not None:
        if completed_on > today + timedelta(days=COMPLETION_AHEAD_DAYS):
            raise IntakeError(
                "completed_on", f"completed_on ({completed_on}) is in the future; today is {today}"
            )
        if starts_on is not None and completed_on < starts_on:
            raise IntakeError(
                "completed_on", f"completed_on ({completed_on}) is before starts_on ({starts_on})"
            )
    return _Clean(training_name, starts_on, ends_on, status, external_id, completed_on, why)


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _unknown(data: EnrollmentInput, clean: _Clean) -> UnknownEnrollment:
    """Why a cancellation or completion naming only an unknown external id is refused."""
    missing = [
        name
        for name, absent in (
            (data.learner_field, not (data.learner or "").strip()),
            ("training", clean.training is None),
            ("starts_on", clean.starts_on is None),
        )
        if absent
    ]
    return UnknownEnrollment(
        missing[0],
        f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} required: "
        f"external_id {clean.external_id} is not an enrollment Coachbot knows yet",
    )


def _state(enrollment: Enrollment) -> tuple[Any, ...]:
    return (
        enrollment.learner_id,
        enrollment.training_id,
        enrollment.starts_on,
        enrollment.ends_on,
        enrollment.completed_on,
        enrollment.manager_id,
        enrollment.status,
    )


def input_from_webhook(body: Mapping[str, Any]) -> EnrollmentInput:
    """The LMS webhook's JSON body, checked field by field."""
    if not isinstance(body, Mapping):
        raise IntakeError("body", "the body must be a JSON object")
    for name in (
        "learner_email",
        "learner_slack_id",
        "manager_email",
        "manager_slack_id",
        "training",
        "starts_on",
        "ends_on",
        "status",
        "external_id",
        "completed_on",
        *WHY_COLUMNS,
    ):
        value = body.get(name)
        if value is not None and not isinstance(value, str):
            raise IntakeError(name, f"{name} must be a string")
    learner = body.get("learner_email") or body.get("learner_slack_id")
    # A completion or cancellation may name only the external_id (the intake checks that
    # it is known); `ends_on` may be left out for a self-paced training.
    by_id_only = bool(body.get("external_id")) and (body.get("status") or "").strip().lower() in (
        COMPLETED,
        EnrollmentStatus.CANCELLED,
    )
    if not learner and not by_id_only:
        raise IntakeError("learner_email", "learner_email (or learner_slack_id) is required")
    for name in ("training", "starts_on"):
        if not body.get(name) and not by_id_only:
            raise IntakeError(name, f"{name} is required")
    return EnrollmentInput(
        learner=learner or "",
        learner_field="learner_email"
        if body.get("learner_email") or not learner
        else "learner_slack_id",
        manager_field="manager_email" if body.get("manager_email") else "manager_slack_id",
        training=body.get("training") or "",
        starts_on=body.get("starts_on") or "",
        ends_on=body.get("ends_on"),
        manager=body.get("manager_email") or body.get("manager_slack_id"),
        external_id=body.get("external_id"),
        status=body.get("status") or EnrollmentStatus.ENROLLED,
        source=Source.WEBHOOK,
        completed_on=body.get("completed_on"),
        why=body.get("why"),
        sponsor=body.get("sponsor_email") or body.get("sponsor_slack_id"),
        sponsor_field="sponsor_slack_id"
        if body.get("sponsor_slack_id") and not body.get("sponsor_email")
        else "sponsor_email",
    )
