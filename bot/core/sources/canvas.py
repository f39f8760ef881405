"""Canvas Live Events about enrollments, and the REST answers that complete them, to
`SourceEvent`s.

Shapes follow instructure/canvas-lms: `doc/api/data_services/json/canvas/event-types/
enrollment_created.json` (and `_updated`) for the event, and the `Profile`, `Course` and
`Section` models of the REST API. With "Sign Payload" on, the body is an RS256 JWT whose
claims are the event, signed by a key of Instructure's rotating key set.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.core.sources.event import Action, SourceError, SourceEvent, check_order, email_address
from bot.core.sources.rest import request

SOURCE = "canvas"
EVENTS = ("enrollment_created", "enrollment_updated")
STUDENT = "StudentEnrollment"
# Where Instructure publishes the previous, current and next signing keys (rotated monthly).
JWKS_URL = "https://8axpcl50e4.execute-api.us-east-1.amazonaws.com/main/jwks"

STATE_ACTIONS: dict[str, Action] = {
    "active": "enrolled",
    "invited": "enrolled",
    "creation_pending": "enrolled",
    "deleted": "cancelled",
    "inactive": "cancelled",
    # Canvas also has "rejected": the learner turned the course invitation down.
    "rejected": "cancelled",
    "completed": "completed",
}


@dataclass(frozen=True)
class EnrollmentChange:
    """What a Live Event says, and what must be asked of Canvas to act on it."""

    event_id: str
    event_name: str
    enrollment_id: str
    user_id: str
    course_id: str
    course_section_id: str | None
    workflow_state: str
    action: Action

    @property
    def key(self) -> str:
        return f"canvas:{self.enrollment_id}"

    @property
    def needs_details(self) -> bool:
        """A cancellation is complete as it is; an enrollment or a completion needs the
        learner's email and the course (the enrollment may be new to Coachbot)."""
        return self.action != "cancelled"

    def detail_paths(self) -> list[str]:
        """The REST paths (under CANVAS_URL) whose answers `to_source_event` takes."""
        paths = [f"/api/v1/users/{self.user_id}/profile", f"/api/v1/courses/{self.course_id}"]
        if self.course_section_id:
            paths.append(f"/api/v1/sections/{self.course_section_id}")
        return paths


def read_live_event(payload: Any) -> EnrollmentChange | None:
    """The change an `enrollment_created` / `enrollment_updated` event reports; None for any
    other event and for enrollments other than a student's (Coachbot ignores those)."""
    if not isinstance(payload, Mapping):
        raise SourceError("body", "a Live Event is a JSON object with metadata and body")
    metadata, body = payload.get("metadata"), payload.get("body")
    if not isinstance(metadata, Mapping) or not isinstance(body, Mapping):
        raise SourceError("body", "a Live Event has a metadata object and a body object")
    event_name = metadata.get("event_name")
    if not isinstance(event_name, str) or not event_name:
        raise SourceError("metadata.event_name", "is required")
    if event_name not in EVENTS or body.get("type") != STUDENT:
        return None
    enrollment_id = _id(body, "enrollment_id")
    user_id = _id(body, "user_id")
    course_id = _id(body, "course_id")
    section = body.get("course_section_id")
    section_id = _id(body, "course_section_id") if section not in (None, "") else None
    state = body.get("workflow_state")
    action = STATE_ACTIONS.get(state) if isinstance(state, str) else None
    if action is None:
        raise SourceError(
            "body.workflow_state",
            f"{state!r} is not an enrollment state ({', '.join(sorted(STATE_ACTIONS))})",
        )
    # Live Events carry no event id. Canvas retries a failed delivery with the same
    # payload, so these fields, which change with every real change, identify it.
    stamp = body.get("updated_at") or metadata.get("event_time") or ""
    return EnrollmentChange(
        event_id=f"canvas:{event_name}:{enrollment_id}:{stamp}:{state}",
        event_name=event_name,
        enrollment_id=enrollment_id,
        user_id=user_id,
        course_id=course_id,
        course_section_id=section_id,
        workflow_state=str(state),
        action=action,
    )


