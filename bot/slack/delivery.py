"""Renders a nudge and sends it as one Slack DM: the sender the dispatcher is handed."""

from __future__ import annotations

import logging
import os
import socket
import urllib.error
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from functools import partial
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlmodel import Session, col, select

from bot import metrics
from bot.core.followup import FOLLOW_UPS
from bot.prompts import Catalogues, Prompts
from bot.settings import Settings
from bot.slack import blocks
from bot.slack.client import is_permanent, is_rate_limited, retry_after, slack_error
from bot.slack.ids import NUDGE_EVENT_TYPE
from scheduler.dispatcher import (
    WAITS_FOR_TOMORROW,
    Deferred,
    Delivery,
    Dispatcher,
    Failed,
    RetryLater,
    SendResult,
    Sent,
    Skipped,
)
from scheduler.planning import Rules, is_out_of_office, next_window_start, ooo_defer, zone
from storage import crud
from storage.db import Database
from storage.models import (
    Enrollment,
    Goal,
    Nudge,
    NudgeKind,
    NudgeStatus,
    Outcome,
    Person,
    Training,
    utcnow,
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
    sponsor = session.get(Person, training.sponsor_id) if training and training.sponsor_id else None
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
        why=training.why if training else None,
        sponsor_name=(sponsor.name or sponsor.email) if sponsor else None,
        sponsor_slack_id=sponsor.slack_id if sponsor else None,
        cases=_cases(session, target),
        follow_up_round=target.follow_up_round,
    )


def _cases(session: Session, nudge: Nudge) -> tuple[tuple[str, str], ...]:
    """A follow-up's answers so far; one that never went out has none to read."""
    if nudge.kind not in FOLLOW_UPS or nudge.id is None or nudge.sent_at is None:
        return ()
    return tuple((c.subject, c.answer) for c in crud.cases_of_nudge(session, nudge_id=nudge.id))


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
    people |= {training.sponsor_id for training in trainings.values()}
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
    if nudge.kind == NudgeKind.GOAL_SHARED:
        goal = session.get(Goal, nudge.goal_id)
        assert goal is not None  # the row goes with its goal (ON DELETE CASCADE)
        return blocks.goal_shared_message(
            ctx.learner_slack_id, ctx.learner_name, ctx.training, goal.text, goal.measure, prompts
        )
    return blocks.nudge_message(ctx, prompts)


def _state(
    session: Session, nudge: Nudge, prompts: Prompts, tz_name: str | None, default_tz: str
) -> tuple[str, str]:
    """How a nudge of a day's message stands: open, answered (its outcome) or snoozed."""
    if nudge.status in (NudgeStatus.ANSWERED, NudgeStatus.NOT_NEEDED):
        record = crud.record_of_nudge(session, nudge_id=nudge.id)  # type: ignore[arg-type]
        outcome = record.outcome if record else Outcome.NOT_NEEDED
        return outcome, prompts.text(f"answered.{outcome}", by="")
    if nudge.status == NudgeStatus.PENDING and nudge.reason == "snoozed":
        local = nudge.due_at.astimezone(zone(tz_name, default_tz))
        when = f"{prompts.format_date(local.date())} {local:%H:%M}"
        return "snoozed", prompts.text("snoozed.text", when=when)
    return "open", ""


def day_parts(
    session: Session,
    nudges: Sequence[Nudge],
    prompts: Prompts,
    *,
    default_tz: str,
    goals: Mapping[int, Sequence[Goal]] | None = None,
    states: bool = False,
) -> list[blocks.DayPart]:
    """The parts of a day's message, by training and learner; with `states`, each part says
    whether it is still open (for a message updated in place)."""
    parts = []
    for nudge in sorted(nudges, key=lambda n: n.id or 0):
        ctx = nudge_context(session, nudge, goals)
        goal = None
        if nudge.kind == NudgeKind.GOAL_SHARED:
            row = session.get(Goal, nudge.goal_id)
            if row is None:
                continue
            goal = blocks.GoalView(row.id, row.text, row.measure, row.shared)  # type: ignore[arg-type]
        state, text = "open", ""
        if states:
            recipient = session.get(Person, nudge.recipient_id)
            state, text = _state(
                session, nudge, prompts, recipient.tz if recipient else None, default_tz
            )
        parts.append(blocks.DayPart(ctx, nudge.kind == NudgeKind.REMINDER, goal, state, text))
    parts.sort(key=lambda p: (p.ctx.training, p.ctx.starts_on, p.ctx.learner_name))
    return parts


def dm_after_change(
    session: Session, nudge: Nudge, prompts: Prompts, default_tz: str
) -> dict[str, Any] | None:
    """A day's message about several nudges after one of them changed (answered, snoozed),
    as it now stands; None when the nudge's DM is about it alone."""
    if not (nudge.channel and nudge.ts):
        return None
    if len(crud.nudges_by_message(session, channel=nudge.channel, ts=nudge.ts)) < 2:
        return None
    return render_message_of(session, (nudge.channel, nudge.ts), prompts, default_tz=default_tz)


