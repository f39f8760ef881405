"""Fakes of Canvas's REST API and Moodle's web services on ephemeral loopback ports, and the
payloads those systems post, for the tests, the demo and the bench.

Each fake answers the documented shapes (errors included), records every call, and can be
told to fail (HTTP 503) or to go down (connection refused) and come back, so retrying
callers can be tested. All state lives on the instance.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qsl, urlsplit

_STATUSES = {status.value for status in HTTPStatus}


@dataclass(frozen=True)
class Call:
    """One request a fake received, and the status it answered."""

    method: str
    path: str
    params: dict[str, str]
    authorized: bool
    status: int


@dataclass(frozen=True)
class _Answer:
    status: int
    body: bytes
    content_type: str = "application/json; charset=utf-8"
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class _Request:
    """What `_answer` of a fake sees of a request: query and form fields merged in `params`,
    header names in lower case."""

    method: str
    path: str
    params: Mapping[str, str]
    headers: Mapping[str, str]
    authorized: bool


class _FakeService:
    """A threaded stdlib HTTP server whose answers come from `_answer` of the subclass."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: list[Call] = []
        self._fail_status: int | None = None
        self._fail_left: int | None = None
        self._retry_after: int | None = None
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._port = 0
        self.start()

    @property
    def url(self) -> str:
        """The base URL, e.g. http://127.0.0.1:54321 (CANVAS_URL / MOODLE_URL)."""
        return f"http://127.0.0.1:{self._port}"

    @property
    def calls(self) -> list[Call]:
        with self._lock:
            return list(self._calls)

    @property
    def is_up(self) -> bool:
        return self._server is not None

    def start(self) -> None:
        """Listen (again) on the port of before, or on a fresh one the first time."""
        if self._server is not None:
            return
        server = ThreadingHTTPServer(("127.0.0.1", self._port), _handler(self))
        server.daemon_threads = True
        self._port = server.server_address[1]
        self._server = server
        # A short poll makes close() quick; the default half second adds up over a test run.
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def go_down(self) -> None:
        """Stop listening: callers get "connection refused" until `come_back`."""
        self.close()

    def come_back(self) -> None:
        self.start()

    def fail(
        self, status: int = 503, *, times: int | None = None, retry_after: int | None = None
    ) -> None:
        """Answer the next `times` requests (every one, if None, until `recover`) with
        `status` instead of their real answer."""
        with self._lock:
            self._fail_status, self._fail_left, self._retry_after = status, times, retry_after

    def recover(self) -> None:
        with self._lock:
            self._fail_status = self._fail_left = self._retry_after = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _handle(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> _Answer:
        parts = urlsplit(target)
        params = dict(parse_qsl(parts.query, keep_blank_values=True))
        if body and "x-www-form-urlencoded" in headers.get("content-type", ""):
            params.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        with self._lock:
            failing = self._fail_status
            if failing is not None and self._fail_left is not None:
                self._fail_left -= 1
                if self._fail_left <= 0:
                    self._fail_status = self._fail_left = None
            retry_after = self._retry_after
        authorized = self._authorized(headers, params)
        if failing is not None:
            extra = (("Retry-After", str(retry_after)),) if retry_after is not None else ()
            phrase = HTTPStatus(failing).phrase.encode() if failing in _STATUSES else b"Error"
            answer = _Answer(failing, phrase, "text/plain", extra)
        else:
            answer = self._answer(_Request(method, parts.path, params, headers, authorized))
        with self._lock:
            self._calls.append(Call(method, parts.path, params, authorized, answer.status))
        return answer

    def _authorized(self, headers: Mapping[str, str], params: Mapping[str, str]) -> bool:
        raise NotImplementedError

    def _answer(self, request: _Request) -> _Answer:
        raise NotImplementedError


def _handler(service: _FakeService) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def _serve(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            answer = service._handle(method, self.path, headers, body)
            self.send_response(answer.status)
            self.send_header("Content-Type", answer.content_type)
            self.send_header("Content-Length", str(len(answer.body)))
            for name, value in answer.headers:
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(answer.body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # the tests' output is for the tests

    return Handler


def _json(status: int, payload: Any, *headers: tuple[str, str]) -> _Answer:
    return _Answer(status, json.dumps(payload).encode("utf-8"), headers=tuple(headers))


class FakeCanvas(_FakeService):
    """Canvas LMS's REST API: user profiles, courses and sections, behind a bearer token."""

    _ROUTES = (
        ("profile", re.compile(r"^/api/v1/users/([^/]+)/profile/?$")),
        ("course", re.compile(r"^/api/v1/courses/([^/]+)/?$")),
        ("section", re.compile(r"^/api/v1/sections/([^/]+)/?$")),
    )

    def __init__(self, token: str = "canvas-test-token") -> None:
        self.token = token
        self._profiles: dict[str, dict[str, Any]] = {}
        self._courses: dict[str, dict[str, Any]] = {}
        self._sections: dict[str, dict[str, Any]] = {}
        super().__init__()

    def add_user(
        self,
        user_id: int | str,
        *,
        name: str,
        primary_email: str | None = None,
        login_id: str | None = None,
        time_zone: str = "UTC",
    ) -> dict[str, Any]:
        """A user, answered by GET /api/v1/users/:id/profile as a Profile object."""
        profile = {
            "id": int(user_id),
            "name": name,
            "short_name": name,
            "sortable_name": ", ".join(reversed(name.split(" ", 1))),
            "title": None,
            "bio": None,
            "primary_email": primary_email,
            "login_id": login_id if login_id is not None else primary_email,
            "integration_id": None,
            "avatar_url": f"https://canvas.example.org/images/thumbnails/{user_id}",
            "calendar": {"ics": f"https://canvas.example.org/feeds/calendars/user_{user_id}.ics"},
            "time_zone": time_zone,
            "locale": None,
        }
        with self._lock:
            self._profiles[str(user_id)] = profile
        return profile

    def add_course(
        self,
        course_id: int | str,
        *,
        name: str,
        start_at: str | None = None,
        end_at: str | None = None,
        time_zone: str = "UTC",
        original_name: str | None = None,
        workflow_state: str = "available",
    ) -> dict[str, Any]:
        """A course, answered by GET /api/v1/courses/:id as a Course object. `name` is what
        the token's owner sees (their nickname when `original_name` is given)."""
        course: dict[str, Any] = {
            "id": int(course_id),
            "name": name,
            "course_code": name[:20],
            "uuid": f"course-uuid-{course_id}",
            "workflow_state": workflow_state,
            "account_id": 1,
            "root_account_id": 1,
            "enrollment_term_id": 1,
            "created_at": "2026-01-05T09:00:00Z",
            "start_at": start_at,
            "end_at": end_at,
            "locale": None,
            "default_view": "modules",
            "is_public": False,
            "restrict_enrollments_to_course_dates": False,
            "time_zone": time_zone,
            "blueprint": False,
            "template": False,
        }
        if original_name is not None:
            course["original_name"] = original_name
        with self._lock:
            self._courses[str(course_id)] = course
        return course

    def add_section(
        self,
        section_id: int | str,
        *,
        course_id: int | str,
        name: str = "Section 1",
        start_at: str | None = None,
        end_at: str | None = None,
        restrict_enrollments_to_section_dates: bool = False,
    ) -> dict[str, Any]:
        """A section, answered by GET /api/v1/sections/:id as a Section object."""
        section = {
            "id": int(section_id),
            "name": name,
            "sis_section_id": None,
            "integration_id": None,
            "sis_import_id": None,
            "course_id": int(course_id),
            "start_at": start_at,
            "end_at": end_at,
            "restrict_enrollments_to_section_dates": restrict_enrollments_to_section_dates,
            "nonxlist_course_id": None,
        }
        with self._lock:
            self._sections[str(section_id)] = section
        return section

    def _authorized(self, headers: Mapping[str, str], params: Mapping[str, str]) -> bool:
        given = headers.get("authorization", "")
        if given[:7].lower() == "bearer ":
            return given[7:].strip() == self.token
        return params.get("access_token") == self.token

    def _answer(self, request: _Request) -> _Answer:
        if not request.authorized:
            challenge = ("WWW-Authenticate", 'Bearer realm="canvas-lms"')
            if "authorization" not in request.headers and "access_token" not in request.params:
                return _json(
                    401,
                    {
                        "status": "unauthenticated",
                        "errors": [{"message": "user authorization required"}],
                    },
                    challenge,
                )
            return _json(401, {"errors": [{"message": "Invalid access token."}]}, challenge)
        if request.method != "GET":
            return _json(404, {"errors": [{"message": "The specified resource does not exist."}]})
        tables = {"profile": self._profiles, "course": self._courses, "section": self._sections}
        for kind, pattern in self._ROUTES:
            match = pattern.match(request.path)
            if match:
                with self._lock:
                    found = tables[kind].get(match.group(1))
                if found is not None:
                    return _json(200, found)
                break
        return _json(404, {"errors": [{"message": "The specified resource does not exist."}]})


class FakeMoodle(_FakeService):
    """Moodle's REST web-service endpoint with the two functions Coachbot calls."""

    PATH = "/webservice/rest/server.php"

    def __init__(self, token: str = "moodle-test-token") -> None:
        self.token = token
        self._users: dict[int, dict[str, Any]] = {}
        self._courses: dict[int, dict[str, Any]] = {}
        super().__init__()

    def add_user(
        self,
        user_id: int,
        *,
        email: str,
        firstname: str = "Ann",
        lastname: str = "Learner",
        username: str | None = None,
    ) -> dict[str, Any]:
        """A user, as core_user_get_users_by_field lists it."""
        user = {
            "id": user_id,
            "username": username or email.split("@", 1)[0].lower(),
            "firstname": firstname,
            "lastname": lastname,
            "fullname": f"{firstname} {lastname}",
            "email": email,
            "department": "",
            "idnumber": "",
            "firstaccess": 0,
            "lastaccess": 0,
            "auth": "manual",
            "suspended": False,
            "confirmed": True,
            "lang": "en",
            "theme": "",
            "timezone": "99",  # Moodle's "the server's zone"
            "mailformat": 1,
            "description": "",
            "descriptionformat": 1,
            "profileimageurlsmall": "https://moodle.example.org/theme/image.php/boost/core/1/u/f2",
            "profileimageurl": "https://moodle.example.org/theme/image.php/boost/core/1/u/f1",
        }
        with self._lock:
            self._users[user_id] = user
        return user

    def add_course(
        self,
        course_id: int,
        *,
        fullname: str,
        startdate: int = 0,
        enddate: int = 0,
        shortname: str | None = None,
    ) -> dict[str, Any]:
        """A course, as core_course_get_courses_by_field lists it (dates in Unix seconds;
        `enddate` 0 is "no end")."""
        course = {
            "id": course_id,
            "fullname": fullname,
            "displayname": fullname,
            "shortname": shortname or fullname[:15],
            "categoryid": 1,
            "categoryname": "Category 1",
            "sortorder": 10000 + course_id,
            "summary": "",
            "summaryformat": 1,
            "summaryfiles": [],
            "overviewfiles": [],
            "contacts": [],
            "enrollmentmethods": ["manual"],
            "format": "topics",
            "showgrades": 1,
            "newsitems": 5,
            "startdate": startdate,
            "enddate": enddate,
            "maxbytes": 0,
            "showreports": 0,
            "visible": 1,
            "groupmode": 0,
            "groupmodeforce": 0,
            "defaultgroupingid": 0,
            "enablecompletion": 1,
            "completionnotify": 0,
            "lang": "",
            "theme": "",
            "marker": 0,
            "legacyfiles": 0,
            "calendartype": "",
            "timecreated": 1767225600,
            "timemodified": 1767225600,
            "requested": 0,
            "cacherev": 1767225600,
            "filters": [],
            "courseformatoptions": [],
        }
        with self._lock:
            self._courses[course_id] = course
        return course

    def _authorized(self, headers: Mapping[str, str], params: Mapping[str, str]) -> bool:
        return params.get("wstoken") == self.token

    def _answer(self, request: _Request) -> _Answer:
        if request.path != self.PATH:
            return _Answer(404, b"Not Found", "text/html")
        if request.params.get("moodlewsrestformat") != "json":
            # Moodle answers XML by default; this fake speaks only the JSON Coachbot asks for.
            xml = (
                '<?xml version="1.0" encoding="UTF-8" ?>\n<EXCEPTION class="coding_exception">'
                "<MESSAGE>This fake answers only moodlewsrestformat=json</MESSAGE></EXCEPTION>\n"
            )
            return _Answer(200, xml.encode(), "application/xml; charset=utf-8")
        # Moodle answers its errors with HTTP 200.
        if not request.authorized:
            return _json(200, _moodle_error("moodle_exception", "invalidtoken", _BAD_TOKEN))
        function = request.params.get("wsfunction", "")
        if function == "core_user_get_users_by_field":
            return self._users_by_field(request.params)
        if function == "core_course_get_courses_by_field":
            return self._courses_by_field(request.params)
        return _json(
            200,
            _moodle_error(
                "dml_missing_record_exception",
                "invalidrecord",
                "Can't find data record in database table external_functions.",
            ),
        )

    def _users_by_field(self, params: Mapping[str, str]) -> _Answer:
        field = params.get("field", "")
        values = [v for k, v in sorted(params.items()) if re.fullmatch(r"values\[\d+\]", k)]
        if field not in {"id", "idnumber", "username", "email"} or not values:
            return _json(200, _invalid_parameter())
        with self._lock:
            users = list(self._users.values())
        found = [u for u in users if str(u[field]).lower() in {v.lower() for v in values}]
        return _json(200, found)

    def _courses_by_field(self, params: Mapping[str, str]) -> _Answer:
        field, value = params.get("field", ""), params.get("value", "")
        if field not in {"", "id", "ids", "shortname", "idnumber", "category"}:
            return _json(200, _invalid_parameter())
        with self._lock:
            courses = list(self._courses.values())
        if field == "id":
            found = [c for c in courses if str(c["id"]) == value]
        elif field == "ids":
            wanted = {v.strip() for v in value.split(",")}
            found = [c for c in courses if str(c["id"]) in wanted]
        elif field == "shortname":
            found = [c for c in courses if c["shortname"] == value]
        elif field == "category":
            found = [c for c in courses if str(c["categoryid"]) == value]
        elif field == "":
            found = courses
        else:
            found = []
        return _json(200, {"courses": found, "warnings": []})


_BAD_TOKEN = "Invalid token - token not found"


def _moodle_error(exception: str, errorcode: str, message: str) -> dict[str, str]:
    return {"exception": exception, "errorcode": errorcode, "message": message}


def _invalid_parameter() -> dict[str, str]:
    return _moodle_error(
        "invalid_parameter_exception", "invalidparameter", "Invalid parameter value detected"
    )


def canvas_live_event(
    event_name: str = "enrollment_created",
    *,
    enrollment_id: int | str,
    user_id: int | str,
    course_id: int | str,
    course_section_id: int | str | None = None,
    workflow_state: str = "active",
    enrollment_type: str = "StudentEnrollment",
    updated_at: str = "2026-11-23T10:00:00Z",
    user_name: str = "Ann Learner",
) -> dict[str, Any]:
    """A Canvas-format Live Event as the HTTPS delivery posts it: ids as strings, metadata
    of a system-generated event (an SIS import), as in Canvas's enrollment_updated example."""
    body: dict[str, Any] = {
        "course_id": str(course_id),
        "course_section_id": None if course_section_id is None else str(course_section_id),
        "created_at": updated_at,
        "enrollment_id": str(enrollment_id),
        "limit_privileges_to_course_section": False,
        "type": enrollment_type,
        "updated_at": updated_at,
        "user_id": str(user_id),
        "user_name": user_name,
        "workflow_state": workflow_state,
    }
    if enrollment_type == "ObserverEnrollment":
        body["associated_user_id"] = str(user_id)
    return {
        "metadata": {
            "event_name": event_name,
            "event_time": updated_at.replace("Z", ".000Z"),
            "job_id": "1020020528469291",
            "job_tag": "SIS::CSV::ImportRefactored#run_parallel_importer",
            "producer": "canvas",
            "root_account_id": "1",
            "root_account_lti_guid": "VicYj3cu5BIFpoZhDVU4DZumnlBrWi1grgJEzADs.canvas.example.org",
            "root_account_uuid": "VicYj3cu5BIFpoZhDVU4DZumnlBrWi1grgJEzADs",
        },
        "body": body,
    }


_MOODLE_EVENTS: dict[str, tuple[str, str, str, str, int]] = {
    # eventname: (target, action, objecttable, crud, edulevel)
    "user_enrolment_created": ("user_enrolment", "created", "user_enrolments", "c", 0),
    "user_enrolment_updated": ("user_enrolment", "updated", "user_enrolments", "u", 0),
    "user_enrolment_deleted": ("user_enrolment", "deleted", "user_enrolments", "d", 0),
    "course_completed": ("course", "completed", "course_completions", "u", 2),
}


def moodle_webhook(
    event: str,
    *,
    courseid: int,
    relateduserid: int,
    objectid: int,
    timecreated: int,
    token: str,
    userid: int = 2,
    host: str = "moodle.example.org",
    extra: str = "",
) -> dict[str, Any]:
    """A payload as local_webhooks posts it: the event's get_data() plus host, token and
    extra. `event` is the short name, e.g. "user_enrolment_created"."""
    target, action, table, crud, edulevel = _MOODLE_EVENTS[event]
    if event == "course_completed":
        other: Any = {"relateduserid": relateduserid}
    elif event == "user_enrolment_deleted":
        other = {
            "userenrolment": {
                "id": objectid,
                "status": 0,
                "enrolid": 1,
                "userid": relateduserid,
                "timestart": 0,
                "timeend": 0,
                "courseid": courseid,
                "enrol": "manual",
                "lastenrol": True,
            },
            "enrol": "manual",
        }
    else:
        other = {"enrol": "manual"}
    return {
        "eventname": f"\\core\\event\\{event}",
        "component": "core",
        "action": action,
        "target": target,
        "objecttable": table,
        "objectid": objectid,
        "crud": crud,
        "edulevel": edulevel,
        "contextid": 100 + courseid,
        "contextlevel": 50,
        "contextinstanceid": str(courseid),
        "userid": str(userid),
        "courseid": str(courseid),
        "relateduserid": relateduserid,
        "anonymous": 0,
        "other": other,
        "timecreated": timecreated,
        "host": host,
        "token": token,
        "extra": extra,
    }


def unix(moment: str) -> int:
    """Unix seconds of an ISO 8601 time (UTC if it has no offset), for Moodle's dates."""
    value = datetime.fromisoformat(moment)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(value.timestamp())


class CanvasSigner:
    """Signs Live Events as Canvas does with "Sign Payload" on (RS256, `kid` in the header),
    and publishes the matching key set."""

    def __init__(self, kid: str = "coachbot-test-key") -> None:
        from cryptography.hazmat.primitives.asymmetric import rsa

        self.kid = kid
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    @property
    def jwks(self) -> dict[str, Any]:
        from jwt.algorithms import RSAAlgorithm

        public = RSAAlgorithm.to_jwk(self._key.public_key(), as_dict=True)
        public.update({"kid": self.kid, "alg": "RS256", "use": "sig"})
        return {"keys": [public]}

    def sign(self, event: Mapping[str, Any]) -> str:
        import jwt

        return jwt.encode(dict(event), self._key, algorithm="RS256", headers={"kid": self.kid})


class FakeKeySet(_FakeService):
    """Where Instructure publishes its signing keys (CANVAS_JWKS_URL): GET /jwks answers the
    key set of the signers it was given, as JSON."""

    PATH = "/jwks"

    def __init__(self, *signers: CanvasSigner) -> None:
        self.signers = list(signers)
        super().__init__()

    @property
    def jwks_url(self) -> str:
        return self.url + self.PATH

    def publish(self, signer: CanvasSigner) -> None:
        """A key rotation: the set now has `signer`'s key too."""
        with self._lock:
            self.signers.append(signer)

    def _authorized(self, headers: Mapping[str, str], params: Mapping[str, str]) -> bool:
        return True

    def _answer(self, request: _Request) -> _Answer:
        if request.method != "GET" or request.path != self.PATH:
            return _json(404, {"message": "Not Found"})
        with self._lock:
            keys = [key for signer in self.signers for key in signer.jwks["keys"]]
        return _json(200, {"keys": keys})
