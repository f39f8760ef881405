"""`/enroll`: a signed slash command opens the modal; its submission enrolls, or says why not."""

from __future__ import annotations

from sqlmodel import select
from support import LEAD, Bot

from bot.sim.driver import date_value, text_value, user_value, users_value
from bot.slack.ids import Block, View
from storage.models import Enrollment, Nudge, Person


def _workspace(bot: Bot) -> None:
    fake = bot.fake
    fake.add_user("UMGR", email="mgr@example.org", real_name="Maya", tz="Europe/Berlin")
    fake.add_user("UREP", email="rep@example.org", real_name="Rui", tz="Europe/Lisbon")
    fake.add_user("UOTHER", email="other@example.org", real_name="Omar")
    fake.add_user(LEAD, email="lead@example.org", real_name="Lea")
    with bot.db.session() as s:
        from storage import crud

        mgr = crud.upsert_person(s, slack_id="UMGR", email="mgr@example.org")
        rep = crud.upsert_person(s, slack_id="UREP", email="rep@example.org")
        rep.manager_id = mgr.id


def _values(
    learners: list[str],
    training: str = "Coaching Skills",
    start: str | None = "2026-12-08",
    end: str | None = "2026-12-09",
    manager: str | None = None,
) -> dict:
    return {
        Block.LEARNERS: users_value(learners),
        Block.TRAINING: text_value(training),
        Block.STARTS_ON: date_value(start),
        Block.ENDS_ON: date_value(end),
        Block.MANAGER: user_value(manager),
    }


def test_slash_command_opens_the_modal_at_once(bot: Bot) -> None:
    _workspace(bot)
    response = bot.command("/enroll", user="UMGR")
    assert response.status == 200
    view = bot.opened_view()
    assert view["callback_id"] == View.ENROLL
    assert {b.get("block_id") for b in view["blocks"]} >= {Block.LEARNERS, Block.TRAINING}


def test_a_manager_enrolls_a_report_with_the_directory_manager(bot: Bot) -> None:
    _workspace(bot)
    bot.command("/enroll", user="UMGR")
    view = bot.opened_view()
    response = bot.submit(view, _values(["UREP"]), user="UMGR")
    assert response.status == 200
    answer = response.json()
    assert answer["response_action"] == "update"
    assert "Enrolled 1 in *Coaching Skills*" in str(answer["view"])
    with bot.db.session() as s:
        enrollment = s.exec(select(Enrollment)).one()
        mgr = s.exec(select(Person).where(Person.slack_id == "UMGR")).one()
        assert enrollment.manager_id == mgr.id and enrollment.source == "slack"
        assert enrollment.enrolled_by == "UMGR"
        assert len(s.exec(select(Nudge)).all()) == 5
    assert bot.fake.count("chat.postMessage") == 0  # no enrollment confirmations by DM


def test_anyone_may_enroll_themselves_and_is_flagged_without_a_manager(bot: Bot) -> None:
    _workspace(bot)
    bot.command("/enroll", user="UOTHER")
    response = bot.submit(bot.opened_view(), _values(["UOTHER"]), user="UOTHER")
    answer = response.json()
    assert answer["response_action"] == "update"
    assert "No manager on file" in str(answer["view"])
    with bot.db.session() as s:
        enrollment = s.exec(select(Enrollment)).one()
        assert enrollment.manager_id is None  # kept and flagged, never dropped


def test_enrolling_someone_elses_report_is_refused_and_stores_nothing(bot: Bot) -> None:
    _workspace(bot)
    bot.command("/enroll", user="UOTHER")
    response = bot.submit(bot.opened_view(), _values(["UOTHER", "UREP"]), user="UOTHER")
    answer = response.json()
    assert answer["response_action"] == "errors"
    assert "isn't one of your reports" in answer["errors"][Block.LEARNERS]
    with bot.db.session() as s:
        assert s.exec(select(Enrollment)).all() == []  # not even the allowed one


def test_an_ld_lead_may_enroll_anyone_with_a_chosen_manager(bot: Bot) -> None:
    _workspace(bot)
    bot.command("/enroll", user=LEAD)
    response = bot.submit(bot.opened_view(), _values(["UOTHER", "UREP"], manager="UMGR"), user=LEAD)
    assert response.json()["response_action"] == "update"
    with bot.db.session() as s:
        assert len(s.exec(select(Enrollment)).all()) == 2


def test_field_errors_stay_in_the_modal(bot: Bot) -> None:
    _workspace(bot)
    bot.command("/enroll", user="UMGR")
    view = bot.opened_view()
    cases = [
        (_values([]), Block.LEARNERS),
        (_values(["UREP"], training=""), Block.TRAINING),
        (_values(["UREP"], training="x" * 300), Block.TRAINING),
        (_values(["UREP"], start=None), Block.STARTS_ON),
        (_values(["UREP"], end="2026-12-01"), Block.ENDS_ON),
        (_values(["UREP"], manager="UREP"), Block.MANAGER),
    ]
    for values, block in cases:
        answer = bot.submit(view, values, user="UMGR").json()
        assert answer["response_action"] == "errors", block
        assert block in answer["errors"], (block, answer)
    with bot.db.session() as s:
        assert s.exec(select(Enrollment)).all() == []


def test_unsigned_forged_and_stale_requests_are_refused(bot: Bot) -> None:
    _workspace(bot)
    body = "command=%2Fenroll&user_id=UMGR&trigger_id=t"
    assert bot.post("/slack/events", body, {}).status == 401
    assert (
        bot.post(
            "/slack/events",
            body,
            {"X-Slack-Signature": "v0=forged", "X-Slack-Request-Timestamp": "1"},
        ).status
        == 401
    )
    import time

    stale = bot.signed(body, timestamp=int(time.time()) - 3600)
    assert stale.status == 401
    assert bot.fake.count("views.open") == 0
