"""Block Kit builders and prompt texts: valid for Slack, within its limits, escaped, overridable."""

from __future__ import annotations

import ast
import json
import re
import string
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from slack_sdk.models.blocks import Block as SlackBlock
from slack_sdk.models.views import View as SlackView

from bot.prompts import Prompts, PromptsError, load_prompts
from bot.slack import blocks as b
from bot.slack.ids import INPUT_ACTION, SHARE_OPTION_VALUE, Action, Block, View
from storage.models import CaseAnswer, NudgeKind, Outcome, Quadrant

PROMPTS = load_prompts(None)
LONG = "<script>&" + "x" * 10_000
ACTION_IDS = {a.value for a in Action}
BLOCK_IDS = {x.value for x in Block}
# Reminders and shared goals have builders of their own (reminder_message, goal_shared_message).
KIND_VALUES = [k.value for k in NudgeKind if k not in (NudgeKind.REMINDER, NudgeKind.GOAL_SHARED)]
META = json.dumps({"nudge_id": 7})


def ctx(kind: str = "pre_training", **overrides: Any) -> b.NudgeContext:
    values: dict[str, Any] = {
        "nudge_id": 7,
        "kind": kind,
        "training": "Coaching Skills",
        "starts_on": date(2026, 12, 1),
        "ends_on": date(2026, 12, 2),
        "learner_name": "Ana Diaz",
        "learner_slack_id": "U0LEARNER",
        "manager_name": "Bo Chen",
        "manager_slack_id": "U0MANAGER",
        "goals": (
            b.GoalView(1, "Run my 1:1s with the feedback model", "Team says it is clearer"),
            b.GoalView(2, "A private goal", None, shared=False),
        ),
        "learner_interest": 3,
    }
    values.update(overrides)
    return b.NudgeContext(**values)


def long_ctx(kind: str) -> b.NudgeContext:
    goals = tuple(b.GoalView(i, LONG, LONG) for i in range(12))
    return ctx(kind, training=LONG, learner_name=LONG, manager_name=LONG, goals=goals)


# --- walkers and validators ------------------------------------------------------------------


def walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


def texts(node: Any, kind: str | None = None) -> list[str]:
    return [
        d["text"]
        for d in walk(node)
        if d.get("type") in ("plain_text", "mrkdwn")
        and isinstance(d.get("text"), str)
        and (kind is None or d["type"] == kind)
    ]


def check_limits(blocks: list[dict[str, Any]]) -> None:
    """What slack_sdk does not check itself."""
    for block in blocks:
        if block["type"] == "context":
            assert 1 <= len(block["elements"]) <= 10
        if block["type"] == "section" and "text" in block:
            assert 0 < len(block["text"]["text"]) <= 3000
        if block["type"] == "actions":
            ids = [e["action_id"] for e in block["elements"]]
            assert len(ids) == len(set(ids)), "action ids must be unique within a block"
    for d in walk(blocks):
        if d.get("type") in ("plain_text", "mrkdwn"):
            assert d["text"].strip(), "empty text object"
            assert len(d["text"]) <= 3000
        if d.get("type") == "plain_text_input" and "initial_value" in d:
            assert len(d["initial_value"]) <= min(3000, d.get("max_length", 3000))
        if "action_id" in d:
            assert d["action_id"] in ACTION_IDS or d["action_id"] == INPUT_ACTION
        if d.get("type") == "input":
            assert d["block_id"] in BLOCK_IDS
            assert d["element"]["action_id"] == INPUT_ACTION
    block_ids = [blk["block_id"] for blk in blocks if "block_id" in blk]
    assert len(block_ids) == len(set(block_ids))


def validate_message(message: dict[str, Any]) -> None:
    assert set(message) == {"text", "blocks"}
    assert message["text"].strip()
    assert 1 <= len(message["blocks"]) <= 50
    for block in SlackBlock.parse_all(message["blocks"]):
        block.validate_json()
    check_limits(message["blocks"])


