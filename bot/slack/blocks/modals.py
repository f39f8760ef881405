"""A conversation's modals (before, after, not needed, the follow-up's result), /enroll,
forget me."""

from __future__ import annotations

from collections.abc import Sequence

from bot.core.limits import ANSWER_TEXT_MAX, TRAINING_NAME_MAX

# The mrkdwn text helpers live below the domain, which fills prompts with user text too; they
# are re-exported here for the builders' callers.
from bot.mrkdwn import escape
from bot.prompts import Prompts
from bot.slack.blocks.nudges import (
    _goal_lines,
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
from bot.slack.blocks.views import GoalView, NudgeContext
from bot.slack.ids import CONSENT_OPTION_VALUE, INPUT_ACTION, Block, View
from storage.models import CASE_OUTCOMES, CaseAnswer, Outcome, Quadrant


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


def case_modal(
    ctx: NudgeContext,
    prompts: Prompts,
    private_metadata: str,
    *,
    answer: str,
    goal: GoalView | None = None,
) -> Json:
    """What result, and how they know (both optional), after the Success Case answer a
    button recorded; the learner's also asks whether L&D may contact them (off unless ticked)."""
    answer = _value(answer)
    if answer not in {a.value for a in CaseAnswer}:
        raise ValueError(f"unknown Success Case answer {answer!r}")
    for_learner = _is_learner_kind(_kind(ctx))
    chosen = prompts.text(f"buttons.case_{answer}")
    blocks = [*_modal_head(ctx, prompts)]
    if goal is not None:
        blocks.append(_section(_goal_lines([goal], prompts, yours=for_learner)))
    blocks.append(_section(prompts.text("case_modal.chosen", answer=escape(chosen))))
    if CASE_OUTCOMES[CaseAnswer(answer)] != Outcome.APPLIED.value:
        blocks.append(_context(prompts.text("case_modal.not_applied_hint")))
    for block_id, key in ((Block.RESULT, "result"), (Block.EVIDENCE, "evidence")):
        element = _text_input(
            placeholder=prompts.text(f"case_modal.{key}_placeholder"), max_length=ANSWER_TEXT_MAX
        )
        blocks.append(_input(block_id, prompts.text(f"case_modal.{key}"), element, optional=True))
    if for_learner:
        option = _option(prompts.text("case_modal.consent_option"), CONSENT_OPTION_VALUE)
        checkbox: Json = {"type": "checkboxes", "action_id": INPUT_ACTION, "options": [option]}
        blocks.append(
            _input(
                Block.CONSENT,
                prompts.text("case_modal.consent"),
                checkbox,
                optional=True,
                hint=prompts.text("case_modal.consent_hint"),
            )
        )
    return _modal(
        View.CASE,
        prompts.text("case_modal.title"),
        blocks,
        private_metadata,
        prompts,
        submit=prompts.text("case_modal.submit"),
        close=prompts.text("case_modal.close"),
    )


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