def render_message_of(
    session: Session,
    message: tuple[str, str],
    prompts: Prompts,
    *,
    default_tz: str = "UTC",
    joining: Sequence[Nudge] = (),
) -> dict[str, Any]:
    """The day's message at (channel, ts) as it stands now, with `joining` added: what an
    answer, a snooze or a goal shared later in the day updates it to, in place."""
    channel, ts = message
    nudges = [*crud.nudges_by_message(session, channel=channel, ts=ts), *joining]
    parts = day_parts(session, nudges, prompts, default_tz=default_tz, states=True)
    return blocks.day_message(parts, prompts)


class SlackSender:
    """One `chat.postMessage` to the user id per nudge; the DM channel comes back with it.

    Each DM is written in its recipient's language (their stored Slack locale), whoever the
    nudge is about.

    Everything else a nudge needs is read from the database beforehand, the recipient's
    Slack status included: the directory sync and `user_change` events keep it current
    (Slack sends one whenever a status changes), so no call is spent on reading it again.
    """

    def __init__(
        self,
        client: WebClient,
        catalogues: Catalogues,
        *,
        rules: Rules,
        default_tz: str,
        check_status: bool = True,
    ) -> None:
        self.client = client
        self.catalogues = catalogues
        self.rules = rules
        self.default_tz = default_tz
        self.check_status = check_status

    def prepare(
        self, session: Session, nudges: Sequence[Nudge], *, now: datetime, maybe_sent: set[int]
    ) -> dict[int, SendResult | Delivery]:
        """One message per recipient: all of a person's nudges of the batch go into their
        day's message (INTERFACE.md, "One message a day")."""
        batch = preload(session, nudges)
        known = _known_channels(session, {n.recipient_id for n in nudges if n.id in maybe_sent})
        out: dict[int, SendResult | Delivery] = {}
        groups: dict[int, list[Nudge]] = {}
        for nudge in nudges:
            groups.setdefault(nudge.recipient_id, []).append(nudge)
        for group in groups.values():
            try:
                out.update(self._prepare_day(session, group, batch.goals, now, known, maybe_sent))
            except Exception as exc:  # one person's message that cannot be rendered must not
                # stop the rest
                log.exception("nudge.render_error nudges=%s", [n.id for n in group])
                for nudge in group:
                    out[nudge.id] = RetryLater(f"could not render: {type(exc).__name__}")  # type: ignore[index]
        return out

    def _prepare_day(
        self,
        session: Session,
        group: list[Nudge],
        goals: Mapping[int, Sequence[Goal]],
        now: datetime,
        known: Mapping[int, str],
        maybe_sent: set[int],
    ) -> dict[int, SendResult | Delivery]:
        recipient = session.get(Person, group[0].recipient_id)
        assert recipient is not None and recipient.slack_id
        out: dict[int, SendResult | Delivery] = {}
        today = _today_message(session, recipient, now, self.default_tz)
        if today is not None:
            # The day's message went out: a shared goal joins it in place; a late nudge waits
            # for the next working day's, unless waiting would skip it: then it goes alone.
            joining = [n for n in group if n.kind == NudgeKind.GOAL_SHARED]
            if joining:
                message = render_message_of(
                    session,
                    today,
                    self.catalogues.for_locale(recipient.locale),
                    default_tz=self.default_tz,
                    joining=joining,
                )
                update = partial(self._update_today, message, today)
                for nudge in joining:
                    out[nudge.id] = update  # type: ignore[index]
            group = [n for n in group if n.kind != NudgeKind.GOAL_SHARED]
            alone = []
            for nudge in group:
                wait = self._wait_for_tomorrow(session, nudge, recipient, now)
                if wait is None:
                    alone.append(nudge)
                else:
                    out[nudge.id] = wait  # type: ignore[index]
            for nudge in alone:
                out[nudge.id] = self._prepare(  # type: ignore[index]
                    session, nudge, goals, now, known if nudge.id in maybe_sent else None
                )
            return out
        if len(group) == 1:
            nudge = group[0]
            out[nudge.id] = self._prepare(  # type: ignore[index]
                session, nudge, goals, now, known if nudge.id in maybe_sent else None
            )
            return out
        return self._prepare_bundle(session, group, recipient, goals, now, known, maybe_sent)

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
        message = render(session, nudge, self.catalogues.for_locale(recipient.locale), goals)
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

    def _prepare_bundle(
        self,
        session: Session,
        group: list[Nudge],
        recipient: Person,
        goals: Mapping[int, Sequence[Goal]],
        now: datetime,
        known: Mapping[int, str],
        maybe_sent: set[int],
    ) -> dict[int, SendResult | Delivery]:
        """Several nudges for one person: one message, each part with its own buttons."""
        ids = sorted(n.id for n in group if n.id is not None)
        out: dict[int, SendResult | Delivery] = {}
        doubt = bool(maybe_sent & set(ids))
        if self.check_status and not doubt:
            away = {n.id: self._away(session, n, recipient, now) for n in group}
            if all(outcome is not None for outcome in away.values()):
                return away  # type: ignore[return-value]
        prompts = self.catalogues.for_locale(recipient.locale)
        parts = day_parts(session, group, prompts, default_tz=self.default_tz, goals=goals)
        lead = next(n for n in group if n.id == ids[0])
        post = _Post(
            nudge_id=lead.id,  # type: ignore[arg-type]
            delivery=lead.deliveries + 1,
            user=recipient.slack_id,  # type: ignore[arg-type]
            message=blocks.day_message(parts, prompts),
            thread_ts=None,
            nudge_ids=tuple(ids),
        )
        look_in = known.get(recipient.id, "") if doubt else None  # type: ignore[arg-type]
        delivery = partial(self._send, post, look_in=look_in)
        for nudge_id in ids:
            out[nudge_id] = delivery
        return out

    def _wait_for_tomorrow(
        self, session: Session, nudge: Nudge, recipient: Person, now: datetime
    ) -> Deferred | None:
        """When the day's message went out already: the next working day's, or None when
        waiting for it would skip the nudge (then it goes alone)."""
        tz = zone(recipient.tz, self.default_tz)
        rules = self.rules.for_place(recipient.country, recipient.tz)
        tomorrow = datetime.combine(now.astimezone(tz).date() + timedelta(days=1), time(0), tz)
        opening = next_window_start(tomorrow, tz, rules)
        if nudge.kind in BEFORE_START:
            enrollment = session.get(Enrollment, nudge.enrollment_id)
            if enrollment is None or opening.astimezone(tz).date() > enrollment.starts_on:
                return None
        elif nudge.kind != NudgeKind.REMINDER and opening - nudge.due_at > timedelta(
            days=rules.max_late_days
        ):
            return None
        return Deferred(opening, WAITS_FOR_TOMORROW)

    def _update_today(self, message: dict[str, Any], today: tuple[str, str]) -> SendResult:
        """Add to the day's message in place: an update, which rings no bell."""
        channel, ts = today
        try:
            self.client.chat_update(
                channel=channel, ts=ts, text=message["text"], blocks=message["blocks"]
            )
        except SlackApiError as exc:
            if is_permanent(exc):
                return Failed(f"Slack answered {slack_error(exc)}")
            return RetryLater(f"Slack answered {slack_error(exc)}", after_seconds=retry_after(exc))
        except (urllib.error.URLError, OSError) as exc:
            return RetryLater(f"network: {type(exc).__name__}")
        return Sent(channel=channel, ts=ts)

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
                    metadata={"event_type": NUDGE_EVENT_TYPE, "event_payload": post.payload()},
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
        rules = self.rules.for_place(recipient.country, recipient.tz)
        slot = ooo_defer(now=now, tz=tz, deferrals_so_far=nudge.ooo_deferrals, rules=rules)
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
    nudge_ids: tuple[int, ...] = ()  # a day's message: every nudge in it (nudge_id leads)

    def payload(self) -> dict[str, Any]:
        payload: dict[str, Any] = {"nudge_id": self.nudge_id, "delivery": self.delivery}
        if self.nudge_ids:
            payload["nudge_ids"] = list(self.nudge_ids)
        return payload