def validate_view(view: dict[str, Any]) -> None:
    SlackView(**view).validate_json()
    assert len(view["blocks"]) <= 100
    for block in SlackBlock.parse_all(view["blocks"]):
        block.validate_json()
    check_limits(view["blocks"])
    if view["type"] == "modal":
        assert len(view["title"]["text"]) <= 24
        assert view["callback_id"] in {v.value for v in View}


def action_ids(node: Any) -> list[str]:
    return [d["action_id"] for d in walk(node) if d.get("type") == "button"]


def button(node: Any, action: Action) -> dict[str, Any]:
    (found,) = [d for d in walk(node) if d.get("action_id") == action.value]
    return found


def all_modals(context: b.NudgeContext) -> list[dict[str, Any]]:
    return [
        b.pre_training_modal(context, PROMPTS, META),
        b.debrief_modal(context, PROMPTS, META),
        b.case_modal(
            context,
            PROMPTS,
            META,
            answer="clear_results",
            goal=context.goals[0] if context.goals else None,
        ),
        b.case_modal(context, PROMPTS, META, answer=CaseAnswer.NOT_APPLIED),
        b.not_needed_modal(context, PROMPTS, META),
        b.goal_modal(PROMPTS, META, [(1, context.training)], 1, LONG, LONG),
        b.goal_modal(PROMPTS, META, [(1, context.training), (2, LONG)], 2, "x", share=False),
        b.enroll_modal(PROMPTS, META),
        b.forget_me_modal(PROMPTS),
    ]


# --- prompts ---------------------------------------------------------------------------------


def test_every_default_prompt_is_a_valid_template() -> None:
    for key in PROMPTS:
        for _literal, name, _spec, _conv in string.Formatter().parse(PROMPTS.raw(key)):
            assert name is None or name.isidentifier(), key


def test_override_changes_the_message(tmp_path: Path) -> None:
    override = tmp_path / "prompts.toml"
    override.write_text('[pre_training]\ntitle = "Talk with {learner_name} first"\n')
    prompts = load_prompts(str(override))
    message = b.nudge_message(ctx(), prompts)
    validate_message(message)
    assert message["blocks"][0]["text"]["text"] == "Talk with Ana Diaz first"
    # Everything not overridden keeps its default.
    assert prompts.raw("debrief.title") == PROMPTS.raw("debrief.title")


def test_override_with_unknown_key_names_key_and_file(tmp_path: Path) -> None:
    override = tmp_path / "mine.toml"
    override.write_text('[pre_training]\ntitel = "Hello"\n')
    with pytest.raises(PromptsError, match=r"pre_training\.titel") as error:
        load_prompts(str(override))
    assert str(override) in str(error.value)


def test_override_with_unknown_placeholder_is_refused(tmp_path: Path) -> None:
    override = tmp_path / "mine.toml"
    override.write_text('[pre_training]\ntitle = "Before {boss}"\n')
    with pytest.raises(PromptsError, match=r"pre_training\.title.*\{boss\}"):
        load_prompts(str(override))


@pytest.mark.parametrize(
    "content",
    [
        "not toml = = =",
        "[pre_training]\ntitle = 3\n",
        'pre_training = "flat"\n',
        '[pre_training]\ntitle = "{0}"\n',
        '[pre_training]\ntitle = "{training"\n',
        '[format]\nmonths = "Jan,Feb"\n',
    ],
)
def test_bad_overrides_raise_prompts_error(tmp_path: Path, content: str) -> None:
    override = tmp_path / "bad.toml"
    override.write_text(content)
    with pytest.raises(PromptsError, match=r"bad\.toml"):
        load_prompts(str(override))


def test_missing_override_file_is_a_prompts_error(tmp_path: Path) -> None:
    with pytest.raises(PromptsError, match=r"nope\.toml"):
        load_prompts(str(tmp_path / "nope.toml"))


