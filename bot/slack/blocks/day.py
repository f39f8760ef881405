"""The day's message: everything due for one person on one day, in one DM, grouped by
training, each learner with their own buttons so each conversation is logged on its own."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.core.limits import PERSON_NAME_MAX
from bot.mrkdwn import clip, user_text
from bot.prompts import Prompts
from bot.slack.blocks.nudges import (
    _goal_lines,
    _is_learner_kind,
    _kind,
    _later_round,
    _md_values,
    _prompt_blocks,
    why_line,
)
from bot.slack.blocks.primitives import (
    BUTTON_TEXT_MAX,
    MESSAGE_BLOCKS_MAX,
    Json,
    _actions,
    _and_more,
    _button,
    _context,
    _message,
    _section,
)
from bot.slack.blocks.views import GoalView, NudgeContext
from bot.slack.ids import Action
from storage.models import NudgeKind, Outcome

# People shown with buttons in one message; beyond, "and N more" and the App Home.
DAY_PEOPLE_MAX = 10


@dataclass(frozen=True)
class DayPart:
    """One nudge of the day's message. `ctx` is the prompt's (a reminder's: its prompt's);
    `state` is "open", or how it was closed: an Outcome value, or "snoozed"."""

    ctx: NudgeContext
    reminder: bool = False
    goal: GoalView | None = None  # a goal the learner shared (goal_shared)
    state: str = "open"
    state_text: str = ""  # what the closed state says, rendered by the caller


def _person(part: DayPart) -> tuple[str | None, str]:
    return part.ctx.learner_slack_id, part.ctx.learner_name


def _line(part: DayPart, prompts: Prompts) -> str:
    md = _md_values(part.ctx, prompts)
    if part.goal is not None:
        goal = _goal_lines([part.goal], prompts, yours=False)
        return prompts.text("day.goal_shared", **md) + "\n" + goal
    if part.reminder:
        return prompts.text("day.reminder", **md)
    return prompts.text(f"day.{_kind(part.ctx)}{_later_round(part.ctx)}", **md)


def _part_blocks(part: DayPart, prompts: Prompts) -> list[Json]:
    section = _section(_line(part, prompts))
    if part.goal is not None:
        return [section]
    closed = part.state != "open"
    # A follow-up shows the answers given about each subject, open or answered.
    if part.ctx.cases and part.state not in ("snoozed", Outcome.NOT_NEEDED.value):
        return [section, *_prompt_blocks(part.ctx, prompts, closed=closed)]
    if closed:
        return [section, _context(part.state_text)]
    return [section, *_prompt_blocks(part.ctx, prompts)]


def _training(part: DayPart) -> tuple[str, object, object]:
    return part.ctx.training, part.ctx.starts_on, part.ctx.ends_on


def _fitting(
    people: Sequence[tuple[str | None, str]], parts: Sequence[DayPart], prompts: Prompts
) -> list[tuple[str | None, str]]:
    """The people whose parts fit in one message, in order: a follow-up asks about each
    goal, so a few people's questions can fill Slack's 50 blocks. The rest are counted."""
    budget = MESSAGE_BLOCKS_MAX - 3  # the intro, "and N more" and the footer
    fitting: list[tuple[str | None, str]] = []
    trainings: set[tuple[str, object, object]] = set()
    used = 0
    for person in people:
        theirs = [p for p in parts if _person(p) == person]
        new_trainings = {_training(p) for p in theirs} - trainings
        cost = sum(len(_part_blocks(p, prompts)) for p in theirs) + len(new_trainings)
        if fitting and used + cost > budget:
            break
        fitting.append(person)
        trainings |= new_trainings
        used += cost
    return fitting


def _group_why(group: Sequence[DayPart], prompts: Prompts) -> str | None:
    pre_training = any(
        p.goal is None and _kind(p.ctx) == NudgeKind.PRE_TRAINING.value for p in group
    )
    return why_line(group[0].ctx, prompts) if pre_training else None


def day_message(parts: Sequence[DayPart], prompts: Prompts) -> Json:
    """One DM for several nudges to one person; `parts` in the order they should show."""
    if not parts:
        raise ValueError("a day's message needs at least one nudge")
    for_learner = all(_is_learner_kind(_kind(p.ctx)) for p in parts if p.goal is None)
    people: list[tuple[str | None, str]] = []
    for part in parts:
        if _person(part) not in people:
            people.append(_person(part))
    shown_people = _fitting(people[:DAY_PEOPLE_MAX], parts, prompts)
    shown = [p for p in parts if _person(p) in shown_people]
    intro_key = "day.intro_learner" if for_learner else "day.intro_manager"
    intro = prompts.text(intro_key, count=len(people))
    blocks: list[Json] = [_section(intro)]
    trainings: dict[tuple[str, object, object], list[DayPart]] = {}
    for part in shown:
        trainings.setdefault(_training(part), []).append(part)
    for group in trainings.values():
        md = _md_values(group[0].ctx, prompts)
        heading = prompts.text("day.training", **md)
        # Once per training, under its name, when the group asks for a pre-training talk.
        why = _group_why(group, prompts)
        blocks.append(_context(f"{heading}\n{why}" if why else heading))
        for part in group:
            blocks.extend(_part_blocks(part, prompts))
    if len(people) > len(shown_people):
        blocks.append(_and_more(len(people) - len(shown_people), prompts, "day.more"))
    blocks.append(_context(prompts.text("day.footer_learner" if for_learner else "day.footer")))
    names = ", ".join(
        user_text(name or prompts.raw("format.someone"), PERSON_NAME_MAX) for _, name in people
    )
    fallback = prompts.text(intro_key, count=len(people)) + " " + names
    return _message(fallback, blocks)


def which_learner_message(
    note_id: int, choices: Sequence[tuple[int, str]], prompts: Prompts
) -> Json:
    """In the thread of a day's message: which learner a reply that names none is about."""
    text = prompts.text("day.which_learner")
    buttons = [
        _button(
            clip(name or prompts.raw("format.someone"), BUTTON_TEXT_MAX),
            Action.NOTE_FOR,
            f"{note_id}:{nudge_id}",
        )
        for nudge_id, name in choices[:DAY_PEOPLE_MAX]
    ]
    return _message(text, [_section(text), _actions(*buttons)])
