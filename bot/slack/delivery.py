"""Renders a nudge and sends it as one Slack DM: the sender the dispatcher is handed."""

from __future__ import annotations

import logging
import urllib.error
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlmodel import Session, col, select

from bot.prompts import Prompts
from bot.slack import blocks
from bot.slack.client import is_permanent, is_rate_limited, retry_after, slack_error
from bot.slack.ids import NUDGE_EVENT_TYPE
from scheduler.dispatcher import (
    Deferred,
    Delivery,
    Failed,
    RetryLater,
    SendResult,
    Sent,
    Skipped,
)
from scheduler.planning import Rules, is_out_of_office, ooo_defer, zone
from storage import crud
from storage.models import (
    Enrollment,
    Goal,
    Nudge,
    NudgeKind,
    Person,
    Training,
)

log = logging.getLogger(__name__)

BEFORE_START = (NudgeKind.GOAL_INVITE, NudgeKind.PRE_TRAINING)


def nudge_context(
    session: Session, nudge: Nudge, goals: Mapping[int, Sequence[Goal]] | None = None
) -> blocks.NudgeContext:
    """What a message about this nudge shows; a reminder speaks of the prompt it points at.

    `goals`, every goal by enrollment id (as `preload` returns them), spares a query.
    """
    target = nudge
    if nudge.kind == NudgeKind.REMINDER and nudge.parent_id:
        target = session.get(Nudge, nudge.parent_id) or nudge
    enrollment = session.get(Enrollment, target.enrollment_id)
    assert enrollment is not None and enrollment.id is not None
    training = session.get(Training, enrollment.training_id)
    learner = session.get(Person, enrollment.learner_id)
    manager = session.get(Person, enrollment.manager_id) if enrollment.manager_id else None
    to_learner = target.kind in (NudgeKind.GOAL_INVITE, NudgeKind.LEARNER_FOLLOW_UP)
    if goals is None:
        found = crud.goals_of_enrollment(
            session, enrollment_id=enrollment.id, shared_only=not to_learner
        )
    else:
        found = [g for g in goals.get(enrollment.id, ()) if to_learner or g.shared]
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
        goals=tuple(blocks.GoalView(g.id, g.text, g.measure, g.shared) for g in found),  # type: ignore[arg-type]
        learner_interest=enrollment.learner_interest,
    )


@dataclass
class Preloaded:
    """What the messages of a batch show. Holding the rows keeps them in the session's
    identity map (which holds them only weakly), so `session.get` finds them for free."""

    goals: dict[int, list[Goal]]
    rows: list[dict[Any, Any]]


def preload(session: Session, nudges: Sequence[Nudge]) -> Preloaded:
    """Read what the messages of a batch of nudges show, a query per table."""
    parents = crud.rows_by_id(
        session, Nudge, {n.parent_id for n in nudges if n.kind == NudgeKind.REMINDER}
    )
    targets = [parents.get(n.parent_id, n) for n in nudges]
    enrollments = crud.rows_by_id(session, Enrollment, {t.enrollment_id for t in targets})
    trainings = crud.rows_by_id(session, Training, {e.training_id for e in enrollments.values()})
    people: set[int | None] = {n.recipient_id for n in nudges}
    for enrollment in enrollments.values():
        people |= {enrollment.learner_id, enrollment.manager_id}
    goals: dict[int, list[Goal]] = {}
    if enrollments:
        query = select(Goal).where(col(Goal.enrollment_id).in_(list(enrollments)))
        for goal in session.exec(query.order_by(col(Goal.id))):
            goals.setdefault(goal.enrollment_id, []).append(goal)
    rows = [parents, enrollments, trainings, crud.rows_by_id(session, Person, people)]
    return Preloaded(goals, rows)  # type: ignore[arg-type]


def render(
    session: Session,
    nudge: Nudge,
    prompts: Prompts,
    goals: Mapping[int, Sequence[Goal]] | None = None,
) -> dict[str, Any]:
    ctx = nudge_context(session, nudge, goals)
    if nudge.kind == NudgeKind.REMINDER:
        return blocks.reminder_message(ctx, prompts, None)
    return blocks.nudge_message(ctx, prompts)


