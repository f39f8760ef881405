"""Queries the rest of the code shares: keyword-only functions over one session."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any, TypeVar

from sqlalchemy import func, or_
from sqlalchemy.orm.util import identity_key
from sqlmodel import Session, SQLModel, col, select

from storage.models import (
    Enrollment,
    EnrollmentStatus,
    Goal,
    Nudge,
    NudgeStatus,
    Person,
    Training,
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
) -> Person:
    """Find a person by Slack id, then by email, and fill in what we learned."""
    email = normalize_email(email)
    person = None
    if slack_id:
        person = person_by_slack_id(session, slack_id=slack_id)
    if person is None and email:
        person = person_by_email(session, email=email)
    if person is None:
        person = Person(slack_id=slack_id, email=email, name=name, tz=tz)
        if active is not None:
            person.active = active
        session.add(person)
        session.flush()
        return person
    changed = False
    for attr, value in (("slack_id", slack_id), ("email", email), ("name", name), ("tz", tz)):
        if value and getattr(person, attr) != value:
            if attr == "email" and person_by_email(session, email=value) not in (None, person):
                continue  # another row owns that email; never steal it silently
            setattr(person, attr, value)
            changed = True
    if active is not None and person.active != active:
        person.active = active
        changed = True
    if changed:
        person.updated_at = utcnow()
        session.add(person)
        session.flush()
    return person


def reports_of(session: Session, *, manager_id: int) -> Sequence[Person]:
    return session.exec(select(Person).where(Person.manager_id == manager_id)).all()


def training_by_name(session: Session, *, name: str, create: bool = True) -> Training | None:
    clean = " ".join(name.split())
    training = session.exec(
        select(Training).where(func.lower(Training.name) == clean.lower())
    ).first()
    if training is None and create:
        training = Training(name=clean)
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
            or_(col(Enrollment.ends_on) >= today, col(Enrollment.starts_on) >= today),
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
