"""The DMs of the nudges: goal invites, manager prompts, follow-ups, reminders, answered."""

from __future__ import annotations

import re
from collections.abc import Sequence

from bot.core.followup import goal_subject, subjects_for
from bot.core.limits import PERSON_NAME_MAX, TRAINING_NAME_MAX, WHY_MAX

# The mrkdwn text helpers live below the domain, which fills prompts with user text too; they
# are re-exported here for the builders' callers.
from bot.mrkdwn import Mrkdwn, clip, escape, user_text
from bot.prompts import Prompts
from bot.slack.blocks.primitives import (
    _SLACK_USER_ID,
    Json,
    _actions,
    _button,
    _context,
    _header,
    _message,
    _option,
    _section,
    _value,
    mention,
)
from bot.slack.blocks.views import GoalView, NudgeContext
from bot.slack.ids import Action
from storage.models import CaseAnswer, ConversationRecord, NudgeKind, Outcome, Quadrant

MESSAGE_GOALS_MAX = 5
_PERMALINK = re.compile(r"^https://[^\s<>|]+$")


def _md_values(ctx: NudgeContext, prompts: Prompts) -> dict[str, object]:
    """The placeholders of a nudge, ready for mrkdwn prompts."""
    return {
        "learner": mention(ctx.learner_slack_id, ctx.learner_name, prompts.raw("format.someone")),
        "manager": mention(ctx.manager_slack_id, ctx.manager_name, prompts.raw("format.someone")),
        "learner_name": user_text(ctx.learner_name, PERSON_NAME_MAX),
        "training": user_text(ctx.training, TRAINING_NAME_MAX),
        "dates": prompts.format_dates(ctx.starts_on, ctx.ends_on),
        "start": prompts.format_date(ctx.starts_on),
        "end": prompts.format_date(ctx.ends_on or ctx.starts_on),
        "kind": prompts.text(f"kinds.{_kind(ctx)}"),
    }


def _plain_values(ctx: NudgeContext, prompts: Prompts) -> dict[str, object]:
    """The placeholders of a nudge, for plain_text titles and labels (no escaping, no mentions)."""
    name = clip(ctx.learner_name, PERSON_NAME_MAX)
    return {
        "learner": name,
        "manager": clip(ctx.manager_name or prompts.raw("format.someone"), PERSON_NAME_MAX),
        "learner_name": name,
        "training": clip(ctx.training, TRAINING_NAME_MAX),
        "dates": prompts.format_dates(ctx.starts_on, ctx.ends_on),
        "start": prompts.format_date(ctx.starts_on),
        "end": prompts.format_date(ctx.ends_on or ctx.starts_on),
        "kind": prompts.text(f"kinds.{_kind(ctx)}"),
    }


_KINDS = frozenset(kind.value for kind in NudgeKind)
_FOLLOW_UP_KINDS = (NudgeKind.FOLLOW_UP.value, NudgeKind.LEARNER_FOLLOW_UP.value)
# The Success Case answers, in the order their buttons show.
CASE_BUTTONS = (
    (CaseAnswer.CLEAR_RESULTS, Action.CASE_CLEAR_RESULTS),
    (CaseAnswer.NO_CLEAR_RESULTS, Action.CASE_NO_CLEAR_RESULTS),
    (CaseAnswer.DIDNT_STICK, Action.CASE_DIDNT_STICK),
    (CaseAnswer.NOT_APPLIED, Action.CASE_NOT_APPLIED),
)


def _kind(ctx: NudgeContext) -> str:
    kind = _value(ctx.kind)
    if kind not in _KINDS:
        raise ValueError(f"unknown nudge kind {kind!r}")
    return kind


def _is_learner_kind(kind: str) -> bool:
    return kind in (NudgeKind.GOAL_INVITE.value, NudgeKind.LEARNER_FOLLOW_UP.value)


def _prompt_buttons(kind: str, nudge_id: int, prompts: Prompts) -> list[Json]:
    """The buttons of a prompt, the same in its DM, its reminder and the Home tab; a
    follow-up's answers come per subject (`_prompt_blocks`), these are its other buttons."""
    value = str(nudge_id)
    remind = _button(prompts.text("buttons.remind_tomorrow"), Action.REMIND_TOMORROW, value)
    not_needed = _button(prompts.text("buttons.not_needed"), Action.NOT_NEEDED, value)
    if kind in (NudgeKind.PRE_TRAINING.value, NudgeKind.DEBRIEF.value):
        log = _button(
            prompts.text("buttons.log_conversation"),
            Action.LOG_CONVERSATION,
            value,
            style="primary",
        )
        return [log, remind, not_needed]
    if kind == NudgeKind.FOLLOW_UP.value:
        return [remind, not_needed]
    if kind == NudgeKind.LEARNER_FOLLOW_UP.value:
        return []
    if kind == NudgeKind.GOAL_INVITE.value:
        return [
            _button(prompts.text("buttons.share_goal"), Action.SHARE_GOAL, value, style="primary")
        ]
    raise ValueError(f"a {kind!r} nudge has no buttons of its own")