def test_override_may_drop_placeholders(tmp_path: Path) -> None:
    override = tmp_path / "ok.toml"
    override.write_text('[ephemeral]\ngoal_too_long = "Too long."\n')
    assert b.ephemeral_text("goal_too_long", load_prompts(str(override)), length=5) == "Too long."


def test_text_without_a_needed_value_raises() -> None:
    with pytest.raises(PromptsError, match="training"):
        PROMPTS.text("pre_training.title", learner_name="Ana")


def test_dates_are_formatted_by_the_prompts() -> None:
    # English without a region is CLDR's en, as Slack's en-US writes it.
    assert PROMPTS.format_dates(date(2026, 12, 1), date(2026, 12, 1)) == "Tue, Dec 1"
    assert PROMPTS.format_dates(date(2026, 12, 1), date(2026, 12, 2)) == "Tue, Dec 1 to Wed, Dec 2"
    british = load_prompts(None, locale="en-GB")
    assert british.format_dates(date(2026, 12, 1), date(2026, 12, 2)) == "Tue 1 Dec to Wed 2 Dec"


# --- nudges ----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KIND_VALUES)
def test_nudge_messages_are_valid(kind: str) -> None:
    validate_message(b.nudge_message(ctx(kind), PROMPTS))
    validate_message(b.nudge_message(long_ctx(kind), PROMPTS))
    validate_message(b.nudge_message(ctx(kind, goals=(), learner_interest=None), PROMPTS))
    validate_message(b.nudge_message(ctx(NudgeKind(kind)), PROMPTS))


def test_goal_invite_says_how_to_share_and_asks_interest() -> None:
    message = b.nudge_message(ctx("goal_invite"), PROMPTS)
    body = "\n".join(texts(message))
    assert "`/goal`" in body
    assert "how will you know" in body
    share = button(message, Action.SHARE_GOAL)
    assert share["value"] == "7" and share["style"] == "primary"
    (radio,) = [d for d in walk(message) if d.get("type") == "radio_buttons"]
    assert radio["action_id"] == Action.INTEREST.value
    assert [o["value"] for o in radio["options"]] == ["7:1", "7:2", "7:3"]
    assert radio["initial_option"]["value"] == "7:3"
    unknown = b.nudge_message(ctx("goal_invite", learner_interest=None), PROMPTS)
    assert all("initial_option" not in d for d in walk(unknown))


def test_pre_training_prompt_has_agreements_goal_and_buttons() -> None:
    message = b.nudge_message(ctx("pre_training"), PROMPTS)
    body = "\n".join(texts(message, "mrkdwn"))
    assert "<@U0LEARNER>" in body
    assert "Coaching Skills" in body
    assert "*What*" in body and "*Why*" in body and "*How*" in body
    assert "Run my 1:1s" in body
    assert "A private goal" not in body, "a goal the learner kept private reaches no manager"
    assert action_ids(message) == ["log_conversation", "remind_tomorrow", "not_needed"]
    assert button(message, Action.LOG_CONVERSATION)["style"] == "primary"
    assert {d["value"] for d in walk(message) if d.get("type") == "button"} == {"7"}
    assert "Log our conversation" in texts(message, "plain_text")


