"""Goals: the goal modal, the learner's list and the message a shared goal makes."""

from __future__ import annotations

from bot.core.limits import GOAL_TEXT_MAX, PERSON_NAME_MAX, TRAINING_NAME_MAX

# The mrkdwn text helpers live below the domain, which fills prompts with user text too; they
# are re-exported here for the builders' callers.
from bot.mrkdwn import clip, escape, user_text
from bot.prompts import Prompts
from bot.slack.blocks.primitives import (
    CONFIRM_BUTTON_MAX,
    CONFIRM_TEXT_MAX,
    CONFIRM_TITLE_MAX,
    OPTIONS_MAX,
    Json,
    _actions,
    _and_more,
    _button,
    _context,
    _input,
    _message,
    _modal,
    _option,
    _plain,
    _quote,
    _section,
    _text_input,
    mention,
)
from bot.slack.blocks.views import GoalView
from bot.slack.ids import INPUT_ACTION, SHARE_OPTION_VALUE, Action, Block, View

GOAL_LIST_MAX = 20


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
