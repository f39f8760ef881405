"""`/goal`: learners share, list, edit and delete application goals; the goal invite's buttons."""

from __future__ import annotations

import json
import logging
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient
from sqlmodel import Session, col, select

from bot.core.answers import Refusal, nudge_for_actor
from bot.core.limits import GOAL_MEASURE_MAX, GOAL_TEXT_MAX
from bot.services import Services
from bot.slack import blocks
from bot.slack.forms import metadata, state_values, text
from bot.slack.ids import SHARE_OPTION_VALUE, Action, Block, View
from bot.slack.replies import SLACK_FAILURES, failure_reason, tell
from storage import crud
from storage.models import (
    Enrollment,
    EnrollmentStatus,
    Goal,
    NudgeKind,
    Person,
    Training,
    utcnow,
)

log = logging.getLogger(__name__)


class ModalFailed(Exception):
    """Slack did not open the goal modal; the person is told to try again."""


class GoalError(ValueError):
    def __init__(self, block: str, message: str) -> None:
        super().__init__(message)
        self.block = block
        self.message = message


def register(app: App, services: Services) -> None:
    prompts = services.prompts

    def enrollment_choices(session: Session, learner: Person) -> list[tuple[int, str]]:
        today = services.clock().date()
        rows = crud.open_enrollments_of(session, learner_id=learner.id, today=today)  # type: ignore[arg-type]
        return [(e.id, t.name) for e, t in rows]  # type: ignore[misc]

    def check_goal(goal_text: str, measure: str | None) -> None:
        if not goal_text:
            raise GoalError(Block.GOAL_TEXT, prompts.text("ephemeral.goal_empty"))
        if len(goal_text) > GOAL_TEXT_MAX:
            raise GoalError(
                Block.GOAL_TEXT,
                prompts.text("ephemeral.goal_too_long", length=len(goal_text), limit=GOAL_TEXT_MAX),
            )
        if measure and len(measure) > GOAL_MEASURE_MAX:
            raise GoalError(
                Block.GOAL_MEASURE, prompts.text("validation.too_long", limit=GOAL_MEASURE_MAX)
            )

    def save_goal(
        session: Session,
        learner: Person,
        enrollment_id: Any,
        goal_text: str,
        measure: str | None,
        share: bool,
        goal_id: Any = None,
    ) -> tuple[Goal, Training, bool]:
        """Store (or edit) a goal; returns it, its training and whether to tell the manager."""
        check_goal(goal_text, measure)
        try:
            enrollment = session.get(Enrollment, int(enrollment_id))
        except (TypeError, ValueError):
            enrollment = None
        if (
            enrollment is None
            or enrollment.learner_id != learner.id
            or enrollment.status != EnrollmentStatus.ENROLLED
        ):
            raise GoalError(Block.ENROLLMENT, prompts.text("validation.not_your_enrollment"))
        now = services.clock()
        if goal_id is not None:
            goal = session.get(Goal, int(goal_id))
            if goal is None or goal.learner_id != learner.id:
                raise GoalError(Block.GOAL_TEXT, prompts.text("ephemeral.goal_not_found"))
            changed = (goal.text, goal.measure, goal.enrollment_id) != (
                goal_text,
                measure,
                enrollment.id,
            )
            newly_shared = share and (not goal.shared or changed)
            goal.text, goal.measure, goal.enrollment_id = goal_text, measure, enrollment.id  # type: ignore[assignment]
            goal.shared, goal.updated_at = share, now
        else:
            goal = Goal(
                enrollment_id=enrollment.id,  # type: ignore[arg-type]
                learner_id=learner.id,  # type: ignore[arg-type]
                text=goal_text,
                measure=measure,
                shared=share,
                created_at=now,
                updated_at=now,
            )
            newly_shared = share
        if newly_shared:
            goal.shared_at = now
        session.add(goal)
        session.flush()
        training = session.get(Training, enrollment.training_id)
        assert training is not None
        tell_manager = newly_shared and enrollment.manager_id is not None
        log.info("goal.saved goal=%s enrollment=%s shared=%s", goal.id, enrollment.id, share)
        return goal, training, tell_manager

    def saved_reply(goal: Goal, training: Training) -> str:
        key = "goal_saved" if goal.shared else "goal_saved_private"
        return blocks.ephemeral_text(key, prompts, training=training.name)

    def share_with_manager(client: WebClient, goal_id: int) -> None:
        """The goal goes to the learner's manager at once: a direct answer to their action."""
        with services.db.session() as session:
            goal = session.get(Goal, goal_id)
            if goal is None:
                return
            enrollment = session.get(Enrollment, goal.enrollment_id)
            manager = (
                session.get(Person, enrollment.manager_id)
                if enrollment and enrollment.manager_id
                else None
            )
            learner = session.get(Person, goal.learner_id)
            training = session.get(Training, enrollment.training_id) if enrollment else None
            if manager is None or not manager.slack_id or not manager.active or learner is None:
                return
            message = blocks.goal_shared_message(
                learner.slack_id,
                learner.name or learner.email or "",
                training.name if training else "",
                goal.text,
                goal.measure,
                prompts,
            )
            target = manager.slack_id
        try:
            client.chat_postMessage(
                channel=target, text=message["text"], blocks=message["blocks"], unfurl_links=False
            )
        except SLACK_FAILURES as exc:
            # The goal is stored and listed for the manager in their App Home either way.
            log.warning("goal.share_failed goal=%s error=%s", goal_id, failure_reason(exc))

    def goal_list(session: Session, learner: Person) -> dict[str, Any]:
        rows = session.exec(
            select(Goal, Training)
            .join(Enrollment, col(Enrollment.id) == Goal.enrollment_id)
            .join(Training, col(Training.id) == Enrollment.training_id)
            .where(Goal.learner_id == learner.id)
            .order_by(col(Goal.id))
        ).all()
        goals = [(blocks.GoalView(g.id, g.text, g.measure, g.shared), t.name) for g, t in rows]  # type: ignore[arg-type]
        return blocks.goal_list_message(goals, prompts)

    def open_goal_modal(
        client: WebClient,
        trigger_id: str,
        learner: Person,
        session: Session,
        *,
        enrollment_id: int | None = None,
        goal: Goal | None = None,
        goal_text: str = "",
    ) -> bool:
        choices = enrollment_choices(session, learner)
        if goal is not None and goal.enrollment_id not in {c[0] for c in choices}:
            enrollment = session.get(Enrollment, goal.enrollment_id)
            training = session.get(Training, enrollment.training_id) if enrollment else None
            choices.append((goal.enrollment_id, training.name if training else ""))
        if enrollment_id is not None:
            choices = [c for c in choices if c[0] == enrollment_id] or choices
        if not choices:
            return False
        selected = goal.enrollment_id if goal else (choices[0][0] if len(choices) == 1 else None)
        meta = {"goal_id": goal.id if goal else None}
        if len(choices) == 1:
            meta["enrollment_id"] = choices[0][0]
        view = blocks.goal_modal(
            prompts,
            json.dumps(meta),
            choices,
            selected,
            text=goal.text if goal else goal_text,
            measure=(goal.measure or "") if goal else "",
            share=goal.shared if goal else learner.share_goals,
        )
        try:
            client.views_open(trigger_id=trigger_id, view=view)
        except SLACK_FAILURES as exc:
            log.warning("goal.modal_not_opened error=%s", failure_reason(exc))
            raise ModalFailed from exc
        return True

    # -- /goal --------------------------------------------------------------------------

    @app.command("/goal")
    def goal_command(ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond) -> None:
        raw = body.get("text") or ""
        arg = raw.strip()
        actor = body["user_id"]
        if arg.lower() in ("help", "-h", "--help", "?"):
            ack(text=prompts.text("ephemeral.goal_usage"))
            return
        if len(arg) > GOAL_TEXT_MAX:
            ack(text=prompts.text("ephemeral.goal_too_long", length=len(arg), limit=GOAL_TEXT_MAX))
            return
        ack()
        with services.db.session() as session:
            learner = crud.upsert_person(session, slack_id=actor)
            if arg.lower() == "list":
                respond(response_type="ephemeral", **goal_list(session, learner))
                return
            choices = enrollment_choices(session, learner)
            if not choices:
                respond(
                    response_type="ephemeral", text=prompts.text("ephemeral.goal_no_enrollment")
                )
                return
            if not arg or len(choices) > 1:
                try:
                    open_goal_modal(client, body["trigger_id"], learner, session, goal_text=arg)
                except ModalFailed:
                    respond(response_type="ephemeral", text=prompts.text("ephemeral.error"))
                return
            try:
                goal, training, notify = save_goal(
                    session, learner, choices[0][0], arg, None, learner.share_goals
                )
            except GoalError as exc:
                respond(response_type="ephemeral", text=exc.message)
                return
            reply = saved_reply(goal, training)
            goal_id = goal.id
        respond(response_type="ephemeral", text=reply)
        if notify:
            share_with_manager(client, goal_id)  # type: ignore[arg-type]
        services.refresh_home(actor)

    # -- the goal modal -----------------------------------------------------------------

    @app.view(View.GOAL)
    def submit_goal(
        ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient
    ) -> None:
        actor = body["user"]["id"]
        values = state_values(view)
        meta = metadata(view)
        goal_text = text(values, Block.GOAL_TEXT)
        measure = text(values, Block.GOAL_MEASURE) or None
        share = SHARE_OPTION_VALUE in (values.get(Block.SHARE) or [])
        enrollment_id = meta.get("enrollment_id") or values.get(Block.ENROLLMENT)
        try:
            with services.db.session() as session:
                learner = crud.upsert_person(session, slack_id=actor)
                goal, training, notify = save_goal(
                    session,
                    learner,
                    enrollment_id,
                    goal_text,
                    measure,
                    share,
                    goal_id=meta.get("goal_id"),
                )
                reply = saved_reply(goal, training)
                goal_id = goal.id
        except GoalError as exc:
            # An error is shown under an input of this modal; the rest go under the goal.
            block = exc.block if exc.block in values else Block.GOAL_TEXT
            ack(response_action="errors", errors={block: exc.message})
            return
        ack(response_action="update", view=blocks.notice_modal(prompts, lines=[reply]))
        if notify:
            share_with_manager(client, goal_id)  # type: ignore[arg-type]
        services.refresh_home(actor)

    # -- buttons ------------------------------------------------------------------------

    @app.action(Action.SHARE_GOAL)
    def share_goal_button(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient
    ) -> None:
        ack()
        actor = body["user"]["id"]
        try:
            with services.db.session() as session:
                nudge = nudge_for_actor(
                    session, action.get("value"), actor, prompts, for_answer=False
                )
                learner = crud.person_by_slack_id(session, slack_id=actor)
                assert learner is not None
                opened = open_goal_modal(
                    client, body["trigger_id"], learner, session, enrollment_id=nudge.enrollment_id
                )
        except Refusal as exc:
            tell(client, body, str(exc), prompts)
            return
        except ModalFailed:
            tell(client, body, prompts.text("ephemeral.error"), prompts)
            return
        if not opened:
            tell(client, body, prompts.text("ephemeral.goal_no_enrollment"), prompts)

    @app.action(Action.INTEREST)
    def interest(ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        ack()
        actor = body["user"]["id"]
        raw = (action.get("selected_option") or {}).get("value") or ""
        nudge_id, _, level = raw.partition(":")
        if level not in ("1", "2", "3"):
            return
        try:
            with services.db.session() as session:
                nudge = nudge_for_actor(session, nudge_id, actor, prompts, for_answer=False)
                if nudge.kind != NudgeKind.GOAL_INVITE:
                    raise Refusal(prompts.text("ephemeral.already_answered"))
                enrollment = session.get(Enrollment, nudge.enrollment_id)
                assert enrollment is not None
                enrollment.learner_interest = int(level)
                enrollment.updated_at = utcnow()
                session.add(enrollment)
        except Refusal as exc:
            tell(client, body, str(exc), prompts)
            return
        log.info("goal.interest nudge=%s level=%s", nudge_id, level)
        tell(client, body, prompts.text("ephemeral.interest_noted"), prompts)

    @app.action(Action.EDIT_GOAL)
    def edit_goal(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient
    ) -> None:
        ack()
        actor = body["user"]["id"]
        with services.db.session() as session:
            learner = crud.person_by_slack_id(session, slack_id=actor)
            goal = _own_goal(session, action.get("value"), learner)
            if goal is None or learner is None:
                tell(client, body, prompts.text("ephemeral.goal_not_found"), prompts)
                return
            try:
                open_goal_modal(client, body["trigger_id"], learner, session, goal=goal)
            except ModalFailed:
                tell(client, body, prompts.text("ephemeral.error"), prompts)

    @app.action(Action.DELETE_GOAL)
    def delete_goal(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient, respond: Respond
    ) -> None:
        ack()
        actor = body["user"]["id"]
        with services.db.session() as session:
            learner = crud.person_by_slack_id(session, slack_id=actor)
            goal = _own_goal(session, action.get("value"), learner)
            if goal is None or learner is None:
                tell(client, body, prompts.text("ephemeral.goal_not_found"), prompts)
                return
            session.delete(goal)
            session.flush()
            log.info("goal.deleted goal=%s", action.get("value"))
            listing = goal_list(session, learner)
        if body.get("response_url"):
            respond(replace_original=True, **listing)
        else:
            tell(client, body, prompts.text("ephemeral.goal_deleted"), prompts)
        services.refresh_home(actor)


def _own_goal(session: Session, goal_id: Any, learner: Person | None) -> Goal | None:
    try:
        goal = session.get(Goal, int(goal_id))
    except (TypeError, ValueError):
        return None
    if goal is None or learner is None or goal.learner_id != learner.id:
        return None
    return goal
