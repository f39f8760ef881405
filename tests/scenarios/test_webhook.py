"""The LMS webhook, through the real HTTP app, against the fake Slack and a real database."""

from __future__ import annotations

from sqlmodel import select
from support import Bot

from storage.models import Enrollment, Nudge, NudgeStatus, Person

BODY = {
    "external_id": "lms-123",
    "learner_email": "ada@example.org",
    "manager_email": "grace@example.org",
    "training": "Coaching Skills",
    "starts_on": "2026-12-08",
    "ends_on": "2026-12-09",
    "status": "enrolled",
}


def _people(bot: Bot) -> None:
    bot.fake.add_user("UADA", email="ada@example.org", real_name="Ada", tz="Europe/Paris")
    bot.fake.add_user("UGRACE", email="grace@example.org", real_name="Grace", tz="America/New_York")


def _nudges(bot: Bot) -> list[Nudge]:
    with bot.db.session() as s:
        return list(s.exec(select(Nudge).order_by(Nudge.id)).all())


def test_created_then_duplicate_then_rescheduled_then_cancelled(bot: Bot) -> None:
    _people(bot)
    first = bot.webhook(BODY)
    assert first.status == 201, first.text
    assert first.json()["result"] == "created"
    with bot.db.session() as s:
        enrollment = s.exec(select(Enrollment)).one()
        learner = s.get(Person, enrollment.learner_id)
        manager = s.get(Person, enrollment.manager_id)
        assert learner.slack_id == "UADA" and learner.tz == "Europe/Paris"
        assert manager.slack_id == "UGRACE" and manager.tz == "America/New_York"
    planned = {n.kind: n for n in _nudges(bot)}
    assert set(planned) == {
        "goal_invite",
        "pre_training",
        "debrief",
        "follow_up",
        "learner_follow_up",
    }
    assert planned["pre_training"].recipient_id == manager.id
    # Thu 3 Dec 09:30 in New York is 14:30 UTC.
    assert planned["pre_training"].due_at.isoformat() == "2026-12-03T14:30:00+00:00"

    again = bot.webhook(BODY)
    assert again.status == 200 and again.json()["result"] == "duplicate"
    assert len(_nudges(bot)) == 5

    moved = bot.webhook({**BODY, "starts_on": "2026-12-15", "ends_on": "2026-12-16"})
    assert moved.status == 200 and moved.json()["result"] == "updated"
    planned = {n.kind: n for n in _nudges(bot)}
    assert len(planned) == 5
    assert planned["pre_training"].due_at.isoformat() == "2026-12-10T14:30:00+00:00"

    cancelled = bot.webhook({**BODY, "status": "cancelled"})
    assert cancelled.status == 200
    assert {n.status for n in _nudges(bot)} == {NudgeStatus.CANCELLED}
    assert bot.fake.count("chat.postMessage") == 0  # no "cancelled" DMs, ever


def test_reenrolling_after_a_cancel_plans_afresh(bot: Bot) -> None:
    _people(bot)
    bot.webhook(BODY)
    bot.webhook({**BODY, "status": "cancelled"})
    back = bot.webhook(BODY)
    assert back.status == 200 and back.json()["result"] == "updated"
    pending = [n for n in _nudges(bot) if n.status == NudgeStatus.PENDING]
    assert len(pending) == 5


def test_slack_ids_may_stand_for_emails_and_the_manager_is_optional(bot: Bot) -> None:
    _people(bot)
    response = bot.webhook(
        {
            "external_id": "x1",
            "learner_slack_id": "UADA",
            "training": "Negotiation",
            "starts_on": "2026-12-08",
            "ends_on": "2026-12-08",
        }
    )
    assert response.status == 201, response.text
    assert response.json()["manager_known"] is False
    kinds = {n.kind for n in _nudges(bot)}
    assert kinds == {"goal_invite", "learner_follow_up"}  # kept and flagged, never dropped


def test_change_of_manager_reroutes_pending_manager_nudges(bot: Bot) -> None:
    _people(bot)
    bot.fake.add_user("ULIN", email="lin@example.org", real_name="Lin", tz="Asia/Tokyo")
    bot.webhook(BODY)
    bot.webhook({**BODY, "manager_email": "lin@example.org"})
    with bot.db.session() as s:
        lin = s.exec(select(Person).where(Person.slack_id == "ULIN")).one()
    manager_kinds = [n for n in _nudges(bot) if n.kind in ("pre_training", "debrief", "follow_up")]
    assert {n.recipient_id for n in manager_kinds} == {lin.id}
    # 09:30 in Tokyo on Thu 3 Dec is 00:30 UTC.
    pre = next(n for n in manager_kinds if n.kind == "pre_training")
    assert pre.due_at.isoformat() == "2026-12-03T00:30:00+00:00"


def test_bad_input_is_a_400_naming_the_field_and_stores_nothing(bot: Bot) -> None:
    _people(bot)
    cases = [
        ({**BODY, "starts_on": "2026-13-01"}, "starts_on"),
        ({**BODY, "ends_on": "2026-12-01"}, "ends_on"),
        ({**BODY, "learner_email": "nobody@example.org"}, "learner_email"),
        ({**BODY, "manager_email": "not-an-email"}, "manager_email"),
        ({**BODY, "training": ""}, "training"),
        ({**BODY, "training": "x" * 201}, "training"),
        ({**BODY, "status": "maybe"}, "status"),
        ({**BODY, "starts_on": 20261201}, "starts_on"),
        ({k: v for k, v in BODY.items() if k != "learner_email"}, "learner_email"),
        ({**BODY, "manager_email": "ada@example.org"}, "manager_email"),
    ]
    for body, field in cases:
        response = bot.webhook(body)
        assert response.status == 400, (body, response.text)
        assert field in response.json()["error"], (field, response.json())
    for raw in ("{not json", "[1, 2]", "null", b"\xff\xfe"):
        response = bot.webhook(raw)
        assert response.status == 400, raw
        assert "error" in response.json()
    with bot.db.session() as s:
        assert s.exec(select(Enrollment)).all() == []


def test_the_bearer_token_is_required(bot: Bot) -> None:
    _people(bot)
    assert bot.webhook(BODY, token=None).status == 401
    assert bot.webhook(BODY, token="wrong").status == 401
    assert bot.webhook(BODY, token="test-webhook-token ").status == 201  # whitespace-trimmed


def test_oversized_bodies_are_refused(bot: Bot) -> None:
    response = bot.webhook('{"x": "' + "a" * 300_000 + '"}')
    assert response.status == 413


def test_healthz_answers_with_the_database(bot: Bot) -> None:
    response = bot.get("/healthz")
    assert response.status == 200
    assert response.json() == {"ok": True, "database": "ok"}
    assert bot.get("/nowhere").status == 404


def test_slack_route_refuses_oversized_bodies_before_reading_them(bot: Bot) -> None:
    assert bot.post("/slack/events", "payload=" + "a" * 300_000, {}).status == 413


def test_served_by_waitress_not_a_development_server(bot: Bot) -> None:
    response = bot.get("/healthz")
    assert response.headers.get("Server") == "coachbot"  # waitress, with our ident
