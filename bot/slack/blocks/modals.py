"""A conversation's modals (before, after, not needed, the follow-up note), /enroll, forget me."""

from __future__ import annotations

from collections.abc import Sequence

from bot.core.limits import TRAINING_NAME_MAX

# The mrkdwn text helpers live below the domain, which fills prompts with user text too; they
# are re-exported here for the builders' callers.
from bot.mrkdwn import escape
from bot.prompts import Prompts
from bot.slack.blocks.nudges import (
    _FOLLOW_UP_OUTCOMES,
    _goals_section,
    _is_learner_kind,
    _kind,
    _md_values,
    _plain_values,
    quadrant_advice,
)
from bot.slack.blocks.primitives import (
    Json,
    _context,
    _datepicker,
    _divider,
    _input,
    _modal,
    _option,
    _section,
    _text_input,
    _value,
)
from bot.slack.blocks.views import NudgeContext
from bot.slack.ids import INPUT_ACTION, Block, View
from storage.models import Outcome, Quadrant


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
    quadrant_lines += [quadrant_advice(q, prompts, ctx) for q in Quadrant]
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
