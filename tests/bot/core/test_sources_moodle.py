"""Moodle events, as the local_webhooks plugin posts them, and the web-service answers that
complete them become enrollment events; the fake Moodle answers as Moodle does."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.core.sources import SourceError
from bot.core.sources.moodle import (
    MoodleChange,
    read_webhook,
    to_source_event,
    token_matches,
    ws_error,
)
from bot.sim.lms import FakeMoodle, moodle_webhook, unix

TODAY = date(2026, 11, 23)
SECRET = "webhook-secret"
BERLIN = ZoneInfo("Europe/Berlin")

# The observed-event example of the plugin's docs/getting-started.md, verbatim.
DOC_EXAMPLE = {
    "eventname": "\\core\\event\\course_viewed",
    "component": "core",
    "action": "viewed",
    "target": "course",
    "objecttable": None,
    "objectid": None,
    "crud": "r",
    "edulevel": 2,
    "contextid": 2,
    "contextlevel": 50,
    "contextinstanceid": "1",
    "userid": "2",
    "courseid": "1",
    "relateduserid": None,
    "anonymous": 0,
    "other": None,
    "timecreated": 1512961456,
    "host": "localhost",
    "token": "",
    "extra": "",
}


@pytest.fixture
def moodle() -> Iterator[FakeMoodle]:
    with FakeMoodle() as server:
        yield server


def call(moodle: FakeMoodle, params: dict[str, str], *, post: bool = False) -> Any:
    url = moodle.url + "/webservice/rest/server.php"
    data = urllib.parse.urlencode(params)
    request = (
        urllib.request.Request(url, data=data.encode(), method="POST")
        if post
        else urllib.request.Request(f"{url}?{data}")
    )
    with urllib.request.urlopen(request, timeout=5) as answer:
        assert answer.status == 200
        return json.load(answer)


def enrolled(event: str = "user_enrolment_created", **extra: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "courseid": 5,
        "relateduserid": 42,
        "objectid": 310,
        "timecreated": unix("2026-11-23T09:00:00"),
        "token": SECRET,
    }
    fields.update(extra)
    return moodle_webhook(event, **fields)


def details(moodle: FakeMoodle, change: MoodleChange) -> dict[str, Any]:
    return {
        "users": call(moodle, change.user_query(moodle.token)),
        "courses": call(moodle, change.course_query(moodle.token), post=True),
    }


def test_the_token_must_match_the_configured_secret() -> None:
    assert token_matches(enrolled(), SECRET)
    assert not token_matches(enrolled(token="guess"), SECRET)
    assert not token_matches(enrolled(token=""), "")
    assert not token_matches(DOC_EXAMPLE, SECRET)
    assert not token_matches({"token": 42}, SECRET)


def test_other_events_are_ignored_like_the_documented_course_viewed() -> None:
    assert read_webhook(DOC_EXAMPLE) is None


@pytest.mark.parametrize(
    ("event", "action"),
    [
        ("user_enrolment_created", "enrolled"),
        ("user_enrolment_updated", "enrolled"),
        ("user_enrolment_deleted", "cancelled"),
        ("course_completed", "completed"),
    ],
)
def test_enrolment_and_completion_events(event: str, action: str) -> None:
    change = read_webhook(enrolled(event))
    assert change is not None
    assert (change.key, change.action, change.courseid, change.relateduserid) == (
        "moodle:5:42",
        action,
        5,
        42,
    )
    assert change.needs_details is (action != "cancelled")


def test_ids_sent_as_strings_and_without_the_leading_backslash_are_read() -> None:
    payload = enrolled(relateduserid="42", timecreated=str(unix("2026-11-23T09:00:00")))
    payload["eventname"] = "core\\event\\user_enrolment_created"
    change = read_webhook(payload)
    assert change is not None and (change.relateduserid, change.courseid) == (42, 5)


def test_a_repeat_has_the_same_event_id_and_a_later_event_another() -> None:
    first = read_webhook(enrolled())
    again = read_webhook(enrolled())
    later = read_webhook(enrolled("user_enrolment_updated", timecreated=unix("2026-11-24T09:00")))
    assert first is not None and again is not None and later is not None
    assert first.event_id == again.event_id != later.event_id
    assert first.key == later.key


@pytest.mark.parametrize("missing", ["courseid", "relateduserid", "timecreated"])
def test_an_event_without_its_ids_is_refused_naming_them(missing: str) -> None:
    payload = enrolled()
    payload[missing] = None
    with pytest.raises(SourceError) as caught:
        read_webhook(payload)
    assert caught.value.field == missing


def test_no_eventname_or_not_an_object_is_refused() -> None:
    with pytest.raises(SourceError) as caught:
        read_webhook({"courseid": 5})
    assert caught.value.field == "eventname"
    with pytest.raises(SourceError):
        read_webhook("eventname=x")


def test_the_fake_answers_users_and_courses_as_moodle(moodle: FakeMoodle) -> None:
    moodle.add_user(42, email="ann@example.org")
    moodle.add_course(5, fullname="Coaching Skills", startdate=unix("2026-11-30T23:00:00"))
    change = read_webhook(enrolled())
    assert change is not None
    users = call(moodle, change.user_query(moodle.token))
    assert [(u["id"], u["email"], u["fullname"]) for u in users] == [
        (42, "ann@example.org", "Ann Learner")
    ]
    courses = call(moodle, change.course_query(moodle.token), post=True)
    assert set(courses) == {"courses", "warnings"}
    [course] = courses["courses"]
    assert (course["id"], course["fullname"], course["enddate"]) == (5, "Coaching Skills", 0)
    assert call(moodle, {**change.user_query(moodle.token), "values[0]": "999"}) == []
    assert [c.params["wsfunction"] for c in moodle.calls] == [
        "core_user_get_users_by_field",
        "core_course_get_courses_by_field",
        "core_user_get_users_by_field",
    ]


def test_the_fake_answers_moodles_error_json_with_http_200(moodle: FakeMoodle) -> None:
    change = read_webhook(enrolled())
    assert change is not None
    bad_token = call(moodle, change.user_query("wrong"))
    assert bad_token == {
        "exception": "moodle_exception",
        "errorcode": "invalidtoken",
        "message": "Invalid token - token not found",
    }
    assert ws_error(bad_token) == "invalidtoken: Invalid token - token not found"
    unknown = call(moodle, {**change.user_query(moodle.token), "wsfunction": "core_nope"})
    assert unknown["errorcode"] == "invalidrecord"
    bad_field = call(moodle, {**change.user_query(moodle.token), "field": "shoesize"})
    assert bad_field["errorcode"] == "invalidparameter"
    assert ws_error([]) is None
    assert moodle.calls[0].authorized is False


def test_the_fake_can_fail_and_go_down(moodle: FakeMoodle) -> None:
    moodle.add_user(42, email="ann@example.org")
    change = read_webhook(enrolled())
    assert change is not None
    moodle.fail(503, times=1, retry_after=30)
    with pytest.raises(urllib.error.HTTPError) as caught:
        call(moodle, change.user_query(moodle.token))
    assert caught.value.code == 503 and caught.value.headers["Retry-After"] == "30"
    assert len(call(moodle, change.user_query(moodle.token))) == 1
    moodle.go_down()
    assert not moodle.is_up
    with pytest.raises(urllib.error.URLError):
        call(moodle, change.user_query(moodle.token))
    moodle.come_back()
    assert len(call(moodle, change.user_query(moodle.token))) == 1


def test_an_enrolment_is_dated_in_the_default_time_zone(moodle: FakeMoodle) -> None:
    # 23:00 UTC on 30 November is already 1 December in Berlin.
    moodle.add_user(42, email="Ann@Example.org")
    moodle.add_course(
        5,
        fullname="Coaching Skills",
        startdate=unix("2026-11-30T23:00:00"),
        enddate=unix("2026-12-02T16:00:00"),
    )
    change = read_webhook(enrolled())
    assert change is not None
    event = to_source_event(change, **details(moodle, change), zone=BERLIN, today=TODAY)
    assert (event.key, event.action, event.learner_email, event.training) == (
        "moodle:5:42",
        "enrolled",
        "ann@example.org",
        "Coaching Skills",
    )
    assert (event.starts_on, event.ends_on, event.completed_on) == (
        date(2026, 12, 1),
        date(2026, 12, 2),
        None,
    )
    assert (event.source, event.event_id) == ("moodle", change.event_id)


def test_enddate_zero_is_self_paced(moodle: FakeMoodle) -> None:
    moodle.add_user(42, email="ann@example.org")
    moodle.add_course(5, fullname="Compliance Basics", startdate=unix("2026-11-02T00:00:00"))
    change = read_webhook(enrolled())
    assert change is not None
    event = to_source_event(change, **details(moodle, change), zone=BERLIN, today=TODAY)
    assert (event.starts_on, event.ends_on) == (date(2026, 11, 2), None)


def test_a_completion_completes_on_its_timecreated_date(moodle: FakeMoodle) -> None:
    moodle.add_user(42, email="ann@example.org")
    moodle.add_course(5, fullname="Coaching Skills", startdate=unix("2026-11-02T00:00:00"))
    change = read_webhook(enrolled("course_completed", timecreated=unix("2026-12-04T23:30:00")))
    assert change is not None
    event = to_source_event(change, **details(moodle, change), zone=BERLIN, today=TODAY)
    assert (event.action, event.completed_on) == ("completed", date(2026, 12, 5))


def test_a_deletion_needs_no_details() -> None:
    change = read_webhook(enrolled("user_enrolment_deleted"))
    assert change is not None
    event = to_source_event(change, users=None, courses=None, zone=BERLIN, today=TODAY)
    assert (event.key, event.action, event.learner_email) == ("moodle:5:42", "cancelled", None)


def test_answers_that_cannot_complete_the_event_say_why(moodle: FakeMoodle) -> None:
    moodle.add_course(5, fullname="Coaching Skills", startdate=unix("2026-11-02T00:00:00"))
    moodle.add_user(43, email="not-an-address")
    change = read_webhook(enrolled())
    assert change is not None
    answers = details(moodle, change)
    with pytest.raises(SourceError) as caught:
        to_source_event(change, **answers, zone=BERLIN, today=TODAY)
    assert "no user with id 42" in caught.value.message
    with pytest.raises(SourceError) as caught:
        to_source_event(
            change,
            users=call(moodle, change.user_query("wrong")),
            courses=answers["courses"],
            zone=BERLIN,
            today=TODAY,
        )
    assert "invalidtoken" in caught.value.message
    other = read_webhook(enrolled(relateduserid=43))
    assert other is not None
    with pytest.raises(SourceError) as caught:
        to_source_event(other, **details(moodle, other), zone=BERLIN, today=TODAY)
    assert caught.value.field.endswith("email")
