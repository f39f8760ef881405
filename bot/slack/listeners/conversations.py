"""Manager prompts answered in Slack: log, snooze, not needed, thread replies (the
follow-up's answers are in listeners/followup.py)."""

from __future__ import annotations

import json
import logging
from datetime import date
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.core import answers
from bot.core.answers import Answer, Refusal, clean_text
from bot.core.limits import ANSWER_TEXT_MAX
from bot.prompts import Prompts
from bot.services import Services
from bot.slack import blocks
from bot.slack.delivery import dm_after_change, nudge_context
from bot.slack.forms import metadata, picked_date, state_values, text
from bot.slack.ids import Action, Block, View
from bot.slack.replies import (
    SLACK_FAILURES,
    actor_of,
    answered_dm,
    clicked_message,
    failure_reason,
    open_modal,
    refusal_text,
    tell,
    update_dm,
)
from storage.models import Nudge, NudgeKind, Outcome

log = logging.getLogger(__name__)


def _level(value: Any) -> int | None:
    return int(value) if value in ("1", "2", "3") else None


class ConversationListeners:
    def __init__(self, services: Services) -> None:
        self.services = services

    @property
    def _tz(self) -> str:
        return self.services.settings.default_timezone

    def _prompts(self, body: dict[str, Any]) -> Prompts:
        """Everything these handlers answer is read by the actor: in their language."""
        return self.services.prompts_for(actor_of(body))

    def _refuse(self, client: WebClient, body: dict[str, Any], exc: Refusal) -> None:
        prompts = self._prompts(body)
        tell(client, body, refusal_text(exc, prompts), prompts)

    # -- buttons ------------------------------------------------------------------------

    def open_prompt_modal(
        self, ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient
    ) -> None:
        """Log our conversation / Not needed: the recipient gets the modal, anyone else a no."""
        ack()
        try:
            with self.services.db.session() as session:
                nudge = answers.nudge_for_actor(session, action.get("value"), body["user"]["id"])
                ctx = nudge_context(session, nudge)
        except Refusal as exc:
            self._refuse(client, body, exc)
            return
        meta = json.dumps({"nudge_id": ctx.nudge_id, "from": clicked_message(body)})
        prompts = self._prompts(body)
        if action["action_id"] == Action.NOT_NEEDED:
            view = blocks.not_needed_modal(ctx, prompts, meta)
        elif ctx.kind == NudgeKind.DEBRIEF:
            view = blocks.debrief_modal(ctx, prompts, meta)
        else:
            view = blocks.pre_training_modal(ctx, prompts, meta)
        open_modal(client, body, view, prompts)

    def remind_tomorrow(
        self, ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient
    ) -> None:
        ack()
        actor, settings = body["user"]["id"], self.services.settings
        prompts = self._prompts(body)
        try:
            with self.services.db.session() as session:
                nudge, local = answers.snooze_for(
                    session,
                    nudge_id=action.get("value"),
                    actor=actor,
                    now=self.services.clock(),
                    rules=settings.rules,
                    default_tz=settings.default_timezone,
                )
                when = prompts.format_when(local)
                message = dm_after_change(session, nudge, prompts, settings.default_timezone)
                if message is None:
                    ctx = nudge_context(session, nudge)
                    message = blocks.snoozed_message(ctx, prompts, when)
                update_dm(client, nudge, message, also=clicked_message(body))
        except Refusal as exc:
            self._refuse(client, body, exc)
            return
        self.services.refresh_home(actor)

    # -- modals -------------------------------------------------------------------------

    def submit_pre_training(
        self, ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient
    ) -> None:
        values = state_values(view)
        answer = Answer(
            outcome=Outcome.LOGGED,
            what=clean_text(values.get(Block.WHAT)),
            why=clean_text(values.get(Block.WHY)),
            how=clean_text(values.get(Block.HOW)),
            org_importance=_level(values.get(Block.ORG_IMPORTANCE)),
            checkin_on=picked_date(values, Block.CHECKIN_ON),
        )
        prompts = self._prompts(body)
        errors = self._check_texts(values, (Block.WHAT, Block.WHY, Block.HOW), prompts)
        if answer.org_importance is None:
            errors[Block.ORG_IMPORTANCE] = prompts.text("validation.choose_one")
        self._check_checkin(values, errors, self.services.clock().date(), prompts)
        self._submit(ack, body, view, client, answer, errors)

    def submit_debrief(
        self, ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient
    ) -> None:
        values = state_values(view)
        answer = Answer(
            outcome=Outcome.LOGGED,
            takeaways=clean_text(values.get(Block.TAKEAWAYS)),
            first_application=clean_text(values.get(Block.FIRST_APPLICATION)),
            support=clean_text(values.get(Block.SUPPORT)),
            checkin_on=picked_date(values, Block.CHECKIN_ON),
        )
        ids = (Block.TAKEAWAYS, Block.FIRST_APPLICATION, Block.SUPPORT)
        prompts = self._prompts(body)
        errors = self._check_texts(values, ids, prompts)
        self._check_checkin(values, errors, self.services.clock().date(), prompts)
        self._submit(ack, body, view, client, answer, errors)

    def submit_not_needed(
        self, ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient
    ) -> None:
        reason = clean_text(state_values(view).get(Block.REASON))
        errors: dict[str, str] = {}
        if reason and len(reason) > ANSWER_TEXT_MAX:
            too_long = self._prompts(body).text("validation.too_long", limit=ANSWER_TEXT_MAX)
            errors[Block.REASON] = too_long
        answer = Answer(outcome=Outcome.NOT_NEEDED, note=reason)
        self._submit(ack, body, view, client, answer, errors)

    def _submit(
        self,
        ack: Ack,
        body: dict[str, Any],
        view: dict[str, Any],
        client: WebClient,
        answer: Answer,
        errors: dict[str, str],
    ) -> None:
        if errors:
            ack(response_action="errors", errors=errors)
            return
        actor = body["user"]["id"]
        meta = metadata(view)
        prompts = self._prompts(body)
        try:
            with self.services.db.session() as session:
                done = answers.answer_nudge(
                    session,
                    nudge_id=meta.get("nudge_id"),
                    actor=actor,
                    answer=answer,
                    now=self.services.clock(),
                )
                message = answered_dm(
                    session, done, prompts, self.services.settings.default_timezone
                )
        except Refusal as exc:
            notice = blocks.notice_modal(prompts, lines=[refusal_text(exc, prompts)])
            ack(response_action="update", view=notice)
            return
        ack()
        clicked = meta.get("from")
        also = (clicked[0], clicked[1]) if clicked else None
        with self.services.db.session() as session:
            # Read again: a prompt answered from App Home may have been in flight as a DM.
            fresh = session.get(Nudge, done.nudge.id)
        if fresh is not None:
            update_dm(client, fresh, message, also=also)
        self.services.refresh_home(actor)

    def _check_texts(
        self, values: dict[str, Any], ids: tuple[Block, ...], prompts: Prompts
    ) -> dict[str, str]:
        errors: dict[str, str] = {}
        for block_id in ids:
            if len(text(values, block_id)) > ANSWER_TEXT_MAX:
                errors[block_id] = prompts.text("validation.too_long", limit=ANSWER_TEXT_MAX)
        if not any(text(values, block_id) for block_id in ids):
            errors[ids[0]] = prompts.text("validation.at_least_one")
        return errors

    def _check_checkin(
        self, values: dict[str, Any], errors: dict[str, str], today: date, prompts: Prompts
    ) -> None:
        raw = values.get(Block.CHECKIN_ON)
        picked = picked_date(values, Block.CHECKIN_ON)
        if raw and picked is None:
            errors[Block.CHECKIN_ON] = prompts.text("ephemeral.bad_date", value=str(raw)[:40])
        elif picked is not None and picked < today:
            errors[Block.CHECKIN_ON] = prompts.text("validation.date_in_past")

    # -- thread replies -----------------------------------------------------------------

    def thread_reply(self, ack: Ack, event: dict[str, Any], client: WebClient) -> None:
        """A reply in a prompt's thread is a note on that prompt, recorded once (Slack's
        retry of an event already stored finds it there). Acknowledged once stored: a note
        the database could not take is sent again by Slack, not lost."""
        if event.get("channel_type") != "im" or event.get("subtype") or event.get("bot_id"):
            return
        thread_ts, channel, user = event.get("thread_ts"), event.get("channel"), event.get("user")
        reply = (event.get("text") or "").strip()
        if not thread_ts or thread_ts == event.get("ts") or not channel or not user or not reply:
            return
        with self.services.db.session() as session:
            noted = answers.record_thread_note(
                session,
                channel=channel,
                thread_ts=thread_ts,
                ts=event["ts"],
                author=user,
                text=reply,
                now=self.services.clock(),
            )
        ack()
        if noted is None:
            return
        if noted.nudge_id is None:
            prompts = self.services.prompts_for(user)
            self._ask_which_learner(client, channel, thread_ts, noted, prompts)
            return
        self._noted(client, channel, event["ts"], noted.nudge_id)

    def _noted(self, client: WebClient, channel: str, ts: str, nudge_id: int) -> None:
        try:
            client.reactions_add(channel=channel, timestamp=ts, name="memo")
        except SLACK_FAILURES as exc:
            if failure_reason(exc) != "already_reacted":
                log.warning("note.reaction_failed nudge=%s error=%s", nudge_id, failure_reason(exc))

    def _ask_which_learner(
        self,
        client: WebClient,
        channel: str,
        thread_ts: str,
        noted: answers.ThreadNote,
        prompts: Prompts,
    ) -> None:
        """A reply on a message about several learners that names none: a button each."""
        message = blocks.which_learner_message(noted.note_id, noted.choices, prompts)  # type: ignore[arg-type]
        try:
            client.chat_postMessage(channel=channel, thread_ts=thread_ts, **message)
        except SLACK_FAILURES as exc:
            log.warning("note.ask_failed note=%s error=%s", noted.note_id, failure_reason(exc))

    def note_for(
        self, ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient
    ) -> None:
        ack()
        prompts = self._prompts(body)
        note_id, _, nudge_id = str(action.get("value") or "").partition(":")
        with self.services.db.session() as session:
            placed = answers.assign_note(
                session, note_id=note_id, nudge_id=nudge_id, actor=body["user"]["id"]
            )
        if placed is None:
            tell(client, body, prompts.text("ephemeral.already_answered"), prompts)
            return
        clicked = clicked_message(body)
        if clicked:
            done = prompts.text("day.note_placed")
            try:
                client.chat_update(channel=clicked[0], ts=clicked[1], text=done, blocks=[])
            except SLACK_FAILURES as exc:
                log.info("note.ask_update_failed error=%s", failure_reason(exc))


def register(app: App, services: Services) -> None:
    listeners = ConversationListeners(services)
    for action_id in (Action.LOG_CONVERSATION, Action.NOT_NEEDED):
        app.action(action_id)(listeners.open_prompt_modal)
    app.action(Action.REMIND_TOMORROW)(listeners.remind_tomorrow)
    app.view(View.PRE_TRAINING)(listeners.submit_pre_training)
    app.view(View.DEBRIEF)(listeners.submit_debrief)
    app.view(View.NOT_NEEDED)(listeners.submit_not_needed)
    app.event("message")(listeners.thread_reply)
    app.action(Action.NOTE_FOR)(listeners.note_for)
