"""`/training-summary`, the App Home button and `coachbot summary`, through the real app."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from reporting_seed import W48, seed
from support import LEAD, Bot

from bot.cli import main
from bot.core import reporting
from bot.prompts import load_prompts
from bot.settings import Settings
from bot.slack import blocks
from bot.slack.ids import Action
from storage.db import Database

NOW = datetime(2026, 11, 30, 10, tzinfo=UTC)  # Monday of week 49


def _seeded(bot: Bot) -> None:
    bot.fake.add_user(LEAD, real_name="Lea")
    bot.fake.add_user("UNOBODY", real_name="Nobody")
    bot.clock.set(NOW)
    with bot.db.session() as s:
        seed(s)


def _files(bot: Bot) -> dict[str, bytes]:
    return {f["name"]: f["bytes"] for f in bot.fake.files}


def test_a_lead_gets_the_summary_chart_and_csv_in_a_dm(bot: Bot) -> None:
    _seeded(bot)
    response = bot.command("/training-summary", "2026-W48", user=LEAD)
    assert response.status == 200
    assert "week 2026-W48" in response.text  # acknowledged at once
    bot.fake.wait_for_calls("files.completeUploadExternal")
    dm = bot.fake.dm_channel(LEAD)
    upload = bot.fake.calls_to("files.completeUploadExternal")[0]
    assert upload.params["channel_id"] == dm  # a channel id, as Slack requires
    summary = bot.fake.messages_in(dm)[0]
    text = json.dumps(summary["blocks"])
    assert "Training summary, week 2026-W48" in summary["text"]
    assert "before the training:* 50% (2 of 4)" in text
    # One debrief in two: fewer than MIN_GROUP_SIZE people, so no rate.
    assert "Debriefed within 7 days of the end:* too few to show (fewer than 3 people)" in text
    assert "*Coaching* (4 enrollments)" in text and "Negotiation" not in text  # folded
    files = _files(bot)
    assert files["training-summary-2026-W48.png"].startswith(b"\x89PNG")
    rows = list(csv.DictReader(io.StringIO(files["enrollments-2026-W48.csv"].decode())))
    assert len(rows) == 10 and rows[0].keys() >= {"enrollment_id", "training", "quadrant"}
    assert "follow_up_note" not in rows[0]  # no free text unless SHARE_NOTES_WITH_LD


def test_last_week_and_csv_only(bot: Bot) -> None:
    _seeded(bot)
    response = bot.command("/training-summary", "last csv", user=LEAD)
    assert "CSV for week 2026-W48" in response.text
    bot.fake.wait_for_calls("files.completeUploadExternal")
    assert list(_files(bot)) == ["enrollments-2026-W48.csv"]
    assert bot.fake.count("chat.postMessage") == 0


def test_someone_else_is_refused_politely(bot: Bot) -> None:
    _seeded(bot)
    response = bot.command("/training-summary", "", user="UNOBODY")
    assert "for L&D leads" in response.text
    assert bot.fake.count("conversations.open") == 0 and bot.fake.files == []


def test_a_usergroup_member_is_a_lead_too(fake, db, clock, db_url) -> None:  # type: ignore[no-untyped-def]
    from support import start_bot

    fake.add_user("UGROUPLEAD", real_name="Gia")
    fake.add_usergroup("S0LEADS", "ld-team", ["UGROUPLEAD"])
    bot, server = start_bot(fake, db, clock, db_url, ld_usergroup="S0LEADS")
    try:
        response = bot.command("/training-summary", "", user="UGROUPLEAD")
        assert "Putting together the summary for week 2026-W48" in response.text
        fake.wait_for_calls("files.completeUploadExternal")
    finally:
        server.close()


@pytest.mark.parametrize("text", ["2026-W54", "last last", "csv csv", "2026-48"])
def test_bad_arguments_get_the_usage(bot: Bot, text: str) -> None:
    _seeded(bot)
    response = bot.command("/training-summary", text, user=LEAD)
    assert response.text.startswith("I could not read that period")
    assert "Usage: `/training-summary [last | 2026-W48 | 2026-11-01..2026-11-30]" in response.text
    assert bot.fake.files == []


def test_the_app_home_button_sends_this_weeks_summary(bot: Bot) -> None:
    _seeded(bot)
    bot.clock.set(datetime(2026, 11, 27, 10, tzinfo=UTC))
    payload = {
        "type": "block_actions",
        "user": {"id": LEAD},
        "trigger_id": "t-1",
        "actions": [
            {
                "action_id": Action.SEND_SUMMARY,
                "value": blocks.SEND_SUMMARY_VALUE,
                "type": "button",
                "block_id": "b",
                "action_ts": "1",
            }
        ],
        "view": {"type": "home", "id": "V1"},
    }
    assert bot.interact(payload).status == 200
    bot.fake.wait_for_calls("files.completeUploadExternal")
    assert "week 2026-W48" in bot.fake.messages_in(bot.fake.dm_channel(LEAD))[0]["text"]
    # Not for anyone else.
    payload["user"] = {"id": "UNOBODY"}
    bot.interact(payload)
    assert bot.fake.count("files.completeUploadExternal") == 1


def test_headline_numbers_for_the_app_home(db: Database) -> None:
    with db.session() as s:
        seed(s)
    settings = Settings(database_url=db.url)
    numbers = dict(reporting.headline_numbers(db, settings, datetime(2026, 11, 27, tzinfo=UTC)))
    assert numbers["New enrollments"] == "3"
    assert numbers["Talked before"] == "50% (2 of 4)"  # the whole week's starts
    view = blocks.home_view(load_prompts(), is_ld_lead=True, ld_numbers=list(numbers.items()))
    assert len(view["blocks"]) < 100


def test_coachbot_summary_prints_and_writes_the_csv(
    db: Database, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:  # type: ignore[no-untyped-def]
    with db.session() as s:
        seed(s)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", db_url)
    out = tmp_path / "week.csv"
    assert main(["summary", "--week", "2026-W48", "--csv", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "Training summary, week 2026-W48" in printed
    assert "Shared a goal before the start: 40% (2 of 5)" in printed and "*" not in printed
    lines = out.read_text().splitlines()
    assert lines[0].startswith("enrollment_id,external_id,training") and len(lines) == 11

    assert main(["summary", "--week", "2026-W99"]) == 2
    assert "--week must be an ISO week" in capsys.readouterr().err


def test_the_summary_message_stays_within_slacks_limits(db: Database) -> None:
    with db.session() as s:
        seed(s)
    settings = Settings(database_url=db.url, min_group_size=1, share_notes_with_ld=True)
    summary = reporting.build_summary(db, settings, W48, NOW)
    message = blocks.summary_blocks(summary, load_prompts(), intro="*Digest*")
    assert len(message["blocks"]) <= 50
    for block in message["blocks"]:
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= 3000
    text = json.dumps(message)
    assert "Negotiation" in text  # a group of one is broken out when MIN_GROUP_SIZE is 1
    assert "Closed a deal" in text  # notes are quoted only when the organisation shares them
