"""`/goal`: learners share, list, edit and delete application goals; the goal invite's buttons."""

from __future__ import annotations

import json
import logging
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient
from sqlmodel import Session

from bot.core import answers, goals
from bot.core.answers import Refusal
from bot.core.goals import GoalError, GoalField, Saved
from bot.core.limits import GOAL_TEXT_MAX
from bot.prompts import Prompts
from bot.services import Services
from bot.slack import blocks
from bot.slack.forms import metadata, state_values, text
from bot.slack.ids import SHARE_OPTION_VALUE, Action, Block, View
from bot.slack.replies import SLACK_FAILURES, actor_of, failure_reason, refusal_text, tell
from storage import crud
from storage.models import Goal, Person

log = logging.getLogger(__name__)

_BLOCKS = {
    GoalField.TEXT: Block.GOAL_TEXT,
    GoalField.MEASURE: Block.GOAL_MEASURE,
    GoalField.ENROLLMENT: Block.ENROLLMENT,
}
_HELP = ("help", "-h", "--help", "?")


class ModalFailed(Exception):
    """Slack did not open the goal modal; the person is told to try again."""


class GoalListeners:
    def __init__(self, services: Services) -> None:
        self.services = services

    # -- what the handlers share --------------------------------------------------------

    def _prompts(self, body: dict[str, Any]) -> Prompts:
        """What these handlers answer is read by the actor (the learner): their language."""
        return self.services.prompts_for(actor_of(body))

    def _error_text(self, exc: GoalError, prompts: Prompts) -> str:
        return prompts.text(exc.key, **exc.values)

    def _saved_reply(self, saved: Saved, prompts: Prompts) -> str:
        key = "goal_saved" if saved.goal.shared else "goal_saved_private"
        return blocks.ephemeral_text(key, prompts, training=saved.training.name)

    def _after_save(self, actor: str, saved: Saved) -> None:
        if saved.share_nudge_id is not None:
            # Into the manager's day's message: at once, in place, or with the next one.
            self.services.deliver_now([saved.share_nudge_id])
        self.services.refresh_home(actor)

    def _goal_list(self, session: Session, learner: Person) -> dict[str, Any]:
        rows = goals.goals_of(session, learner)
        views = [(blocks.GoalView(g.id, g.text, g.measure, g.shared), t.name) for g, t in rows]  # type: ignore[arg-type]
        return blocks.goal_list_message(views, self.services.catalogues.for_locale(learner.locale))

    def _open_goal_modal(
        self,
        client: WebClient,
        trigger_id: str,
        learner: Person,
        session: Session,
        *,
        enrollment_id: int | None = None,
        goal: Goal | None = None,
        goal_text: str = "",
    ) -> bool:
        today = self.services.clock().date()
        offer = goals.modal_choices(session, learner, today, enrollment_id=enrollment_id, goal=goal)
        if offer is None:
            return False
        view = blocks.goal_modal(
            self.services.catalogues.for_locale(learner.locale),
            json.dumps(offer.meta),
            offer.choices,
            offer.selected,
            text=goal.text if goal else goal_text,
            measure=(goal.measure or "") if goal else "",
            share=goal.shared if goal else learner.share_goals,
        )
        try:
            client.views_open(trigger_id=trigger_id, view=view)
        except SLACK_FAILURES as exc:
            log.warning("goal.modal_not_opened error=%s", failure_reason(exc))
            raise ModalFailed from exc
        return True

    # -- /goal --------------------------------------------------------------------------

    def goal_command(
        self, ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond
    ) -> None:
        arg = (body.get("text") or "").strip()
        actor = body["user_id"]
        prompts = self._prompts(body)
        if arg.lower() in _HELP:
            ack(text=prompts.text("ephemeral.goal_usage"))
            return
        if len(arg) > GOAL_TEXT_MAX:
            ack(text=prompts.text("ephemeral.goal_too_long", length=len(arg), limit=GOAL_TEXT_MAX))
            return
        ack()
        with self.services.db.session() as session:
            learner = crud.upsert_person(session, slack_id=actor)
            if arg.lower() == "list":
                respond(response_type="ephemeral", **self._goal_list(session, learner))
                return
            reply = self._goal_command(session, body, client, learner, arg)
        if reply is None:
            return
        text_, saved = reply
        respond(response_type="ephemeral", text=text_)
        if saved is not None:
            self._after_save(actor, saved)

    def _goal_command(
        self, session: Session, body: dict[str, Any], client: WebClient, learner: Person, arg: str
    ) -> tuple[str, Saved | None] | None:
        """What `/goal text` answers: a reply and the goal saved, or None when a modal opened."""
        prompts = self.services.catalogues.for_locale(learner.locale)
        choices = goals.enrollment_choices(session, learner, self.services.clock().date())
        if not choices:
            return prompts.text("ephemeral.goal_no_enrollment"), None
        if not arg or len(choices) > 1:
            try:
                self._open_goal_modal(client, body["trigger_id"], learner, session, goal_text=arg)
            except ModalFailed:
                return prompts.text("ephemeral.error"), None
            return None
        try:
            saved = goals.save(
                session,
                learner,
                enrollment_id=choices[0][0],
                text=arg,
                measure=None,
                share=learner.share_goals,
                now=self.services.clock(),
            )
        except GoalError as exc:
            return self._error_text(exc, prompts), None
        return self._saved_reply(saved, prompts), saved

    # -- the goal modal -----------------------------------------------------------------

    def submit_goal(
        self, ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient
    ) -> None:
        actor = body["user"]["id"]
        values = state_values(view)
        meta = metadata(view)
        prompts = self._prompts(body)
        try:
            with self.services.db.session() as session:
                saved = goals.save(
                    session,
                    crud.upsert_person(session, slack_id=actor),
                    enrollment_id=meta.get("enrollment_id") or values.get(Block.ENROLLMENT),
                    text=text(values, Block.GOAL_TEXT),
                    measure=text(values, Block.GOAL_MEASURE) or None,
                    share=SHARE_OPTION_VALUE in (values.get(Block.SHARE) or []),
                    now=self.services.clock(),
                    goal_id=meta.get("goal_id"),
                )
                reply = self._saved_reply(saved, prompts)
        except GoalError as exc:
            # An error is shown under an input of this modal; the rest go under the goal.
            block = _BLOCKS[exc.field] if _BLOCKS[exc.field] in values else Block.GOAL_TEXT
            ack(response_action="errors", errors={block: self._error_text(exc, prompts)})
            return
        ack(response_action="update", view=blocks.notice_modal(prompts, lines=[reply]))
        self._after_save(actor, saved)

    # -- buttons ------------------------------------------------------------------------

    def share_goal_button(
        self, ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient
    ) -> None:
        ack()
        actor = body["user"]["id"]
        try:
            with self.services.db.session() as session:
                nudge = answers.nudge_for_actor(
                    session, action.get("value"), actor, for_answer=False
                )
                learner = crud.person_by_slack_id(session, slack_id=actor)
                assert learner is not None
                opened = self._open_goal_modal(
                    client, body["trigger_id"], learner, session, enrollment_id=nudge.enrollment_id
                )
        except Refusal as exc:
            prompts = self._prompts(body)
            tell(client, body, refusal_text(exc, prompts), prompts)
            return
        except ModalFailed:
            prompts = self._prompts(body)
            tell(client, body, prompts.text("ephemeral.error"), prompts)
            return
        if not opened:
            prompts = self._prompts(body)
            tell(client, body, prompts.text("ephemeral.goal_no_enrollment"), prompts)

    def interest(
        self, ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient
    ) -> None:
        ack()
        raw = (action.get("selected_option") or {}).get("value") or ""
        nudge_id, _, level = raw.partition(":")
        if level not in ("1", "2", "3"):
            return
        try:
            with self.services.db.session() as session:
                answers.set_interest(
                    session,
                    nudge_id=nudge_id,
                    actor=body["user"]["id"],
                    level=int(level),
                    now=self.services.clock(),
                )
        except Refusal as exc:
            prompts = self._prompts(body)
            tell(client, body, refusal_text(exc, prompts), prompts)
            return
        prompts = self._prompts(body)
        tell(client, body, prompts.text("ephemeral.interest_noted"), prompts)

    def edit_goal(
        self, ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient
    ) -> None:
        ack()
        with self.services.db.session() as session:
            learner = crud.person_by_slack_id(session, slack_id=body["user"]["id"])
            goal = goals.own_goal(session, action.get("value"), learner)
            prompts = self._prompts(body)
            if goal is None or learner is None:
                tell(client, body, prompts.text("ephemeral.goal_not_found"), prompts)
                return
            try:
                self._open_goal_modal(client, body["trigger_id"], learner, session, goal=goal)
            except ModalFailed:
                tell(client, body, prompts.text("ephemeral.error"), prompts)

    def delete_goal(
        self,
        ack: Ack,
        body: dict[str, Any],
        action: dict[str, Any],
        client: WebClient,
        respond: Respond,
    ) -> None:
        ack()
        actor = body["user"]["id"]
        with self.services.db.session() as session:
            learner = crud.person_by_slack_id(session, slack_id=actor)
            if not goals.delete(session, action.get("value"), learner, now=self.services.clock()):
                prompts = self._prompts(body)
                tell(client, body, prompts.text("ephemeral.goal_not_found"), prompts)
                return
            listing = self._goal_list(session, learner)  # type: ignore[arg-type]
        if body.get("response_url"):
            respond(replace_original=True, **listing)
        else:
            prompts = self._prompts(body)
            tell(client, body, prompts.text("ephemeral.goal_deleted"), prompts)
        self.services.refresh_home(actor)


def register(app: App, services: Services) -> None:
    listeners = GoalListeners(services)
    app.command("/goal")(listeners.goal_command)
    app.view(View.GOAL)(listeners.submit_goal)
    app.action(Action.SHARE_GOAL)(listeners.share_goal_button)
    app.action(Action.INTEREST)(listeners.interest)
    app.action(Action.EDIT_GOAL)(listeners.edit_goal)
    app.action(Action.DELETE_GOAL)(listeners.delete_goal)
