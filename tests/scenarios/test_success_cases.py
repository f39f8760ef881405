"""The evidence L&D acts on, through the real app: success cases in `/training-summary`, the
digest, `coachbot summary` and their CSVs; the filters; the small-group rule; forgetting; and
the lead's App Home with the digest's chart."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cases_seed import seed_cases
from reporting_seed import W48, seed
from sqlmodel import select
from support import LEAD, Bot, Clock, eventually, make_settings

from bot.cli import main
from bot.core import reporting
from bot.core.privacy import apply_retention, forget_person
from bot.prompts import load_catalogues, load_prompts
from bot.runtime import make_digest
from bot.settings import Settings
from bot.sim.fakeslack import FakeSlack
from bot.slack.client import make_client
from storage.db import Database
from storage.models import CaseRecord

NOW = datetime(2026, 11, 30, 10, tzinfo=UTC)  # Monday of week 49
PROMPTS = load_prompts()


def _seeded(bot: Bot) -> None:
    bot.fake.add_user(LEAD, real_name="Lea")
    bot.clock.set(NOW)
    with bot.db.session() as s:
        seed_cases(s)


def _summary_dm(bot: Bot, text: str) -> str:
    bot.command("/training-summary", text, user=LEAD)
    return _delivered(bot)


def _delivered(bot: Bot) -> str:
    bot.fake.wait_for_calls("files.completeUploadExternal")
    return json.dumps(
        bot.fake.messages_in(bot.fake.dm_channel(LEAD))[0]["blocks"], ensure_ascii=False
    )


def test_the_summary_counts_cases_and_names_only_the_consenting(bot: Bot) -> None:
    _seeded(bot)
    text = _summary_dm(bot, "2026-W48")
    assert "Success cases: 3 · non-success cases: 1 (of 5 enrollments" in text
    assert "*Coaching*: 2 success, 1 non-success (of 4)" in text
    assert "*Smaller trainings, together* (1): 1 success, 0 non-success (of 1)" in text
    assert "Learner LA, *Coaching* (success): Cut meetings by half How they know: Calendar" in text
    assert "Learner LE, *Feedback* (success): Fewer escalations" in text
    for hidden in (
        "Learner LB",
        "Learner LC",
        "Learner LD",
        "Private result of LB",
        "Result of LC",
    ):
        assert hidden not in text
    assert "Meetings are shorter" not in text  # the manager's text: SHARE_NOTES_WITH_LD is off
    assert "Counted, not named: 2" in text
    # Per round, counts beside every rate; a round of one answer is too few to show.
    assert "*After 30 days*, managers: applied, fully or partly, 67% (2 of 3): 1 applied" in text
    assert "*After 30 days*, learners: applied, fully or partly, 100% (3 of 3)" in text
    assert "*Follow-up 2*, learners: too few to show (fewer than 3 people)" in text
    figures = {f["name"]: f["bytes"] for f in bot.fake.files}["figures-2026-W48.csv"].decode()
    rows = list(csv.DictReader(io.StringIO(figures)))
    assert {
        "section": "cases",
        "group": "",
        "figure": "success",
        "part": "3",
        "whole": "5",
        "value": "3",
    } in rows
    assert {
        "section": "follow_up",
        "group": "After 30 days",
        "figure": "manager_applied",
        "part": "2",
        "whole": "3",
        "value": "67% (2 of 3)",
    } in rows


def test_a_training_and_a_span_of_dates(bot: Bot) -> None:
    _seeded(bot)
    response = bot.command("/training-summary", "2026-11-23..2026-11-29 coaching", user=LEAD)
    assert "Putting together the summary for" in response.text
    text = _delivered(bot)
    assert "Training summary, " in text and ": Coaching" in text
    assert "of 4 enrollments" in text and "Learner LE" not in text


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("2026-11-30..2026-11-01", "2026-11-01 comes before 2026-11-30"),
        ("2026-02-30..2026-03-01", "not a date such as 2026-11-01"),
        ("2026-W54", "2026 has no week 54"),
        ("last last", "'last' twice"),
        ("Coaching last", "the period goes before the training's name"),
    ],
)
def test_a_bad_period_says_what_is_accepted(bot: Bot, text: str, says: str) -> None:
    _seeded(bot)
    response = bot.command("/training-summary", text, user=LEAD)
    assert says in response.text and "Usage: `/training-summary [last | 2026-W48 |" in response.text
    assert bot.fake.files == []


def test_an_unknown_training_lists_close_names(bot: Bot) -> None:
    _seeded(bot)
    response = bot.command("/training-summary", "last Coachin", user=LEAD)
    assert response.text == "There is no training called “Coachin”. Did you mean “Coaching”?"
    assert bot.fake.files == []


def test_coachbot_summary_filters_and_bad_usage(
    db: Database, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    with db.session() as s:
        seed_cases(s)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", db_url)
    out = tmp_path / "cases.csv"
    args = ["summary", "--from", "2026-11-23", "--to", "2026-11-29", "--training", "Feedback"]
    assert main([*args, "--csv", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "Training summary, Mon, Nov 23 to Sun, Nov 29: Feedback" in printed
    assert "Learner LE, Feedback (success): Fewer escalations" in printed
    assert "Learner LA" not in printed
    rows = list(csv.DictReader(out.open()))
    assert [r["success_case"] for r in rows] == ["success"]
    assert (tmp_path / "cases-figures.csv").read_text().startswith("section,group,figure")

    for bad, says in [
        (["--week", "2026-W48", "--from", "2026-11-23", "--to", "2026-11-29"], "give one"),
        (["--from", "2026-11-23"], "--from and --to go together"),
        (["--from", "2026-13-01", "--to", "2026-13-05"], "--from/--to take dates"),
        (["--training", "Negotiation"], "no training called 'Negotiation'"),
    ]:
        assert main(["summary", *bad]) == 2
        assert says in capsys.readouterr().err


def test_too_few_people_are_not_shown_as_a_rate(db: Database) -> None:
    """Reporting seed: one debrief in two (week 48) and weeks before with no one at all."""
    with db.session() as s:
        seed(s)
    settings = Settings(database_url=db.url)
    summary = reporting.build_summary(db, settings, W48, NOW)
    text = reporting.summary_text(summary, PROMPTS)
    assert "Debriefed within 7 days of the end: too few to show (fewer than 3 people)" in text
    assert "Talked with their manager before the training: 50% (2 of 4)" in text
    assert "goals 67% (2 of 3), debriefed too few to show" in text  # per training
    rows = list(csv.DictReader(io.StringIO(reporting.figures_csv(summary, PROMPTS))))
    debrief = next(r for r in rows if r["section"] == "total" and r["figure"] == "debrief")
    assert debrief["value"] == "too few to show (fewer than 3 people)" and debrief["part"] == ""
    spec = reporting.chart_spec(summary, PROMPTS)
    lines = {line["key"]: line for line in spec["lines"]}
    assert lines["debrief"]["values"][-1] is None
    assert lines["debrief"]["points"][-1] == "too few to show"
    assert lines["pre"]["values"][-1] == 0.5 and lines["pre"]["points"][-1] == "2 of 4"
    assert reporting.render_chart(spec).startswith(b"\x89PNG")


def test_forgetting_a_learner_removes_their_cases(db: Database) -> None:
    with db.session() as s:
        seed_cases(s)
    settings = Settings(database_url=db.url)
    assert forget_person(db, "la@example.org") is not None
    with db.session() as s:
        assert len(s.exec(select(CaseRecord)).all()) == 7  # LA's two answers are gone
    text = reporting.summary_text(reporting.build_summary(db, settings, W48, NOW), PROMPTS)
    assert "Cut meetings by half" not in text and "Learner LA" not in text
    assert "Success cases: 2 · non-success cases: 1 (of 4 enrollments" in text
    # A manager forgotten takes their own answers only: LD's non-success goes with them, and
    # LC's "clear results" now stands alone.
    forget_person(db, "mg@example.org")
    text = reporting.summary_text(reporting.build_summary(db, settings, W48, NOW), PROMPTS)
    assert "Success cases: 3 · non-success cases: 0 (of 3 enrollments" in text


def test_retention_clears_old_results(db: Database) -> None:
    with db.session() as s:
        seed_cases(s)
    apply_retention(db, 1, now=datetime(2026, 11, 27, tzinfo=UTC))
    with db.session() as s:
        assert [r.result for r in s.exec(select(CaseRecord)).all() if r.result] == []
        assert len(s.exec(select(CaseRecord)).all()) == 9  # the answers themselves still count


def test_the_leads_app_home_shows_the_digests_chart_and_the_cases(
    fake: FakeSlack, db: Database, clock: Clock, db_url: str
) -> None:
    from support import start_bot

    fake.add_user(LEAD, real_name="Lea")
    with db.session() as s:
        seed_cases(s)
    settings = make_settings(fake, db.url)
    client = make_client(settings.slack_bot_token, settings.slack_api_url, rate_limit_retries=0)
    digest_clock = Clock(datetime(2026, 11, 30, 8, tzinfo=UTC))
    digest = make_digest(settings, db, client, load_catalogues(None), clock=digest_clock)
    assert digest.tick() is None
    digest_clock.set(datetime(2026, 11, 30, 9, 0, 5, tzinfo=UTC))
    assert digest.tick() == "2026-W49"
    posts = [m for m in fake.dms_to(LEAD) if not m.get("files")]
    assert len(posts) == 1  # the digest is one post; its chart and CSVs are in its thread
    assert "People to interview" in json.dumps(posts[0]["blocks"])
    chart = next(f for f in fake.files if f["name"].endswith(".png"))

    bot, server = start_bot(fake, db, clock, db_url)
    try:
        clock.set(NOW + timedelta(hours=1))
        bot.event({"type": "app_home_opened", "user": LEAD, "tab": "home"})
        home = eventually(lambda: fake.home_views.get(LEAD))
    finally:
        server.close()
    images = [b for b in home["blocks"] if b["type"] == "image"]
    assert images == [
        {
            "type": "image",
            "slack_file": {"id": chart["id"]},
            "alt_text": PROMPTS.text("summary.chart_alt", week="2026-W48"),
            "title": {"type": "plain_text", "text": "Training summary 2026-W48", "emoji": True},
        }
    ]
    text = json.dumps(home, ensure_ascii=False)
    assert "Success cases to follow up" in text and "Cut meetings by half" in text
    assert "Learner LB" not in text and "Counted, not named: 2" in text
