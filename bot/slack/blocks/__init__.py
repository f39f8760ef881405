"""Pure Block Kit builders, one module per surface on one set of primitives: plain values
and Prompts in, Slack message and view dicts out. The builders are named here too, so a
listener reads `blocks.nudge_message(...)` whichever module holds it."""

from __future__ import annotations

from bot.slack.blocks.day import DAY_PEOPLE_MAX, DayPart, day_message, which_learner_message
from bot.slack.blocks.goals import GOAL_LIST_MAX, goal_list_message, goal_modal, goal_shared_message
from bot.slack.blocks.home import (
    FORGET_ME_VALUE,
    HOME_GOALS_MAX,
    HOME_LINES_MAX,
    HOME_NUMBERS_MAX,
    HOME_OPEN_PROMPTS_MAX,
    SEND_SUMMARY_VALUE,
    home_view,
)
from bot.slack.blocks.modals import (
    case_modal,
    debrief_modal,
    enroll_modal,
    forget_me_modal,
    not_needed_modal,
    pre_training_modal,
)
from bot.slack.blocks.nudges import (
    CASE_BUTTONS,
    MESSAGE_GOALS_MAX,
    answered_message,
    follow_up_message,
    nudge_message,
    quadrant_advice,
    record_lines,
    reminder_message,
    snoozed_message,
    why_line,
)
from bot.slack.blocks.primitives import (
    Mrkdwn,
    clip,
    clip_mrkdwn,
    ephemeral_text,
    escape,
    mention,
    notice_modal,
    user_text,
)
from bot.slack.blocks.summary import SUMMARY_NOTE_MAX, summary_blocks
from bot.slack.blocks.trainings import HOME_TRAININGS_MAX, training_list_blocks, training_modal
from bot.slack.blocks.views import ComingView, GoalView, NudgeContext, RecordView, TrainingView

__all__ = [
    "CASE_BUTTONS",
    "DAY_PEOPLE_MAX",
    "FORGET_ME_VALUE",
    "GOAL_LIST_MAX",
    "HOME_GOALS_MAX",
    "HOME_LINES_MAX",
    "HOME_NUMBERS_MAX",
    "HOME_OPEN_PROMPTS_MAX",
    "HOME_TRAININGS_MAX",
    "MESSAGE_GOALS_MAX",
    "SEND_SUMMARY_VALUE",
    "SUMMARY_NOTE_MAX",
    "ComingView",
    "DayPart",
    "GoalView",
    "Mrkdwn",
    "NudgeContext",
    "RecordView",
    "TrainingView",
    "answered_message",
    "case_modal",
    "clip",
    "clip_mrkdwn",
    "day_message",
    "debrief_modal",
    "enroll_modal",
    "ephemeral_text",
    "escape",
    "follow_up_message",
    "forget_me_modal",
    "goal_list_message",
    "goal_modal",
    "goal_shared_message",
    "home_view",
    "mention",
    "not_needed_modal",
    "notice_modal",
    "nudge_message",
    "pre_training_modal",
    "quadrant_advice",
    "record_lines",
    "reminder_message",
    "snoozed_message",
    "summary_blocks",
    "training_list_blocks",
    "training_modal",
    "user_text",
    "which_learner_message",
    "why_line",
]
