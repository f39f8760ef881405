"""Why a training matters: from the webhook, the CSV import and the L&D lead's App Home, to
the manager's pre-training prompt (alone or in the day's message) and the "uphill" advice.

Signed requests to the real app, DMs from the real dispatcher, and assertions on what reached
the fake Slack and what was stored.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select
from support import LEAD, Bot, ada_and_grace, dispatch_due, eventually

from bot.cli import main
from bot.sim.driver import buttons, radio_value, text_value, user_value
from bot.slack.ids import Action, Block, View
from storage.models import Enrollment, Nudge, Person, Training

PRE = datetime(2026, 12, 3, 9, 31, tzinfo=UTC)  # Thu: the pre-training prompts are due
WHY = "Coaching managers keep their people: this is how <we> win & grow."
ESCAPED_WHY = "Coaching managers keep their people: this is how &lt;we&gt; win &amp; grow."


def _people(bot: Bot) -> None:
    for uid, name in (("USAM", "Sam"), ("ULIN", "Lin"), ("UBEN", "Ben"), (LEAD, "Lea")):
        bot.fake.add_user(uid, email=f"{name.lower()}@example.org", real_name=name, tz="UTC")


def _training(bot: Bot, name: str = "Coaching Skills") -> Training:
    with bot.db.session() as s:
        return s.exec(select(Training).where(Training.name == name)).one()


def _person_id(bot: Bot, slack_id: str) -> int | None:
    with bot.db.session() as s:
        return s.exec(select(Person.id).where(Person.slack_id == slack_id)).one()


def _count(bot: Bot, model: Any) -> int:
    with bot.db.session() as s:
        return len(s.exec(select(model)).all())


def _manager_dm(bot: Bot, when: datetime = PRE) -> dict[str, Any]:
    bot.clock.set(when)
    dispatch_due(bot)
    dms = [m for m in bot.fake.dms_to("UGRACE") if not m.get("thread_ts")]
    assert len(dms) == 1, dms
    return dms[0]


# -- the webhook -----------------------------------------------------------------------------


def test_webhook_why_and_sponsor_reach_the_pre_training_prompt(bot: Bot) -> None:
    _people(bot)
    ada_and_grace(bot, why=WHY, sponsor_email="sam@example.org")
    training = _training(bot)
    assert training.why == WHY and training.sponsor_id == _person_id(bot, "USAM")
    # A later message without them leaves them as stored; an empty why too.
    again = bot.webhook({**_ada(), "ends_on": "2026-12-10", "why": ""})
    assert again.status == 200 and again.json()["result"] == "updated"
    assert (_training(bot).why, _training(bot).sponsor_id) == (WHY, training.sponsor_id)

    dm = _manager_dm(bot)
    text = json.dumps(dm["blocks"])
    assert f"*Why it matters, from <@USAM>:* {ESCAPED_WHY}" in text
    assert "<we>" not in text  # user text is inert in mrkdwn


def test_webhook_why_alone_updates_the_training(bot: Bot) -> None:
    ada_and_grace(bot)
    answer = bot.webhook({**_ada(), "why": "  Our customers asked for it.  "})
    assert answer.status == 200 and answer.json()["result"] == "updated"
    assert _training(bot).why == "Our customers asked for it."
    text = json.dumps(_manager_dm(bot)["blocks"])
    assert "*Why it matters:* Our customers asked for it." in text


def _ada() -> dict[str, Any]:
    from support import ADA_ENROLLMENT

    return dict(ADA_ENROLLMENT)


@pytest.mark.parametrize(
    ("changes", "field", "says"),
    [
        ({"why": "x" * 501}, "why", "why must be at most 500 characters (got 501)"),
        ({"why": 12}, "why", "why must be a string"),
        (
            {"sponsor_email": "nobody@example.org"},
            "sponsor_email",
            "sponsor_email nobody@example.org matches nobody",
        ),
        ({"sponsor_slack_id": "UNOBODY"}, "sponsor_slack_id", "sponsor_slack_id UNOBODY"),
        ({"sponsor_email": "not-an-email"}, "sponsor_email", "must be an email or a Slack user id"),
    ],
)
def test_webhook_refuses_a_bad_why_or_sponsor_and_stores_nothing(
    bot: Bot, changes: dict[str, Any], field: str, says: str
) -> None:
    ada_and_grace(bot, why="Kept as it was.")
    enrollments, trainings = _count(bot, Enrollment), _count(bot, Training)
    new = {**_ada(), "external_id": "lms-2", "training": "Negotiation", **changes}
    answer = bot.webhook(new)
    assert answer.status == 400, answer.text
    assert answer.json()["field"] == field and says in answer.json()["error"]
    # Nor does a bad why or sponsor on a known training change it.
    again = bot.webhook({**_ada(), **changes})
    assert again.status == 400 and again.json()["field"] == field
    assert (_count(bot, Enrollment), _count(bot, Training)) == (enrollments, trainings)
    assert _training(bot).why == "Kept as it was." and _training(bot).sponsor_id is None


# -- the CSV import --------------------------------------------------------------------------

CSV_HEAD = "learner_email,training,starts_on,ends_on,manager_email,external_id,why,sponsor_email\n"


def _import(bot: Bot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rows: str) -> int:
    """`coachbot import enrollments` of `rows` into the bot's database, as an admin runs it."""
    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.setenv("DATABASE_URL", bot.settings.database_url)
    monkeypatch.setenv("SLACK_BOT_TOKEN", bot.settings.slack_bot_token)
    monkeypatch.setenv("SLACK_API_URL", bot.settings.slack_api_url)
    path = tmp_path / "enrollments.csv"
    path.write_text(CSV_HEAD + rows)
    return main(["import", "enrollments", str(path)])


