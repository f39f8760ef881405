"""Renders a nudge and sends it as one Slack DM: the sender the dispatcher is handed."""

from __future__ import annotations

import logging
import urllib.error
from datetime import datetime
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlmodel import Session, col, select

from bot import blocks
from bot.ids import NUDGE_EVENT_TYPE
from bot.prompts import Prompts
from bot.slack import is_permanent, retry_after, slack_error
from scheduler.dispatcher import Deferred, Failed, RetryLater, SendResult, Sent, Skipped
from scheduler.planning import Rules, is_out_of_office, ooo_defer, zone
from storage import crud
from storage.models import (
    Enrollment,
    Nudge,
    NudgeKind,
    Person,
    Training,
)

log = logging.getLogger(__name__)

BEFORE_START = (NudgeKind.GOAL_INVITE, NudgeKind.PRE_TRAINING)


def nudge_context(session: Session, nudge: Nudge) -> blocks.NudgeContext:
    """What a message about this nudge shows; a reminder speaks of the prompt it points at."""
    target = nudge
    if nudge.kind == NudgeKind.REMINDER and nudge.parent_id:
        target = session.get(Nudge, nudge.parent_id) or nudge
    enrollment = session.get(Enrollment, target.enrollment_id)
    assert enrollment is not None and enrollment.id is not None
    training = session.get(Training, enrollment.training_id)
    learner = session.get(Person, enrollment.learner_id)
    manager = session.get(Person, enrollment.manager_id) if enrollment.manager_id else None
    to_learner = target.kind in (NudgeKind.GOAL_INVITE, NudgeKind.LEARNER_FOLLOW_UP)
    goals = crud.goals_of_enrollment(
        session,
        enrollment_id=enrollment.id,
        shared_only=not to_learner,  # type: ignore[arg-type]
    )
    return blocks.NudgeContext(
        nudge_id=target.id,  # type: ignore[arg-type]
        kind=target.kind,
        training=training.name if training else "",
        starts_on=enrollment.starts_on,
        ends_on=enrollment.ends_on,
        learner_name=(learner.name or learner.email or "") if learner else "",
        learner_slack_id=learner.slack_id if learner else None,
        manager_name=(manager.name or manager.email) if manager else None,
        manager_slack_id=manager.slack_id if manager else None,
        goals=tuple(blocks.GoalView(g.id, g.text, g.measure, g.shared) for g in goals),  # type: ignore[arg-type]
        learner_interest=enrollment.learner_interest,
    )


def render(session: Session, nudge: Nudge, prompts: Prompts) -> dict[str, Any]:
    ctx = nudge_context(session, nudge)
    if nudge.kind == NudgeKind.REMINDER:
        return blocks.reminder_message(ctx, prompts, None)
    return blocks.nudge_message(ctx, prompts)


