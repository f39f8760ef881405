"""The limits on input fit the columns that store it: nothing accepted is cut or refused."""

from __future__ import annotations

from typing import Any

from bot.core import limits
from storage.models import Enrollment, Person, Training


def _width(model: Any, column: str) -> int:
    return int(model.__table__.c[column].type.length)


def test_every_stored_limit_fits_its_column() -> None:
    assert _width(Training, "name") >= limits.TRAINING_NAME_MAX
    assert _width(Enrollment, "external_id") >= limits.EXTERNAL_ID_MAX
    assert _width(Person, "name") >= limits.PERSON_NAME_MAX
    assert _width(Person, "email") >= limits.EMAIL_MAX
    assert _width(Person, "status_text") >= limits.STATUS_TEXT_MAX
    assert _width(Person, "status_emoji") >= limits.STATUS_EMOJI_MAX
    assert _width(Person, "locale") >= limits.LOCALE_MAX
