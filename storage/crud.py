"""Queries the rest of the code shares: keyword-only functions over one session."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime, timedelta
from typing import Any, NamedTuple, TypeVar

import sqlalchemy as sa
from sqlalchemy import func, or_
from sqlalchemy.orm.util import identity_key
from sqlmodel import Session, SQLModel, col, select

from storage import bulk
from storage.models import (
    CaseRecord,
    ConversationRecord,
    Enrollment,
    EnrollmentStatus,
    Goal,
    InboxEvent,
    InboxStatus,
    Nudge,
    NudgeStatus,
    Person,
    Training,
    XapiStatement,
    utcnow,
)

M = TypeVar("M", bound=SQLModel)


def rows_by_id(session: Session, model: type[M], ids: Iterable[Any]) -> dict[Any, M]:
    """The rows of `model` with these ids, a query per 500; those the session holds are free.

    A batch reads its rows this way once, and later `session.get` calls find them in the
    session's identity map without asking the database again.
    """
    found: dict[Any, M] = {}
    missing = []
    for ident in set(ids) - {None}:
        row = session.identity_map.get(identity_key(model, ident))
        if row is None:
            missing.append(ident)
        else:
            found[ident] = row  # type: ignore[assignment]
    pk = col(model.id)  # type: ignore[attr-defined]
    for start in range(0, len(missing), 500):
        for row in session.exec(select(model).where(pk.in_(missing[start : start + 500]))):
            found[row.id] = row  # type: ignore[attr-defined]
    return found


def normalize_email(email: str | None) -> str | None:
    email = (email or "").strip().lower()
    return email or None


def person_by_slack_id(session: Session, *, slack_id: str) -> Person | None:
    return session.exec(select(Person).where(Person.slack_id == slack_id)).first()


def person_by_email(session: Session, *, email: str) -> Person | None:
    return session.exec(select(Person).where(Person.email == normalize_email(email))).first()


def find_person(session: Session, *, key: str) -> Person | None:
    """A person by Slack id or email, as an admin would type either."""
    key = key.strip()
    if "@" in key:
        return person_by_email(session, email=key)
    return person_by_slack_id(session, slack_id=key)


def upsert_person(
    session: Session,
    *,
    slack_id: str | None = None,
    email: str | None = None,
    name: str | None = None,
    tz: str | None = None,
    active: bool | None = None,
    now: datetime | None = None,
    locale: str | None = None,
) -> Person:
    """Find a person by Slack id, then by email, and fill in what we learned (stamped `now`,
    the caller's clock, else the time of day)."""
    now = now or utcnow()
    email = normalize_email(email)
    person = None
    if slack_id:
        person = person_by_slack_id(session, slack_id=slack_id)
    if person is None and email:
        person = person_by_email(session, email=email)
    if person is None:
        person = Person(
            slack_id=slack_id,
            email=email,
            name=name,
            tz=tz,
            locale=locale,
            created_at=now,
            updated_at=now,
        )
        if active is not None:
            person.active = active
        session.add(person)
        session.flush()
        return person
    changed = False
    learned = (("slack_id", slack_id), ("email", email), ("name", name), ("tz", tz))
    for attr, value in (*learned, ("locale", locale)):
        if value and getattr(person, attr) != value:
            if attr == "email" and person_by_email(session, email=value) not in (None, person):
                continue  # another row owns that email; never steal it silently
            setattr(person, attr, value)
            changed = True
    if active is not None and person.active != active:
        person.active = active
        changed = True
    if changed:
        person.updated_at = now
        session.add(person)
        session.flush()
    return person


def reports_of(session: Session, *, manager_id: int) -> Sequence[Person]:
    return session.exec(select(Person).where(Person.manager_id == manager_id)).all()


def training_by_name(
    session: Session, *, name: str, create: bool = True, now: datetime | None = None
) -> Training | None:
    clean = " ".join(name.split())
    training = session.exec(
        select(Training).where(func.lower(Training.name) == clean.lower())
    ).first()
    if training is None and create:
        training = Training(name=clean, created_at=now or utcnow())
        session.add(training)
        session.flush()
    return training


def enrollment_by_external_id(session: Session, *, external_id: str) -> Enrollment | None:
    return session.exec(select(Enrollment).where(Enrollment.external_id == external_id)).first()


def current_enrollment(session: Session, *, learner_id: int, training_id: int) -> Enrollment | None:
    """The learner's latest enrollment in a training, the natural key when there is no id."""
    return session.exec(
        select(Enrollment)
        .where(Enrollment.learner_id == learner_id, Enrollment.training_id == training_id)
        .order_by(col(Enrollment.id).desc())
    ).first()


def open_enrollments_of(
    session: Session, *, learner_id: int, today: date
) -> Sequence[tuple[Enrollment, Training]]:
    """Enrollments a learner can still set goals for: current or upcoming, not cancelled."""
    rows = session.exec(
        select(Enrollment, Training)
        .join(Training, col(Training.id) == Enrollment.training_id)
        .where(
            Enrollment.learner_id == learner_id,
            Enrollment.status == EnrollmentStatus.ENROLLED,
            or_(
                col(Enrollment.ends_on) >= today,
                col(Enrollment.starts_on) >= today,
                col(Enrollment.ends_on).is_(None),  # self-paced, not completed yet
            ),
        )
        .order_by(col(Enrollment.starts_on))
    ).all()
    return [(e, t) for e, t in rows]


def goals_of_enrollment(
    session: Session, *, enrollment_id: int, shared_only: bool = False
) -> Sequence[Goal]:
    query = select(Goal).where(Goal.enrollment_id == enrollment_id)
    if shared_only:
        query = query.where(col(Goal.shared).is_(True))
    return session.exec(query.order_by(col(Goal.id))).all()


def nudge_by_key(session: Session, *, key: str) -> Nudge | None:
    return session.exec(select(Nudge).where(Nudge.idempotency_key == key)).first()


def record_of_nudge(session: Session, *, nudge_id: int) -> ConversationRecord | None:
    return session.exec(
        select(ConversationRecord).where(ConversationRecord.nudge_id == nudge_id)
    ).first()


def cases_of_nudge(session: Session, *, nudge_id: int) -> Sequence[CaseRecord]:
    """The Success Case answers given to one follow-up, one per subject."""
    query = select(CaseRecord).where(CaseRecord.nudge_id == nudge_id)
    return session.exec(query.order_by(col(CaseRecord.id))).all()


def nudge_by_message(session: Session, *, channel: str, ts: str) -> Nudge | None:
    """The nudge whose DM is the message `ts` in `channel` (a thread's parent)."""
    return session.exec(select(Nudge).where(Nudge.channel == channel, Nudge.ts == ts)).first()


def goals_of_learner(session: Session, *, learner_id: int) -> Sequence[tuple[Goal, Training]]:
    """A learner's goals with their trainings, oldest first."""
    rows = session.exec(
        select(Goal, Training)
        .join(Enrollment, col(Enrollment.id) == Goal.enrollment_id)
        .join(Training, col(Training.id) == Enrollment.training_id)
        .where(Goal.learner_id == learner_id)
        .order_by(col(Goal.id))
    ).all()
    return [(g, t) for g, t in rows]


# -- the CSV import's bulk path: many rows a query, plain rows, no ORM objects to track ------


class PersonRow(NamedTuple):
    """What the bulk path reads of a person."""

    id: int
    email: str | None
    slack_id: str | None
    tz: str | None
    manager_id: int | None
    active: bool
    country: str | None


_PERSON_ROW_COLUMNS = [Person.__table__.c[name] for name in PersonRow._fields]  # type: ignore[attr-defined]


def people_by_email(session: Session, *, emails: Iterable[str]) -> dict[str, PersonRow]:
    """The people with these (normalized) emails, by email."""
    found: dict[str, PersonRow] = {}
    dialect = session.get_bind().dialect
    for where in bulk.where_in(dialect, col(Person.email), emails):
        for row in session.execute(sa.select(*_PERSON_ROW_COLUMNS).where(where)):
            if row.email:
                found[row.email] = PersonRow._make(row)
    return found


def people_by_id(session: Session, *, ids: Iterable[int]) -> dict[int | None, PersonRow]:
    found: dict[int | None, PersonRow] = {}
    dialect = session.get_bind().dialect
    for where in bulk.where_in(dialect, col(Person.id), ids):
        for row in session.execute(sa.select(*_PERSON_ROW_COLUMNS).where(where)):
            found[row.id] = PersonRow._make(row)
    return found


def trainings_by_name(session: Session, *, names: Iterable[str]) -> dict[str, Training]:
    """The trainings with these names (in any case), by lower-case name."""
    found: dict[str, Training] = {}
    lowered = list({n.lower() for n in names})
    for start in range(0, len(lowered), 500):
        chunk = lowered[start : start + 500]
        for training in session.exec(select(Training).where(func.lower(Training.name).in_(chunk))):
            found.setdefault(training.name.lower(), training)
    return found


def taken_external_ids(session: Session, *, external_ids: Iterable[str]) -> set[str]:
    """Which of these enrollment external ids are stored already."""
    found: set[str] = set()
    dialect = session.get_bind().dialect
    for where in bulk.where_in(dialect, col(Enrollment.external_id), external_ids):
        found.update(e for e in session.exec(select(Enrollment.external_id).where(where)) if e)
    return found


def taken_pairs(session: Session, *, pairs: Iterable[tuple[int, int]]) -> set[tuple[int, int]]:
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


# The columns the bulk inserts write, in the order of their rows' values; the others (an
# enrollment's learner_interest; a nudge's parent, lease and message) are NULL, as a new
# row's None stores them.
ENROLLMENT_COLUMNS = (
    "id",
    "external_id",
    "learner_id",
    "manager_id",
    "training_id",
    "starts_on",
    "ends_on",
    "completed_on",
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
    "follow_up_round",
    "created_at",
    "updated_at",
)


class BulkValues:
    """Times and dates as the bulk inserts take them on one database (`bulk.encoder`): each
    distinct value is encoded once."""

    def __init__(self, dialect: sa.Dialect) -> None:
        self.stamp: Callable[[Any], Any] = bulk.encoder(dialect, Nudge.__table__.c.due_at)  # type: ignore[attr-defined]
        self._day = bulk.encoder(dialect, Enrollment.__table__.c.starts_on)  # type: ignore[attr-defined]
        self._days: dict[date, Any] = {}

    def day(self, value: date | None) -> Any:
        if value is None:
            return None
        encoded = self._days.get(value)
        if encoded is None:
            encoded = self._days[value] = self._day(value)
        return encoded


def new_enrollment_ids(session: Session, *, count: int) -> list[int]:
    return bulk.new_ids(session, Enrollment.__table__, count)  # type: ignore[attr-defined]


def insert_enrollments(session: Session, *, rows: Iterable[Sequence[Any]]) -> None:
    """New enrollments, values encoded in ENROLLMENT_COLUMNS order, ids from new_enrollment_ids."""
    bulk.insert(session, Enrollment.__table__, ENROLLMENT_COLUMNS, rows)  # type: ignore[attr-defined]


def insert_nudges(session: Session, *, rows: Iterable[Sequence[Any]]) -> None:
    """New nudges, values encoded in NUDGE_COLUMNS order."""
    bulk.insert(session, Nudge.__table__, NUDGE_COLUMNS, rows)  # type: ignore[attr-defined]


def due_not_sent(session: Session, *, now: datetime) -> tuple[int, datetime | None]:
    """The nudges due by `now` and not sent yet (waiting, or claimed and on their way), and
    the earliest due time among them: whether dispatch keeps up, on the (status, due_at) index.
    """
    count, oldest = session.exec(
        select(func.count(), func.min(Nudge.due_at)).where(
            col(Nudge.status).in_([NudgeStatus.PENDING, NudgeStatus.SENDING]),
            Nudge.due_at <= now,
        )
    ).one()
    return int(count), oldest


def current_enrollments_involving(
    session: Session, *, person_id: int, since: date
) -> Sequence[Enrollment]:
    """Enrolled (not cancelled) enrollments the person learns in or manages, ending on or
    after `since`."""
    return session.exec(
        select(Enrollment).where(
            Enrollment.status == EnrollmentStatus.ENROLLED,
            or_(col(Enrollment.learner_id) == person_id, col(Enrollment.manager_id) == person_id),
            or_(
                col(Enrollment.ends_on) >= since,
                col(Enrollment.ends_on).is_(None),  # self-paced, under way
            ),
        )
    ).all()


def nudges_by_message(session: Session, *, channel: str, ts: str) -> Sequence[Nudge]:
    """Every nudge whose DM is the message `ts` in `channel`: one, or a day's message's."""
    query = select(Nudge).where(Nudge.channel == channel, Nudge.ts == ts)
    return session.exec(query.order_by(col(Nudge.id))).all()


def latest_message_to(
    session: Session, *, recipient_id: int, since: datetime
) -> tuple[str, str] | None:
    """(channel, ts) of the newest message sent to the person since `since`, if any."""
    row = session.exec(
        select(Nudge.channel, Nudge.ts)
        .where(
            Nudge.recipient_id == recipient_id,
            col(Nudge.sent_at) >= since,
            col(Nudge.ts).is_not(None),
        )
        .order_by(col(Nudge.sent_at).desc())
    ).first()
    return (row[0], row[1]) if row and row[0] and row[1] else None


def count_goal_shares(session: Session, *, goal_id: int) -> int:
    """How many times a goal was shared with the manager (its goal_shared nudges)."""
    return session.exec(
        select(func.count()).select_from(Nudge).where(Nudge.goal_id == goal_id)
    ).one()


def enrollments_with_key_prefix(session: Session, *, prefix: str) -> Sequence[Enrollment]:
    """The enrollments whose external id starts with `prefix` (a calendar session's)."""
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return session.exec(
        select(Enrollment)
        .where(col(Enrollment.external_id).like(escaped + "%", escape="\\"))
        .order_by(col(Enrollment.id))
    ).all()


# -- learning-system events waiting for their details (bot/core/sources/inbox.py) ----------


def inbox_event(session: Session, *, source: str, event_id: str) -> InboxEvent | None:
    return session.exec(
        select(InboxEvent).where(InboxEvent.source == source, InboxEvent.event_id == event_id)
    ).first()


def claim_inbox_events(
    session: Session, *, now: datetime, lease_until: datetime, limit: int
) -> list[InboxEvent]:
    """Lease up to `limit` events due for an attempt, the oldest first, in the caller's
    transaction (PostgreSQL: `SKIP LOCKED`; SQLite: the transaction holds the write lock).

    An event waits while an earlier event about the same enrollment is unfinished, so the
    events of one enrollment are applied in the order they came.
    """
    earlier = InboxEvent.__table__.alias("earlier")  # type: ignore[attr-defined]
    table = InboxEvent.__table__  # type: ignore[attr-defined]
    blocked = (
        sa.select(earlier.c.id)
        .where(
            earlier.c.source == table.c.source,
            earlier.c.key == table.c.key,
            earlier.c.id < table.c.id,
            earlier.c.status == InboxStatus.PENDING.value,
        )
        .exists()
    )
    query = (
        select(InboxEvent)
        .where(
            InboxEvent.status == InboxStatus.PENDING,
            col(InboxEvent.next_attempt_at) <= now,
            or_(col(InboxEvent.lease_until).is_(None), col(InboxEvent.lease_until) < now),
            ~blocked,
        )
        .order_by(col(InboxEvent.next_attempt_at), col(InboxEvent.id))
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=InboxEvent)  # type: ignore[arg-type]
    rows = list(session.exec(query).all())
    for row in rows:
        row.lease_until = lease_until
        session.add(row)
    session.flush()
    return rows


def inbox_counts(session: Session) -> dict[str, int]:
    """How many events are in each state (pending: still waiting for their details)."""
    rows = session.exec(
        select(InboxEvent.status, func.count()).group_by(col(InboxEvent.status))
    ).all()
    return {status: int(count) for status, count in rows}


def prune_inbox(session: Session, *, before: datetime) -> int:
    """Forget finished events older than `before`; a duplicate delivered later than that is
    applied again, which changes nothing (every enrollment write is idempotent)."""
    table = InboxEvent.__table__  # type: ignore[attr-defined]
    result = session.execute(
        table.delete().where(
            table.c.status != InboxStatus.PENDING.value, table.c.updated_at < before
        )
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


# -- xAPI statements (bot/core/sources/xapi_store.py) --------------------------------------


def xapi_statement(session: Session, *, statement_id: str) -> XapiStatement | None:
    return session.exec(
        select(XapiStatement).where(XapiStatement.statement_id == statement_id.lower())
    ).first()


def xapi_voider_of(session: Session, *, statement_id: str) -> XapiStatement | None:
    """The voiding statement stored for `statement_id`, if one came first."""
    return session.exec(
        select(XapiStatement).where(
            XapiStatement.voids == statement_id.lower(), XapiStatement.action == "voided"
        )
    ).first()


def xapi_statements_of_key(session: Session, *, key: str) -> Sequence[XapiStatement]:
    """The statements about one enrollment, in the order they were stored."""
    return session.exec(
        select(XapiStatement).where(XapiStatement.key == key).order_by(col(XapiStatement.id))
    ).all()


def trainings_by_recency(
    session: Session, *, today: date, days: int, limit: int
) -> tuple[list[Training], int]:
    """Up to `limit` trainings, first those with an enrollment starting or ending within
    `days` of `today` (by name), then the others (by name); and how many trainings there are."""
    since, until = today - timedelta(days=days), today + timedelta(days=days)
    near = (
        select(Enrollment.training_id)
        .where(
            or_(
                col(Enrollment.starts_on).between(since, until),
                col(Enrollment.ends_on).between(since, until),
            )
        )
        .distinct()
    )
    rank = sa.case((col(Training.id).in_(near), 0), else_=1)
    rows = session.exec(
        select(Training).order_by(rank, func.lower(Training.name), col(Training.id)).limit(limit)
    ).all()
    total = session.exec(select(func.count()).select_from(Training)).one()
    return list(rows), int(total)