def test_csv_why_and_sponsor_with_bad_rows_refused_by_line(
    bot: Bot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _people(bot)
    ada_and_grace(bot, training="Negotiation", external_id="lms-0")  # Grace is known
    rows = (
        f'ada@example.org,Coaching Skills,2026-12-08,2026-12-09,grace@example.org,c-1,"{WHY}",'
        "sam@example.org\n"
        f'lin@example.org,Coaching Skills,2026-12-08,2026-12-09,grace@example.org,c-2,"{WHY}",'
        "sam@example.org\n"
        f"ben@example.org,Feedback,2026-12-08,2026-12-09,grace@example.org,c-3,{'x' * 501},\n"
        "ben@example.org,Feedback,2026-12-08,2026-12-09,grace@example.org,c-4,Because,"
        "nobody@example.org\n"
    )
    assert _import(bot, tmp_path, monkeypatch, rows) == 1
    out = capsys.readouterr().out
    assert "2 enrollments created" in out
    assert "line 4: why must be at most 500 characters (got 501)" in out
    assert "line 5: sponsor_email nobody@example.org matches nobody" in out
    training = _training(bot)
    assert training.why == WHY and training.sponsor_id == _person_id(bot, "USAM")
    with bot.db.session() as s:
        assert s.exec(select(Training).where(Training.name == "Feedback")).first() is None
        external = {e.external_id for e in s.exec(select(Enrollment))}
    assert external == {"lms-0", "c-1", "c-2"}

    # Rows without a why leave it as stored; a new why in the file replaces it.
    assert _import(bot, tmp_path, monkeypatch, _ben("c-5", "Coaching Skills", "")) == 0
    assert _training(bot).why == WHY
    assert _import(bot, tmp_path, monkeypatch, _ben("c-6", "Negotiation", "Deals close.")) == 0
    assert _training(bot, "Negotiation").why == "Deals close."


def _ben(external_id: str, training: str, why: str) -> str:
    return (
        f"ben@example.org,{training},2026-12-08,2026-12-09,grace@example.org,{external_id},{why},\n"
    )


def test_csv_why_reaches_the_days_message_once_per_training(bot: Bot) -> None:
    """Ada and Lin go to Coaching Skills (with a why), Ben to Negotiation (without): Grace's
    one message of the day shows the why once, under Coaching Skills. (The import the CLI
    runs, on the bot's clock.)"""
    _people(bot)
    ada_and_grace(bot, training="Negotiation", learner_email="ben@example.org")
    rows = "".join(
        f"{who}@example.org,Coaching Skills,2026-12-08,2026-12-09,grace@example.org,c-{who},"
        f'"{WHY}",sam@example.org\n'
        for who in ("ada", "lin")
    )
    assert bot.services.intake.import_csv(CSV_HEAD + rows).created == 2
    dm = _manager_dm(bot)
    text = json.dumps(dm["blocks"])
    assert text.count("Why it matters") == 1
    group = next(b for b in dm["blocks"] if "Coaching Skills" in json.dumps(b))
    assert f"*Why it matters, from <@USAM>:* {ESCAPED_WHY}" in json.dumps(group)
    assert all(who in text for who in ("<@UADA>", "<@ULIN>", "<@UBEN>"))


# -- the uphill advice -----------------------------------------------------------------------


def test_the_uphill_advice_carries_the_why(bot: Bot) -> None:
    _people(bot)
    ada_and_grace(bot, why=WHY, sponsor_slack_id="USAM")
    bot.clock.set(datetime(2026, 12, 1, 9, 31, tzinfo=UTC))
    dispatch_due(bot)
    invite = next(m for m in bot.fake.dms_to("UADA") if Action.INTEREST in buttons(m))
    with bot.db.session() as s:
        invite_id = s.exec(select(Nudge.id).where(Nudge.kind == "goal_invite")).one()
    bot.click(invite, Action.INTEREST, user="UADA", value=f"{invite_id}:1")  # a little
    bot.fake.wait_for_calls("chat.postEphemeral")
    dm = _manager_dm(bot)
    bot.click(dm, Action.LOG_CONVERSATION, user="UGRACE")
    modal = bot.opened_view()
    assert f"Why it matters, from <@USAM>:* {ESCAPED_WHY}" in json.dumps(modal["blocks"])
    values = {Block.WHAT: text_value("Negotiation basics"), Block.ORG_IMPORTANCE: radio_value("3")}
    bot.submit(modal, values, user="UGRACE")

    def updated() -> dict[str, Any] | None:
        message = next(m for m in bot.fake.dms_to("UGRACE") if m["ts"] == dm["ts"])
        return message if "Uphill" in str(message["blocks"]) else None

    text = json.dumps(eventually(updated)["blocks"])
    assert "Frame why it matters" in text
    assert f"*Why it matters, from <@USAM>:* {ESCAPED_WHY}" in text
    assert text.index("Frame why it matters") < text.index(ESCAPED_WHY)


# -- the L&D lead's App Home -----------------------------------------------------------------


def _home(bot: Bot, user: str = LEAD) -> dict[str, Any]:
    before = bot.fake.count("views.publish")
    bot.event({"type": "app_home_opened", "user": user, "tab": "home", "channel": "DH"})
    bot.fake.wait_for_calls("views.publish", before + 1)
    return bot.fake.home_views[user]


def test_an_ld_lead_edits_why_and_sponsor_from_the_app_home(bot: Bot) -> None:
    _people(bot)
    ada_and_grace(bot)
    home = _home(bot)
    text = json.dumps(home["blocks"])
    assert "Why our trainings matter" in text and "Coaching Skills" in text
    assert "No reason given yet" in text and "No sponsor named yet" in text
    bot.click(home, Action.EDIT_TRAINING, user=LEAD)
    modal = bot.opened_view()
    assert modal["callback_id"] == View.TRAINING

    too_long = {Block.TRAINING_WHY: text_value("x" * 501), Block.SPONSOR: user_value(None)}
    answer = bot.submit(modal, too_long, user=LEAD).json()
    assert answer["response_action"] == "errors"
    assert "500" in answer["errors"][Block.TRAINING_WHY]
    nobody = {Block.TRAINING_WHY: text_value(WHY), Block.SPONSOR: user_value("UNOBODY")}
    answer = bot.submit(modal, nobody, user=LEAD).json()
    assert set(answer["errors"]) == {Block.SPONSOR}
    assert _training(bot).why is None and _training(bot).sponsor_id is None

    published = bot.fake.count("views.publish")
    good = {Block.TRAINING_WHY: text_value(WHY), Block.SPONSOR: user_value("USAM")}
    assert bot.submit(modal, good, user=LEAD).json() in ({}, None)  # the modal closes
    training = _training(bot)
    assert training.why == WHY and training.sponsor_id == _person_id(bot, "USAM")
    bot.fake.wait_for_calls("views.publish", published + 1)  # the Home shows what was saved
    text = json.dumps(bot.fake.home_views[LEAD]["blocks"])
    assert ESCAPED_WHY in text and "Sponsor: <@USAM>" in text

    # The modal opens with what is stored; emptied, it clears both.
    bot.click(bot.fake.home_views[LEAD], Action.EDIT_TRAINING, user=LEAD)
    again = bot.opened_view()
    assert WHY in json.dumps(again["blocks"]) and "USAM" in json.dumps(again["blocks"])
    cleared = {Block.TRAINING_WHY: text_value(""), Block.SPONSOR: user_value(None)}
    bot.submit(again, cleared, user=LEAD)
    assert (_training(bot).why, _training(bot).sponsor_id) == (None, None)


def test_someone_not_an_ld_lead_can_neither_open_nor_submit_the_edit(bot: Bot) -> None:
    _people(bot)
    ada_and_grace(bot, why=WHY)
    assert Action.EDIT_TRAINING not in buttons(_home(bot, "UGRACE"))
    lead_home = _home(bot)
    bot.click(lead_home, Action.EDIT_TRAINING, user="UEVE")  # a forged click
    notice = bot.opened_view()
    assert notice["callback_id"] == View.NOTICE
    assert "Only L&D leads" in json.dumps(notice["blocks"])
    forged = {
        "type": "modal",
        "callback_id": View.TRAINING,
        "private_metadata": json.dumps({"training_id": _training(bot).id}),
    }
    values = {Block.TRAINING_WHY: text_value("Hijacked"), Block.SPONSOR: user_value("UEVE")}
    answer = bot.submit(forged, values, user="UEVE").json()
    assert answer["response_action"] == "update"
    assert "Only L&D leads" in json.dumps(answer["view"]["blocks"])
    assert _training(bot).why == WHY and _training(bot).sponsor_id is None


def test_a_sponsor_not_in_slack_yet_survives_an_edit_of_the_why(bot: Bot) -> None:
    """A sponsor named by email (from the CSV or the webhook) has no Slack id to show in the
    modal's select: saving the why with the select empty keeps them."""
    _people(bot)
    ada_and_grace(bot)
    with bot.db.session() as s:
        ines = Person(email="ines@example.org", name="Ines Vogel")
        s.add(ines)
        s.flush()
        training = s.exec(select(Training).where(Training.name == "Coaching Skills")).one()
        training.sponsor_id = ines.id
        s.add(training)
    bot.click(_home(bot), Action.EDIT_TRAINING, user=LEAD)
    modal = bot.opened_view()
    assert "Ines Vogel, who is not in Slack yet" in json.dumps(modal["blocks"])
    kept = {Block.TRAINING_WHY: text_value(WHY), Block.SPONSOR: user_value(None)}
    assert bot.submit(modal, kept, user=LEAD).json() in ({}, None)
    training = _training(bot)
    assert training.why == WHY and training.sponsor_id == _person_id_by_email(
        bot, "ines@example.org"
    )


def _person_id_by_email(bot: Bot, email: str) -> int | None:
    with bot.db.session() as s:
        return s.exec(select(Person.id).where(Person.email == email)).one()
