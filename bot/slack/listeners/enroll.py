"""`/enroll`: a modal to enroll one or more learners in a training."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.core.enrollment import EnrollmentInput, IntakeError
from bot.core.limits import TRAINING_NAME_MAX
from bot.services import Services
from bot.slack import blocks
from bot.slack.forms import picked_date, state_values, text
from bot.slack.ids import Block, View
from bot.slack.replies import open_modal
from storage import crud
from storage.models import Person, Source

log = logging.getLogger(__name__)


def register(app: App, services: Services) -> None:
    prompts = services.prompts

    @app.command("/enroll")
    def open_enroll(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        open_modal(client, body, blocks.enroll_modal(prompts), prompts)

    @app.view(View.ENROLL)
    def submit_enroll(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        actor = body["user"]["id"]
        values = state_values(view)
        learners: list[str] = values.get(Block.LEARNERS) or []
        training = text(values, Block.TRAINING)
        starts_on = picked_date(values, Block.STARTS_ON)
        ends_on = picked_date(values, Block.ENDS_ON)
        manager = values.get(Block.MANAGER) or None
        errors: dict[str, str] = {}
        if not learners:
            errors[Block.LEARNERS] = prompts.text("validation.no_learners")
        if not training:
            errors[Block.TRAINING] = prompts.text("validation.training_required")
        elif len(training) > TRAINING_NAME_MAX:
            errors[Block.TRAINING] = prompts.text("validation.too_long", limit=TRAINING_NAME_MAX)
        if starts_on is None:
            errors[Block.STARTS_ON] = prompts.text("ephemeral.bad_date", value="(none)")
        if ends_on is None:
            errors[Block.ENDS_ON] = prompts.text("ephemeral.bad_date", value="(none)")
        elif starts_on and ends_on < starts_on:
            errors[Block.ENDS_ON] = prompts.text("validation.end_before_start")
        if manager and manager in learners:
            errors[Block.MANAGER] = "A learner cannot be their own manager."
        if errors:
            ack(response_action="errors", errors=errors)
            return
        assert starts_on is not None and ends_on is not None
        is_lead = services.is_ld_lead(actor)
        if (
            manager
            and not is_lead
            and manager != actor
            and not _is_directory_manager(services, learners, manager)
        ):
            # Naming a manager sends them prompts and shared goals: not anyone's choice.
            ack(
                response_action="errors",
                errors={Block.MANAGER: prompts.text("validation.manager_not_yours")},
            )
            return
        no_manager: list[str] = []
        try:
            with services.db.session() as session:
                me = crud.person_by_slack_id(session, slack_id=actor)
                for learner_id in learners:
                    if not is_lead and learner_id != actor:
                        learner = crud.person_by_slack_id(session, slack_id=learner_id)
                        if not _manages(me, learner):
                            raise IntakeError(
                                Block.LEARNERS,
                                prompts.text("ephemeral.enroll_refused", who=f"<@{learner_id}>"),
                            )
                    result = services.intake.enroll(
                        session,
                        EnrollmentInput(
                            learner=learner_id,
                            training=training,
                            starts_on=starts_on,
                            ends_on=ends_on,
                            manager=manager,
                            source=Source.SLACK,
                            enrolled_by=actor,
                            learner_field=Block.LEARNERS,
                            manager_field=Block.MANAGER,
                        ),
                    )
                    if result.no_manager:
                        no_manager.append(learner_id)
        except IntakeError as exc:
            # Field names of the service map onto the modal's blocks; the rest go on learners.
            field = exc.field if exc.field in {b.value for b in Block} else Block.LEARNERS
            ack(response_action="errors", errors={field: exc.message[:2000]})
            return
        done = [
            prompts.text(
                "ephemeral.enroll_done",
                count=len(learners),
                training=blocks.escape(training),
                dates=prompts.format_dates(starts_on, ends_on),
            )
        ]
        if no_manager:
            who = ", ".join(f"<@{u}>" for u in no_manager)
            done.append(prompts.text("ephemeral.enroll_no_manager", who=who))
        ack(response_action="update", view=blocks.notice_modal(prompts, lines=done))
        log.info("enroll.modal actor=%s learners=%s", actor, len(learners))


def _manages(me: Person | None, learner: Person | None) -> bool:
    return me is not None and learner is not None and learner.manager_id == me.id


def _is_directory_manager(services: Services, learners: list[str], manager: str) -> bool:
    """Whether `manager` already manages every one of the learners in the directory."""
    with services.db.session() as session:
        boss = crud.person_by_slack_id(session, slack_id=manager)
        for learner_id in learners:
            learner = crud.person_by_slack_id(session, slack_id=learner_id)
            if boss is None or learner is None or learner.manager_id != boss.id:
                return False
    return True