class SlackSender:
    """One `chat.postMessage` to the user id per nudge; the DM channel comes back with it."""

    def __init__(
        self,
        client: WebClient,
        prompts: Prompts,
        *,
        rules: Rules,
        default_tz: str,
        check_status: bool = True,
    ) -> None:
        self.client = client
        self.prompts = prompts
        self.rules = rules
        self.default_tz = default_tz
        self.check_status = check_status

    def __call__(
        self, session: Session, nudge: Nudge, *, now: datetime, maybe_sent: bool
    ) -> SendResult:
        recipient = session.get(Person, nudge.recipient_id)
        assert recipient is not None and recipient.slack_id
        try:
            if maybe_sent:
                try:
                    found = self._find_sent(session, recipient, nudge)
                except SlackApiError as exc:
                    if is_permanent(exc):
                        raise
                    # Not knowing is no licence to post: look again at the next attempt.
                    return RetryLater(
                        f"could not check for an earlier post: {slack_error(exc)}",
                        after_seconds=retry_after(exc),
                        uncertain=True,
                    )
                if found is not None:
                    log.info("nudge.recovered nudge=%s", nudge.id)
                    return found
            if self.check_status:
                away = self._away(session, nudge, recipient, now)
                if away is not None:
                    return away
            message = render(session, nudge, self.prompts)
            thread_ts = None
            if nudge.kind == NudgeKind.REMINDER and nudge.parent_id:
                parent = session.get(Nudge, nudge.parent_id)
                thread_ts = parent.ts if parent else None
            try:
                response = self.client.chat_postMessage(
                    channel=recipient.slack_id,
                    text=message["text"],
                    blocks=message["blocks"],
                    thread_ts=thread_ts,
                    # A reminder lives in the prompt's thread, and still shows in the DM itself.
                    reply_broadcast=bool(thread_ts),
                    unfurl_links=False,
                    unfurl_media=False,
                    metadata={
                        "event_type": NUDGE_EVENT_TYPE,
                        "event_payload": {"nudge_id": nudge.id, "delivery": nudge.deliveries + 1},
                    },
                )
            except SlackApiError as exc:
                status = getattr(exc.response, "status_code", 200)
                if status >= 500:
                    # Slack may have posted before failing to answer.
                    return RetryLater(f"Slack answered {slack_error(exc)}", uncertain=True)
                raise
            except (urllib.error.URLError, OSError) as exc:
                return RetryLater(f"network: {type(exc).__name__}", uncertain=True)
            return Sent(channel=response["channel"], ts=response["ts"])
        except SlackApiError as exc:
            error = slack_error(exc)
            if is_permanent(exc):
                return Failed(f"Slack answered {error}")
            return RetryLater(f"Slack answered {error}", after_seconds=retry_after(exc))
        except (urllib.error.URLError, OSError) as exc:
            # Only reads (status, history) got here: nothing was posted.
            return RetryLater(f"network: {type(exc).__name__}")

    def _away(
        self, session: Session, nudge: Nudge, recipient: Person, now: datetime
    ) -> SendResult | None:
        try:
            profile = self.client.users_profile_get(user=recipient.slack_id).get("profile") or {}
            recipient.status_text = (profile.get("status_text") or "")[:200] or None
            recipient.status_emoji = (profile.get("status_emoji") or "")[:100] or None
            session.add(recipient)
        except SlackApiError as exc:
            if is_permanent(exc):
                raise
            # Rate-limited or down: the last status the directory sync or a user_change event
            # recorded stands in; an outage must not hold nudges back.
            profile = {"status_text": recipient.status_text, "status_emoji": recipient.status_emoji}
        except (urllib.error.URLError, OSError):
            profile = {"status_text": recipient.status_text, "status_emoji": recipient.status_emoji}
        if not is_out_of_office(profile, now):
            return None
        tz = zone(recipient.tz, self.default_tz)
        slot = ooo_defer(now=now, tz=tz, deferrals_so_far=nudge.ooo_deferrals, rules=self.rules)
        if slot.due_at is None:
            return Skipped(slot.skip_reason or "out of office")
        if nudge.kind in BEFORE_START:
            enrollment = session.get(Enrollment, nudge.enrollment_id)
            if enrollment and slot.due_at.astimezone(tz).date() > enrollment.starts_on:
                return Skipped("out of office until the training started")
        return Deferred(slot.due_at, "out of office")

    def _find_sent(self, session: Session, recipient: Person, nudge: Nudge) -> Sent | None:
        """Look in the DM for this delivery's message, recognised by its metadata."""
        known = session.exec(
            select(Nudge.channel).where(
                Nudge.recipient_id == recipient.id, col(Nudge.channel).is_not(None)
            )
        ).first()
        channel = known or self.client.conversations_open(users=recipient.slack_id)["channel"]["id"]
        # No `oldest`: Slack's ts is Slack's clock, not ours. The lost post is among the
        # newest messages of the DM, since it went out at most a lease or back-off ago.
        history = self.client.conversations_history(
            channel=channel, include_all_metadata=True, limit=100
        )
        for message in history.get("messages") or []:
            meta = message.get("metadata") or {}
            payload = meta.get("event_payload") or {}
            if (
                meta.get("event_type") == NUDGE_EVENT_TYPE
                and payload.get("nudge_id") == nudge.id
                and payload.get("delivery") == nudge.deliveries + 1
            ):
                return Sent(channel=channel, ts=message["ts"])
        return None
