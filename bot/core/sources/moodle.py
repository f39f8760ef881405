"""Moodle events (as the `local_webhooks` plugin posts them) and the web-service answers
that complete them, to `SourceEvent`s.

The payload is Moodle's `\\core\\event\\base::get_data()` plus the plugin's `host`, `token`
and `extra` (valentineus/moodle-webhooks, `lib.php`); the answers are those of
`core_user_get_users_by_field` and `core_course_get_courses_by_field`.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from typing import Any

from bot.core.sources.event import Action, SourceError, SourceEvent, check_order, email_address
from bot.core.sources.rest import LmsUnavailable, request

SOURCE = "moodle"
REST_PATH = "/webservice/rest/server.php"
USERS_FUNCTION = "core_user_get_users_by_field"
COURSES_FUNCTION = "core_course_get_courses_by_field"

EVENT_ACTIONS: dict[str, Action] = {
    "\\core\\event\\user_enrolment_created": "enrolled",
    "\\core\\event\\user_enrolment_updated": "enrolled",
    "\\core\\event\\user_enrolment_deleted": "cancelled",
    "\\core\\event\\course_completed": "completed",
}


@dataclass(frozen=True)
class MoodleChange:
    """What a Moodle event says, and what must be asked of Moodle to act on it."""

    event_id: str
    eventname: str
    courseid: int
    relateduserid: int
    timecreated: int
    action: Action

    @property
    def key(self) -> str:
        return f"moodle:{self.courseid}:{self.relateduserid}"

    @property
    def needs_details(self) -> bool:
        return self.action != "cancelled"

    def user_query(self, token: str) -> dict[str, str]:
        """The parameters of the `core_user_get_users_by_field` call for the learner."""
        return {
            "wstoken": token,
            "wsfunction": USERS_FUNCTION,
            "moodlewsrestformat": "json",
            "field": "id",
            "values[0]": str(self.relateduserid),
        }

    def course_query(self, token: str) -> dict[str, str]:
        """The parameters of the `core_course_get_courses_by_field` call for the course."""
        return {
            "wstoken": token,
            "wsfunction": COURSES_FUNCTION,
            "moodlewsrestformat": "json",
            "field": "id",
            "value": str(self.courseid),
        }


def token_matches(payload: Any, expected: str | None) -> bool:
    """Whether the payload's `token` is the configured secret; never when none is set."""
    if not expected or not isinstance(payload, Mapping):
        return False
    given = payload.get("token")
    if not isinstance(given, str):
        return False
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def read_webhook(payload: Any) -> MoodleChange | None:
    """The change an enrolment or completion event reports; None for other events."""
    if not isinstance(payload, Mapping):
        raise SourceError("body", "a Moodle event is a JSON object")
    name = payload.get("eventname")
    if not isinstance(name, str) or not name.strip():
        raise SourceError("eventname", "is required, e.g. \\core\\event\\user_enrolment_created")
    eventname = "\\" + name.strip().lstrip("\\")
    action = EVENT_ACTIONS.get(eventname)
    if action is None:
        return None
    courseid = _int(payload, "courseid")
    relateduserid = _int(payload, "relateduserid")
    timecreated = _int(payload, "timecreated")
    # Moodle's event data has no id of its own (the log store numbers rows). The object
    # (the user_enrolments or course_completions row) and the time tell repeats apart.
    objectid = payload.get("objectid")
    short = eventname.rsplit("\\", 1)[-1]
    return MoodleChange(
        event_id=f"moodle:{short}:{courseid}:{relateduserid}:"
        f"{objectid if objectid is not None else ''}:{timecreated}",
        eventname=eventname,
        courseid=courseid,
        relateduserid=relateduserid,
        timecreated=timecreated,
        action=action,
    )


def ws_error(answer: Any) -> str | None:
    """Moodle's error, if the answer is one: it answers errors with HTTP 200 and
    `{"exception": …, "errorcode": …, "message": …}`."""
    if isinstance(answer, Mapping) and "exception" in answer:
        return f"{answer.get('errorcode', answer['exception'])}: {answer.get('message', '')}"
    return None


