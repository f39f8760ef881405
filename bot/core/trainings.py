"""Why a training matters: the organisation's reason for it and who sponsors it.

Set from every intake door (the webhook, the CSV import) and by L&D leads from their App Home;
read by the managers' pre-training prompts and the advice for an "uphill" training.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date

from sqlmodel import Session

from bot.core.limits import WHY_MAX
from storage import crud
from storage.models import Person, Training

log = logging.getLogger(__name__)

# The L&D lead's list: trainings with an enrollment this close to today come first.
RECENT_DAYS = 90


class WhyTooLong(ValueError):
    """A why over WHY_MAX characters: refused whole, never cut."""

    def __init__(self, length: int) -> None:
        super().__init__(f"why must be at most {WHY_MAX} characters (got {length})")
        self.length = length


class TrainingGone(LookupError):
    """The training an edit names is no longer stored."""


def clean_why(value: object) -> str | None:
    """The why as stored, or None when none was given (blank counts as none)."""
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        return None
    if len(text) > WHY_MAX:
        raise WhyTooLong(len(text))
    return text


def apply_why(training: Training, *, why: str | None, sponsor: Person | None) -> bool:
    """What an intake door gives updates the training; what it leaves out stays as stored.
    Returns whether anything changed."""
    changed = False
    if why is not None and training.why != why:
        training.why = why
        changed = True
    if sponsor is not None and training.sponsor_id != sponsor.id:
        training.sponsor_id = sponsor.id
        changed = True
    return changed


def edit_why(
    session: Session,
    *,
    training_id: int,
    why: str | None,
    sponsor: Person | None,
    keep_sponsor: bool = False,
) -> Training:
    """An L&D lead's edit: the form holds both fields, so an empty one clears what was stored
    (but with `keep_sponsor`, an empty sponsor keeps one the form could not show)."""
    training = session.get(Training, training_id)
    if training is None:
        raise TrainingGone(training_id)
    training.why = clean_why(why)
    if sponsor is not None or not keep_sponsor:
        training.sponsor_id = sponsor.id if sponsor is not None else None
    session.add(training)
    log.info(
        "training.why_edited training=%s has_why=%s sponsor=%s",
        training_id,
        training.why is not None,
        training.sponsor_id,
    )
    return training


@dataclass(frozen=True)
class TrainingWhy:
    """One training as the L&D lead's list and edit modal show it."""

    id: int
    name: str
    why: str | None
    sponsor_name: str | None
    sponsor_slack_id: str | None


def _view(training: Training, sponsor: Person | None) -> TrainingWhy:
    return TrainingWhy(
        training.id,  # type: ignore[arg-type]
        training.name,
        training.why,
        (sponsor.name or sponsor.email) if sponsor else None,
        sponsor.slack_id if sponsor else None,
    )


def training_why(session: Session, training_id: int) -> TrainingWhy | None:
    """One training for the edit modal; None when it is no longer stored."""
    training = session.get(Training, training_id)
    if training is None:
        return None
    sponsor = session.get(Person, training.sponsor_id) if training.sponsor_id else None
    return _view(training, sponsor)


def trainings_to_review(
    session: Session, *, today: date, limit: int
) -> tuple[list[TrainingWhy], int]:
    """Up to `limit` trainings, those with an enrollment within RECENT_DAYS of `today`
    first, and how many more there are."""
    rows, total = crud.trainings_by_recency(session, today=today, days=RECENT_DAYS, limit=limit)
    sponsors = crud.rows_by_id(session, Person, {t.sponsor_id for t in rows})
    shown = [_view(training, sponsors.get(training.sponsor_id)) for training in rows]
    return shown, max(0, total - len(shown))
