"""Pure Block Kit builders: plain values and Prompts in, Slack message and view dicts out."""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from bot.core import reporting
from bot.core.limits import GOAL_TEXT_MAX, PERSON_NAME_MAX, TRAINING_NAME_MAX

# The mrkdwn text helpers live below the domain, which fills prompts with user text too; they
# are re-exported here for the builders' callers.
from bot.mrkdwn import Mrkdwn, clip, escape, user_text
from bot.prompts import Prompts
from bot.slack.ids import INPUT_ACTION, SHARE_OPTION_VALUE, Action, Block, View
from storage.models import ConversationRecord, NudgeKind, Outcome, Quadrant

# Slack's limits (https://api.slack.com/reference/block-kit).
SECTION_TEXT_MAX = 3000
CONTEXT_TEXT_MAX = 3000
CONTEXT_ELEMENTS_MAX = 10
SECTION_FIELDS_MAX = 10
FIELD_TEXT_MAX = 2000
HEADER_MAX = 150
BUTTON_TEXT_MAX = 75
OPTION_TEXT_MAX = 75
OPTIONS_MAX = 100
LABEL_MAX = 2000
HINT_MAX = 2000
PLACEHOLDER_MAX = 150
INPUT_VALUE_MAX = 3000
TITLE_MAX = 24
SUBMIT_MAX = 24
CONFIRM_TITLE_MAX = 100
CONFIRM_TEXT_MAX = 300
CONFIRM_BUTTON_MAX = 30
PRIVATE_METADATA_MAX = 3000
MESSAGE_BLOCKS_MAX = 50
VIEW_BLOCKS_MAX = 100
FALLBACK_MAX = 3000

# How many items each list shows before "and N more"; keeps every view under its block cap.
HOME_OPEN_PROMPTS_MAX = 10
HOME_LINES_MAX = 15
HOME_GOALS_MAX = 8
HOME_NUMBERS_MAX = 20
GOAL_LIST_MAX = 20
MESSAGE_GOALS_MAX = 5

FORGET_ME_VALUE = "forget"
SEND_SUMMARY_VALUE = "this_week"

_SLACK_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
_PERMALINK = re.compile(r"^https://[^\s<>|]+$")

Json = dict[str, Any]


# --- inputs ------------------------------------------------------------------------------


@dataclass(frozen=True)
class GoalView:
    id: int
    text: str
    measure: str | None = None
    shared: bool = True


@dataclass(frozen=True)
class NudgeContext:
    nudge_id: int
    kind: str  # NudgeKind value
    training: str
    starts_on: date
    ends_on: date
    learner_name: str
    learner_slack_id: str | None
    manager_name: str | None = None
    manager_slack_id: str | None = None
    goals: tuple[GoalView, ...] = ()
    learner_interest: int | None = None  # 1..3


@dataclass(frozen=True)
class TrainingView:
    """One enrollment on the Home tab; the learner is left out on a learner's own tab."""

    training: str
    starts_on: date
    ends_on: date
    learner_name: str | None = None
    learner_slack_id: str | None = None


@dataclass(frozen=True)
class RecordView:
    """One logged answer on a manager's Home tab."""

    answered_on: date
    kind: str  # NudgeKind value
    outcome: str  # Outcome value
    training: str
    learner_name: str
    learner_slack_id: str | None = None


@dataclass(frozen=True)
class ComingView:
    """Something Coachbot will do next, shown on a learner's Home tab."""

    on: date
    kind: str  # NudgeKind value
    training: str


# --- text helpers ----------------------------------------------------------------------------


def _value(item: str | enum.Enum) -> str:
    # Enum members and their str values are both accepted wherever a kind or outcome is.
    return str(item.value) if isinstance(item, enum.Enum) else str(item)