def _today_message(
    session: Session, recipient: Person, now: datetime, default_tz: str
) -> tuple[str, str] | None:
    """(channel, ts) of the message Coachbot sent the person today, in their zone, if any."""
    tz = zone(recipient.tz, default_tz)
    midnight = datetime.combine(now.astimezone(tz).date(), time(0), tz)
    return crud.latest_message_to(session, recipient_id=recipient.id, since=midnight)  # type: ignore[arg-type]


def _known_channels(session: Session, recipients: set[int]) -> dict[int, str]:
    """The DM channel already on record for each of `recipients` (those that have one)."""
    if not recipients:
        return {}
    query = select(Nudge.recipient_id, Nudge.channel).where(
        col(Nudge.recipient_id).in_(recipients), col(Nudge.channel).is_not(None)
    )
    return {recipient: channel for recipient, channel in session.exec(query) if channel}


def make_dispatcher(
    settings: Settings,
    db: Database,
    client: WebClient,
    catalogues: Catalogues,
    *,
    clock: Callable[[], datetime] = utcnow,
) -> Dispatcher:
    sender = SlackSender(
        client, catalogues, rules=settings.rules, default_tz=settings.default_timezone
    )
    return Dispatcher(
        db,
        sender,
        rules=settings.rules,
        default_tz=settings.default_timezone,
        clock=clock,
        owner=f"{socket.gethostname()}:{os.getpid()}",
        on_outcome=metrics.nudge_recorded,
    )
