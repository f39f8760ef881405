"""`coachbot demo --fast` end to end: the real app through six simulated weeks."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from sqlmodel import col, func, select

from bot.cli import main
from storage.db import Database
from storage.models import ConversationRecord, Goal, Note, Nudge


def test_the_demo_shows_the_whole_lifecycle_and_writes_matching_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "demo"
    assert main(["demo", "--fast", "--out", str(out)]) == 0
    transcript = capsys.readouterr().out
    for moment in (
        "LMS webhook",
        "/enroll modal",
        "Workflow Builder step",
        "and refuses Leo",
        "coachbot import enrollments",
        "[goal_invite]",
        "[pre_training]",
        "[debrief]",
        "[follow_up]",
        "[learner_follow_up]",
        "[reminder]",
        "Remind me tomorrow ]",
        "replies in the thread",
        "Weekly training digest",
        "Training summary, week",
    ):
        assert moment in transcript, moment
    assert "\033[" not in transcript  # --fast is plain text
    # A team of five in one training, and still one message a day for everyone.
    assert "five of them are Maya's team" in transcript
    assert "the most DMs anyone got from Coachbot on one local day was 1 " in transcript
    assert "is a public holiday where" in transcript and "so the debrief moves from" in transcript
    # The evidence: a success case and a non-success case named, as they agreed; Rui's
    # success is counted, his name and what he wrote are not.
    summary = transcript.split("== The L&D summary ==")[1]
    interview = summary.split("People to interview")[-1]
    assert "Ada Weber, Coaching Skills (success): My 1:1s now end with a plan" in interview
    assert "Hana Mori, Coaching Skills (non-success): A hiring freeze" in interview
    assert "Success cases: 2 · non-success cases: 1" in summary
    assert "Counted, not named: 1" in interview
    assert "Rui" not in summary and "two owners and a date" not in summary

    database = out / "coachbot-demo.db"
    charts = list(out.glob("training-summary-*.png"))
    tables = sorted(out.glob("enrollments-*.csv"))
    assert database.exists() and len(charts) == 1 and len(tables) == 2
    assert charts[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for path in (database, *charts, *tables):
        assert str(path) in transcript

    db = Database(f"sqlite:///{database}")
    with db.session() as s:
        records = s.exec(select(func.count()).select_from(ConversationRecord)).one()
        goals = s.exec(select(func.count()).select_from(Goal)).one()
        notes = s.exec(select(func.count()).select_from(Note)).one()
        sent = s.exec(
            select(func.count()).select_from(Nudge).where(col(Nudge.sent_at).is_not(None))
        ).one()
    counts = transcript.split("What happened: ")[1].splitlines()[0]
    assert f"goals: {goals}" in counts and f"notes: {notes}" in counts
    assert records > 10 and sent > 30
    rows = list(csv.DictReader(tables[0].open(encoding="utf-8")))
    assert rows and {"training", "pre_training", "debrief"} <= set(rows[0])
    assert "Coaching Skills" in {r["training"] for r in rows}