def clip_mrkdwn(text: str, limit: int) -> str:
    """Like `clip`, but never leaves half an `&amp;` entity or half a `<…>` mention or link."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    amp = cut.rfind("&")
    if amp >= len(cut) - 6 and ";" not in cut[amp:]:
        cut = cut[:amp]
    bracket = cut.rfind("<")
    if bracket >= len(cut) - 300 and bracket != -1 and ">" not in cut[bracket:]:
        cut = cut[:bracket]
    return cut.rstrip() + "…"


def mention(slack_id: str | None, name: str | None, fallback: str = "someone") -> Mrkdwn:
    """`<@U…>` when the Slack id is known, else the escaped name."""
    if slack_id and _SLACK_USER_ID.match(slack_id):
        return Mrkdwn(f"<@{slack_id}>")
    return user_text(name or fallback, PERSON_NAME_MAX)


def _quote(text: str) -> str:
    # A mrkdwn quote only covers one line, so quote every line.
    return "\n".join(f">{line}" for line in text.split("\n"))


# --- block helpers ---------------------------------------------------------------------------


def _plain(text: str, limit: int) -> Json:
    return {"type": "plain_text", "text": clip(text, limit) or " ", "emoji": True}


def _md(text: str, limit: int = SECTION_TEXT_MAX) -> Json:
    return {"type": "mrkdwn", "text": clip_mrkdwn(text, limit) or " "}


def _section(text: str, accessory: Json | None = None) -> Json:
    block: Json = {"type": "section", "text": _md(text)}
    if accessory is not None:
        block["accessory"] = accessory
    return block


def _fields(pairs: Sequence[str]) -> Json:
    return {
        "type": "section",
        "fields": [_md(text, FIELD_TEXT_MAX) for text in pairs[:SECTION_FIELDS_MAX]],
    }


def _header(text: str) -> Json:
    return {"type": "header", "text": _plain(text, HEADER_MAX)}


def _context(*texts: str) -> Json:
    return {
        "type": "context",
        "elements": [_md(text, CONTEXT_TEXT_MAX) for text in texts[:CONTEXT_ELEMENTS_MAX]],
    }


def _divider() -> Json:
    return {"type": "divider"}


def _button(
    text: str,
    action_id: Action,
    value: str,
    *,
    style: str | None = None,
    confirm: Json | None = None,
) -> Json:
    button: Json = {
        "type": "button",
        "action_id": str(action_id),
        "text": _plain(text, BUTTON_TEXT_MAX),
        "value": value,
    }
    if style:
        button["style"] = style
    if confirm:
        button["confirm"] = confirm
    return button


def _actions(*elements: Json) -> Json:
    return {"type": "actions", "elements": list(elements)}


def _option(text: str, value: str) -> Json:
    return {"text": _plain(text, OPTION_TEXT_MAX), "value": value}


def _input(
    block_id: Block,
    label: str,
    element: Json,
    *,
    optional: bool = False,
    hint: str | None = None,
) -> Json:
    block: Json = {
        "type": "input",
        "block_id": str(block_id),
        "label": _plain(label, LABEL_MAX),
        "element": element,
        "optional": optional,
    }
    if hint:
        block["hint"] = _plain(hint, HINT_MAX)
    return block


def _text_input(
    *,
    multiline: bool = True,
    placeholder: str | None = None,
    initial: str = "",
    max_length: int = INPUT_VALUE_MAX,
) -> Json:
    element: Json = {
        "type": "plain_text_input",
        "action_id": INPUT_ACTION,
        "multiline": multiline,
        "max_length": max_length,
    }
    if placeholder:
        element["placeholder"] = _plain(placeholder, PLACEHOLDER_MAX)
    if initial:
        # Cut hard, no ellipsis: the text is the user's own and must fit max_length.
        element["initial_value"] = initial[: min(max_length, INPUT_VALUE_MAX)]
    return element


def _datepicker(initial: date | None = None) -> Json:
    element: Json = {"type": "datepicker", "action_id": INPUT_ACTION}
    if initial is not None:
        element["initial_date"] = initial.isoformat()
    return element


def _modal(
    callback_id: View,
    title: str,
    blocks: list[Json],
    private_metadata: str,
    prompts: Prompts,
    *,
    submit: str | None = None,
    close: str | None = None,
) -> Json:
    if len(private_metadata) > PRIVATE_METADATA_MAX:
        raise ValueError(f"private_metadata is {len(private_metadata)} characters, max 3000")
    view: Json = {
        "type": "modal",
        "callback_id": str(callback_id),
        "title": _plain(title, TITLE_MAX),
        "submit": _plain(submit or prompts.text("modals.submit"), SUBMIT_MAX),
        "close": _plain(close or prompts.text("modals.close"), SUBMIT_MAX),
        "blocks": blocks[:VIEW_BLOCKS_MAX],
    }
    if private_metadata:
        view["private_metadata"] = private_metadata
    return view


def _message(fallback: str, blocks: list[Json]) -> Json:
    return {"text": clip_mrkdwn(fallback, FALLBACK_MAX), "blocks": blocks[:MESSAGE_BLOCKS_MAX]}


def _and_more(count: int, prompts: Prompts, key: str = "format.and_more") -> Json:
    return _context(prompts.text(key, count=count))


# --- shared pieces of a nudge ----------------------------------------------------------------


def _md_values(ctx: NudgeContext, prompts: Prompts) -> dict[str, object]:
    """The placeholders of a nudge, ready for mrkdwn prompts."""
    return {
        "learner": mention(ctx.learner_slack_id, ctx.learner_name, prompts.raw("format.someone")),
        "manager": mention(ctx.manager_slack_id, ctx.manager_name, prompts.raw("format.someone")),
        "learner_name": user_text(ctx.learner_name, PERSON_NAME_MAX),
        "training": user_text(ctx.training, TRAINING_NAME_MAX),
        "dates": prompts.format_dates(ctx.starts_on, ctx.ends_on),
        "start": prompts.format_date(ctx.starts_on),
        "end": prompts.format_date(ctx.ends_on),
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
        "end": prompts.format_date(ctx.ends_on),
        "kind": prompts.text(f"kinds.{_kind(ctx)}"),
    }


_KINDS = frozenset(kind.value for kind in NudgeKind)
_FOLLOW_UP_OUTCOMES = (Outcome.APPLIED, Outcome.PARTLY, Outcome.NOT_YET)


def _kind(ctx: NudgeContext) -> str:
    kind = _value(ctx.kind)
    if kind not in _KINDS:
        raise ValueError(f"unknown nudge kind {kind!r}")
    return kind


def _is_learner_kind(kind: str) -> bool:
    return kind in (NudgeKind.GOAL_INVITE.value, NudgeKind.LEARNER_FOLLOW_UP.value)


def _prompt_buttons(kind: str, nudge_id: int, prompts: Prompts) -> list[Json]:
    """The buttons of a prompt, the same in its DM, its reminder and the Home tab."""
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
    if kind in (NudgeKind.FOLLOW_UP.value, NudgeKind.LEARNER_FOLLOW_UP.value):
        # The manager's DM needs a primary button (INTERFACE.md); the learner's stays neutral.
        style = "primary" if kind == NudgeKind.FOLLOW_UP.value else None
        answers = [
            _button(prompts.text("buttons.applied"), Action.APPLIED, value, style=style),
            _button(prompts.text("buttons.partly"), Action.PARTLY, value),
            _button(prompts.text("buttons.not_yet"), Action.NOT_YET, value),
        ]
        if kind == NudgeKind.FOLLOW_UP.value:
            return [*answers, remind, not_needed]
        return answers
    if kind == NudgeKind.GOAL_INVITE.value:
        return [
            _button(prompts.text("buttons.share_goal"), Action.SHARE_GOAL, value, style="primary")
        ]
    raise ValueError(f"a {kind!r} nudge has no buttons of its own")


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


def _context_line(ctx: NudgeContext, prompts: Prompts) -> str:
    key = "answered.context_learner" if _is_learner_kind(_kind(ctx)) else "answered.context_manager"
    return prompts.text(key, **_md_values(ctx, prompts))


# --- nudges ----------------------------------------------------------------------------------


def nudge_message(ctx: NudgeContext, prompts: Prompts) -> Json:
    """The DM of a nudge; reminders are built by reminder_message."""
    kind = _kind(ctx)
    if kind == NudgeKind.GOAL_INVITE.value:
        return _goal_invite(ctx, prompts)
    if kind == NudgeKind.PRE_TRAINING.value:
        return _manager_prompt(ctx, prompts, "pre_training", "agreements")
    if kind == NudgeKind.DEBRIEF.value:
        return _manager_prompt(ctx, prompts, "debrief", "points")
    if kind == NudgeKind.FOLLOW_UP.value:
        return _manager_prompt(ctx, prompts, "follow_up", None)
    if kind == NudgeKind.LEARNER_FOLLOW_UP.value:
        return _learner_follow_up(ctx, prompts)
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
    if points_key:
        blocks.append(_section(prompts.text(f"{section}.{points_key}", **md)))
    blocks += _goals_section(ctx, prompts, for_learner=False)
    blocks.append(_actions(*_prompt_buttons(_kind(ctx), ctx.nudge_id, prompts)))
    blocks.append(_context(prompts.text(f"{section}.footer", **md)))
    return _message(f"{escape(title)}\n{text}", blocks)


def _learner_follow_up(ctx: NudgeContext, prompts: Prompts) -> Json:
    md = _md_values(ctx, prompts)
    title = prompts.text("learner_follow_up.title", **_plain_values(ctx, prompts))
    text = prompts.text("learner_follow_up.intro", **md)
    blocks = [
        _header(title),
        _section(text),
        *_goals_section(ctx, prompts, for_learner=True),
        _actions(*_prompt_buttons(_kind(ctx), ctx.nudge_id, prompts)),
        _context(prompts.text("learner_follow_up.footer", **md)),
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
        _actions(*_prompt_buttons(kind, ctx.nudge_id, prompts)),
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
    summary = [prompts.text("answered.summary_line", line=user_text(line, limit)) for line in lines]
    context = _context_line(ctx, prompts)
    blocks = [_context(context), _section("\n".join([status, *summary]))]
    return _message(f"{context}\n{status}", blocks)


def snoozed_message(ctx: NudgeContext, prompts: Prompts, when_text: str) -> Json:
    """A prompt's DM after "Remind me tomorrow": no buttons until it comes back."""
    context = _context_line(ctx, prompts)
    text = prompts.text("snoozed.text", when=user_text(when_text, 200))
    return _message(f"{context}\n{text}", [_context(context), _section(text)])


