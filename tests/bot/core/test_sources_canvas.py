"""Canvas Live Events and the REST answers that complete them become enrollment events; the
fake Canvas answers as Canvas does."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest

from bot.core.sources import SourceError
from bot.core.sources.canvas import read_live_event, to_source_event, verify_signed_event
from bot.sim.lms import CanvasSigner, FakeCanvas, canvas_live_event

TODAY = date(2026, 11, 23)

# The enrollment_created example of canvas-lms doc/api/data_services (a user-generated event).
DOC_EXAMPLE: dict[str, Any] = {
    "metadata": {
        "client_ip": "93.184.216.34",
        "context_account_id": "21070000000000079",
        "context_id": "21070000000000565",
        "context_sis_source_id": "2017.100.101.101-1",
        "context_type": "Course",
        "event_name": "enrollment_created",
        "event_time": "2018-10-09T21:07:33Z",
        "hostname": "oxana.instructure.com",
        "http_method": "POST",
        "producer": "canvas",
        "referrer": None,
        "request_id": "1dd9dc6f-2fb0-4c19-a6c5-7ee1bf3ed295",
        "root_account_id": "21070000000000001",
        "root_account_uuid": "VicYj3cu5BIFpoZhDVU4DZumnlBrWi1grgJEzADs",
        "session_id": "ef686f8ed684abf78cbfa1f6a58112b5",
        "time_zone": "America/New_York",
        "user_account_id": "21070000000000001",
        "user_id": "21070000000000001",
        "user_login": "oxana@example.com",
        "user_sis_id": "456-T45",
    },
    "body": {
        "associated_user_id": "21070000000000562",
        "course_id": "21070000000000565",
        "course_section_id": "21070000000004811",
        "created_at": "2018-10-09T21:07:33Z",
        "enrollment_id": "21070000000046825",
        "limit_privileges_to_course_section": False,
        "type": "StudentEnrollment",
        "updated_at": "2018-10-09T21:07:33Z",
        "user_id": "21070000000020064",
        "user_name": "Isaac Newton",
        "workflow_state": "invited",
    },
}


@pytest.fixture
def canvas() -> Iterator[FakeCanvas]:
    with FakeCanvas() as server:
        yield server


def get(url: str, token: str | None = None) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return answer.status, json.load(answer)
    except urllib.error.HTTPError as error:
        body = error.read()
        try:
            return error.code, json.loads(body)
        except ValueError:
            return error.code, body.decode()


def details(canvas: FakeCanvas, change: Any) -> dict[str, Any]:
    """The REST answers the caller would fetch, through the fake, keyed as to_source_event
    takes them."""
    answers = [get(canvas.url + path, canvas.token) for path in change.detail_paths()]
    assert all(status == 200 for status, _ in answers)
    profile, course, *section = (body for _, body in answers)
    return {"profile": profile, "course": course, "section": section[0] if section else None}


def test_the_documented_enrollment_created_event_is_read() -> None:
    change = read_live_event(DOC_EXAMPLE)
    assert change is not None
    assert change.key == "canvas:21070000000046825"
    assert (change.user_id, change.course_id) == ("21070000000020064", "21070000000000565")
    assert change.course_section_id == "21070000000004811"
    assert (change.workflow_state, change.action, change.needs_details) == (
        "invited",
        "enrolled",
        True,
    )
    assert change.detail_paths() == [
        "/api/v1/users/21070000000020064/profile",
        "/api/v1/courses/21070000000000565",
        "/api/v1/sections/21070000000004811",
    ]


def test_a_redelivery_has_the_same_event_id_and_a_new_state_a_new_one() -> None:
    first = read_live_event(DOC_EXAMPLE)
    again = read_live_event(json.loads(json.dumps(DOC_EXAMPLE)))
    updated = canvas_live_event(
        "enrollment_updated",
        enrollment_id="21070000000046825",
        user_id="21070000000020064",
        course_id="21070000000000565",
        workflow_state="active",
        updated_at="2018-10-10T08:00:00Z",
    )
    later = read_live_event(updated)
    assert first is not None and again is not None and later is not None
    assert first.event_id == again.event_id
    assert later.event_id != first.event_id and later.key == first.key


@pytest.mark.parametrize(
    ("state", "action"),
    [
        ("active", "enrolled"),
        ("invited", "enrolled"),
        ("creation_pending", "enrolled"),
        ("deleted", "cancelled"),
        ("inactive", "cancelled"),
        ("rejected", "cancelled"),
        ("completed", "completed"),
    ],
)
def test_workflow_states(state: str, action: str) -> None:
    event = canvas_live_event(enrollment_id=7, user_id=8, course_id=9, workflow_state=state)
    change = read_live_event(event)
    assert change is not None and change.action == action
    assert change.needs_details is (action != "cancelled")


def test_other_enrollment_types_and_other_events_are_ignored() -> None:
    teacher = canvas_live_event(
        enrollment_id=7, user_id=8, course_id=9, enrollment_type="TeacherEnrollment"
    )
    assert read_live_event(teacher) is None
    other = canvas_live_event(enrollment_id=7, user_id=8, course_id=9)
    other["metadata"]["event_name"] = "grade_change"
    assert read_live_event(other) is None


@pytest.mark.parametrize(
    ("mangle", "field"),
    [
        (lambda e: e.pop("body"), "body"),
        (lambda e: e["metadata"].pop("event_name"), "metadata.event_name"),
        (lambda e: e["body"].update(workflow_state="archived"), "body.workflow_state"),
        (lambda e: e["body"].pop("enrollment_id"), "body.enrollment_id"),
        (lambda e: e["body"].update(user_id="sis_user_id:42"), "body.user_id"),
    ],
)
def test_malformed_events_are_refused_naming_the_field(mangle: Any, field: str) -> None:
    event = canvas_live_event(enrollment_id=7, user_id=8, course_id=9)
    mangle(event)
    with pytest.raises(SourceError) as caught:
        read_live_event(event)
    assert caught.value.field == field
    with pytest.raises(SourceError):
        read_live_event(["not", "an", "event"])


def test_the_fake_answers_profile_course_and_section_as_canvas(canvas: FakeCanvas) -> None:
    canvas.add_user(8, name="Ann Learner", primary_email="ann@example.org")
    canvas.add_course(9, name="Coaching Skills", start_at="2026-12-01T07:00:00Z")
    canvas.add_section(10, course_id=9, start_at="2026-12-08T07:00:00Z")
    status, profile = get(f"{canvas.url}/api/v1/users/8/profile", canvas.token)
    assert status == 200
    assert {"id": 8, "primary_email": "ann@example.org", "login_id": "ann@example.org"}.items() <= (
        profile.items()
    )
    status, course = get(f"{canvas.url}/api/v1/courses/9", canvas.token)
    assert (status, course["id"], course["name"], course["time_zone"]) == (
        200,
        9,
        "Coaching Skills",
        "UTC",
    )
    status, section = get(f"{canvas.url}/api/v1/sections/10", canvas.token)
    assert (status, section["course_id"], section["restrict_enrollments_to_section_dates"]) == (
        200,
        9,
        False,
    )
    assert [c.path for c in canvas.calls] == [
        "/api/v1/users/8/profile",
        "/api/v1/courses/9",
        "/api/v1/sections/10",
    ]
    assert all(c.authorized and c.status == 200 for c in canvas.calls)


def test_the_fake_refuses_a_bad_token_and_says_what_is_missing(canvas: FakeCanvas) -> None:
    canvas.add_course(9, name="Coaching Skills")
    assert get(f"{canvas.url}/api/v1/courses/9", "wrong") == (
        401,
        {"errors": [{"message": "Invalid access token."}]},
    )
    status, body = get(f"{canvas.url}/api/v1/courses/9")
    assert status == 401 and body["status"] == "unauthenticated"
    assert get(f"{canvas.url}/api/v1/courses/404", canvas.token) == (
        404,
        {"errors": [{"message": "The specified resource does not exist."}]},
    )
    assert [c.authorized for c in canvas.calls] == [False, False, True]


def test_the_fake_can_fail_and_go_down_and_come_back(canvas: FakeCanvas) -> None:
    canvas.add_course(9, name="Coaching Skills")
    url = f"{canvas.url}/api/v1/courses/9"
    canvas.fail(503, times=2)
    assert get(url, canvas.token)[0] == 503
    assert get(url, canvas.token)[0] == 503
    assert get(url, canvas.token)[0] == 200
    canvas.fail(503)
    assert get(url, canvas.token)[0] == 503
    canvas.recover()
    assert get(url, canvas.token)[0] == 200
    canvas.go_down()
    with pytest.raises(urllib.error.URLError):
        get(url, canvas.token)
    canvas.come_back()
    assert get(url, canvas.token)[0] == 200
    assert [c.status for c in canvas.calls] == [503, 503, 200, 503, 200, 200]


def test_an_enrollment_is_dated_in_the_courses_time_zone(canvas: FakeCanvas) -> None:
    # Midnight in Denver is 07:00 UTC; 23:59 on the last day is already the next day in UTC.
    canvas.add_user(8, name="Ann Learner", primary_email="Ann@Example.org")
    canvas.add_course(
        9,
        name="Coaching Skills",
        start_at="2026-12-01T07:00:00Z",
        end_at="2026-12-03T06:59:59Z",
        time_zone="America/Denver",
    )
    change = read_live_event(canvas_live_event(enrollment_id=7, user_id=8, course_id=9))
    assert change is not None
    event = to_source_event(change, **details(canvas, change), today=TODAY)
    assert event.key == "canvas:7"
    assert (event.action, event.learner_email, event.training) == (
        "enrolled",
        "ann@example.org",
        "Coaching Skills",
    )
    assert (event.starts_on, event.ends_on) == (date(2026, 12, 1), date(2026, 12, 2))
    assert (event.source, event.event_id) == ("canvas", change.event_id)


def test_section_dates_win_only_when_the_section_restricts_enrollments(
    canvas: FakeCanvas,
) -> None:
    canvas.add_user(8, name="Ann Learner", primary_email="ann@example.org")
    canvas.add_course(
        9, name="Coaching Skills", start_at="2026-12-01T09:00:00Z", end_at="2026-12-20T17:00:00Z"
    )
    canvas.add_section(
        10, course_id=9, start_at="2026-12-08T09:00:00Z", end_at="2026-12-09T17:00:00Z"
    )
    canvas.add_section(
        11,
        course_id=9,
        start_at="2026-12-08T09:00:00Z",
        end_at="2026-12-09T17:00:00Z",
        restrict_enrollments_to_section_dates=True,
    )
    for section, expected in ((10, (1, 20)), (11, (8, 9))):
        event = canvas_live_event(
            enrollment_id=7, user_id=8, course_id=9, course_section_id=section
        )
        change = read_live_event(event)
        assert change is not None
        result = to_source_event(change, **details(canvas, change), today=TODAY)
        assert result.starts_on is not None and result.ends_on is not None
        assert (result.starts_on.day, result.ends_on.day) == expected


def test_a_course_without_start_is_self_paced_from_today(canvas: FakeCanvas) -> None:
    canvas.add_user(8, name="Ann Learner", primary_email="ann@example.org")
    canvas.add_course(9, name="Compliance Basics", end_at="2027-01-31T00:00:00Z")
    change = read_live_event(canvas_live_event(enrollment_id=7, user_id=8, course_id=9))
    assert change is not None
    event = to_source_event(change, **details(canvas, change), today=TODAY)
    assert (event.starts_on, event.ends_on) == (TODAY, None)


def test_the_email_falls_back_to_an_email_login_id(canvas: FakeCanvas) -> None:
    canvas.add_user(8, name="Ann Learner", primary_email=None, login_id="ann@example.org")
    canvas.add_user(18, name="Sam Nomail", primary_email=None, login_id="snomail")
    canvas.add_course(9, name="Coaching Skills")
    change = read_live_event(canvas_live_event(enrollment_id=7, user_id=8, course_id=9))
    assert change is not None
    assert to_source_event(change, **details(canvas, change), today=TODAY).learner_email == (
        "ann@example.org"
    )
    nomail = read_live_event(canvas_live_event(enrollment_id=17, user_id=18, course_id=9))
    assert nomail is not None
    with pytest.raises(SourceError) as caught:
        to_source_event(nomail, **details(canvas, nomail), today=TODAY)
    assert caught.value.field == "profile.primary_email" and "18" in caught.value.message


def test_the_course_name_is_its_own_not_the_token_owners_nickname(canvas: FakeCanvas) -> None:
    canvas.add_user(8, name="Ann Learner", primary_email="ann@example.org")
    canvas.add_course(9, name="my coaching thing", original_name="Coaching Skills")
    change = read_live_event(canvas_live_event(enrollment_id=7, user_id=8, course_id=9))
    assert change is not None
    assert to_source_event(change, **details(canvas, change), today=TODAY).training == (
        "Coaching Skills"
    )


def test_a_completion_completes_today_and_a_deletion_needs_no_details(
    canvas: FakeCanvas,
) -> None:
    canvas.add_user(8, name="Ann Learner", primary_email="ann@example.org")
    canvas.add_course(9, name="Coaching Skills", start_at="2026-11-02T09:00:00Z")
    done = read_live_event(
        canvas_live_event(
            "enrollment_updated",
            enrollment_id=7,
            user_id=8,
            course_id=9,
            workflow_state="completed",
        )
    )
    assert done is not None
    event = to_source_event(done, **details(canvas, done), today=TODAY)
    assert (event.action, event.completed_on) == ("completed", TODAY)
    gone = read_live_event(
        canvas_live_event(
            "enrollment_updated", enrollment_id=7, user_id=8, course_id=9, workflow_state="deleted"
        )
    )
    assert gone is not None
    cancel = to_source_event(gone, profile=None, course=None, today=TODAY)
    assert (cancel.key, cancel.action, cancel.learner_email) == ("canvas:7", "cancelled", None)


def test_a_signed_delivery_is_checked_against_the_key_set() -> None:
    signer = CanvasSigner()
    event = canvas_live_event(enrollment_id=7, user_id=8, course_id=9)
    token = signer.sign(event)
    claims = verify_signed_event(token, signer.jwks)
    change = read_live_event(claims)
    assert change is not None and change.key == "canvas:7"

    impostor = CanvasSigner(kid=signer.kid)  # the right kid, another private key
    with pytest.raises(SourceError) as caught:
        verify_signed_event(impostor.sign(event), signer.jwks)
    assert caught.value.field == "body" and "signature" in caught.value.message
    other = CanvasSigner(kid="next-month")
    with pytest.raises(SourceError) as caught:
        verify_signed_event(other.sign(event), signer.jwks)
    assert "next-month" in caught.value.message
    with pytest.raises(SourceError):
        verify_signed_event("not a jwt", signer.jwks)


def test_a_token_signed_with_another_algorithm_is_refused() -> None:
    import jwt

    signer = CanvasSigner()
    secret = "a shared secret of at least thirty-two bytes"
    unsigned = jwt.encode({"metadata": {}, "body": {}}, secret, algorithm="HS256")
    unsigned_with_kid = jwt.encode(
        {"metadata": {}, "body": {}}, secret, algorithm="HS256", headers={"kid": signer.kid}
    )
    for token in (unsigned, unsigned_with_kid):
        with pytest.raises(SourceError):
            verify_signed_event(token, signer.jwks)