def _prompt_blocks(ctx: NudgeContext, prompts: Prompts, *, closed: bool = False) -> list[Json]:
    """What a prompt asks for, wherever it shows: its buttons; a follow-up's question about
    each subject, answered or not. A `closed` follow-up (answered, not needed) asks no more."""
    kind = _kind(ctx)
    if kind not in _FOLLOW_UP_KINDS:
        return [_actions(*_prompt_buttons(kind, ctx.nudge_id, prompts))]
    blocks = _case_blocks(ctx, prompts, closed=closed)
    others = _prompt_buttons(kind, ctx.nudge_id, prompts)
    if others and not closed:
        blocks.append(_actions(*others))
    return blocks


def _case_blocks(ctx: NudgeContext, prompts: Prompts, *, closed: bool) -> list[Json]:
    """The Success Case question about each goal its reader sees (or the training): four
    buttons, or the answer given."""
    for_learner = _is_learner_kind(_kind(ctx))
    given = dict(ctx.cases)
    goals = {goal_subject(goal.id): goal for goal in ctx.goals}
    blocks: list[Json] = []
    asked = subjects_for(goal.id for goal in ctx.goals)
    # An answer about a subject no longer asked (the training, answered before the question
    # was per goal) still shows.
    asked += [subject for subject in given if subject not in asked]
    for subject in asked:
        answer = given.get(subject)
        if answer is None and closed:
            continue
        goal = goals.get(subject)
        if goal is not None:
            key = "goals.yours" if for_learner else "goals.shared_by_learner"
            heading = prompts.text(key, **_md_values(ctx, prompts))
            lines = _goal_lines([goal], prompts, yours=for_learner)
            blocks.append(_section(f"{heading}\n{lines}"))
        if answer is not None:
            chosen = prompts.text(f"buttons.case_{_value(answer)}")
            blocks.append(_context(prompts.text("follow_up_case.answered", answer=escape(chosen))))
        else:
            blocks.append(_actions(*_case_buttons(ctx, prompts, subject, for_learner)))
    return blocks


def _case_buttons(
    ctx: NudgeContext, prompts: Prompts, subject: str, for_learner: bool
) -> list[Json]:
    value = f"{ctx.nudge_id}:{subject}"
    # The manager's DM needs a primary button (INTERFACE.md); the learner's stays neutral.
    return [
        _button(
            prompts.text(f"buttons.case_{answer.value}"),
            action,
            value,
            style="primary" if not for_learner and answer == CaseAnswer.CLEAR_RESULTS else None,
        )
        for answer, action in CASE_BUTTONS
    ]