# --- quadrants -------------------------------------------------------------------------------


def quadrant_advice(q: Quadrant | str, prompts: Prompts) -> str:
    return prompts.text(f"quadrants.{_value(q)}")


_RECORD_LABELS = (
    ("what", "pre_training_modal.what"),
    ("why", "pre_training_modal.why"),
    ("how", "pre_training_modal.how"),
    ("takeaways", "debrief_modal.takeaways"),
    ("first_application", "debrief_modal.first_application"),
    ("support", "debrief_modal.support"),
)


def record_lines(record: ConversationRecord, prompts: Prompts) -> list[str]:
    """The short record shown in place of the buttons: labels with what was written."""
    lines: list[str] = []
    for attr, key in _RECORD_LABELS:
        value = getattr(record, attr)
        if value:
            lines.append(f"{prompts.text(key).rstrip('?')}: {_first_line(value)}")
    if record.quadrant:
        lines.append(quadrant_advice(record.quadrant, prompts).replace("*", ""))
    if record.checkin_on:
        lines.append(prompts.text("answered.checkin", date=prompts.format_date(record.checkin_on)))
    if record.note:
        lines.append(_first_line(record.note))
    return lines


def _first_line(text: str, limit: int = 140) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"


# --- modals ----------------------------------------------------------------------------------


