"""The Workflow Builder step `enroll_learner`: a signed `function_executed` event to the real
app enrolls as the webhook does, under the access rule of /enroll, and the fake Slack sees
functions.completeSuccess with the enrollment id, or functions.completeError saying what to
fix."""

from __future__ import annotations

from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlmodel import select
from support import LEAD, Bot

from bot import metrics
from bot.sim.fakeslack import FakeSlack
from bot.slack.ids import Function
from bot.slack.manifest import FUNCTIONS
from storage import crud
from storage.models import Enrollment, Nudge, Person


def _workspace(bot: Bot) -> None:
    """Maya manages Rui in the directory; Omar is nobody's manager; Lea is an L&D lead."""
    fake = bot.fake
    fake.add_user("UMGR", email="mgr@example.org", real_name="Maya", tz="Europe/Berlin")
    fake.add_user("UREP", email="rep@example.org", real_name="Rui", tz="Europe/Lisbon")
    fake.add_user("UOTHER", email="other@example.org", real_name="Omar")
    fake.add_user(LEAD, email="lead@example.org", real_name="Lea")
    with bot.db.session() as s:
        mgr = crud.upsert_person(s, slack_id="UMGR", email="mgr@example.org", name="Maya")
        rep = crud.upsert_person(s, slack_id="UREP", email="rep@example.org", name="Rui")
        crud.upsert_person(s, slack_id="UOTHER", email="other@example.org", name="Omar")
        rep.manager_id = mgr.id


def _inputs(
    learner: str = "UREP",
    *,
    by: str | None = "UMGR",
    training: str = "Coaching Skills",
    starts_on: str = "2026-12-08",
    ends_on: str = "2026-12-09",
    manager: str | None = None,
) -> dict[str, Any]:
    """The step's inputs as Workflow Builder fills them; `enrolled_by` is a user_context."""
    inputs: dict[str, Any] = {
        "learner": learner,
        "training": training,
        "starts_on": starts_on,
        "ends_on": ends_on,
    }
    if manager:
        inputs["manager"] = manager
    if by:
        inputs["enrolled_by"] = {"id": by, "secret": "c2VjcmV0"}
    return inputs


def run_step(bot: Bot, inputs: dict[str, Any]) -> dict[str, Any]:
    """A workflow reaches the step: Slack sends the signed event; the run's end comes back."""
    event = bot.fake.execute_function(Function.ENROLL_LEARNER, inputs)
    response = bot.event(event)
    assert response.status == 200, response.text
    return {"event": event, **bot.fake.wait_for_function(event["function_execution_id"])}


def _created_from_workflow() -> float:
    registry = metrics.metrics().registry
    assert registry is not None
    labels = {"source": "workflow", "result": "created"}
    return registry.get_sample_value("coachbot_enrollments_total", labels) or 0.0


def _enrollments(bot: Bot) -> list[Enrollment]:
    with bot.db.session() as s:
        return list(s.exec(select(Enrollment)).all())


def test_a_manager_enrolls_a_report_and_the_step_outputs_the_enrollment_id(bot: Bot) -> None:
    _workspace(bot)
    before = _created_from_workflow()

    run = run_step(bot, _inputs())

    assert run["state"] == "completed", run["error"]
    (enrollment,) = _enrollments(bot)
    assert run["outputs"] == {"enrollment_id": str(enrollment.id)}
    with bot.db.session() as s:
        maya = crud.person_by_slack_id(s, slack_id="UMGR")
        assert maya is not None
        assert enrollment.manager_id == maya.id  # the directory's manager
        assert enrollment.source == "workflow" and enrollment.enrolled_by == "UMGR"
        assert len(s.exec(select(Nudge)).all()) == 5  # planned as any enrollment
    (call,) = bot.fake.calls_to("functions.completeSuccess")
    assert call.token == run["event"]["bot_access_token"]  # the run's own token, as Bolt does
    assert bot.fake.count("chat.postMessage") == 0  # no enrollment confirmations by DM
    assert _created_from_workflow() == before + 1


def test_running_it_again_answers_with_the_same_enrollment(bot: Bot) -> None:
    _workspace(bot)
    first = run_step(bot, _inputs())
    again = run_step(bot, _inputs())
    assert again["state"] == "completed"
    assert again["outputs"] == first["outputs"]
    assert len(_enrollments(bot)) == 1


def test_an_l_and_d_lead_enrolls_anyone_with_any_manager(bot: Bot) -> None:
    _workspace(bot)
    run = run_step(bot, _inputs("UOTHER", by=LEAD, manager="UMGR"))
    assert run["state"] == "completed", run["error"]
    (enrollment,) = _enrollments(bot)
    with bot.db.session() as s:
        maya = s.exec(select(Person).where(Person.slack_id == "UMGR")).one()
    assert enrollment.manager_id == maya.id