class SlackSender:
    """One `chat.postMessage` to the user id per nudge; the DM channel comes back with it.

    Everything else a nudge needs is read from the database beforehand, the recipient's
    Slack status included: the directory sync and `user_change` events keep it current
    (Slack sends one whenever a status changes), so no call is spent on reading it again.
    """

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

    def prepare(
        self, session: Session, nudges: Sequence[Nudge], *, now: datetime, maybe_sent: set[int]
    ) -> dict[int, SendResult | Delivery]:
        batch = preload(session, nudges)
        known = _known_channels(session, {n.recipient_id for n in nudges if n.id in maybe_sent})
        out: dict[int, SendResult | Delivery] = {}
        for nudge in nudges:
            assert nudge.id is not None
            try:
                out[nudge.id] = self._prepare(
                    session, nudge, batch.goals, now, known if nudge.id in maybe_sent else None
                )
            except Exception as exc:  # one nudge that cannot be rendered must not stop the rest
                log.exception("nudge.render_error nudge=%s", nudge.id)
                out[nudge.id] = RetryLater(f"could not render: {type(exc).__name__}")
        return out

    def _prepare(
        self,
        session: Session,
        nudge: Nudge,
        goals: Mapping[int, Sequence[Goal]],
        now: datetime,
        known: Mapping[int, str] | None,
    ) -> SendResult | Delivery:
        recipient = session.get(Person, nudge.recipient_id)
        assert recipient is not None and recipient.slack_id and nudge.id is not None
        away = self._away(session, nudge, recipient, now) if self.check_status else None
        if away is not None and known is None:
            return away
        message = render(session, nudge, self.prompts, goals)
        thread_ts = None
        if nudge.kind == NudgeKind.REMINDER and nudge.parent_id:
            parent = session.get(Nudge, nudge.parent_id)
            thread_ts = parent.ts if parent else None
        post = _Post(
            nudge_id=nudge.id,
            delivery=nudge.deliveries + 1,
            user=recipient.slack_id,
            message=message,
            thread_ts=thread_ts,
        )
        if known is None:
            return partial(self._send, post)
        # An earlier attempt may have posted: look first, and only then mind the absence.
        return partial(self._send, post, look_in=known.get(nudge.recipient_id, ""), away=away)

    def _send(
        self, post: _Post, look_in: str | None = None, away: SendResult | None = None
    ) -> SendResult:
        try:
            if look_in is not None:
                try:
                    found = self._find_sent(post, look_in)
                except SlackApiError as exc:
                    if is_permanent(exc):
                        raise
                    # Not knowing is no licence to post: look again at the next attempt.
                    return RetryLater(
                        f"could not check for an earlier post: {slack_error(exc)}",
                        after_seconds=retry_after(exc),
                        uncertain=True,
                        rate_limited=is_rate_limited(exc),
                    )
                if found is not None:
                    log.info("nudge.recovered nudge=%s", post.nudge_id)
                    return found
                if away is not None:
                    return away
            try:
                response = self.client.chat_postMessage(
                    channel=post.user,
                    text=post.message["text"],
                    blocks=post.message["blocks"],
                    thread_ts=post.thread_ts,
                    # A reminder lives in the prompt's thread, and still shows in the DM itself.
                    reply_broadcast=bool(post.thread_ts),
                    unfurl_links=False,
                    unfurl_media=False,
                    metadata={
                        "event_type": NUDGE_EVENT_TYPE,
                        "event_payload": {"nudge_id": post.nudge_id, "delivery": post.delivery},
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
            return RetryLater(
                f"Slack answered {error}",
                after_seconds=retry_after(exc),
                rate_limited=is_rate_limited(exc),
            )
        except (urllib.error.URLError, OSError) as exc:
            # Only the look into the DM got here: nothing was posted.
            return RetryLater(f"network: {type(exc).__name__}")

    def _away(
        self, session: Session, nudge: Nudge, recipient: Person, now: datetime
    ) -> SendResult | None:
        profile = {
            "status_text": recipient.status_text,
            "status_emoji": recipient.status_emoji,
            "status_expiration": recipient.status_expiration,
        }
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

    def _find_sent(self, post: _Post, channel: str) -> Sent | None:
        """Look in the DM for this delivery's message, recognised by its metadata."""
        channel = channel or self.client.conversations_open(users=post.user)["channel"]["id"]
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
                and payload.get("nudge_id") == post.nudge_id
                and payload.get("delivery") == post.delivery
            ):
                return Sent(channel=channel, ts=message["ts"])
        return None


@dataclass(frozen=True)
class _Post:
    """One rendered DM, ready to go out from any thread."""

    nudge_id: int
    delivery: int
    user: str
    message: dict[str, Any]
    thread_ts: str | None


def _known_channels(session: Session, recipients: set[int]) -> dict[int, str]:
    """The DM channel already on record for each of `recipients` (those that have one)."""
    if not recipients:
        return {}
    query = select(Nudge.recipient_id, Nudge.channel).where(
        col(Nudge.recipient_id).in_(recipients), col(Nudge.channel).is_not(None)
    )
    return {recipient: channel for recipient, channel in session.exec(query) if channel}
