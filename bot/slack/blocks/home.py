"""The App Home tab: open prompts, goals, logged conversations and the L&D numbers."""

from __future__ import annotations

from collections.abc import Sequence

# The mrkdwn text helpers live below the domain, which fills prompts with user text too; they
# are re-exported here for the builders' callers.
from bot.core.trainings import TrainingWhy
from bot.mrkdwn import user_text
from bot.prompts import Prompts
from bot.slack.blocks.goals import _goal_item
from bot.slack.blocks.nudges import _context_line, _prompt_blocks
from bot.slack.blocks.primitives import (
    SECTION_FIELDS_MAX,
    VIEW_BLOCKS_MAX,
    Json,
    _actions,
    _and_more,
    _button,
    _context,
    _divider,
    _fields,
    _header,
    _section,
    _value,
    mention,
)
from bot.slack.blocks.trainings import training_list_blocks
from bot.slack.blocks.views import ComingView, GoalView, NudgeContext, RecordView, TrainingView
from bot.slack.ids import Action

# How many items each list shows before "and N more"; keeps every view under its block cap.
# Open prompts are not cut off but paged: every one is reachable with its buttons.
HOME_OPEN_PROMPTS_MAX = 15
HOME_PROMPT_BLOCKS_MAX = 45  # the open prompts' blocks, of the tab's 100
HOME_LINES_MAX = 15
HOME_GOALS_MAX = 8
HOME_NUMBERS_MAX = 20
FORGET_ME_VALUE = "forget"
SEND_SUMMARY_VALUE = "this_week"


def _lines_section(lines: list[str], prompts: Prompts) -> list[Json]:
    shown = lines[:HOME_LINES_MAX]
    blocks = [_section("\n".join(shown))]
    if len(lines) > len(shown):
        blocks.append(_and_more(len(lines) - len(shown), prompts))
    return blocks


def _pages(start: int, shown: int, total: int, prompts: Prompts) -> list[Json]:
    """ "Showing 16 to 30 of 42" and the buttons to the prompts before and after these; a
    button's value is the position (from 0) of the first prompt its page shows."""
    if start == 0 and shown >= total:
        return []
    first, last = start + 1, start + shown
    turns = []
    if start > 0:
        back = str(max(0, start - HOME_OPEN_PROMPTS_MAX))
        turns.append(_button(prompts.text("buttons.page_back"), Action.HOME_PAGE, back))
    if last < total:
        turns.append(_button(prompts.text("buttons.page_next"), Action.HOME_PAGE, str(last)))
    showing = prompts.text("home.showing", first=first, last=last, total=total)
    return [_context(showing), _actions(*turns)]


def home_view(
    prompts: Prompts,
    *,
    open_prompts: Sequence[NudgeContext] = (),
    open_total: int | None = None,
    open_start: int = 0,
    reports_trainings: Sequence[TrainingView] = (),
    logged_before: Sequence[RecordView] = (),
    my_trainings: Sequence[TrainingView] = (),
    my_goals: Sequence[tuple[GoalView, str]] = (),
    coming_next: Sequence[ComingView] = (),
    is_ld_lead: bool = False,
    ld_numbers: Sequence[tuple[str, str]] = (),
    ld_evidence: Sequence[Json] = (),
    sharing_on: bool = True,
    ld_trainings: tuple[Sequence[TrainingWhy], int] = ((), 0),
) -> Json:
    """The App Home tab; each section appears only when it has something to show."""
    someone = prompts.raw("format.someone")
    blocks: list[Json] = []

    if open_prompts:
        blocks.append(_header(prompts.text("home.waiting")))
        shown = 0
        for ctx in open_prompts[:HOME_OPEN_PROMPTS_MAX]:
            prompt = [_section(_context_line(ctx, prompts)), *_prompt_blocks(ctx, prompts)]
            # A follow-up asks about each goal: the prompts share a budget of blocks, and
            # the next page starts with the first one left out.
            if shown and len(blocks) + len(prompt) > HOME_PROMPT_BLOCKS_MAX:
                break
            blocks += prompt
            shown += 1
        blocks += _pages(open_start, shown, open_total or len(open_prompts), prompts)

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

    # The lead's part comes last and is kept whole: what else the tab holds gives way.
    lead: list[Json] = []
    if is_ld_lead or ld_numbers:
        lead.append(_header(prompts.text("home.this_week")))
        numbers = [
            f"*{user_text(label, 200)}*\n{user_text(value, 200)}"
            for label, value in ld_numbers[:HOME_NUMBERS_MAX]
        ]
        for start in range(0, len(numbers), SECTION_FIELDS_MAX):
            lead.append(_fields(numbers[start : start + SECTION_FIELDS_MAX]))
        lead.append(
            _actions(
                _button(
                    prompts.text("buttons.send_summary"),
                    Action.SEND_SUMMARY,
                    SEND_SUMMARY_VALUE,
                    style="primary",
                )
            )
        )
        lead += ld_evidence  # the latest chart and the success cases (blocks/evidence.py)
    if is_ld_lead and ld_trainings[0]:
        lead += training_list_blocks(*ld_trainings, prompts)

    if not blocks and not lead:
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
    blocks = blocks[: VIEW_BLOCKS_MAX - len(footer) - len(lead)] + lead + footer
    return {"type": "home", "blocks": blocks}
