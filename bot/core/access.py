"""Who may enroll whom: the one rule behind the /enroll modal and the Workflow Builder step."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlmodel import Session

from storage import crud
from storage.models import Person

MANAGER, LEARNER = "manager", "learner"


@dataclass(frozen=True)
class Refused:
    """What the rule refuses: the named `manager`, or one `learner`, by Slack id."""

    field: str  # MANAGER or LEARNER
    who: str


def enroll_refusal(
    session: Session,
    *,
    actor: str,
    is_lead: bool,
    learners: Sequence[str],
    manager: str | None,
) -> Refused | None:
    """None when `actor` may enroll `learners` (naming `manager`), else the first refusal.

    L&D leads may enroll anyone and name any manager. Anyone else may enroll themselves and
    the people who report to them in the directory, and may name as manager only themselves
    or the manager every learner already has: naming a manager sends them prompts and goals.
    """
    if is_lead:
        return None
    if manager and manager != actor and not _manages_all(session, manager, learners):
        return Refused(MANAGER, manager)
    me = crud.person_by_slack_id(session, slack_id=actor)
    for learner_id in learners:
        if learner_id != actor and not _manages(
            me, crud.person_by_slack_id(session, slack_id=learner_id)
        ):
            return Refused(LEARNER, learner_id)
    return None


def _manages(boss: Person | None, learner: Person | None) -> bool:
    return boss is not None and learner is not None and learner.manager_id == boss.id


def _manages_all(session: Session, manager: str, learners: Sequence[str]) -> bool:
    boss = crud.person_by_slack_id(session, slack_id=manager)
    return all(
        _manages(boss, crud.person_by_slack_id(session, slack_id=learner_id))
        for learner_id in learners
    )
