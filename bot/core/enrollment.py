"""Enrollment intake: the one service function behind `/enroll`, the LMS webhook and CSV.

Every door hands over an `EnrollmentInput`; `Intake.enroll` validates it, finds the learner
and the manager, stores the enrollment idempotently and plans its nudges, all in the
caller's transaction so a refused input leaves nothing half-written.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, NamedTuple

import sqlalchemy as sa
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from bot.core.directory import (
    SLACK_ID_RE,
    ImportReport,
    apply_slack_user,
    lookup_in_slack,
    profile_manager_ref,
    read_csv,
    valid_email,
)
from scheduler.nudges import LEARNER_NUDGES, PLANNED_KINDS, plan_nudges
from scheduler.planning import PlanMemo, Rules, zone
from storage import bulk, crud
from storage.db import Database
from storage.models import (
    Enrollment,
    EnrollmentStatus,
    Nudge,
    NudgeStatus,
    Person,
    Source,
    Training,
    utcnow,
)

log = logging.getLogger(__name__)

MAX_TRAINING_NAME = 200
MAX_EXTERNAL_ID = 200
EARLIEST, LATEST = date(2000, 1, 1), date(2100, 12, 31)
SLACK_AWAY = (
    "Slack did not answer while looking this person up; import the file again later "
    "(rows already imported are kept, and re-importing them changes nothing)"
)
BULK_BATCH = 5000  # rows per transaction of a CSV import


class IntakeError(ValueError):
    """Refused input: `field` names what to fix, the message says how."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class EnrollmentInput:
    learner: str  # email or Slack id
    training: str
    starts_on: date | str
    ends_on: date | str
    manager: str | None = None  # email or Slack id
    external_id: str | None = None
    status: str = EnrollmentStatus.ENROLLED
    source: str = Source.SLACK
    enrolled_by: str | None = None
    # How each door names the people fields, so an error names the field the caller sent.
    learner_field: str = "learner"
    manager_field: str = "manager"


