"""xAPI statements, shaped as in the xAPI specification's examples, become enrollment events."""

from __future__ import annotations

import copy
from datetime import date
from typing import Any

import pytest

from bot.core.sources import SourceError
from bot.core.sources.xapi import (
    COMPLETED,
    PASSED,
    REGISTERED,
    UNREGISTERED,
    VOIDED,
    check_version,
    parse_statements,
)

TODAY = date(2026, 11, 23)
COURSE = "http://lms.example.org/xapi/activities/coaching-skills"


def statement(verb: str, **extra: Any) -> dict[str, Any]:
    """A statement as an LMS sends it: the shape of xAPI-Data.md's Appendix A."""
    body: dict[str, Any] = {
        "id": "fd41c918-b88b-4b20-a0a5-a4c32391aaa0",
        "timestamp": "2026-11-30T08:15:00+01:00",
        "actor": {"objectType": "Agent", "name": "Ann Learner", "mbox": "mailto:Ann@Example.org"},
        "verb": {"id": verb, "display": {"en-US": verb.rsplit("/", 1)[-1]}},
        "object": {
            "objectType": "Activity",
            "id": COURSE,
            "definition": {
                "name": {"de-DE": "Coaching-Kompetenz", "en-US": "Coaching Skills"},
                "type": "http://adlnet.gov/expapi/activities/course",
            },
        },
    }
    body.update(extra)
    return body


def parse(body: Any, version: str | None = "1.0.3") -> list[Any]:
    return parse_statements(body, version, today=TODAY)


def test_a_registration_enrolls_the_actor_self_paced_from_the_timestamp_date() -> None:
    [result] = parse(statement(REGISTERED))
    event = result.event
    assert result.id == "fd41c918-b88b-4b20-a0a5-a4c32391aaa0"
    assert event.action == "enrolled"
    assert event.learner_email == "ann@example.org"
    assert event.training == "Coaching Skills"
    assert (event.starts_on, event.ends_on, event.completed_on) == (date(2026, 11, 30), None, None)
    assert event.key == f"xapi:ann@example.org|{COURSE}"
    assert (event.source, event.event_id) == ("xapi", result.id)


def test_the_date_is_the_one_in_the_timestamps_own_offset() -> None:
    # 23:30 in New York is already the next day in UTC; the learner's day counts.
    [late] = parse(statement(REGISTERED, timestamp="2026-11-30T23:30:00-05:00"))
    [utc] = parse(statement(REGISTERED, timestamp="2026-12-01T04:30:00.123Z"))
    assert late.event.starts_on == date(2026, 11, 30)
    assert utc.event.starts_on == date(2026, 12, 1)


def test_without_timestamp_the_statement_is_dated_today_as_an_lrs_stamps_it() -> None:
    body = statement(REGISTERED)
    del body["timestamp"]
    assert parse(body)[0].event.starts_on == TODAY


def test_completed_and_passed_complete_on_the_timestamp_date() -> None:
    for verb in (COMPLETED, PASSED):
        [result] = parse(statement(verb, timestamp="2026-12-04T16:00:00+00:00"))
        assert result.event.action == "completed"
        assert result.event.completed_on == date(2026, 12, 4)
        assert result.event.key == f"xapi:ann@example.org|{COURSE}"


def test_unregistered_cancels_the_same_enrollment() -> None:
    [registered] = parse(statement(REGISTERED))
    [unregistered] = parse(statement(UNREGISTERED, id="7ccd3322-e1a5-411a-a67d-6a735c76f119"))
    assert unregistered.event.action == "cancelled"
    assert unregistered.event.key == registered.event.key


def test_a_registration_id_is_part_of_the_key() -> None:
    registration = "ec531277-b57b-4c15-8d91-d292c5b2b8f7"
    [result] = parse(statement(REGISTERED, context={"registration": registration}))
    assert result.event.key == f"xapi:ann@example.org|{COURSE}|{registration}"


def test_the_training_name_prefers_en_us_then_en_then_any() -> None:
    def named(names: dict[str, str]) -> str | None:
        body = statement(REGISTERED)
        body["object"]["definition"]["name"] = names
        return parse(body)[0].event.training

    assert named({"fr": "Coaching", "en": "Coaching (en)", "en-US": "Coaching (US)"}) == (
        "Coaching (US)"
    )
    assert named({"fr": "Coaching", "en": "Coaching (en)"}) == "Coaching (en)"
    assert named({"fr": "Coaching"}) == "Coaching"


