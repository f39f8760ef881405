"""Each person reads Coachbot in their Slack locale: DMs, modals, replies and App Home, through
the real app and the fake Slack (which refuses blocks Slack would refuse)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from support import Bot, Clock, dispatch_due, eventually, make_settings, start_bot

from bot.prompts import load_catalogues
from bot.runtime import make_digest
from bot.sim.driver import buttons, radio_value, text_value
from bot.sim.fakeslack import FakeSlack
from bot.slack import blocks
from bot.slack.client import make_client
from bot.slack.directory_sync import sync_from_slack
from bot.slack.ids import Action, Block, View
from storage import crud
from storage.db import Database

CATALOGUES = load_catalogues()
# A Slack locale for each shipped language, as Slack spells them.
SLACK_LOCALES = {"en": "en-US", "fr": "fr-FR", "de": "de-DE", "es": "es-ES", "pt-BR": "pt-BR"}
SLACK_LOCALES["ja"] = "ja-JP"
PRE = datetime(2026, 12, 3, 9, 31, tzinfo=UTC)  # Grace's pre-training prompt is due
ENROLLMENT = {
    "external_id": "lms-1",
    "learner_email": "ada@example.org",
    "manager_email": "grace@example.org",
    "training": "Coaching Skills",
    "starts_on": "2026-12-08",
    "ends_on": "2026-12-09",
}


def _people(bot: Bot, *, grace: str, ada: str = "en-US") -> None:
    """Ada and her manager Grace in Slack with these locales, read by the directory sync
    (users.list with include_locale), and Ada enrolled by the LMS."""
    bot.fake.add_user("UADA", email="ada@example.org", real_name="Ada", tz="UTC", locale=ada)
    bot.fake.add_user(
        "UGRACE", email="grace@example.org", real_name="Grace", tz="UTC", locale=grace
    )
    sync_from_slack(
        bot.db, bot.services.client, rules=bot.settings.rules, default_tz="UTC", clock=bot.clock
    )
    assert bot.webhook(ENROLLMENT).status == 201


def _prompt(bot: Bot) -> dict[str, Any]:
    bot.clock.set(PRE)
    dispatch_due(bot)
    (dm,) = [m for m in bot.fake.dms_to("UGRACE") if Action.LOG_CONVERSATION in buttons(m)]
    return dm


def _header(message: dict[str, Any]) -> str:
    return str(message["blocks"][0]["text"]["text"])


def _words(node: Any) -> str:
    """Every text of a message or view, as a person reads them, one per line."""
    if isinstance(node, dict):
        own = [node["text"]] if isinstance(node.get("text"), str) else []
        return "\n".join([*own, *(_words(v) for v in node.values() if not isinstance(v, str))])
    if isinstance(node, list):
        return "\n".join(_words(v) for v in node)
    return ""


@pytest.mark.parametrize("language", list(SLACK_LOCALES))
def test_a_manager_reads_the_prompt_its_modal_the_answer_and_home_in_their_language(
    bot: Bot, language: str
) -> None:
    prompts = CATALOGUES.for_locale(SLACK_LOCALES[language])
    _people(bot, grace=SLACK_LOCALES[language])
    dm = _prompt(bot)  # the fake Slack validated its blocks, or it would not be here
    assert _header(dm) == prompts.text(
        "pre_training.title", learner_name="Ada", training="Coaching Skills"
    )
    assert prompts.format_dates(date(2026, 12, 8), date(2026, 12, 9)) in _words(dm["blocks"])
    log = buttons(dm)[Action.LOG_CONVERSATION]
    assert log["text"]["text"] == prompts.text("buttons.log_conversation")

    # Someone else clicks it: the refusal is theirs to read, in DEFAULT_LOCALE (Eve is not
    # in the directory), whatever Grace's language.
    bot.click(dm, Action.LOG_CONVERSATION, user="UEVE")
    refusal = eventually(lambda: bot.fake.ephemerals)[-1]
    owner = blocks.mention("UGRACE", "Grace")
    assert refusal["text"] == blocks.ephemeral_text(
        "not_your_prompt", CATALOGUES.default, owner=owner
    )

    bot.click(dm, Action.LOG_CONVERSATION, user="UGRACE")
    view = bot.opened_view()  # views.open validated the modal, its title within 24 chars
    assert view["callback_id"] == View.PRE_TRAINING
    assert view["title"]["text"] == prompts.text("pre_training_modal.title")
    errors = bot.submit(view, {Block.ORG_IMPORTANCE: radio_value("2")}, user="UGRACE").json()
    assert errors["errors"][Block.WHAT] == prompts.text("validation.at_least_one")
    values = {Block.WHAT: text_value("Better 1:1s"), Block.ORG_IMPORTANCE: radio_value("3")}
    bot.submit(view, values, user="UGRACE")
    logged = prompts.text("answered.logged", by=prompts.text("format.mention_by", who="<@UGRACE>"))
    bot.fake.wait_for_calls("chat.update")  # the DM, updated in place
    updated = next(m for m in bot.fake.dms_to("UGRACE") if m["ts"] == dm["ts"])
    assert logged in _words(updated["blocks"])

    bot.event({"type": "app_home_opened", "user": "UGRACE", "tab": "home"})
    home = eventually(lambda: bot.fake.home_views.get("UGRACE"))
    assert prompts.text("home.reports_trainings") in _words(home["blocks"])


def test_a_learner_and_their_manager_each_read_their_own_language(bot: Bot) -> None:
    ja, fr = CATALOGUES.for_locale("ja-JP"), CATALOGUES.for_locale("fr-FR")
    _people(bot, grace="fr-FR", ada="ja-JP")
    bot.clock.set(datetime(2026, 12, 1, 9, 31, tzinfo=UTC))  # the goal invite is due
    dispatch_due(bot)
    (invite,) = bot.fake.dms_to("UADA")
    assert _header(invite) == ja.text("goal_invite.title", training="Coaching Skills")

    response = bot.command("/goal", "Ask before advising", user="UADA")
    assert response.status == 200
    reply = eventually(lambda: bot.fake.responses)[-1]
    assert reply["text"] == ja.text("ephemeral.goal_saved", training="Coaching Skills")
    # The goal goes to the manager, written for her: in French, not in Ada's Japanese.
    shared = eventually(lambda: [m for m in bot.fake.dms_to("UGRACE") if "Ask before" in str(m)])
    assert shared[-1]["text"] == fr.text("goal_shared.title", learner_name="Ada")
    assert fr.text("goal_shared.footer") in _words(shared[-1]["blocks"])


def test_after_user_change_the_next_message_comes_in_the_new_language(bot: Bot) -> None:
    en, de = CATALOGUES.for_locale("en-US"), CATALOGUES.for_locale("de-DE")
    _people(bot, grace="en-US")
    assert bot.command("/goal", "help", user="UGRACE").text == en.text("ephemeral.goal_usage")

    user = bot.fake.set_locale("UGRACE", "de-DE")  # Grace switches Slack to German
    assert bot.event({"type": "user_change", "user": user}).status == 200
    eventually(lambda: _locale(bot, "UGRACE") == "de-DE")
    assert bot.command("/goal", "help", user="UGRACE").text == de.text("ephemeral.goal_usage")
    dm = _prompt(bot)  # the next DM
    assert _header(dm) == de.text(
        "pre_training.title", learner_name="Ada", training="Coaching Skills"
    )
    # A user object without a locale (as users.lookupByEmail answers) keeps the one on record.
    user = {k: v for k, v in bot.fake.users["UGRACE"].items() if k != "locale"}
    bot.event({"type": "user_change", "user": {**user, "tz": "Europe/Berlin"}})
    eventually(lambda: _tz(bot, "UGRACE") == "Europe/Berlin")
    assert _locale(bot, "UGRACE") == "de-DE"


def _locale(bot: Bot, slack_id: str) -> str | None:
    with bot.db.session() as s:
        person = crud.person_by_slack_id(s, slack_id=slack_id)
        return person.locale if person else None


def _tz(bot: Bot, slack_id: str) -> str | None:
    with bot.db.session() as s:
        person = crud.person_by_slack_id(s, slack_id=slack_id)
        return person.tz if person else None


def test_a_locale_coachbot_does_not_ship_reads_default_locale(
    fake: FakeSlack, db: Database, clock: Clock, db_url: str
) -> None:
    bot, server = start_bot(fake, db, clock, db_url, default_locale="es")
    try:
        _people(bot, grace="it-IT")  # Italian: not shipped
        es = CATALOGUES.for_locale("es")
        dm = _prompt(bot)
        assert _header(dm) == es.text(
            "pre_training.title", learner_name="Ada", training="Coaching Skills"
        )
        assert "mar, 8 dic" in _words(dm["blocks"])  # and Spanish dates, not Italian ones
    finally:
        server.close()


def test_the_directory_keeps_the_locale_slack_gave_it(bot: Bot) -> None:
    _people(bot, grace="pt-BR")
    assert {c.params.get("include_locale") for c in bot.fake.calls_to("users.list")} == {"1"}
    assert _locale(bot, "UGRACE") == "pt-BR"
    bot.fake.add_user("UNEW", email="new@example.org", real_name="New", locale="ja-JP")
    body = {**ENROLLMENT, "external_id": "lms-2", "learner_slack_id": "UNEW"}
    body.pop("learner_email")
    assert bot.webhook(body).status == 201  # found with users.info, include_locale
    assert _locale(bot, "UNEW") == "ja-JP"


def test_the_digest_goes_to_ld_channel_in_ld_locale_and_to_each_lead_in_theirs(
    fake: FakeSlack, db: Database, clock: Clock
) -> None:
    fake.add_user("ULEADFR", real_name="Léa", email="lea@example.org", locale="fr-FR")
    fake.add_user("ULEADXX", real_name="Kim", email="kim@example.org", locale="ko-KR")
    client = make_client("xoxb-test", fake.api_url, rate_limit_retries=0)
    leads = frozenset({"ULEADFR", "ULEADXX"})
    settings = make_settings(fake, db.url, ld_leads=leads, default_locale="de")
    sync_from_slack(db, client, rules=settings.rules, default_tz="UTC", clock=clock)
    digest = make_digest(settings, db, client, load_catalogues(default_locale="de"), clock=clock)
    assert digest.tick() is None  # the first start, Monday 23 Nov after 09:00
    clock.set(datetime(2026, 11, 30, 9, 0, 30, tzinfo=UTC))  # next Monday: the digest is due
    assert digest.tick() == "2026-W49"
    french = CATALOGUES.for_locale("fr-FR").text("digest.title", week="2026-W48")
    german = CATALOGUES.for_locale("de").text("digest.title", week="2026-W48")
    titles = {
        lead: [_words(m["blocks"]) for m in fake.dms_to(lead) if not m.get("files")]
        for lead in sorted(leads)
    }
    assert french in titles["ULEADFR"][0]
    assert german in titles["ULEADXX"][0]  # Korean is not shipped: DEFAULT_LOCALE

    channel = make_settings(fake, db.url, ld_channel="C0LEARNING", ld_locale="ja")
    clock.set(datetime(2026, 12, 7, 9, 0, 30, tzinfo=UTC))
    assert make_digest(channel, db, client, load_catalogues(), clock=clock).tick() == "2026-W50"
    japanese = CATALOGUES.for_locale("ja").text("digest.title", week="2026-W49")
    posted = [m for m in fake.messages_in("C0LEARNING") if not m.get("files")]
    assert japanese in _words(posted[0]["blocks"])