def _modal_head(ctx: NudgeContext, prompts: Prompts) -> list[Json]:
    key = "modals.context"
    return [_context(prompts.text(key, **_md_values(ctx, prompts)))]


def pre_training_modal(ctx: NudgeContext, prompts: Prompts, private_metadata: str) -> Json:
    """The three agreements, the organisation's side of the quadrant, and a check-in date.

    WHAT, WHY and HOW are optional to Slack; the listener requires at least one of them.
    """
    md = _md_values(ctx, prompts)
    placeholder = "pre_training_modal.{}_placeholder"
    blocks = [
        *_modal_head(ctx, prompts),
        *_goals_section(ctx, prompts, for_learner=False),
        _context(prompts.text("pre_training_modal.hint", **md)),
    ]
    for block_id, key in ((Block.WHAT, "what"), (Block.WHY, "why"), (Block.HOW, "how")):
        element = _text_input(placeholder=prompts.text(placeholder.format(key)))
        blocks.append(
            _input(block_id, prompts.text(f"pre_training_modal.{key}"), element, optional=True)
        )
    blocks.append(_divider())
    quadrant_lines = [prompts.text("quadrants.intro", **md)]
    quadrant_lines += [quadrant_advice(q, prompts) for q in Quadrant]
    blocks.append(_context("\n".join(quadrant_lines)))
    if ctx.learner_interest in (1, 2, 3):
        level = prompts.text(f"interest.level_{ctx.learner_interest}")
        blocks.append(_section(prompts.text("interest.known", **md, level=level)))
    importance = {
        "type": "radio_buttons",
        "action_id": INPUT_ACTION,
        "options": [
            _option(prompts.text(f"pre_training_modal.org_{level}"), str(level))
            for level in (3, 2, 1)
        ],
    }
    blocks.append(
        _input(Block.ORG_IMPORTANCE, prompts.text("pre_training_modal.org_importance"), importance)
    )
    blocks.append(
        _input(
            Block.CHECKIN_ON,
            prompts.text("pre_training_modal.checkin"),
            _datepicker(),
            optional=True,
        )
    )
    title = prompts.text("pre_training_modal.title", **_plain_values(ctx, prompts))
    return _modal(View.PRE_TRAINING, title, blocks, private_metadata, prompts)


