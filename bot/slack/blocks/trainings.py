"""Why trainings matter, on the L&D lead's App Home: the list with an Edit button each, and
the modal that edits a training's why and sponsor."""

from __future__ import annotations

import json
from collections.abc import Sequence

from bot.core.limits import TRAINING_NAME_MAX, WHY_MAX
from bot.core.trainings import TrainingWhy
from bot.mrkdwn import user_text
from bot.prompts import Prompts
from bot.slack.blocks.primitives import (
    Json,
    _button,
    _context,
    _header,
    _input,
    _modal,
    _section,
    _text_input,
    mention,
)
from bot.slack.ids import INPUT_ACTION, Action, Block, View

# Trainings listed on the Home tab (one block each), beyond which "and N more".
HOME_TRAININGS_MAX = 15


def training_list_blocks(
    trainings: Sequence[TrainingWhy], hidden: int, prompts: Prompts
) -> list[Json]:
    """The L&D lead's list: name, why (or that none was given) and sponsor, and Edit."""
    blocks = [_header(prompts.text("trainings.heading"))]
    for training in trainings[:HOME_TRAININGS_MAX]:
        why = user_text(training.why, WHY_MAX) if training.why else prompts.text("trainings.no_why")
        if training.sponsor_slack_id or training.sponsor_name:
            sponsor = mention(
                training.sponsor_slack_id, training.sponsor_name, prompts.raw("format.someone")
            )
            sponsor_line = prompts.text("trainings.sponsor", sponsor=sponsor)
        else:
            sponsor_line = prompts.text("trainings.no_sponsor")
        line = prompts.text(
            "trainings.line",
            training=user_text(training.name, TRAINING_NAME_MAX),
            why=why,
            sponsor=sponsor_line,
        )
        edit = _button(prompts.text("trainings.edit"), Action.EDIT_TRAINING, str(training.id))
        blocks.append(_section(line, accessory=edit))
    hidden += max(0, len(trainings) - HOME_TRAININGS_MAX)
    if hidden:
        blocks.append(_context(prompts.text("trainings.more", count=hidden)))
    return blocks


def training_modal(training: TrainingWhy, prompts: Prompts) -> Json:
    """Why `training` matters (multiline, at most WHY_MAX) and its sponsor (a Slack user)."""
    sponsor: Json = {"type": "users_select", "action_id": INPUT_ACTION}
    if training.sponsor_slack_id:
        sponsor["initial_user"] = training.sponsor_slack_id
    # A sponsor known by email only (not in Slack yet) cannot be shown in the select: an
    # empty select keeps them.
    unseen = bool(training.sponsor_name) and not training.sponsor_slack_id
    blocks = [
        _section(f"*{user_text(training.name, TRAINING_NAME_MAX)}*"),
        _input(
            Block.TRAINING_WHY,
            prompts.text("training_modal.why"),
            _text_input(
                placeholder=prompts.text("training_modal.why_placeholder"),
                initial=training.why or "",
                max_length=WHY_MAX,
            ),
            optional=True,
            hint=prompts.text("training_modal.why_hint", max=WHY_MAX),
        ),
        _input(
            Block.SPONSOR,
            prompts.text("training_modal.sponsor"),
            sponsor,
            optional=True,
            hint=prompts.text("training_modal.sponsor_kept", sponsor=training.sponsor_name)
            if unseen
            else prompts.text("training_modal.sponsor_hint"),
        ),
    ]
    return _modal(
        View.TRAINING,
        prompts.text("training_modal.title"),
        blocks,
        json.dumps({"training_id": training.id, "keep_sponsor": unseen}),
        prompts,
        submit=prompts.text("training_modal.submit"),
    )
