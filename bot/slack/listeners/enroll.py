"""`/enroll`: a modal to enroll one or more learners in a training."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot import metrics
from bot.core.access import MANAGER, Refusal, enroll_refusal
from bot.core.enrollment import EnrollmentInput, IntakeError
from bot.prompts import Prompts
from bot.services import Services
from bot.slack import blocks
from bot.slack.forms import picked_date, state_values, text
from bot.slack.ids import Block, View
from bot.slack.replies import open_modal
from storage.models import Source

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
        elif len(training) > 200:
            errors[Block.TRAINING] = prompts.text("validation.too_long", limit=200)
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
        no_manager: list[str] = []
        outcomes: list[str] = []
        try:
            with services.db.session() as session:
                refusal = enroll_refusal(
                    session, actor=actor, is_lead=is_lead, learners=learners, manager=manager
                )
                if refusal is not None:
                    raise _refused(prompts, refusal)
                for learner_id in learners:
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
                    outcomes.append(result.outcome)
        except IntakeError as exc:
            metrics.enrollment(Source.SLACK, "refused")
            # Field names of the service map onto the modal's blocks; the rest go on learners.
            field = exc.field if exc.field in {b.value for b in Block} else Block.LEARNERS
            ack(response_action="errors", errors={field: exc.message[:2000]})
            return
        for outcome in outcomes:  # committed
            metrics.enrollment(Source.SLACK, outcome)
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


def _refused(prompts: Prompts, refusal: Refusal) -> IntakeError:
    if refusal.field == MANAGER:
        # Naming a manager sends them prompts and shared goals: not anyone's choice.
        return IntakeError(Block.MANAGER, prompts.text("validation.manager_not_yours"))
    return IntakeError(
        Block.LEARNERS, prompts.text("ephemeral.enroll_refused", who=f"<@{refusal.who}>")
    )
