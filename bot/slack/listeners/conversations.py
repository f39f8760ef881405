"""Manager prompts answered in Slack: log, snooze, not needed, follow-up, thread replies."""

from __future__ import annotations

import json
import logging
from datetime import date
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from bot.core.answers import (
    MAX_TEXT,
    Answer,
    Refusal,
    answered_dm,
    clean_text,
    nudge_for_actor,
    record_answer,
    snooze,
    update_dm,
)
from bot.services import Services
from bot.slack import blocks
from bot.slack.delivery import nudge_context
from bot.slack.forms import metadata, picked_date, state_values, text
from bot.slack.ids import Action, Block, View
from bot.slack.replies import SLACK_FAILURES, clicked_message, failure_reason, open_modal, tell
from scheduler.planning import zone
from storage import crud
from storage.models import (
    ConversationRecord,
    Note,
    Nudge,
    NudgeKind,
    NudgeStatus,
    Outcome,
    Person,
)

log = logging.getLogger(__name__)

FOLLOW_UP_ACTIONS = {
    Action.APPLIED: Outcome.APPLIED,
    Action.PARTLY: Outcome.PARTLY,
    Action.NOT_YET: Outcome.NOT_YET,
}
MAX_NOTE = 4000


def register(app: App, services: Services) -> None:
    prompts = services.prompts
    settings = services.settings

    def refuse(client: WebClient, body: dict[str, Any], exc: Refusal) -> None:
        tell(client, body, str(exc), prompts)

    # -- buttons ------------------------------------------------------------------------

    def modal_for(kind: str, ctx: blocks.NudgeContext, meta: str) -> dict[str, Any]:
        if kind == Action.NOT_NEEDED:
            return blocks.not_needed_modal(ctx, prompts, meta)
        if ctx.kind == NudgeKind.DEBRIEF:
            return blocks.debrief_modal(ctx, prompts, meta)
        return blocks.pre_training_modal(ctx, prompts, meta)

    def open_prompt_modal(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient
    ) -> None:
        """Log our conversation / Not needed: the recipient gets the modal, anyone else a no."""
        ack()
        actor = body["user"]["id"]
        try:
            with services.db.session() as session:
                nudge = nudge_for_actor(session, action.get("value"), actor, prompts)
                ctx = nudge_context(session, nudge)
        except Refusal as exc:
            refuse(client, body, exc)
            return
        meta = json.dumps({"nudge_id": ctx.nudge_id, "from": clicked_message(body)})
        open_modal(client, body, modal_for(action["action_id"], ctx, meta), prompts)

    for action_id in (Action.LOG_CONVERSATION, Action.NOT_NEEDED):
        app.action(action_id)(open_prompt_modal)

    @app.action(Action.REMIND_TOMORROW)
    def remind_tomorrow(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient
    ) -> None:
        ack()
        actor = body["user"]["id"]
        now = services.clock()
        try:
            with services.db.session() as session:
                nudge = nudge_for_actor(session, action.get("value"), actor, prompts)
                if nudge.status != NudgeStatus.SENT:
                    raise Refusal(prompts.text("ephemeral.already_answered"))
                due = snooze(
                    session,
                    nudge,
                    now=now,
                    rules=settings.rules,
                    default_tz=settings.default_timezone,
                )
                recipient = session.get(Person, nudge.recipient_id)
                local = due.astimezone(
                    zone(recipient.tz if recipient else None, settings.default_timezone)
                )
                when = f"{prompts.format_date(local.date())} {local:%H:%M}"
                message = blocks.snoozed_message(nudge_context(session, nudge), prompts, when)
                update_dm(client, session, nudge, message, also=clicked_message(body))
        except Refusal as exc:
            refuse(client, body, exc)
            return
        services.refresh_home(actor)

    def follow_up_click(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient
    ) -> None:
        """One click records the answer; the modal that opens only adds an optional note."""
        ack()
        actor = body["user"]["id"]
        outcome = FOLLOW_UP_ACTIONS[Action(action["action_id"])]
        now = services.clock()
        try:
            with services.db.session() as session:
                nudge = nudge_for_actor(session, action.get("value"), actor, prompts)
                person = crud.person_by_slack_id(session, slack_id=actor)
                assert person is not None
                record = record_answer(
                    session, nudge, Answer(outcome=outcome), actor=person, now=now
                )
                if record is None:
                    raise Refusal(prompts.text("ephemeral.already_answered"))
                message = answered_dm(session, nudge, record, person, prompts)
                update_dm(client, session, nudge, message, also=clicked_message(body))
                ctx = nudge_context(session, nudge)
        except Refusal as exc:
            refuse(client, body, exc)
            return
        meta = json.dumps({"nudge_id": ctx.nudge_id, "outcome": outcome.value})
        try:
            client.views_open(
                trigger_id=body["trigger_id"],
                view=blocks.follow_up_modal(ctx, prompts, meta, outcome),
            )
        except SLACK_FAILURES as exc:
            # The answer is stored; the optional note is what is lost, and the DM says so.
            log.info("follow_up.note_modal_not_opened error=%s", failure_reason(exc))
        services.refresh_home(actor)

    for action_id in FOLLOW_UP_ACTIONS:
        app.action(action_id)(follow_up_click)

    # -- modals -------------------------------------------------------------------------

    @app.view(View.PRE_TRAINING)
    def submit_pre_training(
        ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient
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
        errors = _check_texts(values, (Block.WHAT, Block.WHY, Block.HOW))
        if answer.org_importance is None:
            errors[Block.ORG_IMPORTANCE] = prompts.text("validation.choose_one")
        _check_checkin(values, errors, services.clock().date())
        _submit(ack, body, view, client, answer, errors)

    @app.view(View.DEBRIEF)
    def submit_debrief(
        ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient
    ) -> None:
        values = state_values(view)
        answer = Answer(
            outcome=Outcome.LOGGED,
            takeaways=clean_text(values.get(Block.TAKEAWAYS)),
            first_application=clean_text(values.get(Block.FIRST_APPLICATION)),
            support=clean_text(values.get(Block.SUPPORT)),
            checkin_on=picked_date(values, Block.CHECKIN_ON),
        )
        errors = _check_texts(values, (Block.TAKEAWAYS, Block.FIRST_APPLICATION, Block.SUPPORT))
        _check_checkin(values, errors, services.clock().date())
        _submit(ack, body, view, client, answer, errors)

    @app.view(View.NOT_NEEDED)
    def submit_not_needed(
        ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient
    ) -> None:
        values = state_values(view)
        reason = clean_text(values.get(Block.REASON))
        errors: dict[str, str] = {}
        if reason and len(reason) > MAX_TEXT:
            errors[Block.REASON] = prompts.text("validation.too_long", limit=MAX_TEXT)
        _submit(ack, body, view, client, Answer(outcome=Outcome.NOT_NEEDED, note=reason), errors)

    @app.view(View.FOLLOW_UP)
    def submit_follow_up_note(
        ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient
    ) -> None:
        values = state_values(view)
        note = clean_text(values.get(Block.NOTE))
        if note and len(note) > MAX_TEXT:
            ack(
                response_action="errors",
                errors={Block.NOTE: prompts.text("validation.too_long", limit=MAX_TEXT)},
            )
            return
        actor = body["user"]["id"]
        stored: int | None = None
        if note:
            # Stored before the modal closes: once the person sees it close, the note is kept.
            with services.db.session() as session:
                try:
                    nudge = nudge_for_actor(
                        session, metadata(view).get("nudge_id"), actor, prompts, for_answer=False
                    )
                except Refusal:
                    nudge = None
                record = None
                if nudge is not None:
                    record = session.exec(
                        select(ConversationRecord).where(ConversationRecord.nudge_id == nudge.id)
                    ).first()
                if nudge is not None and record is not None and not record.note:
                    record.note = note
                    session.add(record)
                    stored = nudge.id
        ack()
        if stored is None:
            return
        with services.db.session() as session:
            nudge = session.get(Nudge, stored)
            record = session.exec(
                select(ConversationRecord).where(ConversationRecord.nudge_id == stored)
            ).first()
            person = crud.person_by_slack_id(session, slack_id=actor)
            if nudge is None or record is None or person is None:
                return
            update_dm(client, session, nudge, answered_dm(session, nudge, record, person, prompts))

    def _submit(
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
        now = services.clock()
        try:
            with services.db.session() as session:
                nudge = nudge_for_actor(session, meta.get("nudge_id"), actor, prompts)
                person = crud.person_by_slack_id(session, slack_id=actor)
                assert person is not None
                record = record_answer(session, nudge, answer, actor=person, now=now)
                if record is None:
                    raise Refusal(prompts.text("ephemeral.already_answered"))
                message = answered_dm(session, nudge, record, person, prompts)
        except Refusal as exc:
            ack(response_action="update", view=blocks.notice_modal(prompts, lines=[str(exc)]))
            return
        ack()
        clicked = meta.get("from")
        with services.db.session() as session:
            fresh = session.get(Nudge, nudge.id)
            if fresh is not None:
                update_dm(client, session, fresh, message, also=tuple(clicked) if clicked else None)  # type: ignore[arg-type]
        services.refresh_home(actor)

    def _check_texts(values: dict[str, Any], ids: tuple[Block, ...]) -> dict[str, str]:
        errors: dict[str, str] = {}
        for block_id in ids:
            if len(text(values, block_id)) > MAX_TEXT:
                errors[block_id] = prompts.text("validation.too_long", limit=MAX_TEXT)
        if not any(text(values, block_id) for block_id in ids):
            errors[ids[0]] = prompts.text("validation.at_least_one")
        return errors

    def _check_checkin(values: dict[str, Any], errors: dict[str, str], today: date) -> None:
        raw = values.get(Block.CHECKIN_ON)
        picked = picked_date(values, Block.CHECKIN_ON)
        if raw and picked is None:
            errors[Block.CHECKIN_ON] = prompts.text("ephemeral.bad_date", value=str(raw)[:40])
        elif picked is not None and picked < today:
            errors[Block.CHECKIN_ON] = prompts.text("validation.date_in_past")

    # -- thread replies -----------------------------------------------------------------

    @app.event("message")
    def thread_reply(event: dict[str, Any], client: WebClient) -> None:
        """A reply in a prompt's thread is a note on that prompt, recorded once."""
        if event.get("channel_type") != "im" or event.get("subtype") or event.get("bot_id"):
            return
        thread_ts, channel, user = event.get("thread_ts"), event.get("channel"), event.get("user")
        if not thread_ts or thread_ts == event.get("ts") or not channel or not user:
            return
        body = (event.get("text") or "").strip()
        if not body:
            return
        now = services.clock()
        with services.db.session() as session:
            nudge = session.exec(
                select(Nudge).where(Nudge.channel == channel, Nudge.ts == thread_ts)
            ).first()
            if nudge is None:
                return
            person = crud.person_by_slack_id(session, slack_id=user)
            if person is None or person.id != nudge.recipient_id:
                return
            try:
                with session.begin_nested():
                    session.add(
                        Note(
                            nudge_id=nudge.id,  # type: ignore[arg-type]
                            author_id=person.id,
                            channel=channel,
                            ts=event["ts"],
                            text=body[:MAX_NOTE],
                            created_at=now,
                        )
                    )
                    session.flush()
            except IntegrityError:
                log.info("note.duplicate nudge=%s", nudge.id)  # Slack retried the event
                return
            nudge_id = nudge.id
        log.info("note.recorded nudge=%s", nudge_id)
        try:
            client.reactions_add(channel=channel, timestamp=event["ts"], name="memo")
        except SLACK_FAILURES as exc:
            if failure_reason(exc) != "already_reacted":
                log.warning("note.reaction_failed nudge=%s error=%s", nudge_id, failure_reason(exc))


def _level(value: Any) -> int | None:
    return int(value) if value in ("1", "2", "3") else None
