"""App Home: published when opened and after each action; goal sharing and "delete my data"."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.core.privacy import forget_person
from bot.services import Services
from bot.slack import blocks
from bot.slack.home import build_home
from bot.slack.ids import Action, View
from bot.slack.replies import SLACK_FAILURES, actor_of, failure_reason, open_modal
from storage import crud

log = logging.getLogger(__name__)


def register(app: App, services: Services) -> None:
    @app.event("app_home_opened")
    def home_opened(ack: Ack, event: dict[str, Any], client: WebClient) -> None:
        """The tab is read from the database before the ack and published after it: with
        the database unreachable, Slack is not told it was handled, and sends it again."""
        if event.get("tab", "home") != "home":
            return
        view = build_home(services, event["user"])
        ack()
        try:
            client.views_publish(user_id=event["user"], view=view)
        except SLACK_FAILURES as exc:
            log.warning("home.publish_failed user=%s error=%s", event["user"], failure_reason(exc))

    @app.action(Action.TOGGLE_SHARING)
    def toggle_sharing(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        actor = body["user"]["id"]
        on = action.get("value") == "on"
        with services.db.session() as session:
            person = crud.upsert_person(session, slack_id=actor)
            person.share_goals = on
            session.add(person)
        log.info("goals.sharing user=%s on=%s", actor, on)
        services.refresh_home(actor)

    @app.action(Action.FORGET_ME)
    def forget_me(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        prompts = services.prompts_for(actor_of(body))
        open_modal(client, body, blocks.forget_me_modal(prompts), prompts)

    @app.view(View.FORGET_ME)
    def confirm_forget(ack: Ack, body: dict[str, Any]) -> None:
        actor = body["user"]["id"]
        # Read before the row forgets the locale, with everything else about them.
        prompts = services.prompts_for(actor)
        forget_person(services.db, actor, now=services.clock())
        ack(
            response_action="update",
            view=blocks.notice_modal(prompts, lines=[prompts.text("ephemeral.forgotten")]),
        )
        services.refresh_home(actor)