def _goal_lines(goals: Sequence[GoalView], prompts: Prompts, *, yours: bool) -> str:
    shown = goals[:MESSAGE_GOALS_MAX]
    # Several goals share one section of 3000 characters.
    limit = max(200, 2400 // max(1, len(shown)))
    lines = []
    for goal in shown:
        text = user_text(goal.text, limit)
        if goal.measure:
            measure = user_text(goal.measure, limit // 2)
            key = "goals.line_with_measure_yours" if yours else "goals.line_with_measure"
            lines.append(prompts.text(key, text=text, measure=measure))
        else:
            lines.append(prompts.text("goals.line", text=text))
    if len(goals) > len(shown):
        lines.append(prompts.text("format.and_more", count=len(goals) - len(shown)))
    return "\n".join(lines)


def _goals_section(ctx: NudgeContext, prompts: Prompts, *, for_learner: bool) -> list[Json]:
    # Managers see only what the learner chose to share; learners see all their own goals.
    goals = ctx.goals if for_learner else tuple(g for g in ctx.goals if g.shared)
    if not goals:
        return []
    many = len(goals) > 1
    if for_learner:
        heading = prompts.text("goals.yours_many" if many else "goals.yours")
    else:
        key = "goals.shared_by_learner_many" if many else "goals.shared_by_learner"
        heading = prompts.text(key, **_md_values(ctx, prompts))
    return [_section(f"{heading}\n{_goal_lines(goals, prompts, yours=for_learner)}")]


def why_line(ctx: NudgeContext, prompts: Prompts) -> Mrkdwn | None:
    """ "Why it matters, from <sponsor>: …" (without a sponsor, "Why it matters: …"); None
    when the training has no why."""
    if not ctx.why:
        return None
    why = user_text(ctx.why, WHY_MAX)
    if ctx.sponsor_slack_id or ctx.sponsor_name:
        sponsor = mention(ctx.sponsor_slack_id, ctx.sponsor_name, prompts.raw("format.someone"))
        return Mrkdwn(prompts.text("why.from_sponsor", sponsor=sponsor, why=why))
    return Mrkdwn(prompts.text("why.plain", why=why))


def _uphill_why(q: Quadrant | str, ctx: NudgeContext | None, prompts: Prompts) -> Mrkdwn | None:
    """The training's why, which the advice for an "uphill" training asks the manager to
    frame; None for the other quadrants or without a why."""
    if ctx is None or _value(q) != Quadrant.UPHILL.value:
        return None
    return why_line(ctx, prompts)


def _context_line(ctx: NudgeContext, prompts: Prompts) -> str:
    key = "answered.context_learner" if _is_learner_kind(_kind(ctx)) else "answered.context_manager"
    return prompts.text(key, **_md_values(ctx, prompts))


def nudge_message(ctx: NudgeContext, prompts: Prompts) -> Json:
    """The DM of a nudge; reminders are built by reminder_message."""
    kind = _kind(ctx)
    if kind == NudgeKind.GOAL_INVITE.value:
        return _goal_invite(ctx, prompts)
    if kind == NudgeKind.PRE_TRAINING.value:
        return _manager_prompt(ctx, prompts, "pre_training", "agreements")
    if kind == NudgeKind.DEBRIEF.value:
        return _manager_prompt(ctx, prompts, "debrief", "points")
    if kind in _FOLLOW_UP_KINDS:
        return follow_up_message(ctx, prompts)
    raise ValueError("reminders are built with reminder_message()")


def _interest_options(prompts: Prompts, nudge_id: int) -> list[Json]:
    labels = ("interest.a_little", "interest.somewhat", "interest.a_lot")
    return [
        _option(prompts.text(key), f"{nudge_id}:{level}") for level, key in enumerate(labels, 1)
    ]


def _goal_invite(ctx: NudgeContext, prompts: Prompts) -> Json:
    md = _md_values(ctx, prompts)
    title = prompts.text("goal_invite.title", **_plain_values(ctx, prompts))
    (share_button,) = _prompt_buttons(NudgeKind.GOAL_INVITE.value, ctx.nudge_id, prompts)
    options = _interest_options(prompts, ctx.nudge_id)
    # Radio buttons, not three buttons: one action_id per block, and one click all the same.
    radio: Json = {"type": "radio_buttons", "action_id": str(Action.INTEREST), "options": options}
    if ctx.learner_interest in (1, 2, 3):
        radio["initial_option"] = options[ctx.learner_interest - 1]
    blocks = [
        _header(title),
        _section(
            prompts.text("goal_invite.intro", **md) + "\n\n" + prompts.text("goal_invite.ask", **md)
        ),
        *_goals_section(ctx, prompts, for_learner=True),
        _section(prompts.text("goal_invite.how", **md), accessory=share_button),
        _section(prompts.text("interest.question", **md)),
        _actions(radio),
        _context(prompts.text("goal_invite.footer", **md)),
    ]
    return _message(escape(title), blocks)


def _manager_prompt(
    ctx: NudgeContext, prompts: Prompts, section: str, points_key: str | None
) -> Json:
    md = _md_values(ctx, prompts)
    title = prompts.text(f"{section}.title", **_plain_values(ctx, prompts))
    text = prompts.text(f"{section}.intro", **md)
    blocks = [_header(title), _section(text)]
    why = why_line(ctx, prompts) if _kind(ctx) == NudgeKind.PRE_TRAINING.value else None
    if why:
        blocks.append(_section(why))
    if points_key:
        blocks.append(_section(prompts.text(f"{section}.{points_key}", **md)))
    blocks += _goals_section(ctx, prompts, for_learner=False)
    blocks.append(_actions(*_prompt_buttons(_kind(ctx), ctx.nudge_id, prompts)))
    blocks.append(_context(prompts.text(f"{section}.footer", **md)))
    return _message(f"{escape(title)}\n{text}", blocks)


def _later_round(ctx: NudgeContext) -> str:
    """The key suffix of a follow-up after the first round ("a month on" no longer fits)."""
    return "_later" if (ctx.follow_up_round or 1) > 1 else ""


def follow_up_message(ctx: NudgeContext, prompts: Prompts, *, closed: bool = False) -> Json:
    """A follow-up's DM, manager's or learner's: the question about each subject, updated in
    place as they are answered; `closed` once the follow-up is answered."""
    section = _kind(ctx)
    md = _md_values(ctx, prompts)
    later = _later_round(ctx)
    title = prompts.text(f"{section}.title{later}", **_plain_values(ctx, prompts))
    text = prompts.text(f"{section}.intro{later}", **md)
    footer = prompts.text("follow_up_case.thanks" if closed else f"{section}.footer", **md)
    blocks = [
        _header(title),
        _section(text),
        *_prompt_blocks(ctx, prompts, closed=closed),
        _context(footer),
    ]
    return _message(f"{escape(title)}\n{text}", blocks)


def reminder_message(ctx: NudgeContext, prompts: Prompts, permalink: str | None) -> Json:
    """A gentle nudge about the prompt `ctx` describes (its own kind, not "reminder")."""
    kind = _kind(ctx)
    if kind == NudgeKind.REMINDER.value:
        raise ValueError("pass the context of the original prompt, not of the reminder")
    md = _md_values(ctx, prompts)
    text = prompts.text(f"reminder.{kind}", **md)
    if permalink and _PERMALINK.match(permalink):
        text += " " + prompts.text("reminder.link", url=permalink)
    blocks = [
        _section(text),
        *_prompt_blocks(ctx, prompts),
        _context(prompts.text("reminder.footer", **md)),
    ]
    return _message(text, blocks)


def answered_message(
    ctx: NudgeContext,
    prompts: Prompts,
    summary_lines: list[str],
    answered_by_slack_id: str | None,
    outcome: str,
) -> Json:
    """What replaces a prompt's DM once answered: its context and what was logged, no buttons."""
    outcome = _value(outcome)
    if outcome not in {o.value for o in Outcome}:
        raise ValueError(f"unknown outcome {outcome!r}")
    by = ""
    if answered_by_slack_id and _SLACK_USER_ID.match(answered_by_slack_id):
        by = prompts.text("format.mention_by", who=mention(answered_by_slack_id, None))
    status = prompts.text(f"answered.{outcome}", by=by)
    lines = [line for line in summary_lines if line.strip()]
    limit = max(200, 2400 // max(1, len(lines)))
    # Lines are plain text, escaped here, except those built as mrkdwn (a why's mention).
    summary = [
        prompts.text(
            "answered.summary_line",
            line=line if isinstance(line, Mrkdwn) else user_text(line, limit),
        )
        for line in lines
    ]
    context = _context_line(ctx, prompts)
    blocks = [_context(context), _section("\n".join([status, *summary]))]
    return _message(f"{context}\n{status}", blocks)


def snoozed_message(ctx: NudgeContext, prompts: Prompts, when_text: str) -> Json:
    """A prompt's DM after "Remind me tomorrow": no buttons until it comes back."""
    context = _context_line(ctx, prompts)
    text = prompts.text("snoozed.text", when=user_text(when_text, 200))
    return _message(f"{context}\n{text}", [_context(context), _section(text)])


def quadrant_advice(q: Quadrant | str, prompts: Prompts, ctx: NudgeContext | None = None) -> str:
    """The advice for quadrant `q`; for an "uphill" training, with the training's why."""
    advice = prompts.text(f"quadrants.{_value(q)}")
    why = _uphill_why(q, ctx, prompts)
    return f"{advice}\n{why}" if why else advice


_RECORD_LABELS = (
    ("what", "pre_training_modal.what"),
    ("why", "pre_training_modal.why"),
    ("how", "pre_training_modal.how"),
    ("takeaways", "debrief_modal.takeaways"),
    ("first_application", "debrief_modal.first_application"),
    ("support", "debrief_modal.support"),
)


# A modal's question, as a label: without its question mark, French spacing or full-width.
_QUESTION_END = "?\uff1f \u00a0\u202f"


def record_lines(
    record: ConversationRecord, prompts: Prompts, ctx: NudgeContext | None = None
) -> list[str]:
    """The short record shown in place of the buttons: labels with what was written, and
    the quadrant's advice (an "uphill" one with the training's why, from `ctx`)."""
    lines: list[str] = []
    for attr, key in _RECORD_LABELS:
        value = getattr(record, attr)
        if value:
            label = prompts.text(key).rstrip(_QUESTION_END)
            lines.append(prompts.text("answered.field", label=label, value=_first_line(value)))
    if record.quadrant:
        lines.append(quadrant_advice(record.quadrant, prompts).replace("*", ""))
        why = _uphill_why(record.quadrant, ctx, prompts)
        if why:
            lines.append(why)
    if record.checkin_on:
        lines.append(prompts.text("answered.checkin", date=prompts.format_date(record.checkin_on)))
    if record.note:
        lines.append(_first_line(record.note))
    return lines


def _first_line(text: str, limit: int = 140) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"
