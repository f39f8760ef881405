"""Canvas Live Events and Moodle's webhooks through the real HTTP app, with the details
fetched from fakes of Canvas's REST API and Moodle's web services (bot/sim/lms.py), which
answer with the vendors' documented shapes and can fail, go down and come back."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import select
from support import WEBHOOK_TOKEN, Bot, Clock, eventually, start_bot

from bot.sim.fakeslack import FakeSlack
from bot.sim.lms import (
    CanvasSigner,
    FakeCanvas,
    FakeKeySet,
    FakeMoodle,
    canvas_live_event,
    moodle_webhook,
    unix,
)
from storage.db import Database
from storage.models import Enrollment, InboxEvent, Nudge


@dataclass
class Lms:
    canvas: FakeCanvas
    moodle: FakeMoodle
    signer: CanvasSigner
    keys: FakeKeySet

    def settings(self) -> dict[str, Any]:
        return {
            "canvas_url": self.canvas.url,
            "canvas_token": self.canvas.token,
            "canvas_jwks_url": self.keys.jwks_url,
            "moodle_url": self.moodle.url,
            "moodle_token": self.moodle.token,
        }


@pytest.fixture
def lms() -> Iterator[Lms]:
    signer = CanvasSigner()
    with FakeCanvas() as canvas, FakeMoodle() as moodle, FakeKeySet(signer) as keys:
        canvas.add_user(501, name="Ada Lovelace", primary_email="Ada@Example.org")
        canvas.add_user(502, name="No Email", primary_email=None, login_id="noemail")
        # Starts at 06:00 UTC on 1 December: 23:00 on 30 November in Denver (UTC-7).
        canvas.add_course(
            77,
            name="Coaching Skills",
            start_at="2026-12-01T06:00:00Z",
            end_at="2026-12-03T00:00:00Z",
            time_zone="America/Denver",
        )
        canvas.add_course(78, name="Data Privacy (self-paced)")
        moodle.add_user(9, email="ada@example.org", firstname="Ada", lastname="Lovelace")
        moodle.add_course(
            31,
            fullname="Negotiation",
            startdate=unix("2026-12-07T08:00:00"),
            enddate=unix("2026-12-08T17:00:00"),
        )
        moodle.add_course(32, fullname="Security Basics (self-paced)", startdate=0, enddate=0)
        yield Lms(canvas, moodle, signer, keys)


@pytest.fixture
def app(lms: Lms, fake: FakeSlack, db: Database, clock: Clock, db_url: str) -> Iterator[Bot]:
    instance, server = start_bot(fake, db, clock, db_url, **lms.settings())
    _people(instance)
    yield instance
    eventually(instance.web.sources.inbox.idle)
    server.close()


def _people(bot: Bot) -> None:
    bot.fake.add_user("UADA", email="ada@example.org", real_name="Ada", tz="Europe/Paris")
    bot.fake.add_user("UGRACE", email="grace@example.org", real_name="Grace", tz="America/New_York")
    with bot.db.session() as s:
        learner = bot.services.intake.resolve(s, "ada@example.org", "learner")
        learner.manager_id = bot.services.intake.resolve(s, "UGRACE", "manager").id
        s.add(learner)


def canvas_post(bot: Bot, body: Any, *, token: str | None = WEBHOOK_TOKEN) -> Any:
    path = "/api/lms/canvas" + (f"?token={token}" if token is not None else "")
    data = body if isinstance(body, str) else json.dumps(body)
    return bot.post(path, data, {"Content-Type": "application/json"})


def moodle_post(bot: Bot, body: Any) -> Any:
    return bot.post("/api/lms/moodle", json.dumps(body), {"Content-Type": "application/json"})


def enrollments(bot: Bot) -> list[Enrollment]:
    with bot.db.session() as s:
        return list(s.exec(select(Enrollment).order_by(Enrollment.id)).all())


def enrolled(bot: Bot, key: str) -> Enrollment:
    def found() -> Enrollment | None:
        with bot.db.session() as s:
            return s.exec(select(Enrollment).where(Enrollment.external_id == key)).first()

    result = eventually(found)
    assert isinstance(result, Enrollment)
    return result


def inbox(bot: Bot) -> list[InboxEvent]:
    with bot.db.session() as s:
        return list(s.exec(select(InboxEvent).order_by(InboxEvent.id)).all())


def settled(bot: Bot) -> list[InboxEvent]:
    """The inbox once the background work on it has stopped."""
    eventually(bot.web.sources.inbox.idle)
    return inbox(bot)


def nudges(bot: Bot, enrollment_id: int | None) -> dict[str, Nudge]:
    with bot.db.session() as s:
        rows = s.exec(select(Nudge).where(Nudge.enrollment_id == enrollment_id)).all()
        return {n.kind: n for n in rows}


# -- Canvas ---------------------------------------------------------------------------------


def test_a_canvas_enrollment_is_accepted_at_once_and_enrolled_with_its_details(
    app: Bot, lms: Lms
) -> None:
    event = canvas_live_event(enrollment_id=9001, user_id=501, course_id=77)
    answer = canvas_post(app, event)
    assert answer.status == 202, answer.text
    assert answer.json()["result"] == "accepted"
    stored = enrolled(app, "canvas:9001")
    assert stored.source == "canvas"
    # The dates in the course's zone: 30 Nov to 2 Dec in Denver.
    assert (str(stored.starts_on), str(stored.ends_on)) == ("2026-11-30", "2026-12-02")
    assert stored.manager_id is not None  # from the directory
    assert set(nudges(app, stored.id)) == {
        "goal_invite",
        "pre_training",
        "debrief",
        "follow_up",
        "learner_follow_up",
    }
    calls = [(c.path, c.authorized) for c in lms.canvas.calls]
    assert calls == [("/api/v1/users/501/profile", True), ("/api/v1/courses/77", True)]
    (row,) = settled(app)
    assert (row.status, row.outcome) == ("done", "created")


def test_a_duplicate_delivery_is_a_no_op_and_other_enrollments_are_ignored(
    app: Bot, lms: Lms
) -> None:
    event = canvas_live_event(enrollment_id=9001, user_id=501, course_id=77)
    assert canvas_post(app, event).status == 202
    enrolled(app, "canvas:9001")
    again = canvas_post(app, event)
    assert again.status == 200 and again.json()["result"] == "duplicate"
    teacher = canvas_live_event(
        enrollment_id=9002, user_id=501, course_id=77, enrollment_type="TeacherEnrollment"
    )
    ignored = canvas_post(app, teacher)
    assert ignored.status == 200 and ignored.json()["result"] == "ignored"
    assert len(settled(app)) == 1
    assert len(enrollments(app)) == 1


def test_nothing_is_lost_while_canvas_is_down(app: Bot, lms: Lms) -> None:
    lms.canvas.go_down()
    event = canvas_live_event(enrollment_id=9001, user_id=501, course_id=77)
    answer = canvas_post(app, event)
    assert answer.status == 202  # at once, although Canvas does not answer
    (row,) = settled(app)
    assert row.status == "pending" and row.attempts == 1
    assert row.last_error is not None and "Canvas GET" in row.last_error
    assert row.next_attempt_at == app.clock() + timedelta(seconds=5)
    assert enrollments(app) == []

    app.clock.advance(seconds=5)
    app.web.sources.retry_due()  # the source_retry job, Canvas still down
    (row,) = inbox(app)
    assert row.attempts == 2 and row.next_attempt_at == app.clock() + timedelta(seconds=10)

    lms.canvas.come_back()
    app.clock.advance(seconds=9)
    assert app.web.sources.retry_due().applied == 0  # not due yet: the back-off holds
    app.clock.advance(seconds=1)
    assert app.web.sources.retry_due().applied == 1
    assert enrolled(app, "canvas:9001").source == "canvas"


def test_a_canvas_answering_503_with_retry_after_is_asked_again_no_sooner(
    app: Bot, lms: Lms
) -> None:
    lms.canvas.fail(503, retry_after=120)
    canvas_post(app, canvas_live_event(enrollment_id=9001, user_id=501, course_id=77))
    (row,) = settled(app)
    assert row.next_attempt_at == app.clock() + timedelta(seconds=120)
    lms.canvas.recover()
    app.clock.advance(seconds=120)
    assert app.web.sources.retry_due().applied == 1


def test_waiting_events_survive_a_restart(
    lms: Lms, fake: FakeSlack, db: Database, clock: Clock, db_url: str
) -> None:
    first, server = start_bot(fake, db, clock, db_url, **lms.settings())
    _people(first)
    lms.canvas.go_down()
    assert canvas_post(first, canvas_live_event(enrollment_id=9001, user_id=501, course_id=77))
    settled(first)
    server.close()

    lms.canvas.come_back()
    clock.advance(minutes=1)
    second, server = start_bot(fake, db, clock, db_url, **lms.settings())
    try:
        from bot.runtime import source_jobs

        (retry,) = [job for job in source_jobs(second.settings, second.web.sources)]
        assert retry.id == "source_retry"
        retry.func()
        assert enrolled(second, "canvas:9001").source == "canvas"
    finally:
        eventually(second.web.sources.inbox.idle)
        server.close()


def test_events_about_one_enrollment_are_applied_in_the_order_they_came(app: Bot, lms: Lms) -> None:
    lms.canvas.go_down()
    created = canvas_live_event(enrollment_id=9001, user_id=501, course_id=77)
    deleted = canvas_live_event(
        "enrollment_updated",
        enrollment_id=9001,
        user_id=501,
        course_id=77,
        workflow_state="deleted",
        updated_at="2026-11-23T10:05:00Z",
    )
    assert canvas_post(app, created).status == 202
    assert canvas_post(app, deleted).status == 202
    settled(app)
    lms.canvas.come_back()
    app.clock.advance(minutes=5)
    app.web.sources.retry_due()
    stored = enrolled(app, "canvas:9001")
    assert stored.status == "cancelled"  # not re-enrolled by the older event applied late
    assert [row.outcome for row in inbox(app)] == ["created", "updated"]


def test_a_completed_enrollment_and_a_self_paced_course(app: Bot, lms: Lms) -> None:
    canvas_post(app, canvas_live_event(enrollment_id=9003, user_id=501, course_id=78))
    stored = enrolled(app, "canvas:9003")
    assert stored.ends_on is None and str(stored.starts_on) == "2026-11-23"
    settled(app)
    done = canvas_live_event(
        "enrollment_updated",
        enrollment_id=9003,
        user_id=501,
        course_id=78,
        workflow_state="completed",
        updated_at="2026-11-23T15:00:00Z",
    )
    assert canvas_post(app, done).status == 202
    settled(app)
    stored = enrolled(app, "canvas:9003")
    assert str(stored.completed_on) == "2026-11-23"
    assert nudges(app, stored.id)["debrief"].status == "pending"


def test_a_learner_canvas_cannot_give_an_email_for_is_refused_and_kept_for_the_record(
    app: Bot, lms: Lms
) -> None:
    canvas_post(app, canvas_live_event(enrollment_id=9004, user_id=502, course_id=77))
    canvas_post(app, canvas_live_event(enrollment_id=9005, user_id=999, course_id=77))
    rows = eventually(lambda: [r for r in inbox(app) if r.status == "refused"] == inbox(app))
    assert rows
    first, second = inbox(app)
    assert first.outcome is not None and "no email address" in first.outcome
    assert second.outcome is not None and "HTTP 404" in second.outcome
    assert enrollments(app) == []
    # Fixed in Canvas, and the event delivered again: it is tried again.
    lms.canvas.add_user(999, name="New Hire", primary_email="ada@example.org")
    again = canvas_post(app, canvas_live_event(enrollment_id=9005, user_id=999, course_id=77))
    assert again.status == 202
    assert enrolled(app, "canvas:9005").source == "canvas"


def test_signed_live_events_are_checked_against_the_key_set(app: Bot, lms: Lms) -> None:
    event = canvas_live_event(enrollment_id=9006, user_id=501, course_id=77)
    signed = canvas_post(app, lms.signer.sign(event), token=None)
    assert signed.status == 202, signed.text
    enrolled(app, "canvas:9006")

    # A key rotated in after the set was read: read again, once.
    newer = CanvasSigner(kid="next-month")
    lms.keys.publish(newer)
    event = canvas_live_event(enrollment_id=9007, user_id=501, course_id=77)
    assert canvas_post(app, newer.sign(event), token=None).status == 202

    forged = CanvasSigner(kid=lms.signer.kid).sign(event)  # the right kid, another key
    assert canvas_post(app, forged, token=None).status == 401
    assert canvas_post(app, CanvasSigner(kid="nobody").sign(event), token=None).status == 401


def test_canvas_refusals(app: Bot, bot: Bot, lms: Lms) -> None:
    event = canvas_live_event(enrollment_id=9001, user_id=501, course_id=77)
    assert canvas_post(app, event, token=None).status == 401
    assert canvas_post(app, event, token="wrong").status == 401
    broken = canvas_live_event(enrollment_id=9001, user_id=501, course_id=77)
    del broken["body"]["enrollment_id"]
    answer = canvas_post(app, broken)
    assert answer.status == 400 and answer.json()["field"] == "body.enrollment_id"
    assert canvas_post(app, "{not json").status == 400
    assert canvas_post(app, "neither").status == 400
    off = canvas_post(bot, event)  # a bot without CANVAS_URL: the source is off
    assert off.status == 404 and "CANVAS_URL" in off.json()["error"]
    assert settled(app) == []


# -- Moodle ---------------------------------------------------------------------------------


def _moodle(event: str, **fields: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "courseid": 31,
        "relateduserid": 9,
        "objectid": 4401,
        "timecreated": unix("2026-11-23T10:00:00"),
        "token": WEBHOOK_TOKEN,
        **fields,
    }
    return moodle_webhook(event, **values)


def test_a_moodle_enrolment_is_accepted_at_once_and_enrolled_with_its_details(
    app: Bot, lms: Lms
) -> None:
    answer = moodle_post(app, _moodle("user_enrolment_created"))
    assert answer.status == 202, answer.text
    stored = enrolled(app, "moodle:31:9")
    assert (stored.source, str(stored.starts_on), str(stored.ends_on)) == (
        "moodle",
        "2026-12-07",
        "2026-12-08",
    )
    functions = [c.params["wsfunction"] for c in lms.moodle.calls]
    assert functions == ["core_user_get_users_by_field", "core_course_get_courses_by_field"]
    assert all(c.method == "POST" and c.authorized for c in lms.moodle.calls)
    (row,) = settled(app)
    assert "token" not in json.loads(row.payload)  # the secret is not kept with the event

    again = moodle_post(app, _moodle("user_enrolment_created"))
    assert again.status == 200 and again.json()["result"] == "duplicate"


def test_a_moodle_completion_and_a_cancellation(app: Bot, lms: Lms) -> None:
    moodle_post(app, _moodle("user_enrolment_created", courseid=32))
    stored = enrolled(app, "moodle:32:9")
    assert stored.ends_on is None  # enddate 0: self-paced
    settled(app)
    completed = _moodle(
        "course_completed", courseid=32, objectid=77, timecreated=unix("2026-11-24T18:00:00")
    )
    assert moodle_post(app, completed).status == 202
    settled(app)
    assert str(enrolled(app, "moodle:32:9").completed_on) == "2026-11-24"
    deleted = _moodle("user_enrolment_deleted", courseid=32, timecreated=unix("2026-11-25T09:00"))
    assert moodle_post(app, deleted).status == 202
    settled(app)
    assert enrolled(app, "moodle:32:9").status == "cancelled"


def test_a_moodle_token_being_fixed_is_retried_not_dropped(app: Bot, lms: Lms) -> None:
    real = lms.moodle.token
    lms.moodle.token = "rotated-by-an-admin"
    moodle_post(app, _moodle("user_enrolment_created"))
    (row,) = settled(app)
    assert row.status == "pending" and "invalidtoken" in (row.last_error or "")
    lms.moodle.token = real
    app.clock.advance(seconds=5)
    assert app.web.sources.retry_due().applied == 1


def test_moodle_refusals(app: Bot, lms: Lms) -> None:
    assert moodle_post(app, _moodle("user_enrolment_created", token="wrong")).status == 401
    no_token = _moodle("user_enrolment_created")
    del no_token["token"]
    assert moodle_post(app, no_token).status == 401
    other = {**_moodle("user_enrolment_created"), "eventname": "\\core\\event\\user_loggedin"}
    ignored = moodle_post(app, other)
    assert ignored.status == 200 and ignored.json()["result"] == "ignored"
    broken = {**_moodle("user_enrolment_created"), "courseid": "abc"}
    answer = moodle_post(app, broken)
    assert answer.status == 400 and answer.json()["field"] == "courseid"
    assert settled(app) == []


def test_the_metrics_count_by_source_and_show_the_events_waiting(app: Bot, lms: Lms) -> None:
    from bot.metrics import DueNudges, metrics

    def counted(source: str, result: str) -> float:
        return metrics().enrollments.labels(source=source, result=result)._value.get()

    def waiting() -> float:
        families = {f.name: f for f in DueNudges(app.db, app.clock).collect()}
        return families["coachbot_source_events_pending"].samples[0].value

    before = counted("canvas", "created")
    lms.canvas.go_down()
    canvas_post(app, canvas_live_event(enrollment_id=9010, user_id=501, course_id=77))
    settled(app)
    assert waiting() == 1
    lms.canvas.come_back()
    app.clock.advance(seconds=5)
    app.web.sources.retry_due()
    assert waiting() == 0
    assert counted("canvas", "created") == before + 1


def test_a_database_that_does_not_answer_is_a_503_with_retry_after(
    app: Bot, lms: Lms, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy.exc import OperationalError

    def down(*_args: Any, **_kwargs: Any) -> Any:
        raise OperationalError("INSERT", {}, Exception("connection refused"))

    monkeypatch.setattr(app.web.sources.inbox, "accept", down)
    for answer in (
        canvas_post(app, canvas_live_event(enrollment_id=9001, user_id=501, course_id=77)),
        moodle_post(app, _moodle("user_enrolment_created")),
    ):
        assert answer.status == 503 and "database" in answer.json()["error"]
        assert answer.headers.get("Retry-After")