def test_debrief_and_follow_up_buttons() -> None:
    debrief = b.nudge_message(ctx("debrief"), PROMPTS)
    assert action_ids(debrief) == ["log_conversation", "remind_tomorrow", "not_needed"]
    cases = [
        Action.CASE_CLEAR_RESULTS,
        Action.CASE_NO_CLEAR_RESULTS,
        Action.CASE_DIDNT_STICK,
        Action.CASE_NOT_APPLIED,
    ]
    # The manager is asked about the goal the learner shared, the learner about both.
    manager = ctx("follow_up", goals=ctx().goals[:1])
    follow_up = b.nudge_message(manager, PROMPTS)
    assert action_ids(follow_up) == [*cases, Action.REMIND_TOMORROW, Action.NOT_NEEDED]
    assert {button(follow_up, a)["value"] for a in cases} == {"7:goal:1"}
    assert button(follow_up, Action.CASE_CLEAR_RESULTS)["style"] == "primary"
    assert "Yes, with clear results" in texts(follow_up, "plain_text")
    learner = b.nudge_message(ctx("learner_follow_up"), PROMPTS)
    assert action_ids(learner) == cases * 2
    values = [d["value"] for d in walk(learner) if d.get("type") == "button"]
    assert values == ["7:goal:1"] * 4 + ["7:goal:2"] * 4
    assert "A private goal" in "\n".join(texts(learner)), "learners see their own goals"
    assert not any(d.get("style") for d in walk(learner) if d.get("type") == "button")
    # No goal: the question is about the training itself.
    training = b.nudge_message(ctx("learner_follow_up", goals=()), PROMPTS)
    assert {d["value"] for d in walk(training) if d.get("type") == "button"} == {"7:training"}
    # An answered subject shows its answer instead of its buttons.
    half = ctx("learner_follow_up", cases=(("goal:1", "didnt_stick"),))
    answered = b.nudge_message(half, PROMPTS)
    assert action_ids(answered) == cases
    assert "Your answer: *Tried, but it didn't stick*" in "\n".join(texts(answered))
    done = ctx("follow_up", goals=ctx().goals[:1], cases=(("goal:1", "clear_results"),))
    closed = b.follow_up_message(done, PROMPTS, closed=True)
    validate_message(closed)
    assert action_ids(closed) == [], "an answered follow-up asks nothing more"


def test_reminder_message_has_the_original_buttons_and_the_link() -> None:
    for kind in KIND_VALUES:
        original = b.nudge_message(ctx(kind), PROMPTS)
        link = "https://acme.slack.com/archives/D1/p123"
        reminder = b.reminder_message(ctx(kind), PROMPTS, link)
        validate_message(reminder)
        assert action_ids(reminder) == action_ids(original)
        assert f"<{link}|" in "\n".join(texts(reminder))
    no_link = b.reminder_message(ctx(), PROMPTS, None)
    validate_message(no_link)
    assert "gentle reminder" in no_link["text"]
    odd = b.reminder_message(ctx(), PROMPTS, "javascript:alert(1)>")
    assert "javascript" not in json.dumps(odd)
    validate_message(b.reminder_message(long_ctx("debrief"), PROMPTS, None))
    with pytest.raises(ValueError, match="original"):
        b.reminder_message(ctx("reminder"), PROMPTS, None)
    with pytest.raises(ValueError):
        b.nudge_message(ctx("reminder"), PROMPTS)


@pytest.mark.parametrize("outcome", [o.value for o in Outcome])
def test_answered_message_has_no_buttons(outcome: str) -> None:
    lines = ["What: listening", "Why: <b>team</b> & more", LONG, "  "]
    message = b.answered_message(ctx(), PROMPTS, lines, "U0MANAGER", outcome)
    validate_message(message)
    assert not any(d.get("type") in ("button", "actions") for d in walk(message))
    body = "\n".join(texts(message))
    assert "by <@U0MANAGER>" in body
    assert "&lt;b&gt;team&lt;/b&gt; &amp; more" in body
    anonymous = b.answered_message(long_ctx("debrief"), PROMPTS, [LONG] * 20, None, outcome)
    validate_message(anonymous)
    assert " by " not in anonymous["blocks"][1]["text"]["text"].split("\n")[0]


def test_answered_message_for_learner_kinds() -> None:
    message = b.answered_message(ctx("goal_invite"), PROMPTS, ["A goal"], None, "logged")
    validate_message(message)
    with pytest.raises(ValueError):
        b.answered_message(ctx(), PROMPTS, [], None, "maybe")


def test_snoozed_message() -> None:
    message = b.snoozed_message(ctx(), PROMPTS, "tomorrow at 09:30 <now>")
    validate_message(message)
    assert not action_ids(message)
    assert "tomorrow at 09:30 &lt;now&gt;" in "\n".join(texts(message))
    validate_message(b.snoozed_message(long_ctx("follow_up"), PROMPTS, LONG))


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="kind"):
        b.nudge_message(ctx("newsletter"), PROMPTS)


