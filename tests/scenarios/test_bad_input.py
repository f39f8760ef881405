"""Generated bad input: the webhook, both CSV imports, every slash command and modal.

Whatever arrives, the answer is never a 5xx nor a traceback, nothing is half-written, and
what was stored before is still there.
"""

from __future__ import annotations

import json
import string
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import func, select
from support import Bot

from bot.core.directory import import_people
from bot.sim.driver import date_value, text_value, user_value, users_value
from bot.slack.ids import Block, View
from storage.models import ConversationRecord, Enrollment, Goal, Nudge, Person

FIXTURE_SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

GOOD = {
    "external_id": "lms-keep",
    "learner_email": "ada@example.org",
    "manager_email": "grace@example.org",
    "training": "Coaching Skills",
    "starts_on": "2026-12-08",
    "ends_on": "2026-12-09",
}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=60),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)
dates = st.one_of(st.dates().map(str), st.text(max_size=12), st.integers(), st.none())
webhook_bodies = st.fixed_dictionaries(
    {},
    optional={
        "external_id": st.one_of(st.text(max_size=300), st.integers(), st.none()),
        "learner_email": st.one_of(st.emails(), st.text(max_size=40), st.none(), st.integers()),
        "learner_slack_id": st.one_of(st.text(alphabet="UW0123ABC", max_size=12), st.none()),
        "manager_email": st.one_of(st.emails(), st.text(max_size=40), st.none()),
        "manager_slack_id": st.one_of(st.text(max_size=12), st.none()),
        "training": st.one_of(st.text(max_size=260), st.none(), st.lists(st.text())),
        "starts_on": dates,
        "ends_on": dates,
        "status": st.one_of(
            st.sampled_from(["enrolled", "cancelled", "ENROLLED", ""]), st.text(max_size=10)
        ),
        "extra": json_values,
    },
)


def _snapshot(bot: Bot) -> tuple[int, ...]:
    with bot.db.session() as s:
        return tuple(
            s.exec(select(func.count()).select_from(model)).one()
            for model in (Enrollment, Nudge, Goal, ConversationRecord)
        )


def _seed(bot: Bot) -> None:
    bot.fake.add_user("UADA", email="ada@example.org", real_name="Ada", tz="UTC")
    bot.fake.add_user("UGRACE", email="grace@example.org", real_name="Grace", tz="UTC")
    assert bot.webhook(GOOD).status == 201


def test_webhook_never_fails_on_generated_bodies(bot: Bot) -> None:
    _seed(bot)
    kept = _snapshot(bot)

    @FIXTURE_SETTINGS
    @given(body=st.one_of(webhook_bodies, json_values, st.binary(max_size=200)))
    def check(body: Any) -> None:
        raw = body if isinstance(body, bytes) else json.dumps(body)
        response = bot.webhook(raw)
        assert response.status in (200, 201, 400), (response.status, response.text)
        answer = response.json()
        if response.status == 400:
            assert answer["error"] and "Traceback" not in response.text
        with bot.db.session() as s:
            enrollment = s.exec(select(Enrollment).where(Enrollment.external_id == "lms-keep"))
            assert enrollment.one().training_id is not None

    check()
    after = _snapshot(bot)
    assert after[0] >= kept[0]  # nothing stored before was lost


def test_slash_commands_never_fail_on_generated_text(bot: Bot) -> None:
    _seed(bot)

    @FIXTURE_SETTINGS
    @given(
        command=st.sampled_from(["/goal", "/training-summary", "/enroll"]),
        text=st.one_of(
            st.text(max_size=200),
            st.text(min_size=2990, max_size=3100),
            st.sampled_from(["list", "last", "csv", "2026-W99", "help", "  "]),
        ),
        user=st.sampled_from(["UADA", "UGRACE", "ULEAD0001", "UNOBODY"]),
    )
    def check(command: str, text: str, user: str) -> None:
        response = bot.command(command, text, user=user)
        assert response.status == 200, (command, text, response.text)
        assert "Traceback" not in response.text

    check()


def test_modal_submissions_never_fail_on_generated_values(bot: Bot) -> None:
    _seed(bot)
    kept = _snapshot(bot)
    texts = st.one_of(st.text(max_size=50), st.text(min_size=3000, max_size=3100), st.none())

    @FIXTURE_SETTINGS
    @given(
        callback=st.sampled_from([v.value for v in View if v != View.NOTICE]),
        meta=st.one_of(
            st.just(""),
            st.text(max_size=30),
            st.builds(
                lambda n: json.dumps({"nudge_id": n, "enrollment_id": n, "goal_id": n}),
                st.one_of(st.integers(), st.text(max_size=5)),
            ),
        ),
        text=texts,
        day=st.one_of(st.dates().map(str), st.text(max_size=10), st.none()),
        user=st.sampled_from(["UADA", "UGRACE", "UNOBODY"]),
    )
    def check(callback: str, meta: str, text: str | None, day: str | None, user: str) -> None:
        values = {
            Block.LEARNERS: users_value([user]),
            Block.TRAINING: text_value(text or ""),
            Block.STARTS_ON: date_value(day),
            Block.ENDS_ON: date_value(day),
            Block.MANAGER: user_value(None),
            Block.WHAT: text_value(text or ""),
            Block.GOAL_TEXT: text_value(text or ""),
            Block.NOTE: text_value(text or ""),
            Block.CHECKIN_ON: date_value(day),
        }
        view = {"type": "modal", "callback_id": callback, "private_metadata": meta}
        response = bot.submit(view, values, user=user)
        assert response.status == 200, (callback, response.text)
        assert "Traceback" not in response.text

    check()
    after = _snapshot(bot)
    assert after[0] >= kept[0]


def _csv_rows(width: int) -> st.SearchStrategy[list[list[str]]]:
    """Up to 8 rows of up to `width` printable cells of up to 20 characters."""
    return st.lists(
        st.lists(st.text(alphabet=string.printable, max_size=20), max_size=width), max_size=8
    )


@settings(max_examples=60, deadline=None)
@given(rows=_csv_rows(6))
def test_people_csv_never_raises(rows: list[list[str]]) -> None:
    from bot.sim.fakeslack import FakeSlack  # noqa: F401  (imported for parity with the app)
    from scheduler.planning import Rules
    from storage.db import Database

    db = Database("sqlite://")
    db.upgrade()
    text = "email,manager_email,name\n" + "\n".join(",".join(r) for r in rows)
    report = import_people(db, text, rules=Rules(), default_tz="UTC")
    assert report.created + report.updated + report.unchanged + len(report.errors) >= 0
    with db.session() as s:
        for person in s.exec(select(Person)).all():
            assert person.email and "@" in person.email


@settings(max_examples=60, deadline=None)
@given(rows=_csv_rows(7))
def test_enrollments_csv_never_raises(rows: list[list[str]]) -> None:
    from bot.core.enrollment import Intake
    from scheduler.planning import Rules
    from storage.db import Database

    db = Database("sqlite://")
    db.upgrade()
    with db.session() as s:
        from storage import crud

        crud.upsert_person(s, email="ada@example.org", slack_id="UADA")
    text = "learner_email,training,starts_on,ends_on,manager_email,external_id\n" + "\n".join(
        ",".join(r) for r in rows
    )
    report = Intake(db, rules=Rules(), default_tz="UTC").import_csv(text)
    assert all(line >= 1 and reason for line, reason in report.errors)
