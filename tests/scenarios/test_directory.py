"""The people directory from Slack: users.list pages, user_change events, the manager field."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlmodel import func, select
from support import Bot, ada_and_grace, dispatch_due, eventually

from bot.slack.directory_sync import sync_from_slack
from storage import crud
from storage.models import Nudge, Person


def _sync(bot: Bot) -> int:
    return sync_from_slack(
        bot.db,
        bot.services.client,
        rules=bot.settings.rules,
        default_tz="UTC",
        manager_field_id=bot.settings.slack_manager_field_id,
        clock=bot.clock,
    )


def test_a_large_workspace_is_read_in_pages_not_one_lookup_per_person(bot: Bot) -> None:
    for n in range(450):
        bot.fake.add_user(
            f"U{n:05d}",
            email=f"p{n}@example.org",
            real_name=f"P {n}",
            tz="Europe/Paris",
            deleted=(n == 7),
        )
    assert _sync(bot) == 450  # Slackbot and the app's own bot user are left out
    assert bot.fake.count("users.list") == 3  # 200 + 200 + 50
    assert bot.fake.count("users.lookupByEmail") == 0 and bot.fake.count("users.info") == 0
    with bot.db.session() as s:
        assert s.exec(select(func.count()).select_from(Person)).one() == 450
        seven = crud.person_by_slack_id(s, slack_id="U00007")
        assert seven is not None and seven.active is False and seven.tz == "Europe/Paris"
    assert _sync(bot) == 450  # a second sync changes nothing
    with bot.db.session() as s:
        assert s.exec(select(func.count()).select_from(Person)).one() == 450


def test_people_from_a_csv_are_matched_to_slack_by_email(bot: Bot) -> None:
    with bot.db.session() as s:
        crud.upsert_person(s, email="ADA@example.org", name="Ada from HR")
    bot.fake.add_user("UADA", email="ada@example.org", real_name="Ada Lovelace", tz="Asia/Tokyo")
    _sync(bot)
    with bot.db.session() as s:
        ada = crud.person_by_email(s, email="ada@example.org")
        assert ada is not None and ada.slack_id == "UADA" and ada.tz == "Asia/Tokyo"
        assert s.exec(select(func.count()).select_from(Person)).one() == 1


def test_user_change_keeps_time_zone_and_deactivation_current_and_replans(bot: Bot) -> None:
    ada_and_grace(bot)
    moved = bot.fake.add_user(
        "UGRACE", email="grace@example.org", real_name="Grace", tz="America/New_York"
    )
    assert bot.event({"type": "user_change", "user": moved}).status == 200

    def pre_training() -> Nudge | None:
        with bot.db.session() as s:
            nudge = s.exec(select(Nudge).where(Nudge.kind == "pre_training")).one()
            return nudge if nudge.due_at.hour == 14 else None  # 09:30 in New York

    eventually(pre_training)
    gone = bot.fake.add_user(
        "UGRACE", email="grace@example.org", real_name="Grace", tz="America/New_York", deleted=True
    )
    bot.event({"type": "user_change", "user": gone})

    def skipped() -> bool:
        with bot.db.session() as s:
            nudge = s.exec(select(Nudge).where(Nudge.kind == "pre_training")).one()
            return nudge.status == "skipped" and "deactivated" in (nudge.reason or "")

    eventually(skipped)


def test_the_manager_can_come_from_a_custom_profile_field(
    fake,
    db,
    clock,
    db_url,  # type: ignore[no-untyped-def]
) -> None:
    from support import start_bot

    bot, server = start_bot(fake, db, clock, db_url, slack_manager_field_id="Xf0MANAGER")
    try:
        fake.add_user("UGRACE", email="grace@example.org", real_name="Grace", tz="UTC")
        fake.add_user(
            "UADA",
            email="ada@example.org",
            real_name="Ada",
            tz="UTC",
            fields={"Xf0MANAGER": {"value": "UGRACE", "alt": ""}},
        )
        answer = bot.webhook(
            {
                "external_id": "e1",
                "learner_email": "ada@example.org",
                "training": "Coaching",
                "starts_on": "2026-12-08",
                "ends_on": "2026-12-09",
            }
        )
        assert answer.status == 201 and answer.json()["manager_known"] is True
        with bot.db.session() as s:
            ada = crud.person_by_slack_id(s, slack_id="UADA")
            grace = crud.person_by_slack_id(s, slack_id="UGRACE")
            assert ada is not None and grace is not None and ada.manager_id == grace.id
    finally:
        server.close()


def test_an_away_status_from_user_change_holds_the_prompt_without_asking_slack(bot: Bot) -> None:
    ada_and_grace(bot)

    def status_change(**status: Any) -> None:
        bot.fake.set_status("UGRACE", **status)
        event = {"type": "user_change", "user": bot.fake.users["UGRACE"]}
        assert bot.event(event).status == 200

        def stored() -> bool:
            with bot.db.session() as s:
                grace = crud.person_by_slack_id(s, slack_id="UGRACE")
                return grace is not None and (grace.status_text, grace.status_expiration) == (
                    status["text"],
                    status.get("expiration") or None,
                )

        eventually(stored)

    def prompt() -> Nudge:
        with bot.db.session() as s:
            return s.exec(select(Nudge).where(Nudge.kind == "pre_training")).one()

    status_change(text="On holiday", emoji=":palm_tree:")
    bot.clock.set(datetime(2026, 12, 3, 9, 31, tzinfo=UTC))  # the prompt is due
    dispatch_due(bot)
    assert bot.fake.dms_to("UGRACE") == []
    assert (prompt().status, prompt().due_at) == (
        "pending",
        datetime(2026, 12, 4, 9, 30, tzinfo=UTC),
    )

    # Back before Friday: Slack clears the status at its expiry, and the prompt goes out.
    back = int(datetime(2026, 12, 3, 18, 0, tzinfo=UTC).timestamp())
    status_change(text="On holiday", emoji=":palm_tree:", expiration=back)
    bot.clock.set(datetime(2026, 12, 4, 9, 30, tzinfo=UTC))
    dispatch_due(bot)
    assert prompt().status == "sent"
    assert len(bot.fake.dms_to("UGRACE")) == 1
    # The status came with the event: no nudge asked Slack for it.
    assert bot.fake.count("users.profile.get") == 0
    assert bot.fake.count("chat.postMessage") == 2  # Ada's goal invite, Grace's prompt