def to_source_event(
    change: MoodleChange,
    *,
    users: Any,
    courses: Any,
    zone: tzinfo,
    today: date,
) -> SourceEvent:
    """The event, given the answers of `core_user_get_users_by_field` (a list of users) and
    `core_course_get_courses_by_field` (`{"courses": […], "warnings": […]}`).

    Moodle's dates are Unix seconds; they are taken in `zone` (DEFAULT_TIMEZONE). A course
    whose `enddate` is 0 is self-paced. A cancellation needs neither answer.
    """
    if change.action == "cancelled" and (users is None or courses is None):
        return SourceEvent.cancellation(change.key, SOURCE, change.event_id)
    for name, answer in ((USERS_FUNCTION, users), (COURSES_FUNCTION, courses)):
        problem = ws_error(answer)
        if problem is not None:
            raise SourceError(name, f"Moodle answered with an error: {problem}")
    user = _only(users, "id", change.relateduserid)
    if user is None:
        raise SourceError(USERS_FUNCTION, f"Moodle has no user with id {change.relateduserid}")
    email = email_address(user.get("email"))
    if email is None:
        raise SourceError(
            f"{USERS_FUNCTION}.email",
            f"Moodle user {change.relateduserid} has no email address the token may read; "
            "give the web-service user the moodle/user:viewhiddendetails capability",
        )
    listed = courses.get("courses") if isinstance(courses, Mapping) else None
    course = _only(listed, "id", change.courseid)
    if course is None:
        raise SourceError(COURSES_FUNCTION, f"Moodle has no course with id {change.courseid}")
    training = str(course.get("fullname") or course.get("displayname") or "").strip()
    if not training:
        raise SourceError(f"{COURSES_FUNCTION}.fullname", f"course {change.courseid} has no name")
    starts_on = _day(course.get("startdate"), zone, "startdate") or today
    ends_on = _day(course.get("enddate"), zone, "enddate")
    check_order(starts_on, ends_on, f"{COURSES_FUNCTION}.enddate", f"course {change.courseid}")
    return SourceEvent(
        key=change.key,
        action=change.action,
        learner_email=email,
        training=training,
        starts_on=starts_on,
        ends_on=ends_on,
        completed_on=(
            _day(change.timecreated, zone, "timecreated") if change.action == "completed" else None
        ),
        source=SOURCE,
        event_id=change.event_id,
    )


def _int(payload: Mapping[str, Any], name: str) -> int:
    """A Moodle id or time: the plugin sends numbers, or strings where they came from the
    database."""
    value = payload.get(name)
    if isinstance(value, bool):
        value = None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if not isinstance(value, int) or value < 0:
        raise SourceError(name, "is required (a whole number)")
    return value


def _only(items: Any, field: str, wanted: int) -> Mapping[str, Any] | None:
    if not isinstance(items, list):
        return None
    for item in items:
        if isinstance(item, Mapping) and str(item.get(field)) == str(wanted):
            return item
    return None


def _day(value: Any, zone: tzinfo, where: str) -> date | None:
    """The date of a Unix time in `zone`; None for 0 or nothing (Moodle's "not set")."""
    if value in (None, "", 0, "0"):
        return None
    try:
        seconds = int(value)
        return datetime.fromtimestamp(seconds, UTC).astimezone(zone).date()
    except (TypeError, ValueError, OverflowError, OSError):
        raise SourceError(where, f"{value!r} is not a Unix time") from None


# Moodle's answers (with HTTP 200) that mean "not now": a token an admin is fixing, web
# services switched off for a while. Any other error code is final for that event.
RETRY_ERRORS = frozenset(
    {"invalidtoken", "accessexception", "servicenotavailable", "enablewsdescription"}
)


class MoodleDetails:
    """Asks Moodle's REST web services (`MOODLE_URL`, `MOODLE_TOKEN`) for the learner's email
    and the course's name and dates; dates are read in `zone` (DEFAULT_TIMEZONE)."""

    source = SOURCE

    def __init__(self, base_url: str, token: str, http: Any, *, zone: tzinfo) -> None:
        self.url = base_url.rstrip("/") + REST_PATH
        self.token = token
        self.http = http
        self.zone = zone

    def key(self, payload: Mapping[str, Any]) -> tuple[str, str] | None:
        change = read_webhook(payload)
        return None if change is None else (change.event_id, change.key)

    def event(self, payload: Mapping[str, Any], *, today: date) -> SourceEvent | None:
        change = read_webhook(payload)
        if change is None:
            return None
        if not change.needs_details:
            return to_source_event(change, users=None, courses=None, zone=self.zone, today=today)
        users = self._call(change.user_query(self.token))
        courses = self._call(change.course_query(self.token))
        return to_source_event(change, users=users, courses=courses, zone=self.zone, today=today)

    def _call(self, params: dict[str, str]) -> Any:
        what = f"Moodle {params['wsfunction']}"
        # POSTed as a form: the token stays out of the URL, and so out of proxies' logs.
        answer = request(self.http, "POST", self.url, what=what, fields=params, form=True).json(
            what
        )
        if isinstance(answer, Mapping) and answer.get("errorcode") in RETRY_ERRORS:
            raise LmsUnavailable(f"{what}: {ws_error(answer)}")
        return answer
