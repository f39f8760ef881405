"""The Workflow Builder step `enroll_learner`: enrolls one learner as the webhook does, under
the access rule of the /enroll modal, and completes the step with the enrollment's id or
with an error that says what to fix."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from typing import Any

from slack_bolt import App, Complete, Fail
from slack_sdk.errors import SlackClientError
from sqlalchemy import exc as sa_exc

from bot import metrics
from bot.core.access import MANAGER, Refused, enroll_refusal
from bot.core.enrollment import EnrollmentInput, EnrollResult, IntakeError
from bot.prompts import Prompts
from bot.services import Services
from bot.slack.ids import Function
from storage import crud
from storage.models import Source

log = logging.getLogger(__name__)

# The step's inputs and output, as the manifest declares them (bot/slack/manifest.py).
LEARNER, TRAINING, STARTS_ON, ENDS_ON, MANAGER_INPUT, ENROLLED_BY = (
    "learner",
    "training",
    "starts_on",
    "ends_on",
    "manager",
    "enrolled_by",
)
ENROLLMENT_ID = "enrollment_id"
UNAVAILABLE = (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError)


class StepError(Exception):
    """The step fails with this message (functions.completeError); nothing was stored."""

    def __init__(self, message: str, result: str = "refused") -> None:
        super().__init__(message)
        self.message = message
        self.result = result


def register(app: App, services: Services) -> None:
    @app.function(Function.ENROLL_LEARNER)
    def enroll_learner(inputs: dict[str, Any], complete: Complete, fail: Fail) -> None:
        # Bolt acknowledged the event already; the step stays open until one of these calls.
        try:
            result = run_step(services, inputs)
        except StepError as exc:
            metrics.enrollment(Source.WORKFLOW, exc.result)
            log.info("workflow.enroll_failed result=%s", exc.result)
            fail(error=exc.message)
            return
        metrics.enrollment(Source.WORKFLOW, result.outcome)
        log.info("workflow.enrolled enrollment=%s result=%s", result.enrollment.id, result.outcome)
        complete(outputs={ENROLLMENT_ID: str(result.enrollment.id)})


def run_step(services: Services, inputs: Mapping[str, Any]) -> EnrollResult:
    """Enroll from the step's inputs, or raise StepError with what to fix, in the language
    of the person who ran the workflow (it shows in their run's activity)."""
    actor = _user_id(inputs.get(ENROLLED_BY))
    prompts = services.prompts_for(actor)
    try:
        if not actor:
            raise StepError(prompts.text("workflow.no_actor"))
        data = EnrollmentInput(
            learner=_user_id(inputs.get(LEARNER)),
            training=_text(inputs.get(TRAINING)),
            starts_on=_text(inputs.get(STARTS_ON)),
            ends_on=_text(inputs.get(ENDS_ON)),
            manager=_user_id(inputs.get(MANAGER_INPUT)) or None,
            source=Source.WORKFLOW,
            enrolled_by=actor,
            learner_field=LEARNER,
            manager_field=MANAGER_INPUT,
        )
        is_lead = services.is_ld_lead(actor)
        with services.db.session() as session:
            # Who the people are first (from Slack when the directory does not know them
            # yet), so that an unknown learner is named as such rather than refused.
            services.intake.resolve(session, data.learner, LEARNER)
            if data.manager:
                services.intake.resolve(session, data.manager, MANAGER_INPUT)
            refusal = enroll_refusal(
                session,
                actor=actor,
                is_lead=is_lead,
                learners=[data.learner],
                manager=data.manager,
            )
            if refusal is not None:
                raise StepError(_refusal_text(prompts, session, refusal, actor))
        return services.intake.enroll_one(data)
    except IntakeError as exc:
        reason = exc.message if exc.field in exc.message else f"{exc.field}: {exc.message}"
        raise StepError(prompts.text("workflow.refused", reason=reason.rstrip("."))) from None
    except (*UNAVAILABLE, SlackClientError, OSError) as exc:
        log.warning("workflow.unavailable error=%s", type(exc).__name__)
        raise StepError(prompts.text("workflow.unavailable"), "unavailable") from None
    except StepError:
        raise
    except Exception:
        reference = uuid.uuid4().hex[:12]
        log.exception("workflow.error reference=%s", reference)
        raise StepError(prompts.text("workflow.error", reference=reference), "error") from None


def _refusal_text(prompts: Prompts, session: Any, refusal: Refused, actor: str) -> str:
    if refusal.field == MANAGER:
        return prompts.text("workflow.refused_manager")
    return prompts.text(
        "workflow.refused_learner", actor=_name(session, actor), who=_name(session, refusal.who)
    )


def _name(session: Any, slack_id: str) -> str:
    person = crud.person_by_slack_id(session, slack_id=slack_id)
    return (person.name if person is not None and person.name else None) or slack_id


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _user_id(value: Any) -> str:
    """A user id input (`U…`), or a user_context input (`{"id": "U…", "secret": …}`)."""
    if isinstance(value, Mapping):
        value = value.get("id")
    return _text(value)
