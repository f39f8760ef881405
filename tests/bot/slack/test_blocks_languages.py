"""Every Block Kit builder, in every shipped language, with long user text: valid for Slack
(slack_sdk's own checks, the limits it does not check), and written in that language."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from typing import Any

import pytest
from slack_sdk.models.blocks import Block as SlackBlock
from slack_sdk.models.views import View as SlackView

from bot.prompts import SHIPPED_LOCALES, Prompts, load_catalogues
from bot.slack import blocks as b
from storage.models import CaseAnswer, ConversationRecord, NudgeKind, Outcome, Quadrant

CATALOGUES = load_catalogues()
LONG = "<Ünïcødé & 日本語>" + "x" * 4000
META = json.dumps({"nudge_id": 7})
# Reminders and shared goals have builders of their own (below).
KINDS = [k for k in NudgeKind if k not in (NudgeKind.REMINDER, NudgeKind.GOAL_SHARED)]


def _ctx(kind: NudgeKind, *, long: bool = False) -> b.NudgeContext:
    text = LONG if long else "Coaching Skills"
    goals = tuple(b.GoalView(i, text, text, shared=i % 2 == 0) for i in range(12 if long else 2))
    return b.NudgeContext(
        nudge_id=7,
        kind=kind,
        training=text,
        starts_on=date(2026, 12, 1),
        ends_on=date(2026, 12, 2),
        learner_name=LONG if long else "Ana Diaz",
        learner_slack_id="U0LEARNER",
        manager_name=LONG if long else "Bo Chen",
        manager_slack_id="U0MANAGER",
        goals=goals,
        learner_interest=2,
    )


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def _check_blocks(blocks: list[dict[str, Any]]) -> None:
    for block in SlackBlock.parse_all(blocks):
        block.validate_json()
    for d in _walk(blocks):
        if d.get("type") in ("plain_text", "mrkdwn"):
            assert d["text"].strip() and len(d["text"]) <= 3000
        if d.get("type") == "button":
            assert len(d["text"]["text"]) <= 75


def _message(message: dict[str, Any]) -> None:
    assert message["text"].strip() and 1 <= len(message["blocks"]) <= 50
    _check_blocks(message["blocks"])


def _view(view: dict[str, Any]) -> None:
    SlackView(**view).validate_json()
    assert len(view["blocks"]) <= 100
    _check_blocks(view["blocks"])
    if view["type"] == "modal":
        for part in ("title", "submit", "close"):
            if part in view:
                assert len(view[part]["text"]) <= 24, (part, view[part]["text"])


def _record() -> ConversationRecord:
    return ConversationRecord(
        nudge_id=7,
        enrollment_id=1,
        kind=NudgeKind.DEBRIEF,
        outcome=Outcome.LOGGED,
        what=LONG,
        takeaways="Listening first",
        first_application="Monday's 1:1",
        quadrant=Quadrant.UPHILL,
        checkin_on=date(2026, 12, 15),
        note="Good talk",
    )


def _everything(prompts: Prompts, long: bool) -> Iterator[tuple[str, dict[str, Any]]]:
    for kind in KINDS:
        ctx = _ctx(kind, long=long)
        yield f"nudge {kind}", b.nudge_message(ctx, prompts)
        if kind != NudgeKind.GOAL_INVITE:
            yield f"reminder {kind}", b.reminder_message(ctx, prompts, "https://x.slack.com/a")
        for outcome in Outcome:
            lines = b.record_lines(_record(), prompts)
            yield (
                f"answered {kind} {outcome}",
                b.answered_message(ctx, prompts, lines, "U0MANAGER", outcome),
            )
        yield f"snoozed {kind}", b.snoozed_message(ctx, prompts, "Tue, Dec 1, 9:30 AM")
    ctx = _ctx(NudgeKind.PRE_TRAINING, long=long)
    training = ctx.training
    yield "goal list", b.goal_list_message([(g, training) for g in ctx.goals], prompts)
    yield "no goals", b.goal_list_message([], prompts)
    yield "goal shared", b.goal_shared_message("U1", LONG, training, LONG, LONG, prompts)
    # The day's message: eleven people (one beyond the buttons), a reminder, a shared goal,
    # and parts already answered.
    parts = [
        b.DayPart(
            replace(ctx, nudge_id=i, learner_slack_id=f"U{i:04}", learner_name=f"{LONG[:40]} {i}"),
            state="open" if i % 3 else "logged",
            state_text="" if i % 3 else prompts.text("answered.logged", by=""),
        )
        for i in range(1, 12)
    ]
    parts.append(b.DayPart(ctx, reminder=True))
    parts.append(b.DayPart(ctx, goal=ctx.goals[0] if ctx.goals else b.GoalView(1, LONG)))
    yield "day message", b.day_message(parts, prompts)
    yield "which learner", b.which_learner_message(7, [(i, LONG) for i in range(12)], prompts)


def _views(prompts: Prompts, long: bool) -> Iterator[tuple[str, dict[str, Any]]]:
    ctx = _ctx(NudgeKind.PRE_TRAINING, long=long)
    follow = _ctx(NudgeKind.FOLLOW_UP, long=long)
    yield "pre-training", b.pre_training_modal(ctx, prompts, META)
    yield "debrief", b.debrief_modal(_ctx(NudgeKind.DEBRIEF, long=long), prompts, META)
    learner = _ctx(NudgeKind.LEARNER_FOLLOW_UP, long=long)
    for answer in CaseAnswer:
        yield f"follow-up {answer}", b.case_modal(follow, prompts, META, answer=answer)
        goal = learner.goals[0] if learner.goals else None
        yield f"learner {answer}", b.case_modal(learner, prompts, META, answer=answer, goal=goal)
    yield "not needed", b.not_needed_modal(ctx, prompts, META)
    yield "goal", b.goal_modal(prompts, META, [(1, ctx.training), (2, LONG)], 1, LONG, LONG)
    yield "enroll", b.enroll_modal(prompts, META)
    yield "forget me", b.forget_me_modal(prompts)
    yield "notice", b.notice_modal(prompts, lines=[LONG])
    yield (
        "home",
        b.home_view(
            prompts,
            open_prompts=[ctx] * 30,
            reports_trainings=[
                b.TrainingView(ctx.training, date(2026, 12, 1), date(2026, 12, 2), LONG, "U1")
            ]
            * 30,
            logged_before=[
                b.RecordView(date(2026, 11, 1), "debrief", "logged", ctx.training, LONG, "U1")
            ]
            * 30,
            my_trainings=[b.TrainingView(ctx.training, date(2026, 12, 1), date(2026, 12, 2))] * 30,
            my_goals=[(g, ctx.training) for g in ctx.goals],
            coming_next=[b.ComingView(date(2026, 12, 1), "debrief", ctx.training)] * 30,
            is_ld_lead=True,
            ld_numbers=[(prompts.text("summary.home_goals"), prompts.percent(0.42))] * 6,
        ),
    )
    yield "empty home", b.home_view(prompts)


@pytest.mark.parametrize("long", [False, True], ids=["short", "long"])
@pytest.mark.parametrize("language", SHIPPED_LOCALES)
def test_every_message_is_valid_block_kit_in_every_language(language: str, long: bool) -> None:
    prompts = CATALOGUES.for_locale(language)
    for name, message in _everything(prompts, long):
        try:
            _message(message)
        except Exception as exc:
            raise AssertionError(f"{language} {name}: {exc}") from exc


@pytest.mark.parametrize("long", [False, True], ids=["short", "long"])
@pytest.mark.parametrize("language", SHIPPED_LOCALES)
def test_every_modal_and_home_is_valid_in_every_language(language: str, long: bool) -> None:
    prompts = CATALOGUES.for_locale(language)
    for name, view in _views(prompts, long):
        try:
            _view(view)
        except Exception as exc:
            raise AssertionError(f"{language} {name}: {exc}") from exc


@pytest.mark.parametrize("language", [lang for lang in SHIPPED_LOCALES if lang != "en"])
def test_the_words_are_the_languages_own(language: str) -> None:
    prompts = CATALOGUES.for_locale(language)
    english = CATALOGUES.default
    ctx = _ctx(NudgeKind.PRE_TRAINING)
    message = b.nudge_message(ctx, prompts)
    assert message["blocks"][0]["text"]["text"] == prompts.text(
        "pre_training.title", learner_name="Ana Diaz", training="Coaching Skills"
    )
    assert (
        message["blocks"][0]["text"]["text"]
        != b.nudge_message(ctx, english)["blocks"][0]["text"]["text"]
    )
    modal = b.pre_training_modal(ctx, prompts, META)
    assert modal["title"]["text"] == prompts.text("pre_training_modal.title")
    assert prompts.format_dates(ctx.starts_on, ctx.ends_on) in json.dumps(
        message, ensure_ascii=False
    )


def test_the_answered_record_is_punctuated_as_each_language_writes_it() -> None:
    record = ConversationRecord(
        nudge_id=7,
        enrollment_id=1,
        kind=NudgeKind.DEBRIEF,
        outcome=Outcome.LOGGED,
        takeaways="Listen first",
    )
    # The modal's question without its "?" (French: no-break space and "?"; Japanese: "\uff1f"),
    # then the language's own colon.
    fr = b.record_lines(record, CATALOGUES.for_locale("fr-FR"))
    assert fr == ["Qu\u2019est-ce qui a \u00e9t\u00e9 appris\u00a0: Listen first"]
    ja = b.record_lines(record, CATALOGUES.for_locale("ja-JP"))
    assert ja == ["\u4f55\u3092\u5b66\u3073\u307e\u3057\u305f\u304b\uff1aListen first"]
    assert b.record_lines(record, CATALOGUES.default) == ["What did they learn: Listen first"]