def debrief_modal(ctx: NudgeContext, prompts: Prompts, private_metadata: str) -> Json:
    """Takeaways, first application, support and check-in; the listener wants at least one."""
    md = _md_values(ctx, prompts)
    blocks = [
        *_modal_head(ctx, prompts),
        *_goals_section(ctx, prompts, for_learner=False),
        _context(prompts.text("debrief_modal.hint", **md)),
    ]
    for block_id, key in (
        (Block.TAKEAWAYS, "takeaways"),
        (Block.FIRST_APPLICATION, "first_application"),
        (Block.SUPPORT, "support"),
    ):
        blocks.append(
            _input(block_id, prompts.text(f"debrief_modal.{key}"), _text_input(), optional=True)
        )
    blocks.append(
        _input(
            Block.CHECKIN_ON, prompts.text("debrief_modal.checkin"), _datepicker(), optional=True
        )
    )
    title = prompts.text("debrief_modal.title", **_plain_values(ctx, prompts))
    return _modal(View.DEBRIEF, title, blocks, private_metadata, prompts)


def follow_up_modal(
    ctx: NudgeContext, prompts: Prompts, private_metadata: str, outcome: str
) -> Json:
    """An optional note on the outcome the button chose; the outcome itself is not an input."""
    outcome = _value(outcome)
    if outcome not in {o.value for o in _FOLLOW_UP_OUTCOMES}:
        raise ValueError(f"a follow-up outcome is applied, partly or not_yet, not {outcome!r}")
    label_key = "note_applied" if outcome == Outcome.APPLIED.value else "note_other"
    chosen = prompts.text(f"buttons.{outcome}")
    element = _text_input(placeholder=prompts.text("follow_up_modal.note_placeholder"))
    blocks = [
        *_modal_head(ctx, prompts),
        _section(prompts.text("follow_up_modal.chosen", outcome=escape(chosen))),
        _input(Block.NOTE, prompts.text(f"follow_up_modal.{label_key}"), element, optional=True),
    ]
    title = prompts.text("follow_up_modal.title", **_plain_values(ctx, prompts))
    return _modal(View.FOLLOW_UP, title, blocks, private_metadata, prompts)


def not_needed_modal(ctx: NudgeContext, prompts: Prompts, private_metadata: str) -> Json:
    md = _md_values(ctx, prompts)
    key = (
        "not_needed_modal.text_learner" if _is_learner_kind(_kind(ctx)) else "not_needed_modal.text"
    )
    element = _text_input(
        multiline=False, placeholder=prompts.text("not_needed_modal.reason_placeholder")
    )
    blocks = [
        _section(prompts.text(key, **md)),
        _input(Block.REASON, prompts.text("not_needed_modal.reason"), element, optional=True),
    ]
    return _modal(
        View.NOT_NEEDED,
        prompts.text("not_needed_modal.title"),
        blocks,
        private_metadata,
        prompts,
        submit=prompts.text("not_needed_modal.submit"),
    )


def goal_modal(
    prompts: Prompts,
    private_metadata: str,
    enrollments: list[tuple[int, str]],
    selected_enrollment: int | None,
    text: str = "",
    measure: str = "",
    share: bool = True,
) -> Json:
    """Share or edit a goal. `enrollments` are (enrollment id, training name).

    With exactly one enrollment there is no ENROLLMENT input, just a line naming the training:
    the caller must then carry that enrollment's id in private_metadata.
    """
    if not enrollments:
        raise ValueError("a goal needs an enrollment; answer with ephemeral goal_no_enrollment")
    blocks: list[Json] = []
    if len(enrollments) == 1:
        training = user_text(enrollments[0][1], TRAINING_NAME_MAX)
        blocks.append(_context(prompts.text("goal_modal.for_training", training=training)))
    else:
        options = [
            _option(training, str(enrollment_id))
            for enrollment_id, training in enrollments[:OPTIONS_MAX]
        ]
        select: Json = {
            "type": "static_select",
            "action_id": INPUT_ACTION,
            "placeholder": _plain(prompts.text("goal_modal.enrollment_placeholder"), 150),
            "options": options,
        }
        for option in options:
            if option["value"] == str(selected_enrollment):
                select["initial_option"] = option
        blocks.append(_input(Block.ENROLLMENT, prompts.text("goal_modal.enrollment"), select))
    goal_input = _text_input(
        placeholder=prompts.text("goal_modal.text_placeholder"),
        initial=text,
        max_length=GOAL_TEXT_MAX,
    )
    measure_input = _text_input(
        multiline=False,
        placeholder=prompts.text("goal_modal.measure_placeholder"),
        initial=measure,
        max_length=GOAL_TEXT_MAX,
    )
    share_option = _option(prompts.text("goal_modal.share_option"), SHARE_OPTION_VALUE)
    checkboxes: Json = {"type": "checkboxes", "action_id": INPUT_ACTION, "options": [share_option]}
    if share:
        checkboxes["initial_options"] = [share_option]
    blocks += [
        _input(Block.GOAL_TEXT, prompts.text("goal_modal.text"), goal_input),
        _input(
            Block.GOAL_MEASURE, prompts.text("goal_modal.measure"), measure_input, optional=True
        ),
        # Optional, or Slack would refuse to submit with the box unticked.
        _input(Block.SHARE, prompts.text("goal_modal.share"), checkboxes, optional=True),
    ]
    return _modal(View.GOAL, prompts.text("goal_modal.title"), blocks, private_metadata, prompts)