# --- escaping and truncation -----------------------------------------------------------------


@pytest.mark.parametrize("kind", KIND_VALUES)
def test_long_user_text_is_truncated_and_escaped(kind: str) -> None:
    context = long_ctx(kind)
    outputs: list[Any] = [
        b.nudge_message(context, PROMPTS),
        b.reminder_message(context, PROMPTS, None),
        b.answered_message(context, PROMPTS, [LONG], None, "logged"),
        b.snoozed_message(context, PROMPTS, LONG),
        *all_modals(context),
    ]
    for output in outputs:
        for text in texts(output, "mrkdwn"):
            assert "<script>" not in text
            assert "&lt;script&gt;&amp;" in text or "script" not in text
        for text in texts(output, "plain_text"):
            assert len(text) <= 2000
        if output.get("callback_id") not in (View.ENROLL, View.FORGET_ME):
            assert "…" in json.dumps(output, ensure_ascii=False)
        if "blocks" in output and "type" not in output:
            validate_message(output)
            assert "<script>" not in output["text"]
        else:
            validate_view(output)


def test_plain_text_limits_hold_for_long_names() -> None:
    message = b.nudge_message(long_ctx("pre_training"), PROMPTS)
    assert len(message["blocks"][0]["text"]["text"]) <= 150
    for d in walk(message):
        if d.get("type") == "button":
            assert len(d["text"]["text"]) <= 75
    goal = b.goal_modal(PROMPTS, META, [(1, LONG), (2, LONG)], None)
    for d in walk(goal):
        if "options" in d:
            assert all(len(o["text"]["text"]) <= 75 for o in d["options"])


def test_clip_mrkdwn_never_cuts_an_entity_or_mention() -> None:
    text = "a" * 2990 + "&amp;&amp;<@U012345678>"
    for limit in range(2990, len(text)):
        clipped = b.clip_mrkdwn(text, limit)
        assert len(clipped) <= limit
        body = clipped.rstrip("…")
        assert not body.endswith(("&", "&a", "&am", "&amp")), clipped[-8:]
        assert body.count("<") == body.count(">")


def test_mention_uses_slack_id_else_escaped_name() -> None:
    assert b.mention("U123ABC", "Ana") == "<@U123ABC>"
    assert b.mention(None, "Ana <3") == "Ana &lt;3"
    assert b.mention("not-an-id>", "Ana") == "Ana"
    assert b.mention(None, None) == "someone"


# --- modals ----------------------------------------------------------------------------------