def to_source_event(
    change: EnrollmentChange,
    *,
    profile: Mapping[str, Any] | None,
    course: Mapping[str, Any] | None,
    section: Mapping[str, Any] | None = None,
    today: date,
) -> SourceEvent:
    """The event, given `GET /api/v1/users/:id/profile`, `/courses/:id` and, when the
    enrollment has a section, `/sections/:id` as Canvas answered them.

    A cancellation needs none of them. `today` (in DEFAULT_TIMEZONE) starts a course that
    has no start, and dates a completion.
    """
    if change.action == "cancelled" and (profile is None or course is None):
        return SourceEvent.cancellation(change.key, SOURCE, change.event_id)
    if profile is None or course is None:
        raise ValueError("an enrollment or a completion needs the profile and the course")
    for name, answer in (("profile", profile), ("course", course), ("section", section)):
        if answer is not None and not isinstance(answer, Mapping):
            raise SourceError(name, "Canvas's answer is not a JSON object; check CANVAS_URL")
    email = email_address(profile.get("primary_email")) or email_address(profile.get("login_id"))
    if email is None:
        raise SourceError(
            "profile.primary_email",
            f"Canvas user {change.user_id} has no email address (neither primary_email nor "
            "an email as login_id); add one in Canvas or give the token's account the right "
            "to read users' email addresses",
        )
    # `name` is the token owner's nickname for the course when they set one.
    names = (course.get("original_name"), course.get("name"))
    training = next((n.strip() for n in names if isinstance(n, str) and n.strip()), "")
    if not training:
        raise SourceError("course.name", f"Canvas course {change.course_id} has no name")
    zone = _zone(course.get("time_zone"))
    start_at, end_at = course.get("start_at"), course.get("end_at")
    if section is not None and section.get("restrict_enrollments_to_section_dates") is True:
        start_at = section.get("start_at") or start_at
        end_at = section.get("end_at") or end_at
    starts_on = _date(start_at, zone, "course.start_at")
    ends_on = _date(end_at, zone, "course.end_at")
    if starts_on is None:
        # A course without a start is self-paced from today: no end to plan a debrief from.
        starts_on, ends_on = today, None
    check_order(starts_on, ends_on, "course.end_at", f"Canvas course {change.course_id}")
    return SourceEvent(
        key=change.key,
        action=change.action,
        learner_email=email,
        training=training,
        starts_on=starts_on,
        ends_on=ends_on,
        completed_on=today if change.action == "completed" else None,
        source=SOURCE,
        event_id=change.event_id,
    )


def verify_signed_event(token: str | bytes, jwks: Mapping[str, Any]) -> dict[str, Any]:
    """The Live Event inside a signed delivery, checked against the key set (a JWKS dict, as
    `JWKS_URL` serves it): the key is the one named by the token's `kid`, RS256 only."""
    import jwt  # PyJWT[crypto]; imported here so the rest of the module needs neither

    if isinstance(token, bytes):
        token = token.decode("ascii", errors="replace")
    token = token.strip()
    try:
        header = jwt.get_unverified_header(token)
        keys = jwt.PyJWKSet.from_dict(dict(jwks))
    except jwt.PyJWTError as error:
        raise SourceError("body", f"is not a signed Live Event (a JWT): {error}") from None
    kid = header.get("kid")
    key = next((k for k in keys.keys if k.key_id == kid), None)
    if key is None:
        raise SourceError(
            "body", f"is signed with key {kid!r}, which is not in the key set; refresh it"
        )
    try:
        # Canvas documents neither an audience nor an issuer; the signature is the check.
        claims = jwt.decode(token, key=key, algorithms=["RS256"], options={"verify_aud": False})
    except jwt.PyJWTError as error:
        raise SourceError("body", f"signature check failed: {error}") from None
    return dict(claims)


def _id(body: Mapping[str, Any], name: str) -> str:
    value = body.get(name)
    if isinstance(value, bool) or not isinstance(value, (str, int)) or not str(value).strip():
        raise SourceError(f"body.{name}", "is required (a Canvas id)")
    text = str(value).strip()
    if not text.isdigit():
        raise SourceError(f"body.{name}", f"{text!r} is not a Canvas id")
    return text


def _zone(name: Any) -> ZoneInfo | None:
    if not isinstance(name, str) or not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: "Europe" is a directory
        return None


def _date(value: Any, zone: ZoneInfo | None, where: str) -> date | None:
    """The date of a Canvas timestamp in the course's zone (midnight in Denver is still the
    day before in UTC); without a known zone, in the offset it was written in."""
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise SourceError(where, "must be an ISO 8601 timestamp")
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise SourceError(where, f"{value!r} is not an ISO 8601 timestamp") from None
    if zone is not None and moment.tzinfo is not None:
        moment = moment.astimezone(zone)
    return moment.date()


class CanvasDetails:
    """Asks Canvas (`CANVAS_URL`, `CANVAS_TOKEN`) what a Live Event leaves out: the
    learner's email, the course's name and dates, the section's dates."""

    source = SOURCE

    def __init__(self, base_url: str, token: str, http: Any) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.http = http

    def key(self, payload: Mapping[str, Any]) -> tuple[str, str] | None:
        """(event id, enrollment key) of a stored payload; None when Coachbot ignores it."""
        change = read_live_event(payload)
        return None if change is None else (change.event_id, change.key)

    def event(self, payload: Mapping[str, Any], *, today: date) -> SourceEvent | None:
        """The event, details included; raises LmsUnavailable (retry) or LmsRefused /
        SourceError (never)."""
        change = read_live_event(payload)
        if change is None:
            return None
        if not change.needs_details:
            return to_source_event(change, profile=None, course=None, today=today)
        answers: list[Any] = []
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
        for path in change.detail_paths():
            what = f"Canvas GET {path}"
            answer = request(self.http, "GET", self.base_url + path, what=what, headers=headers)
            answers.append(answer.json(what))
        profile, course, *rest = answers
        return to_source_event(
            change, profile=profile, course=course, section=rest[0] if rest else None, today=today
        )