@pytest.mark.parametrize(
    ("inputs", "says"),
    [
        # Someone else's report: the /enroll modal's rule.
        (
            _inputs("UREP", by="UOTHER"),
            ["Omar, who ran this workflow", "Rui is not one of their reports", "L&D lead"],
        ),
        # Naming a manager is for L&D leads.
        (
            _inputs("UREP", by="UMGR", manager="UOTHER"),
            ["Only L&D leads can name a manager", "Leave Manager empty"],
        ),
        # Nobody in the directory or in Slack.
        (
            _inputs("UNOBODY1", by=LEAD),
            ["learner UNOBODY1 matches nobody in the directory or in Slack"],
        ),
        # Dates the intake refuses.
        (_inputs(starts_on="2026-12-09", ends_on="2026-12-01"), ["ends_on", "before starts_on"]),
        (_inputs(starts_on="next week"), ["starts_on must be a date as YYYY-MM-DD"]),
        (_inputs(training=" "), ["training is required"]),
        # Who asks must be known, or nobody can check who may enroll whom.
        (_inputs(by=None), ["Enrolled by is empty", "Person who used this workflow"]),
    ],
    ids=[
        "not-your-report",
        "other-manager",
        "unknown-learner",
        "end-before-start",
        "bad-date",
        "no-training",
        "no-actor",
    ],
)
def test_bad_input_fails_the_step_with_what_to_fix(
    bot: Bot, inputs: dict[str, Any], says: list[str]
) -> None:
    _workspace(bot)
    run = run_step(bot, inputs)
    assert run["state"] == "failed"
    for words in says:
        assert words in run["error"], run["error"]
    assert "Traceback" not in run["error"]
    assert _enrollments(bot) == []  # nothing stored
    assert bot.fake.count("functions.completeSuccess") == 0


def test_a_database_outage_fails_the_step_with_run_it_again(bot: Bot, monkeypatch: Any) -> None:
    from sqlalchemy.exc import OperationalError

    _workspace(bot)

    def down(*_args: Any, **_kwargs: Any) -> Any:
        raise OperationalError("SELECT 1", {}, Exception("connection refused"))

    monkeypatch.setattr(bot.services.intake, "enroll_one", down)
    run = run_step(bot, _inputs())
    assert run["state"] == "failed"
    assert "nothing was stored" in run["error"] and "again" in run["error"]


def test_the_listener_reads_the_inputs_the_manifest_declares() -> None:
    step = FUNCTIONS[Function.ENROLL_LEARNER]
    inputs = step["input_parameters"]
    assert set(inputs) == {"learner", "training", "starts_on", "ends_on", "manager", "enrolled_by"}
    assert inputs["learner"]["type"] == inputs["manager"]["type"] == "slack#/types/user_id"
    assert inputs["starts_on"]["type"] == inputs["ends_on"]["type"] == "slack#/types/date"
    assert inputs["training"]["type"] == "string"
    assert inputs["manager"]["is_required"] is False
    assert inputs["enrolled_by"]["type"] == "slack#/types/user_context"
    assert all(p["is_required"] for name, p in inputs.items() if name != "manager")
    assert step["output_parameters"]["enrollment_id"]["type"] == "string"
    assert all(p["name"] == name for name, p in inputs.items())


def test_the_fake_slack_keeps_a_run_to_one_ending_and_its_token_to_the_run(
    fake: FakeSlack,
) -> None:
    event = fake.execute_function("enroll_learner", {"learner": "U1"})
    run_id, token = event["function_execution_id"], event["bot_access_token"]
    client = WebClient(token=token, base_url=fake.api_url)
    client.retry_handlers = []
    with pytest.raises(SlackApiError, match="function_execution_not_found"):
        client.functions_completeSuccess(function_execution_id="FxNOPE", outputs={})
    with pytest.raises(SlackApiError, match="missing required field"):
        client.functions_completeError(function_execution_id=run_id, error=" ")
    client.functions_completeSuccess(function_execution_id=run_id, outputs={"enrollment_id": "7"})
    assert fake.wait_for_function(run_id)["outputs"] == {"enrollment_id": "7"}
    with pytest.raises(SlackApiError, match="token_expired"):  # the run is over
        client.functions_completeError(function_execution_id=run_id, error="late")
    bot_client = WebClient(token="xoxb-test-token", base_url=fake.api_url)
    with pytest.raises(SlackApiError, match="execution_not_in_running_state"):
        bot_client.functions_completeError(function_execution_id=run_id, error="late")
