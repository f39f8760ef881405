"""`/enroll`: a modal to enroll one or more learners in a training."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot import metrics
from bot.core.access import MANAGER, Refused, enroll_refusal
from bot.core.enrollment import EnrollmentInput, IntakeError
from bot.core.limits import TRAINING_NAME_MAX
from bot.prompts import Prompts
from bot.services import Services
from bot.slack import blocks
from bot.slack.forms import picked_date, state_values, text
from bot.slack.ids import Block, View
from bot.slack.replies import actor_of, open_modal
from storage.models import Source

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Form:
    learners: list[str]
    training: str
    starts_on: date | None
    ends_on: date | None
    manager: str | None

    @classmethod
    def read(cls, view: dict[str, Any]) -> _Form:
        values = state_values(view)
        return cls(
            learners=values.get(Block.LEARNERS) or [],
            training=text(values, Block.TRAINING),
            starts_on=picked_date(values, Block.STARTS_ON),
            ends_on=picked_date(values, Block.ENDS_ON),
            manager=values.get(Block.MANAGER) or None,
        )


class EnrollListeners:
    def __init__(self, services: Services) -> None:
        self.services = services

    def open_enroll(self, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        prompts = self.services.prompts_for(actor_of(body))
        open_modal(client, body, blocks.enroll_modal(prompts), prompts)

    def submit_enroll(self, ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        actor = body["user"]["id"]
        prompts = self.services.prompts_for(actor)
        form = _Form.read(view)
        errors = self._errors(form, prompts)
        if errors:
            ack(response_action="errors", errors=errors)
            return
        assert form.starts_on is not None and form.ends_on is not None
        try:
            no_manager = self._enroll(actor, form, prompts)
        except IntakeError as exc:
            metrics.enrollment(Source.SLACK, "refused")
            # Field names of the intake map onto the modal's blocks; the rest go on learners.
            field = exc.field if exc.field in {b.value for b in Block} else Block.LEARNERS
            ack(response_action="errors", errors={field: exc.message[:2000]})
            return
        ack(
            response_action="update",
            view=blocks.notice_modal(prompts, lines=self._done(form, no_manager, prompts)),
        )
        log.info("enroll.modal actor=%s learners=%s", actor, len(form.learners))

    def _errors(self, form: _Form, prompts: Prompts) -> dict[str, str]:
        errors: dict[str, str] = {}
        if not form.learners:
            errors[Block.LEARNERS] = prompts.text("validation.no_learners")
        if not form.training:
            errors[Block.TRAINING] = prompts.text("validation.training_required")
        elif len(form.training) > TRAINING_NAME_MAX:
            errors[Block.TRAINING] = prompts.text("validation.too_long", limit=TRAINING_NAME_MAX)
        if form.starts_on is None:
            errors[Block.STARTS_ON] = prompts.text("ephemeral.bad_date", value="(none)")
        if form.ends_on is None:
            errors[Block.ENDS_ON] = prompts.text("ephemeral.bad_date", value="(none)")
        elif form.starts_on and form.ends_on < form.starts_on:
            errors[Block.ENDS_ON] = prompts.text("validation.end_before_start")
        if form.manager and form.manager in form.learners:
            errors[Block.MANAGER] = prompts.text("validation.own_manager")
        return errors

    def _enroll(self, actor: str, form: _Form, prompts: Prompts) -> list[str]:
        """Enroll every learner or none; the learners who have no manager to prompt."""
        services = self.services
        is_lead = services.is_ld_lead(actor)
        inputs = [
            EnrollmentInput(
                learner=learner,
                training=form.training,
                starts_on=form.starts_on,  # type: ignore[arg-type]
                ends_on=form.ends_on,  # type: ignore[arg-type]
                manager=form.manager,
                source=Source.SLACK,
                enrolled_by=actor,
                learner_field=Block.LEARNERS,
                manager_field=Block.MANAGER,
            )
            for learner in form.learners
        ]
        with services.db.session() as session:
            refusal = enroll_refusal(
                session, actor=actor, is_lead=is_lead, learners=form.learners, manager=form.manager
            )
            if refusal is not None:
                raise self._refused(refusal, prompts)
            results = [services.intake.enroll(session, data) for data in inputs]
        for result in results:  # committed
            metrics.enrollment(Source.SLACK, result.outcome)
        return [
            data.learner for data, result in zip(inputs, results, strict=True) if result.no_manager
        ]

    def _refused(self, refusal: Refused, prompts: Prompts) -> IntakeError:
        if refusal.field == MANAGER:
            # Naming a manager sends them prompts and shared goals: not anyone's choice.
            return IntakeError(Block.MANAGER, prompts.text("validation.manager_not_yours"))
        who = f"<@{refusal.who}>"
        return IntakeError(Block.LEARNERS, prompts.text("ephemeral.enroll_refused", who=who))

    def _done(self, form: _Form, no_manager: list[str], prompts: Prompts) -> list[str]:
        done = [
            prompts.text(
                "ephemeral.enroll_done",
                count=len(form.learners),
                training=blocks.escape(form.training),
                dates=prompts.format_dates(form.starts_on, form.ends_on),  # type: ignore[arg-type]
            )
        ]
        if no_manager:
            who = ", ".join(f"<@{u}>" for u in no_manager)
            done.append(prompts.text("ephemeral.enroll_no_manager", who=who))
        return done


def register(app: App, services: Services) -> None:
    listeners = EnrollListeners(services)
    app.command("/enroll")(listeners.open_enroll)
    app.view(View.ENROLL)(listeners.submit_enroll)
