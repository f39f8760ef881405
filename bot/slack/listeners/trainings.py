"""Why trainings matter: an L&D lead edits a training's why and sponsor from the App Home.

Only L&D leads may open the modal or submit it; anyone else is told so politely. After a save
the lead's Home tab is published again, showing what was saved.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.core.enrollment import IntakeError
from bot.core.limits import WHY_MAX
from bot.core.lookup import LookupUnavailable
from bot.core.trainings import TrainingGone, WhyTooLong, edit_why, training_why
from bot.services import Services
from bot.slack import blocks
from bot.slack.forms import metadata, state_values
from bot.slack.ids import Action, Block, View
from bot.slack.replies import actor_of, open_modal, tell

log = logging.getLogger(__name__)


def _training_id(value: object) -> int | None:
    try:
        return int(str(value))
    except ValueError:
        return None


class TrainingListeners:
    def __init__(self, services: Services) -> None:
        self.services = services

    def open_edit(
        self, ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient
    ) -> None:
        ack()
        actor = actor_of(body)
        prompts = self.services.prompts_for(actor)
        if not self.services.is_ld_lead(actor):
            log.info("training.edit_refused user=%s", actor)
            tell(client, body, prompts.text("trainings.not_authorized"), prompts)
            return
        training_id = _training_id(action.get("value"))
        with self.services.db.session() as session:
            training = training_why(session, training_id) if training_id is not None else None
        if training is None:
            tell(client, body, prompts.text("training_modal.gone"), prompts)
            return
        open_modal(client, body, blocks.training_modal(training, prompts), prompts)

    def submit_edit(self, ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        actor = actor_of(body)
        prompts = self.services.prompts_for(actor)
        if not self.services.is_ld_lead(actor):
            log.info("training.save_refused user=%s", actor)
            refusal = prompts.text("trainings.not_authorized")
            ack(response_action="update", view=blocks.notice_modal(prompts, lines=[refusal]))
            return
        values = state_values(view)
        training_id = _training_id(metadata(view).get("training_id"))
        sponsor_id = values.get(Block.SPONSOR)
        error: tuple[Block, str] | None = None
        try:
            with self.services.db.session() as session:
                sponsor = (
                    self.services.intake.resolve(session, sponsor_id, "sponsor")
                    if sponsor_id
                    else None
                )
                if training_id is None:
                    raise TrainingGone(training_id)
                edit_why(
                    session,
                    training_id=training_id,
                    why=values.get(Block.TRAINING_WHY),
                    sponsor=sponsor,
                    keep_sponsor=metadata(view).get("keep_sponsor") is True,
                )
        except WhyTooLong as exc:
            text = prompts.text("training_modal.why_too_long", max=WHY_MAX, count=exc.length)
            error = (Block.TRAINING_WHY, text)
        except IntakeError:
            error = (Block.SPONSOR, prompts.text("training_modal.sponsor_unknown"))
        except LookupUnavailable:
            error = (Block.SPONSOR, prompts.text("training_modal.slack_away"))
        except TrainingGone:
            gone = prompts.text("training_modal.gone")
            ack(response_action="update", view=blocks.notice_modal(prompts, lines=[gone]))
            return
        if error is not None:
            ack(response_action="errors", errors={error[0]: error[1]})
            return
        ack()
        self.services.refresh_home(actor)


def register(app: App, services: Services) -> None:
    listeners = TrainingListeners(services)
    app.action(Action.EDIT_TRAINING)(listeners.open_edit)
    app.view(View.TRAINING)(listeners.submit_edit)
