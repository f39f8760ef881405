"""Forgetting a person (CLI and Slack) and RETENTION_DAYS: the text goes, the counts stay."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import func, select
from support import Bot, ada_and_grace, goal_talk_and_note

from bot.cli import main
from bot.core.privacy import apply_retention
from bot.slack.ids import View
from storage.models import ConversationRecord, Enrollment, Goal, Note, Nudge, Person

PRIVATE = "We agreed she leads the next retro"


def _story(bot: Bot) -> None:
    """Ada sets a goal; Grace logs a talk about her training and replies in the thread."""
    ada_and_grace(bot)
    goal_talk_and_note(bot, goal="Lead one retro", what=PRIVATE, note="Talked, all good")


def _assert_ada_forgotten(bot: Bot) -> None:
    with bot.db.session() as s:
        assert s.exec(select(Person).where(Person.email == "ada@example.org")).first() is None
        assert s.exec(select(func.count()).select_from(Goal)).one() == 0
        assert s.exec(select(func.count()).select_from(Note)).one() == 0
        record = s.exec(select(ConversationRecord)).one()  # the count stays
        assert record.what is None and record.outcome == "logged" and record.org_importance == 3
        assert s.exec(select(func.count()).select_from(Enrollment)).one() == 1
        pending = s.exec(select(Nudge).where(Nudge.status == "pending")).all()
        assert pending == []


def test_coachbot_forget_deletes_the_personal_data_and_keeps_counts(
    bot: Bot, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _story(bot)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", bot.settings.database_url)
    monkeypatch.setattr(
        "bot.cli.setup_logging", lambda *_a, **_k: None
    )  # keep pytest's log capture
    with caplog.at_level(logging.INFO):
        assert main(["forget", "ada@example.org"]) == 0
    _assert_ada_forgotten(bot)
    audit = [r.getMessage() for r in caplog.records if "privacy.forget" in r.getMessage()]
    assert audit and "Lead one retro" not in audit[0] and PRIVATE not in caplog.text
    assert main(["forget", "nobody@example.org"]) == 2


def test_delete_my_data_from_app_home(bot: Bot) -> None:
    _story(bot)
    bot.event({"type": "app_home_opened", "user": "UADA", "tab": "home"})
    bot.fake.wait_for_calls("views.publish")
    answer = bot.submit({"type": "modal", "callback_id": View.FORGET_ME}, {}, user="UADA").json()
    assert answer["response_action"] == "update"
    _assert_ada_forgotten(bot)


def test_retention_clears_old_free_text_only(bot: Bot) -> None:
    _story(bot)
    with bot.db.session() as s:
        assert s.exec(select(ConversationRecord)).one().what == PRIVATE
    assert apply_retention(bot.db, 30, now=bot.clock() + timedelta(days=10)) == 0
    cleared = apply_retention(bot.db, 30, now=bot.clock() + timedelta(days=400))
    assert cleared >= 2
    with bot.db.session() as s:
        record = s.exec(select(ConversationRecord)).one()
        assert record.what is None and record.outcome == "logged"
        assert s.exec(select(func.count()).select_from(Note)).one() == 0
