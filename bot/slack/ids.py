"""Every Block Kit action, callback and block id, in one place."""

from __future__ import annotations

from enum import StrEnum


class Action(StrEnum):
    # Manager prompts (value: the nudge id)
    LOG_CONVERSATION = "log_conversation"  # opens the pre-training or debrief modal
    REMIND_TOMORROW = "remind_tomorrow"
    NOT_NEEDED = "not_needed"  # opens the small "why not?" modal
    # The follow-up's Success Case answers, manager's and learner's, one set per subject
    # (value: "<nudge id>:<subject>", the subject "goal:<id>" or "training")
    CASE_CLEAR_RESULTS = "case_clear_results"
    CASE_NO_CLEAR_RESULTS = "case_no_clear_results"
    CASE_DIDNT_STICK = "case_didnt_stick"
    CASE_NOT_APPLIED = "case_not_applied"
    # The buttons of follow-ups sent before the Success Case question (value: the nudge id),
    # still in people's DMs: answered as migration 0010 maps their earlier answers.
    EARLIER_APPLIED = "followup_applied"
    EARLIER_PARTLY = "followup_partly"
    EARLIER_NOT_YET = "followup_not_yet"
    # Learner's goal invite (value: the nudge id)
    SHARE_GOAL = "share_goal"  # opens the goal modal for that enrollment
    INTEREST = "learner_interest"  # static_select / buttons: "1", "2", "3"
    # App Home and /goal list (value: the goal id)
    EDIT_GOAL = "edit_goal"
    DELETE_GOAL = "delete_goal"
    # App Home of L&D leads
    SEND_SUMMARY = "send_summary"
    EDIT_TRAINING = "edit_training"  # value: the training id; opens why it matters
    # App Home: the pages of open prompts (value: the page number, from 0)
    HOME_PAGE = "home_page"
    # App Home: sharing switch and "delete my data"
    TOGGLE_SHARING = "toggle_goal_sharing"
    FORGET_ME = "forget_me"
    # A thread reply on a day's message about several learners (value: "<note>:<nudge>")
    NOTE_FOR = "note_for_learner"


class View(StrEnum):
    ENROLL = "enroll_modal"
    PRE_TRAINING = "pre_training_modal"
    DEBRIEF = "debrief_modal"
    CASE = "case_modal"  # what result, how you know (and the learner's consent)
    NOT_NEEDED = "not_needed_modal"
    GOAL = "goal_modal"
    FORGET_ME = "forget_me_modal"
    NOTICE = "notice_modal"  # tells what a submission did; nothing to submit
    TRAINING = "training_modal"  # an L&D lead edits why a training matters


class Function(StrEnum):
    """callback_id of each Workflow Builder step the app provides (manifest `functions`)."""

    ENROLL_LEARNER = "enroll_learner"


class Block(StrEnum):
    """block_id of each input block; the action_id inside is always `value`."""

    LEARNERS = "learners"
    TRAINING = "training"
    STARTS_ON = "starts_on"
    ENDS_ON = "ends_on"
    MANAGER = "manager"
    EXTERNAL_ID = "external_id"
    WHAT = "what"
    WHY = "why"
    HOW = "how"
    ORG_IMPORTANCE = "org_importance"
    CHECKIN_ON = "checkin_on"
    TAKEAWAYS = "takeaways"
    FIRST_APPLICATION = "first_application"
    SUPPORT = "support"
    OUTCOME = "outcome"
    NOTE = "note"
    RESULT = "result"
    EVIDENCE = "evidence"
    CONSENT = "consent"
    REASON = "reason"
    ENROLLMENT = "enrollment"
    GOAL_TEXT = "goal_text"
    GOAL_MEASURE = "goal_measure"
    SHARE = "share"
    CONFIRM = "confirm"
    TRAINING_WHY = "training_why"
    SPONSOR = "sponsor"


INPUT_ACTION = "value"

# Message metadata that marks a nudge's DM, so a crashed send can be recognised.
NUDGE_EVENT_TYPE = "coachbot_nudge"

# The value of the single "Share with my manager" checkbox in the goal modal (Block.SHARE).
SHARE_OPTION_VALUE = "share"

# The value of the learner's "L&D may contact me about this" checkbox (Block.CONSENT).
CONSENT_OPTION_VALUE = "consent"
