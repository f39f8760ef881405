"""xAPI statements forwarded by a Learning Record Store, through the real HTTP app: shapes as
in the xAPI specification (xAPI-Data.md, Appendix A; xAPI-Communication.md §2.1)."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlmodel import select
from support import Bot, Clock, start_bot

from bot.sim.fakeslack import FakeSlack
from scheduler.nudges import AWAITING_COMPLETION
from storage.db import Database
from storage.models import Enrollment, Nudge, XapiStatement

REGISTERED = "http://adlnet.gov/expapi/verbs/registered"
COMPLETED = "http://adlnet.gov/expapi/verbs/completed"
PASSED = "http://adlnet.gov/expapi/verbs/passed"
UNREGISTERED = "http://id.tincanapi.com/verb/unregistered"
VOIDED = "http://adlnet.gov/expapi/verbs/voided"
EXPERIENCED = "http://adlnet.gov/expapi/verbs/experienced"
COURSE = "https://lms.example.org/xapi/activities/data-privacy"
KEY, SECRET = "lrs-forwarder", "s3cret-of-the-lrs"


@pytest.fixture
def lrs(fake: FakeSlack, db: Database, clock: Clock, db_url: str) -> Iterator[Bot]:
    instance, server = start_bot(fake, db, clock, db_url, xapi_key=KEY, xapi_secret=SECRET)
    instance.fake.add_user("UADA", email="ada@example.org", real_name="Ada", tz="Europe/Paris")
    instance.fake.add_user(
        "UGRACE", email="grace@example.org", real_name="Grace", tz="America/New_York"
    )
    with instance.db.session() as s:
        learner = instance.services.intake.resolve(s, "ada@example.org", "learner")
        learner.manager_id = instance.services.intake.resolve(s, "UGRACE", "manager").id
        s.add(learner)
    yield instance
    server.close()


def statement(verb: str, *, id: str | None = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "actor": {"objectType": "Agent", "name": "Ada", "mbox": "mailto:ada@example.org"},
        "verb": {"id": verb, "display": {"en-US": verb.rsplit("/", 1)[-1]}},
        "object": {
            "objectType": "Activity",
            "id": COURSE,
            "definition": {
                "name": {"en-US": "Data Privacy", "fr-FR": "Protection des données"},
                "type": "http://adlnet.gov/expapi/activities/course",
            },
        },
        "timestamp": "2026-11-23T10:00:00+01:00",
    }
    if id is not None:
        body["id"] = id
    body.update(extra)
    return body


def void(target: str, *, id: str | None = None) -> dict[str, Any]:
    return {
        "id": id or str(uuid.uuid4()),
        "actor": {"objectType": "Agent", "mbox": "mailto:admin@example.org"},
        "verb": {"id": VOIDED, "display": {"en-US": "voided"}},
        "object": {"objectType": "StatementRef", "id": target},
    }


def post(
    bot: Bot,
    body: Any,
    *,
    auth: tuple[str, str] | None = (KEY, SECRET),
    version: str | None = "1.0.3",
) -> Any:
    headers = {"Content-Type": "application/json"}
    if auth is not None:
        headers["Authorization"] = "Basic " + base64.b64encode(":".join(auth).encode()).decode()
    if version is not None:
        headers["X-Experience-API-Version"] = version
    return bot.post("/api/xapi/statements", json.dumps(body), headers)


def enrollment(bot: Bot) -> Enrollment | None:
    with bot.db.session() as s:
        return s.exec(select(Enrollment)).first()


def nudges(bot: Bot) -> dict[str, Nudge]:
    with bot.db.session() as s:
        return {n.kind: n for n in s.exec(select(Nudge))}


def test_a_registration_enrolls_self_paced_and_a_completion_plans_the_debrief(lrs: Bot) -> None:
    first = str(uuid.uuid4())
    answer = post(lrs, statement(REGISTERED, id=first))
    assert answer.status == 200, answer.text
    assert answer.json() == [first]
    headers = {name.lower(): value for name, value in answer.headers.items()}
    assert headers["x-experience-api-version"].startswith("1.0")
    stored = enrollment(lrs)
    assert stored is not None
    assert stored.source == "xapi" and stored.ends_on is None
    assert stored.external_id == f"xapi:ada@example.org|{COURSE}"
    assert set(nudges(lrs)) == {"goal_invite", "pre_training"}

    done = post(lrs, statement(PASSED, timestamp="2026-11-24T16:00:00Z"), version="2.0.0")
    assert done.status == 200, done.text
    (assigned,) = done.json()
    assert uuid.UUID(assigned)  # an id assigned where missing, as an LRS does
    stored = enrollment(lrs)
    assert stored is not None and str(stored.completed_on) == "2026-11-24"
    assert nudges(lrs)["debrief"].due_at.isoformat() == "2026-11-25T14:30:00+00:00"


def test_a_statement_sent_again_is_a_no_op(lrs: Bot) -> None:
    body = statement(REGISTERED, id="9e1c2f4a-7c55-4d3b-9a1e-3f2b8c6d5e40")
    assert post(lrs, body).status == 200
    with lrs.db.session() as s:
        before = [(n.id, n.due_at, n.status) for n in s.exec(select(Nudge))]
    again = post(lrs, [body])
    assert again.status == 200 and again.json() == [body["id"]]
    with lrs.db.session() as s:
        assert [(n.id, n.due_at, n.status) for n in s.exec(select(Nudge))] == before
        assert len(s.exec(select(XapiStatement)).all()) == 1


def test_voiding_a_completion_reopens_and_voiding_the_registration_cancels(lrs: Bot) -> None:
    registration, completion = str(uuid.uuid4()), str(uuid.uuid4())
    post(lrs, [statement(REGISTERED, id=registration), statement(COMPLETED, id=completion)])
    assert nudges(lrs)["debrief"].status == "pending"

    assert post(lrs, void(completion)).status == 200
    stored = enrollment(lrs)
    assert stored is not None and stored.completed_on is None and stored.ends_on is None
    debrief = nudges(lrs)["debrief"]
    assert (debrief.status, debrief.reason) == ("cancelled", AWAITING_COMPLETION)

    assert post(lrs, void(registration)).status == 200
    stored = enrollment(lrs)
    assert stored is not None and stored.status == "cancelled"
    assert {n.status for n in nudges(lrs).values()} == {"cancelled"}


def test_a_voiding_statement_that_comes_first_voids_its_target_when_it_comes(lrs: Bot) -> None:
    registration = str(uuid.uuid4())
    assert post(lrs, void(registration)).status == 200
    assert post(lrs, statement(REGISTERED, id=registration)).status == 200
    assert enrollment(lrs) is None


def test_unregistered_cancels_and_other_verbs_are_accepted_and_ignored(lrs: Bot) -> None:
    post(lrs, statement(REGISTERED))
    ignored = post(lrs, statement(EXPERIENCED))
    assert ignored.status == 200 and len(ignored.json()) == 1
    assert post(lrs, statement(UNREGISTERED)).status == 200
    stored = enrollment(lrs)
    assert stored is not None and stored.status == "cancelled"


def test_a_completion_of_something_never_registered_creates_nothing(lrs: Bot) -> None:
    lesson = statement(COMPLETED)
    lesson["object"]["id"] = COURSE + "/lesson-3"
    assert post(lrs, lesson).status == 200
    assert enrollment(lrs) is None


def test_bad_requests_are_refused_whole_naming_what_is_wrong(lrs: Bot) -> None:
    good, bad = statement(REGISTERED), statement(REGISTERED)
    bad["actor"] = {"objectType": "Agent", "mbox": "ada@example.org"}
    cases = [
        (post(lrs, [good, bad]), "statements[1].actor.mbox"),
        (post(lrs, good, version=None), "X-Experience-API-Version"),
        (post(lrs, good, version="0.95"), "X-Experience-API-Version"),
        (post(lrs, {**good, "id": "not-a-uuid"}), "id"),
        (post(lrs, "just text"), "body"),
        (lrs.post("/api/xapi/statements", "{not json", _auth()), "body"),
    ]
    for answer, field in cases:
        assert answer.status == 400, answer.text
        assert answer.json()["field"] == field and field in answer.json()["error"]
    assert enrollment(lrs) is None


def test_a_learner_nobody_knows_is_accepted_and_enrolled_when_sent_again_later(
    lrs: Bot,
) -> None:
    stranger = statement(REGISTERED, id=str(uuid.uuid4()))
    stranger["actor"]["mbox"] = "mailto:lin@example.org"
    answer = post(lrs, stranger)
    assert answer.status == 200  # the store's job is done; the enrollment is refused
    assert enrollment(lrs) is None
    with lrs.db.session() as s:
        assert s.exec(select(XapiStatement)).all() == []  # nothing kept from it
    lrs.fake.add_user("ULIN", email="lin@example.org", real_name="Lin", tz="UTC")
    assert post(lrs, stranger).status == 200
    assert enrollment(lrs) is not None


def test_credentials_are_required(lrs: Bot, bot: Bot) -> None:
    assert post(lrs, statement(REGISTERED), auth=None).status == 401
    wrong = post(lrs, statement(REGISTERED), auth=(KEY, "guess"))
    headers = {name.lower(): value for name, value in wrong.headers.items()}
    assert wrong.status == 401 and "Basic" in headers["www-authenticate"]
    # Without XAPI_KEY and XAPI_SECRET the endpoint is off.
    assert post(bot, statement(REGISTERED)).status == 401
    assert enrollment(lrs) is None
    assert lrs.get("/api/xapi/statements").status == 405


def _auth() -> dict[str, str]:
    token = base64.b64encode(f"{KEY}:{SECRET}".encode()).decode()
    return {"Authorization": f"Basic {token}", "X-Experience-API-Version": "1.0.3"}
