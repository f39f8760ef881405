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


class HomeListeners:
    def __init__(self, services: Services) -> None:
        self.services = services

    def home_opened(self, ack: Ack, event: dict[str, Any], client: WebClient) -> None:
        """The tab is read from the database before the ack and published after it: with
        the database unreachable, Slack is not told it was handled, and sends it again."""
        if event.get("tab", "home") != "home":
            return
        view = build_home(self.services, event["user"])
        ack()
        _publish(client, event["user"], view)

    def turn_page(
        self, ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient
    ) -> None:
        """ "Next" or "Previous" under the open prompts: the same tab, another page."""
        ack()
        actor = actor_of(body)
        start = int(action["value"]) if str(action.get("value", "")).isdigit() else 0
        _publish(client, actor, build_home(self.services, actor, start))

    def toggle_sharing(self, ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        actor = body["user"]["id"]
        on = action.get("value") == "on"
        with self.services.db.session() as session:
            person = crud.upsert_person(session, slack_id=actor)
            person.share_goals = on
            session.add(person)
        log.info("goals.sharing user=%s on=%s", actor, on)
        self.services.refresh_home(actor)

    def forget_me(self, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        prompts = self.services.prompts_for(actor_of(body))
        open_modal(client, body, blocks.forget_me_modal(prompts), prompts)

    def confirm_forget(self, ack: Ack, body: dict[str, Any]) -> None:
        actor = body["user"]["id"]
        # Read before the row forgets the locale, with everything else about them.
        prompts = self.services.prompts_for(actor)
        forget_person(self.services.db, actor, now=self.services.clock())
        ack(
            response_action="update",
            view=blocks.notice_modal(prompts, lines=[prompts.text("ephemeral.forgotten")]),
        )
        self.services.refresh_home(actor)


def _publish(client: WebClient, user_id: str, view: dict[str, Any]) -> None:
    try:
        client.views_publish(user_id=user_id, view=view)
    except SLACK_FAILURES as exc:
        log.warning("home.publish_failed user=%s error=%s", user_id, failure_reason(exc))


def register(app: App, services: Services) -> None:
    listeners = HomeListeners(services)
    app.event("app_home_opened")(listeners.home_opened)
    app.action(Action.HOME_PAGE)(listeners.turn_page)
    app.action(Action.TOGGLE_SHARING)(listeners.toggle_sharing)
    app.action(Action.FORGET_ME)(listeners.forget_me)
    app.view(View.FORGET_ME)(listeners.confirm_forget)