def inputs(view: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {blk["block_id"]: blk for blk in view["blocks"] if blk["type"] == "input"}


@pytest.mark.parametrize("kind", ["pre_training", "debrief", "follow_up"])
def test_modals_are_valid(kind: str) -> None:
    for view in all_modals(ctx(kind)):
        validate_view(view)
        assert view.get("private_metadata", META) == META
    for view in all_modals(ctx(kind, goals=(), learner_interest=None, learner_slack_id=None)):
        validate_view(view)


def test_pre_training_modal() -> None:
    view = b.pre_training_modal(ctx(), PROMPTS, META)
    assert view["callback_id"] == View.PRE_TRAINING
    assert view["private_metadata"] == META
    fields = inputs(view)
    assert list(fields) == ["what", "why", "how", "org_importance", "checkin_on"]
    for key in ("what", "why", "how"):
        element = fields[key]["element"]
        assert element["type"] == "plain_text_input" and element["multiline"]
        assert fields[key]["optional"] is True
    importance = fields["org_importance"]["element"]
    assert importance["type"] == "radio_buttons"
    assert [o["value"] for o in importance["options"]] == ["3", "2", "1"]
    assert fields["checkin_on"]["element"]["type"] == "datepicker"
    assert fields["checkin_on"]["optional"] is True
    body = "\n".join(texts(view))
    for name in ("Sweet spot", "Uphill", "Gift", "Waste"):
        assert name in body
    assert "a lot" in body, "the learner's interest is shown when known"


def test_debrief_follow_up_and_not_needed_modals() -> None:
    debrief = b.debrief_modal(ctx("debrief"), PROMPTS, META)
    assert debrief["callback_id"] == View.DEBRIEF
    assert list(inputs(debrief)) == ["takeaways", "first_application", "support", "checkin_on"]
    manager = b.case_modal(ctx("follow_up"), PROMPTS, META, answer="no_clear_results")
    assert manager["callback_id"] == View.CASE
    assert list(inputs(manager)) == ["result", "evidence"]
    assert all(field["optional"] for field in inputs(manager).values())
    assert "*Yes, no clear results yet*" in "\n".join(texts(manager))
    learner = b.case_modal(ctx("learner_follow_up"), PROMPTS, META, answer="clear_results")
    assert list(inputs(learner)) == ["result", "evidence", "consent"]
    consent = inputs(learner)["consent"]
    assert consent["optional"] and "initial_options" not in consent["element"], "off by default"
    assert consent["element"]["options"][0]["text"]["text"] == "L&D may contact me about this"
    with pytest.raises(ValueError):
        b.case_modal(ctx("follow_up"), PROMPTS, META, answer="applied")
    not_needed = b.not_needed_modal(ctx(), PROMPTS, META)
    assert not_needed["callback_id"] == View.NOT_NEEDED
    assert list(inputs(not_needed)) == ["reason"]
    assert inputs(not_needed)["reason"]["optional"] is True


def test_goal_modal() -> None:
    one = b.goal_modal(PROMPTS, META, [(4, "Coaching Skills")], 4)
    assert one["callback_id"] == View.GOAL
    assert list(inputs(one)) == ["goal_text", "goal_measure", "share"]
    assert "Coaching Skills" in "\n".join(texts(one))
    share = inputs(one)["share"]
    assert share["optional"] is True
    assert share["element"]["initial_options"][0]["value"] == SHARE_OPTION_VALUE
    assert inputs(one)["goal_text"]["element"]["max_length"] == 3000

    many = b.goal_modal(PROMPTS, META, [(4, "A"), (5, "B")], 5, "my goal", "my measure", False)
    validate_view(many)
    fields = inputs(many)
    assert list(fields) == ["enrollment", "goal_text", "goal_measure", "share"]
    assert fields["enrollment"]["element"]["initial_option"]["value"] == "5"
    assert fields["goal_text"]["element"]["initial_value"] == "my goal"
    assert fields["goal_measure"]["element"]["initial_value"] == "my measure"
    assert "initial_options" not in fields["share"]["element"]

    lots = b.goal_modal(PROMPTS, META, [(i, f"T{i}") for i in range(300)], None)
    validate_view(lots)
    with pytest.raises(ValueError):
        b.goal_modal(PROMPTS, META, [], None)


def test_enroll_and_forget_me_modals() -> None:
    enroll = b.enroll_modal(PROMPTS)
    validate_view(enroll)
    assert "private_metadata" not in enroll
    fields = inputs(enroll)
    assert list(fields) == ["learners", "training", "starts_on", "ends_on", "manager"]
    assert fields["learners"]["element"]["type"] == "multi_users_select"
    assert fields["learners"]["optional"] is False
    assert fields["manager"]["element"]["type"] == "users_select"
    assert fields["manager"]["optional"] is True
    assert "directory" in fields["manager"]["hint"]["text"]
    preset = b.enroll_modal(PROMPTS, META, initial_learners=["U1"], initial_training=LONG)
    validate_view(preset)
    forget = b.forget_me_modal(PROMPTS)
    validate_view(forget)
    assert forget["callback_id"] == View.FORGET_ME
    assert "goals" in "\n".join(texts(forget))


def test_private_metadata_over_slack_limit_is_refused() -> None:
    with pytest.raises(ValueError, match="private_metadata"):
        b.not_needed_modal(ctx(), PROMPTS, "x" * 3001)


def test_quadrant_advice() -> None:
    for q in Quadrant:
        assert b.quadrant_advice(q, PROMPTS)
    assert "Question the enrollment" in b.quadrant_advice(Quadrant.WASTE, PROMPTS)


# --- goals -----------------------------------------------------------------------------------


def test_goal_list_message() -> None:
    empty = b.goal_list_message([], PROMPTS)
    validate_message(empty)
    assert "`/goal`" in empty["text"]
    goals = [(b.GoalView(i, LONG, LONG if i % 2 else None, bool(i % 3)), LONG) for i in range(40)]
    message = b.goal_list_message(goals, PROMPTS)
    validate_message(message)
    edit = [d for d in walk(message) if d.get("action_id") == Action.EDIT_GOAL]
    delete = [d for d in walk(message) if d.get("action_id") == Action.DELETE_GOAL]
    assert len(edit) == len(delete) == 20
    assert edit[3]["value"] == delete[3]["value"] == "3"
    assert all("confirm" in d for d in delete)
    assert "20 more" in json.dumps(message)


def test_goal_shared_message() -> None:
    message = b.goal_shared_message(
        "U0LEARNER", "Ana", "Coaching", "Line 1\nLine <2>", "x", PROMPTS
    )
    validate_message(message)
    body = message["blocks"][0]["text"]["text"]
    assert "<@U0LEARNER>" in body
    assert ">Line 1\n>Line &lt;2&gt;" in body
    assert not action_ids(message)
    validate_message(b.goal_shared_message(None, LONG, LONG, LONG, LONG, PROMPTS))
    validate_message(b.goal_shared_message(None, "Ana", "T", "goal", None, PROMPTS))


# --- App Home --------------------------------------------------------------------------------


def full_home(count: int) -> dict[str, Any]:
    kinds = ["pre_training", "debrief", "follow_up", "goal_invite", "learner_follow_up"]
    day = date(2026, 12, 1)
    return b.home_view(
        PROMPTS,
        open_prompts=[long_ctx(kinds[i % len(kinds)]) for i in range(count)],
        reports_trainings=[b.TrainingView(LONG, day, day, LONG, None)] * count,
        logged_before=[b.RecordView(day, "debrief", "applied", LONG, LONG, "U1")] * count,
        my_trainings=[b.TrainingView(LONG, day, day)] * count,
        my_goals=[(b.GoalView(i, LONG, LONG), LONG) for i in range(count)],
        coming_next=[b.ComingView(day, "learner_follow_up", LONG)] * count,
        is_ld_lead=True,
        ld_numbers=[(f"label {i} <&>", str(i)) for i in range(count)],
        sharing_on=False,
    )


def test_home_view_with_500_of_everything_stays_under_100_blocks() -> None:
    view = full_home(500)
    validate_view(view)
    assert view["type"] == "home"
    assert len(view["blocks"]) <= 100
    # Follow-ups ask about each goal, so fewer than a page of prompts fit: the next ones
    # are a click away.
    shown = re.search(r"Showing 1 to (\d+) of 500", json.dumps(view))
    assert shown and 1 <= int(shown[1]) < 15, "hidden prompts are counted"
    assert button(view, Action.HOME_PAGE)["value"] == shown[1], "and a page away"
    # The footer survives any amount of content.
    assert action_ids(view["blocks"][-1]) == [Action.TOGGLE_SHARING, Action.FORGET_ME]
    assert button(view["blocks"][-1], Action.TOGGLE_SHARING)["value"] == "on"
    assert Action.SEND_SUMMARY in action_ids(view)


def test_home_view_sections_only_when_non_empty() -> None:
    empty = b.home_view(PROMPTS)
    validate_view(empty)
    headers = [blk for blk in empty["blocks"] if blk["type"] == "header"]
    assert headers == []
    assert action_ids(empty) == [Action.TOGGLE_SHARING, Action.FORGET_ME]
    assert button(empty, Action.TOGGLE_SHARING)["value"] == "off"

    manager = b.home_view(PROMPTS, open_prompts=[ctx("pre_training")])
    validate_view(manager)
    assert [h["text"]["text"] for h in manager["blocks"] if h["type"] == "header"] == [
        "Waiting for you"
    ]
    assert action_ids(manager)[:3] == ["log_conversation", "remind_tomorrow", "not_needed"]

    lead = b.home_view(PROMPTS, is_ld_lead=True)
    validate_view(lead)
    assert Action.SEND_SUMMARY in action_ids(lead)
    assert Action.SEND_SUMMARY not in action_ids(manager)


def test_home_view_small_lists_are_complete() -> None:
    view = full_home(3)
    validate_view(view)
    assert "more" not in json.dumps(view).replace("more_in", "")


# --- short answers ---------------------------------------------------------------------------


def test_ephemeral_texts() -> None:
    owner = b.mention("U0MANAGER", "Bo")
    assert b.ephemeral_text("not_your_prompt", PROMPTS, owner=owner) == (
        "Only <@U0MANAGER> can answer this prompt."
    )
    too_long = b.ephemeral_text("goal_too_long", PROMPTS, length=3001, limit=3000)
    assert "3,001" in too_long and "3,000" in too_long  # numbers as the reader writes them
    unknown = b.ephemeral_text("unknown_person", PROMPTS, who="<!channel>")
    assert "<!channel>" not in unknown and "&lt;!channel&gt;" in unknown
    for key in (
        "not_authorized_summary",
        "goal_usage",
        "goal_empty",
        "goal_no_enrollment",
        "end_before_start",
        "already_answered",
    ):
        assert b.ephemeral_text(key, PROMPTS)
    assert "/enroll" in b.ephemeral_text("goal_no_enrollment", PROMPTS)
    done = b.ephemeral_text("enroll_done", PROMPTS, count=3, training="T", dates="Tue 1 Dec")
    assert "Enrolled 3" in done
    assert b.ephemeral_text("enroll_refused", PROMPTS, who=owner)
    assert b.ephemeral_text("enroll_no_manager", PROMPTS, who=owner)
    assert b.ephemeral_text("bad_date", PROMPTS, value="2026-13-01")


def test_prompts_is_the_only_source_of_words() -> None:
    assert isinstance(PROMPTS, Prompts)
    for path in Path(b.__file__).parent.glob("*.py"):
        _assert_no_words(ast.parse(path.read_text()))


def _assert_no_words(tree: ast.Module) -> None:
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
    }
    literals = [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
    ]
    # Builders take their words from prompts: no English phrase is hard-coded.
    for phrase in ("Remind me", "Not needed", "Log our", "Sweet spot", "matters to", "A lot"):
        assert not [text for text in literals if phrase in text]


def test_a_day_message_of_follow_ups_with_many_goals_fits_and_counts_the_rest() -> None:
    goals = tuple(b.GoalView(i, f"Goal {i}") for i in range(1, 6))
    parts = [
        b.DayPart(
            ctx(
                "follow_up",
                nudge_id=n,
                learner_name=f"Learner {n}",
                learner_slack_id=f"U0L{n:03d}",
                goals=goals,
            )
        )
        for n in range(1, 11)
    ]
    message = b.day_message(parts, PROMPTS)
    validate_message(message)
    asked = {
        d["value"].partition(":")[0]
        for d in walk(message)
        if d.get("action_id") == Action.CASE_CLEAR_RESULTS
    }
    assert 1 < len(asked) < 10, "whole people, as many as fit"
    body = "\n".join(texts(message))
    assert f"{10 - len(asked)} more people" in body and "Home tab" in body
    assert message["blocks"][-1]["type"] == "context", "the footer is never cut"