def enroll_modal(
    prompts: Prompts,
    private_metadata: str = "",
    *,
    initial_learners: Sequence[str] = (),
    initial_training: str = "",
) -> Json:
    learners: Json = {"type": "multi_users_select", "action_id": INPUT_ACTION}
    if initial_learners:
        learners["initial_users"] = list(initial_learners)
    manager: Json = {"type": "users_select", "action_id": INPUT_ACTION}
    training = _text_input(
        multiline=False,
        placeholder=prompts.text("enroll_modal.training_placeholder"),
        initial=initial_training,
        max_length=TRAINING_NAME_MAX,
    )
    blocks = [
        _input(Block.LEARNERS, prompts.text("enroll_modal.learners"), learners),
        _input(Block.TRAINING, prompts.text("enroll_modal.training"), training),
        _input(Block.STARTS_ON, prompts.text("enroll_modal.starts_on"), _datepicker()),
        _input(Block.ENDS_ON, prompts.text("enroll_modal.ends_on"), _datepicker()),
        _input(
            Block.MANAGER,
            prompts.text("enroll_modal.manager"),
            manager,
            optional=True,
            hint=prompts.text("enroll_modal.manager_hint"),
        ),
    ]
    return _modal(
        View.ENROLL,
        prompts.text("enroll_modal.title"),
        blocks,
        private_metadata,
        prompts,
        submit=prompts.text("enroll_modal.submit"),
    )


def forget_me_modal(prompts: Prompts, private_metadata: str = "") -> Json:
    """Submitting this modal is the confirmation: it has no inputs."""
    blocks = [
        _section(prompts.text("forget_me_modal.text")),
        _context(prompts.text("forget_me_modal.footer")),
    ]
    return _modal(
        View.FORGET_ME,
        prompts.text("forget_me_modal.title"),
        blocks,
        private_metadata,
        prompts,
        submit=prompts.text("forget_me_modal.submit"),
        close=prompts.text("forget_me_modal.close"),
    )


# --- goals -----------------------------------------------------------------------------------


def _goal_item(goal: GoalView, training: str, prompts: Prompts) -> list[Json]:
    values = {
        "training": user_text(training, TRAINING_NAME_MAX),
        "text": user_text(goal.text, 2000),
        "measure": user_text(goal.measure or "", 600),
    }
    key = "goal_list.item_with_measure" if goal.measure else "goal_list.item"
    text = prompts.text(key, **values)
    if not goal.shared:
        text += " " + prompts.text("goal_list.private")
    confirm: Json = {
        "title": _plain(prompts.text("goal_list.delete_title"), CONFIRM_TITLE_MAX),
        "text": _plain(prompts.text("goal_list.delete_text"), CONFIRM_TEXT_MAX),
        "confirm": _plain(prompts.text("goal_list.delete_confirm"), CONFIRM_BUTTON_MAX),
        "deny": _plain(prompts.text("goal_list.delete_deny"), CONFIRM_BUTTON_MAX),
        "style": "danger",
    }
    value = str(goal.id)
    return [
        _section(text),
        _actions(
            _button(prompts.text("buttons.edit_goal"), Action.EDIT_GOAL, value),
            _button(
                prompts.text("buttons.delete_goal"),
                Action.DELETE_GOAL,
                value,
                style="danger",
                confirm=confirm,
            ),
        ),
    ]