def test_a_voiding_statement_names_the_statement_it_undoes() -> None:
    void = {
        "actor": {"objectType": "Agent", "name": "Example Admin", "mbox": "mailto:admin@x.org"},
        "verb": {"id": VOIDED, "display": {"en-US": "voided"}},
        "object": {"objectType": "StatementRef", "id": "e05aa883-acaf-40ad-bf54-02c8ce485fb0"},
    }
    [result] = parse(void, "2.0.0")
    assert result.event is None
    assert result.voids == "e05aa883-acaf-40ad-bf54-02c8ce485fb0"


def test_other_verbs_are_accepted_and_ignored() -> None:
    [result] = parse(statement("http://adlnet.gov/expapi/verbs/attempted"))
    assert result.event is None and result.voids is None
    assert result.id == "fd41c918-b88b-4b20-a0a5-a4c32391aaa0"


def test_an_array_gets_ids_assigned_where_missing_in_order() -> None:
    first = statement(REGISTERED)
    second = statement(COMPLETED)
    del second["id"]
    results = parse_statements([first, second], "1.0.0", today=TODAY, new_id=lambda: "new-id")
    assert [r.id for r in results] == [first["id"], "new-id"]
    assert results[1].event is not None and results[1].event.event_id == "new-id"
    assert parse([], "1.0.0") == []


def test_generated_ids_are_uuids() -> None:
    body = statement(REGISTERED)
    del body["id"]
    [result] = parse(body)
    assert len(result.id) == 36 and result.id.count("-") == 4


@pytest.mark.parametrize("header", ["1.0", "1.0.0", "1.0.3", "2.0.0"])
def test_the_versions_an_lrs_accepts(header: str) -> None:
    assert check_version(header) == header


@pytest.mark.parametrize("header", [None, "", "0.95", "1.1.0", "2.0.1", "banana"])
def test_other_versions_are_refused_naming_the_header(header: str | None) -> None:
    with pytest.raises(SourceError) as caught:
        parse(statement(REGISTERED), header)
    assert caught.value.field == "X-Experience-API-Version"
    assert "1.0" in caught.value.message


def refusal(body: Any) -> SourceError:
    with pytest.raises(SourceError) as caught:
        parse(body)
    return caught.value


def test_a_registration_by_account_is_refused_with_what_to_send() -> None:
    body = statement(REGISTERED)
    body["actor"] = {"objectType": "Agent", "account": {"homePage": "http://x.org", "name": "42"}}
    error = refusal([statement(COMPLETED), body])
    assert error.field == "statements[1].actor.mbox"
    assert "mailto" in error.message


def test_malformed_statements_are_refused_naming_the_field() -> None:
    cases: list[tuple[Any, str]] = []
    no_actor = statement(REGISTERED)
    del no_actor["actor"]
    cases.append((no_actor, "actor"))
    bad_id = statement(REGISTERED, id="not-a-uuid")
    cases.append((bad_id, "id"))
    bad_time = statement(REGISTERED, timestamp="next tuesday")
    cases.append((bad_time, "timestamp"))
    bad_mbox = copy.deepcopy(statement("http://adlnet.gov/expapi/verbs/attempted"))
    bad_mbox["actor"]["mbox"] = "ann@example.org"
    cases.append((bad_mbox, "actor.mbox"))
    unnamed = statement(REGISTERED)
    del unnamed["object"]["definition"]["name"]
    cases.append((unnamed, "object.definition.name"))
    bad_void = statement(VOIDED)
    cases.append((bad_void, "object"))
    bad_registration = statement(REGISTERED, context={"registration": "42"})
    cases.append((bad_registration, "context.registration"))
    cases.append(("a string", "body"))
    for body, field in cases:
        assert refusal(body).field == field, body


def test_the_same_id_twice_in_a_batch_is_refused() -> None:
    error = refusal([statement(REGISTERED), statement(COMPLETED)])
    assert error.field == "statements[1].id"


def test_a_group_actor_is_accepted_and_ignored() -> None:
    body = statement(COMPLETED)
    body["actor"] = {"objectType": "Group", "name": "Team PB", "mbox": "mailto:team@x.org"}
    [result] = parse(body)
    assert result.event is None


def test_the_webhook_body_of_an_event() -> None:
    [result] = parse(statement(COMPLETED))
    assert result.event.as_enrollment() == {
        "external_id": f"xapi:ann@example.org|{COURSE}",
        "status": "completed",
        "learner_email": "ann@example.org",
        "training": "Coaching Skills",
        "completed_on": "2026-11-30",
    }


def test_a_very_long_activity_iri_still_fits_the_external_id_column() -> None:
    body = statement(REGISTERED)
    body["object"]["id"] = "http://lms.example.org/" + "a" * 400
    key = parse(body)[0].event.key
    assert len(key) <= 200 and key.startswith("xapi:#")
    assert parse(body)[0].event.key == key