@dataclass(frozen=True)
class EnrollResult:
    enrollment: Enrollment
    learner: Person
    created: bool
    changed: bool
    no_manager: bool

    @property
    def outcome(self) -> str:
        """`created`, `updated` or `duplicate` (nothing changed): the webhook's `result`."""
        return "created" if self.created else ("updated" if self.changed else "duplicate")


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
        client: WebClient | None = None,
        manager_field_id: str = "",
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.rules = rules
        self.default_tz = default_tz
        self.client = client
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
            user = lookup_in_slack(self.client, ref)
        except (SlackClientError, OSError):
            log.warning("intake.slack_lookup_failed field=%s", field)
            if person is not None:
                return person  # the directory knows them; Slack can fill in the rest later
            # Not "matches nobody": that would be final. The caller answers "try again".
            raise
        if user is not None:
            found, _ = apply_slack_user(session, user, manager_field_id=self.manager_field_id)
            if found is not None:
                return found
        if person is not None:
            return person  # known from a CSV, not (yet) in Slack: kept, nudged once it is
        raise IntakeError(
            field, f"{field} {ref} matches nobody in the directory or in Slack; check the spelling"
        )

    def _manager_from_slack(self, session: Session, learner: Person) -> Person | None:
        if not (self.manager_field_id and self.client and learner.slack_id):
            return None
        try:
            profile = self.client.users_profile_get(user=learner.slack_id).get("profile") or {}
        except SlackApiError:
            return None
        ref = profile_manager_ref(profile, self.manager_field_id)
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

    def enroll(self, session: Session, data: EnrollmentInput) -> EnrollResult:
        training_name, starts_on, ends_on, status, external_id = _clean(data)

        learner = self.resolve(session, data.learner, data.learner_field)
        if data.manager and data.manager.strip():
            manager: Person | None = self.resolve(session, data.manager, data.manager_field)
            if manager is not None and manager.id == learner.id:
                raise IntakeError(data.manager_field, "a learner cannot be their own manager")
        elif learner.manager_id:
            manager = session.get(Person, learner.manager_id)
        else:
            manager = self._manager_from_slack(session, learner)
        training = crud.training_by_name(session, name=training_name)
        assert training is not None and learner.id is not None

        if external_id:
            enrollment = crud.enrollment_by_external_id(session, external_id=external_id)
        else:
            enrollment = crud.current_enrollment(
                session,
                learner_id=learner.id,
                training_id=training.id,  # type: ignore[arg-type]
            )
        now = self.clock()
        created = enrollment is None
        if enrollment is None:
            enrollment = Enrollment(
                external_id=external_id,
                learner_id=learner.id,
                training_id=training.id,  # type: ignore[arg-type]
                starts_on=starts_on,
                ends_on=ends_on,
                source=data.source,
                enrolled_by=data.enrolled_by,
            )
            before: tuple[Any, ...] = ()
        else:
            before = _state(enrollment)
            if (
                enrollment.status == EnrollmentStatus.CANCELLED
                and status == EnrollmentStatus.ENROLLED
            ):
                enrollment.generation += 1  # enrolled again: plan afresh
        enrollment.learner_id = learner.id
        enrollment.training_id = training.id  # type: ignore[assignment]
        enrollment.starts_on, enrollment.ends_on = starts_on, ends_on
        enrollment.manager_id = manager.id if manager else None
        enrollment.status = status
        changed = created or _state(enrollment) != before
        if changed:
            enrollment.updated_at = now
            session.add(enrollment)
            session.flush()
            plan_nudges(session, enrollment, now=now, rules=self.rules, default_tz=self.default_tz)
        log.info(
            "enrollment.%s enrollment=%s source=%s no_manager=%s",
            "created" if created else ("updated" if changed else "unchanged"),
            enrollment.id,
            data.source,
            manager is None,
        )
        return EnrollResult(enrollment, learner, created, changed, manager is None)

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
        """Columns `learner_email,training,starts_on,ends_on[,manager_email][,external_id]`."""
        report = ImportReport()
        rows, error = read_csv(
            text,
            ["learner_email", "training", "starts_on", "ends_on"],
            ["manager_email", "external_id"],
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
        out once (`_Planned`).
        """
        planned = _Planned(
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

    def _store_new(self, sorted_out: _Sorted, planned: _Planned) -> None:
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
        try:
            result = self.enroll_one(data)
        except IntakeError as exc:
            report.errors.append((line, exc.message))
            return
        except (SlackClientError, OSError):
            report.errors.append((line, SLACK_AWAY))
            return
        _count(report, result)

    def _sort_batch(
        self,
        session: Session,
        batch: Sequence[tuple[int, EnrollmentInput]],
        report: ImportReport,
        planned: _Planned,
        before: Sequence[_Sorted],
        *,
        write: bool,
    ) -> _Sorted:
        """Which rows of `batch` take the bulk path and which `enroll`; `before` are batches
        of new rows being stored meanwhile, whose keys count as taken. Without `write`
        `session` is only read (a missing training is created in a session of its own)."""
        cleaned: list[tuple[int, EnrollmentInput, tuple[str, date, date, str, str | None]]] = []
        for line, data in batch:
            try:
                cleaned.append((line, data, _clean(data)))
            except IntakeError as exc:
                report.errors.append((line, exc.message))
        people = _people_by_email(
            session,
            {
                ref.strip().lower()
                for _, data, _c in cleaned
                for ref in (data.learner, data.manager or "")
                if "@" in (ref or "")
            },
        )
        managers = _people_by_id(
            session, {p.manager_id for p in people.values() if p.manager_id} - _ids(people)
        )
        managers.update({p.id: p for p in people.values()})
        trainings = _trainings_by_name(session, {c[0] for _, _d, c in cleaned})
        by_external = _enrollments_by_external_id(session, {c[4] for _, _d, c in cleaned if c[4]})
        fast: list[tuple[_New, _Who, _Who | None]] = []
        slow: list[tuple[int, EnrollmentInput]] = []
        keys: set[Any] = set().union(*(b.keys for b in before))
        natural: list[tuple[int, EnrollmentInput, _Who, tuple[Any, ...]]] = []
        for line, data, (name, starts_on, ends_on, status, external_id) in cleaned:
            learner = people.get((data.learner or "").strip().lower())
            manager_ref = (data.manager or "").strip().lower()
            manager: _Who | None = people.get(manager_ref) if manager_ref else None
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
                    training = crud.training_by_name(session, name=name)
                else:
                    # In a transaction of its own, so that sorting out stays read-only. Were
                    # the batch to fail, its rows, done one by one, would create it anyway.
                    with self.db.session() as own:
                        training = crud.training_by_name(own, name=name)
                assert training is not None
                trainings[name.lower()] = training
            enrollment = _New(
                external_id,
                learner.id,
                manager.id if manager else None,
                training.id,  # type: ignore[arg-type]
                starts_on,
                ends_on,
                status,
                data.source,
                data.enrolled_by,
            )
            if external_id:
                fast.append((enrollment, learner, manager))
            else:
                natural.append((line, data, learner, (enrollment, manager)))
        # Without an external id the key is (learner, training): one query for the batch.
        taken = _current_pairs(
            session, {(e.learner_id, e.training_id) for _, _d, _l, (e, _m) in natural}
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
        self, session: Session, sorted_out: _Sorted, report: ImportReport, planned: _Planned
    ) -> None:
        if sorted_out.fast:
            _insert_planned(session, sorted_out.fast, planned)
        report.created += len(sorted_out.fast)
        for line, data in sorted_out.slow:
            try:
                with session.begin_nested():
                    result = self.enroll(session, data)
            except IntakeError as exc:
                report.errors.append((line, exc.message))
                continue
            except (SlackClientError, OSError):
                report.errors.append((line, SLACK_AWAY))
                continue
            _count(report, result)

    def _may_ask_slack_for_manager(self) -> bool:
        return bool(self.manager_field_id and self.client)


# Columns the bulk path writes; the others (learner_interest; a nudge's parent, lease and
# message) are NULL, as a new row's None stores them.
ENROLLMENT_COLUMNS = (
    "id",
    "external_id",
    "learner_id",
    "manager_id",
    "training_id",
    "starts_on",
    "ends_on",
    "status",
    "source",
    "enrolled_by",
    "generation",
    "created_at",
    "updated_at",
)
NUDGE_COLUMNS = (
    "enrollment_id",
    "kind",
    "recipient_id",
    "due_at",
    "status",
    "attempts",
    "deliveries",
    "ooo_deferrals",
    "reason",
    "idempotency_key",
    "created_at",
    "updated_at",
)
# A planned nudge, ready for storage: (kind, to the learner?, due_at encoded, status, reason).
_Template = tuple[str, bool, Any, str, str | None]


@dataclass(slots=True)
class _New:
    """A new enrollment on the bulk path, before it has an id."""

    external_id: str | None
    learner_id: int
    manager_id: int | None
    training_id: int
    starts_on: date
    ends_on: date
    status: str
    source: str
    enrolled_by: str | None


@dataclass(slots=True)
class _Sorted:
    """A batch sorted out: new rows for the bulk path, the rest for `enroll` in file order."""

    fast: list[tuple[_New, _Who, _Who | None]]
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


def _add(report: ImportReport, counts: ImportReport) -> None:
    report.created += counts.created
    report.updated += counts.updated
    report.unchanged += counts.unchanged
    report.errors.extend(counts.errors)


class _Planned:
    """The nudges `plan_nudges` (with `_apply_slot`) gives a new enrollment of generation 0,
    for the bulk path: planned once per distinct (dates, zones, who is active) at one `now`,
    and kept encoded for storage. tests/bot/test_bulk_import.py holds the two together."""

    def __init__(self, dialect: sa.Dialect, *, now: datetime, rules: Rules, default_tz: str):
        self.now = now
        self.default_tz = default_tz
        self.memo = PlanMemo(now=now, rules=rules)
        self.stamp = bulk.encoder(dialect, Nudge.__table__.c.due_at)  # type: ignore[attr-defined]
        self._day = bulk.encoder(dialect, Enrollment.__table__.c.starts_on)  # type: ignore[attr-defined]
        self._days: dict[date, Any] = {}
        self._templates: dict[tuple[Any, ...], list[_Template]] = {}

    def day(self, value: date) -> Any:
        encoded = self._days.get(value)
        if encoded is None:
            encoded = self._days[value] = self._day(value)
        return encoded

    def nudges(
        self, starts_on: date, ends_on: date, learner: _Who, manager: _Who | None
    ) -> list[_Template]:
        key = (
            starts_on,
            ends_on,
            learner.tz,
            learner.active,
            None if manager is None else (manager.tz, manager.active),
        )
        found = self._templates.get(key)
        if found is None:
            found = self._templates[key] = self._plan(starts_on, ends_on, learner, manager)
        return found

    def _plan(
        self, starts_on: date, ends_on: date, learner: _Who, manager: _Who | None
    ) -> list[_Template]:
        slots = self.memo.plan(
            starts_on=starts_on,
            ends_on=ends_on,
            learner_tz=zone(learner.tz, self.default_tz),
            manager_tz=zone(manager.tz, self.default_tz) if manager else None,
        )
        out: list[_Template] = []
        for kind in PLANNED_KINDS:
            to_learner = kind in LEARNER_NUDGES
            recipient = learner if to_learner else manager
            slot = slots.get(kind)
            if recipient is None or slot is None:
                continue
            status, reason = NudgeStatus.PENDING.value, None
            if not recipient.active:
                status, reason = NudgeStatus.SKIPPED.value, "recipient is deactivated in Slack"
            elif slot.due_at is None:
                status, reason = NudgeStatus.SKIPPED.value, slot.skip_reason
            out.append((str(kind), to_learner, self.stamp(slot.due_at or self.now), status, reason))
        return out


def _insert_planned(
    session: Session, rows: Sequence[tuple[_New, _Who, _Who | None]], planned: _Planned
) -> None:
    """New enrollments and the nudges `plan_nudges` would give them, in bulk.

    Plain tuples through `storage.bulk` (COPY or one executemany): binding values through
    SQLAlchemy row by row costs more than storing them.
    """
    enrollments = Enrollment.__table__  # type: ignore[attr-defined]
    # created_at as the per-row path: the real clock, not the injected one.
    created, updated = planned.stamp(utcnow()), planned.stamp(planned.now)
    ids = bulk.new_ids(session, enrollments, len(rows))
    day = planned.day
    bulk.insert(
        session,
        enrollments,
        ENROLLMENT_COLUMNS,
        [
            (
                new_id,
                new.external_id,
                new.learner_id,
                new.manager_id,
                new.training_id,
                day(new.starts_on),
                day(new.ends_on),
                str(new.status),
                str(new.source),
                new.enrolled_by,
                0,
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
        for kind, to_learner, due_at, status, reason in planned.nudges(
            new.starts_on, new.ends_on, learner, manager
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
                    f"e{new_id}.g0.{kind}",  # nudge_key()
                    created,
                    updated,
                )
            )
    if nudges:
        bulk.insert(session, Nudge.__table__, NUDGE_COLUMNS, nudges)  # type: ignore[attr-defined]
    log.info(
        "enrollment.bulk_created count=%s first=%s last=%s nudges=%s",
        len(rows),
        ids[0],
        ids[-1],
        len(nudges),
    )


def _count(report: ImportReport, result: EnrollResult) -> None:
    if result.created:
        report.created += 1
    elif result.changed:
        report.updated += 1
    else:
        report.unchanged += 1


def _clean(data: EnrollmentInput) -> tuple[str, date, date, str, str | None]:
    """The checks every door shares: (training, starts_on, ends_on, status, external_id)."""
    training_name = " ".join((data.training or "").split())
    if not training_name:
        raise IntakeError("training", "training is required: the name of the course")
    if len(training_name) > MAX_TRAINING_NAME:
        raise IntakeError("training", f"training must be at most {MAX_TRAINING_NAME} characters")
    starts_on = parse_date(data.starts_on, "starts_on")
    ends_on = parse_date(data.ends_on, "ends_on")
    if ends_on < starts_on:
        raise IntakeError("ends_on", f"ends_on ({ends_on}) is before starts_on ({starts_on})")
    status = (data.status or EnrollmentStatus.ENROLLED).strip().lower()
    if status not in (EnrollmentStatus.ENROLLED, EnrollmentStatus.CANCELLED):
        raise IntakeError("status", "status must be enrolled or cancelled")
    external_id = (data.external_id or "").strip() or None
    if external_id and len(external_id) > MAX_EXTERNAL_ID:
        raise IntakeError("external_id", f"external_id must be at most {MAX_EXTERNAL_ID} chars")
    return training_name, starts_on, ends_on, status, external_id


def _chunks(values: Iterable[Any], size: int = 500) -> Iterator[list[Any]]:
    items = list(values)
    for i in range(0, len(items), size):
        yield items[i : i + size]


class _Who(NamedTuple):
    """What the bulk path reads of a person: a plain row, not an ORM object to track."""

    id: int
    email: str | None
    slack_id: str | None
    tz: str | None
    manager_id: int | None
    active: bool


_WHO_COLUMNS = [Person.__table__.c[name] for name in _Who._fields]  # type: ignore[attr-defined]


def _ids(people: Mapping[Any, _Who]) -> set[int]:
    return {p.id for p in people.values()}


def _people_by_email(session: Session, emails: set[str]) -> dict[str, _Who]:
    found: dict[str, _Who] = {}
    dialect = session.get_bind().dialect
    for where in bulk.where_in(dialect, col(Person.email), emails):
        for row in session.execute(sa.select(*_WHO_COLUMNS).where(where)):
            if row.email:
                found[row.email] = _Who._make(row)
    return found


def _people_by_id(session: Session, ids: set[int]) -> dict[int | None, _Who]:
    found: dict[int | None, _Who] = {}
    dialect = session.get_bind().dialect
    for where in bulk.where_in(dialect, col(Person.id), ids):
        for row in session.execute(sa.select(*_WHO_COLUMNS).where(where)):
            found[row.id] = _Who._make(row)
    return found


def _trainings_by_name(session: Session, names: set[str]) -> dict[str, Training]:
    found: dict[str, Training] = {}
    for chunk in _chunks({n.lower() for n in names}):
        for training in session.exec(select(Training).where(func.lower(Training.name).in_(chunk))):
            found.setdefault(training.name.lower(), training)
    return found


def _enrollments_by_external_id(session: Session, ids: set[str]) -> set[str]:
    found: set[str] = set()
    dialect = session.get_bind().dialect
    for where in bulk.where_in(dialect, col(Enrollment.external_id), ids):
        found.update(e for e in session.exec(select(Enrollment.external_id).where(where)) if e)
    return found


def _current_pairs(session: Session, pairs: set[tuple[int, int]]) -> set[tuple[int, int]]:
    """Which (learner, training) pairs already have an enrollment."""
    found: set[tuple[int, int]] = set()
    by_training: dict[int, set[int]] = {}
    for learner_id, training_id in pairs:
        if training_id is not None:
            by_training.setdefault(training_id, set()).add(learner_id)
    dialect = session.get_bind().dialect
    for training_id, learners in by_training.items():
        for where in bulk.where_in(dialect, col(Enrollment.learner_id), learners):
            found.update(
                (learner_id, training_id)
                for learner_id in session.exec(
                    select(Enrollment.learner_id).where(
                        Enrollment.training_id == training_id, where
                    )
                )
            )
    return found


def _state(enrollment: Enrollment) -> tuple[Any, ...]:
    return (
        enrollment.learner_id,
        enrollment.training_id,
        enrollment.starts_on,
        enrollment.ends_on,
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
    ):
        value = body.get(name)
        if value is not None and not isinstance(value, str):
            raise IntakeError(name, f"{name} must be a string")
    learner = body.get("learner_email") or body.get("learner_slack_id")
    if not learner:
        raise IntakeError("learner_email", "learner_email (or learner_slack_id) is required")
    for name in ("training", "starts_on", "ends_on"):
        if not body.get(name):
            raise IntakeError(name, f"{name} is required")
    return EnrollmentInput(
        learner=learner,
        learner_field="learner_email" if body.get("learner_email") else "learner_slack_id",
        manager_field="manager_email" if body.get("manager_email") else "manager_slack_id",
        training=body["training"],
        starts_on=body["starts_on"],
        ends_on=body["ends_on"],
        manager=body.get("manager_email") or body.get("manager_slack_id"),
        external_id=body.get("external_id"),
        status=body.get("status") or EnrollmentStatus.ENROLLED,
        source=Source.WEBHOOK,
    )