def goal_list_message(goals: list[tuple[GoalView, str]], prompts: Prompts) -> Json:
    """A learner's goals, each with Edit and Delete; `goals` pairs a goal with its training."""
    if not goals:
        empty = prompts.text("goal_list.empty")
        return _message(empty, [_section(empty)])
    intro = prompts.text("goal_list.intro")
    blocks = [_section(intro)]
    for goal, training in goals[:GOAL_LIST_MAX]:
        blocks += _goal_item(goal, training, prompts)
    if len(goals) > GOAL_LIST_MAX:
        blocks.append(_and_more(len(goals) - GOAL_LIST_MAX, prompts))
    return _message(intro, blocks)


def goal_shared_message(
    learner_slack_id: str | None,
    learner_name: str,
    training: str,
    goal_text: str,
    measure: str | None,
    prompts: Prompts,
) -> Json:
    """The DM a manager gets when a report shares a goal."""
    values = {
        "learner": mention(learner_slack_id, learner_name, prompts.raw("format.someone")),
        "learner_name": user_text(learner_name, PERSON_NAME_MAX),
        "training": user_text(training, TRAINING_NAME_MAX),
        "goal": _quote(user_text(goal_text, 2400)),
    }
    text = prompts.text("goal_shared.text", **values)
    if measure and measure.strip():
        text += "\n" + prompts.text("goal_shared.measure", measure=user_text(measure, 500))
    title = prompts.text(
        "goal_shared.title",
        learner_name=clip(learner_name, PERSON_NAME_MAX),
        training=clip(training, TRAINING_NAME_MAX),
    )
    blocks = [_section(text), _context(prompts.text("goal_shared.footer"))]
    return _message(escape(title), blocks)


# --- App Home --------------------------------------------------------------------------------


def _lines_section(lines: list[str], prompts: Prompts) -> list[Json]:
    shown = lines[:HOME_LINES_MAX]
    blocks = [_section("\n".join(shown))]
    if len(lines) > len(shown):
        blocks.append(_and_more(len(lines) - len(shown), prompts))
    return blocks


def home_view(
    prompts: Prompts,
    *,
    open_prompts: Sequence[NudgeContext] = (),
    reports_trainings: Sequence[TrainingView] = (),
    logged_before: Sequence[RecordView] = (),
    my_trainings: Sequence[TrainingView] = (),
    my_goals: Sequence[tuple[GoalView, str]] = (),
    coming_next: Sequence[ComingView] = (),
    is_ld_lead: bool = False,
    ld_numbers: Sequence[tuple[str, str]] = (),
    sharing_on: bool = True,
) -> Json:
    """The App Home tab; each section appears only when it has something to show."""
    someone = prompts.raw("format.someone")
    blocks: list[Json] = []

    if open_prompts:
        blocks.append(_header(prompts.text("home.waiting")))
        for ctx in open_prompts[:HOME_OPEN_PROMPTS_MAX]:
            blocks.append(_section(_context_line(ctx, prompts)))
            blocks.append(_actions(*_prompt_buttons(_kind(ctx), ctx.nudge_id, prompts)))
        hidden = len(open_prompts) - HOME_OPEN_PROMPTS_MAX
        if hidden > 0:
            blocks.append(_and_more(hidden, prompts, "home.more_in_dms"))

    if reports_trainings:
        blocks.append(_header(prompts.text("home.reports_trainings")))
        lines = [
            prompts.text(
                "home.report_training_line",
                learner=mention(t.learner_slack_id, t.learner_name, someone),
                training=user_text(t.training, 100),
                dates=prompts.format_dates(t.starts_on, t.ends_on),
            )
            for t in reports_trainings
        ]
        blocks += _lines_section(lines, prompts)

    if my_trainings:
        blocks.append(_header(prompts.text("home.my_trainings")))
        lines = [
            prompts.text(
                "home.my_training_line",
                training=user_text(t.training, 100),
                dates=prompts.format_dates(t.starts_on, t.ends_on),
            )
            for t in my_trainings
        ]
        blocks += _lines_section(lines, prompts)

    if my_goals:
        blocks.append(_header(prompts.text("home.my_goals")))
        for goal, training in my_goals[:HOME_GOALS_MAX]:
            blocks += _goal_item(goal, training, prompts)
        if len(my_goals) > HOME_GOALS_MAX:
            blocks.append(_and_more(len(my_goals) - HOME_GOALS_MAX, prompts))

    if coming_next:
        blocks.append(_header(prompts.text("home.coming_next")))
        lines = [
            prompts.text(
                "home.coming_line",
                date=prompts.format_date(c.on),
                what=prompts.text(f"coming.{_value(c.kind)}"),
                training=user_text(c.training, 100),
            )
            for c in coming_next
        ]
        blocks += _lines_section(lines, prompts)

    if logged_before:
        blocks.append(_header(prompts.text("home.logged_before")))
        lines = [
            prompts.text(
                "home.logged_line",
                date=prompts.format_date(r.answered_on),
                learner=mention(r.learner_slack_id, r.learner_name, someone),
                training=user_text(r.training, 100),
                kind=prompts.text(f"kinds.{_value(r.kind)}"),
                outcome=prompts.text(f"outcomes.{_value(r.outcome)}"),
            )
            for r in logged_before
        ]
        blocks += _lines_section(lines, prompts)

    if is_ld_lead or ld_numbers:
        blocks.append(_header(prompts.text("home.this_week")))
        numbers = [
            f"*{user_text(label, 200)}*\n{user_text(value, 200)}"
            for label, value in ld_numbers[:HOME_NUMBERS_MAX]
        ]
        for start in range(0, len(numbers), SECTION_FIELDS_MAX):
            blocks.append(_fields(numbers[start : start + SECTION_FIELDS_MAX]))
        blocks.append(
            _actions(
                _button(
                    prompts.text("buttons.send_summary"),
                    Action.SEND_SUMMARY,
                    SEND_SUMMARY_VALUE,
                    style="primary",
                )
            )
        )

    if not blocks:
        blocks.append(_section(prompts.text("home.empty")))

    # The value is the state the toggle switches to, so a double click cannot flip it back.
    toggle_key, toggle_to = ("sharing_on", "off") if sharing_on else ("sharing_off", "on")
    footer = [
        _divider(),
        _context(prompts.text("home.footer")),
        _actions(
            _button(prompts.text(f"buttons.{toggle_key}"), Action.TOGGLE_SHARING, toggle_to),
            _button(prompts.text("buttons.forget_me"), Action.FORGET_ME, FORGET_ME_VALUE),
        ),
    ]
    blocks = blocks[: VIEW_BLOCKS_MAX - len(footer)] + footer
    return {"type": "home", "blocks": blocks}


