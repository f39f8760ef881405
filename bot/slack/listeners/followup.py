"""The follow-up's Success Case question answered in Slack, by the manager or the learner:
one click per subject records the answer, the optional modal adds the result (and consent)."""

from __future__ import annotations

import json
import logging
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient
from sqlmodel import Session

from bot.core import followup
from bot.core.answers import Refusal, clean_text
from bot.core.limits import ANSWER_TEXT_MAX
from bot.prompts import Prompts
from bot.services import Services
from bot.slack import blocks
from bot.slack.delivery import dm_after_change, nudge_context
from bot.slack.forms import metadata, state_values
from bot.slack.ids import CONSENT_OPTION_VALUE, Action, Block, View
from bot.slack.replies import (
    SLACK_FAILURES,
    actor_of,
    clicked_message,
    failure_reason,
    refusal_text,
    tell,
    update_dm,
)
from storage import crud
from storage.models import CaseAnswer, Nudge

log = logging.getLogger(__name__)

CASE_ACTIONS = {action: answer for answer, action in blocks.CASE_BUTTONS}
# Applied, Partly and Not yet, as migration 0010 maps the answers given with them.
EARLIER_ACTIONS = {
    Action.EARLIER_APPLIED: CaseAnswer.NO_CLEAR_RESULTS,
    Action.EARLIER_PARTLY: CaseAnswer.DIDNT_STICK,
    Action.EARLIER_NOT_YET: CaseAnswer.NOT_APPLIED,
}


def follow_up_dm(
    session: Session, nudge: Nudge, prompts: Prompts, default_tz: str
) -> dict[str, Any]:
    """A follow-up's DM as it stands: each subject's answer in place of its buttons (in a
    day's message about several, in that learner's part)."""
    bundle = dm_after_change(session, nudge, prompts, default_tz)
    if bundle is not None:
        return bundle
    closed = crud.record_of_nudge(session, nudge_id=nudge.id) is not None  # type: ignore[arg-type]
    return blocks.follow_up_message(nudge_context(session, nudge), prompts, closed=closed)


class FollowUpListeners:
    def __init__(self, services: Services) -> None:
        self.services = services

    def answer_click(
        self, ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient
    ) -> None:
        """One click records the answer about one subject and updates the DM; the modal that
        opens only adds what came of it. Closing the modal keeps the answer."""
        ack()
        actor = body["user"]["id"]
        prompts = self.services.prompts_for(actor_of(body))
        answer = CASE_ACTIONS[Action(action["action_id"])]
        nudge_id, _, subject = str(action.get("value") or "").partition(":")
        default_tz = self.services.settings.default_timezone
        try:
            with self.services.db.session() as session:
                done = followup.answer_case(
                    session,
                    nudge_id=nudge_id,
                    subject=subject,
                    answer=answer,
                    actor=actor,
                    now=self.services.clock(),
                )
                message = follow_up_dm(session, done.nudge, prompts, default_tz)
                ctx = nudge_context(session, done.nudge)
                case_id = done.case.id
        except Refusal as exc:
            tell(client, body, refusal_text(exc, prompts), prompts)
            return
        goal = next((g for g in ctx.goals if followup.goal_subject(g.id) == subject), None)
        meta = json.dumps({"case_id": case_id})
        view = blocks.case_modal(ctx, prompts, meta, answer=answer, goal=goal)
        try:
            # First: the trigger expires three seconds after the click, and this modal is
            # the one place to describe the result (and for a learner, to give consent).
            client.views_open(trigger_id=body["trigger_id"], view=view)
        except SLACK_FAILURES as exc:
            # The answer is stored; only the optional result is lost.
            log.info("case.modal_not_opened case=%s error=%s", case_id, failure_reason(exc))
        update_dm(client, done.nudge, message, also=clicked_message(body))
        self.services.refresh_home(actor)

    def earlier_click(
        self, ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient
    ) -> None:
        """Applied / Partly / Not yet on a follow-up sent before the Success Case question:
        the answer for each of its subjects, and the DM shows the question as it is now."""
        ack()
        actor = body["user"]["id"]
        prompts = self.services.prompts_for(actor_of(body))
        try:
            with self.services.db.session() as session:
                done = followup.answer_open_subjects(
                    session,
                    nudge_id=action.get("value"),
                    answer=EARLIER_ACTIONS[Action(action["action_id"])],
                    actor=actor,
                    now=self.services.clock(),
                )
                default_tz = self.services.settings.default_timezone
                message = follow_up_dm(session, done.nudge, prompts, default_tz)
        except Refusal as exc:
            tell(client, body, refusal_text(exc, prompts), prompts)
            return
        update_dm(client, done.nudge, message, also=clicked_message(body))
        self.services.refresh_home(actor)

    def submit_case(
        self, ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient
    ) -> None:
        """What result and how they know (and the learner's consent), on the answer the click
        stored; stored before the modal closes, so what the person saw close is kept."""
        values = state_values(view)
        result = clean_text(values.get(Block.RESULT))
        evidence = clean_text(values.get(Block.EVIDENCE))
        errors = {
            str(block_id): self.services.prompts_for(actor_of(body)).text(
                "validation.too_long", limit=ANSWER_TEXT_MAX
            )
            for block_id, value in ((Block.RESULT, result), (Block.EVIDENCE, evidence))
            if value and len(value) > ANSWER_TEXT_MAX
        }
        if errors:
            ack(response_action="errors", errors=errors)
            return
        with self.services.db.session() as session:
            followup.describe_case(
                session,
                case_id=metadata(view).get("case_id"),
                actor=body["user"]["id"],
                result=result,
                evidence=evidence,
                consent=CONSENT_OPTION_VALUE in (values.get(Block.CONSENT) or []),
            )
        ack()


def register(app: App, services: Services) -> None:
    listeners = FollowUpListeners(services)
    for action_id in CASE_ACTIONS:
        app.action(action_id)(listeners.answer_click)
    for action_id in EARLIER_ACTIONS:
        app.action(action_id)(listeners.earlier_click)
    app.view(View.CASE)(listeners.submit_case)