# --- L&D summary -----------------------------------------------------------------------------
# `/training-summary`, the App Home button and the weekly digest; the figures and their text
# lines come from bot.core.reporting, the same lines `coachbot summary` prints.

SUMMARY_NOTE_MAX = 280  # characters of one quoted note


def summary_blocks(
    summary: reporting.Summary,
    prompts: Prompts,
    *,
    intro: str | None = None,
    title: str | None = None,
) -> Json:
    """The summary message: `{"text": fallback, "blocks": [...]}` within Slack's limits."""
    default_title, lines, groups = reporting.summary_lines(summary, prompts)
    title = title or default_title
    blocks: list[Json] = [_header(title)]
    if intro:
        blocks.append(_section(intro))
    blocks.append(_section("\n".join(lines)))
    if groups:
        blocks.append(_section(prompts.text("summary.by_training") + "\n" + "\n".join(groups)))
    if summary.notes:
        quoted = [
            prompts.text(
                "summary.note_line", note=user_text(n.replace("\n", " "), SUMMARY_NOTE_MAX)
            )
            for n in summary.notes
        ]
        blocks.append(_section(prompts.text("summary.notes_title") + "\n" + "\n".join(quoted)))
    blocks.append(_context(prompts.text("summary.privacy", min=summary.min_group_size)))
    return _message(escape(title), blocks)


# --- short answers ---------------------------------------------------------------------------


def ephemeral_text(key: str, prompts: Prompts, **values: object) -> str:
    """A short answer from [ephemeral]; str values are escaped unless they are Mrkdwn.

    Pass mentions as `mention(slack_id, name)` so they stay clickable.
    """
    safe = {
        name: value if isinstance(value, Mrkdwn) or not isinstance(value, str) else escape(value)
        for name, value in values.items()
    }
    full_key = key if key.startswith("ephemeral.") else f"ephemeral.{key}"
    return prompts.text(full_key, **safe)


def notice_modal(prompts: Prompts, *, lines: Sequence[str], title: str | None = None) -> Json:
    """A modal that only tells what happened (after a submission); `lines` are mrkdwn."""
    view: Json = {
        "type": "modal",
        "callback_id": str(View.NOTICE),
        "title": _plain(title or prompts.text("modals.notice_title"), TITLE_MAX),
        "close": _plain(prompts.text("modals.done"), SUBMIT_MAX),
        "blocks": [_section(line) for line in lines[:VIEW_BLOCKS_MAX]],
    }
    return view
