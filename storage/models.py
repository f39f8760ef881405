"""The tables: people, trainings, enrollments, nudges and what people answered.

Every timestamp is stored in UTC and comes back timezone-aware, on SQLite as on PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """`timestamp with time zone` that always hands back aware UTC datetimes.

    SQLite has no time zone type, so naive values read from it are UTC by construction.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; pass an aware UTC datetime")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class EnrollmentStatus(StrEnum):
    ENROLLED = "enrolled"
    CANCELLED = "cancelled"


class Source(StrEnum):
    SLACK = "slack"
    WEBHOOK = "webhook"
    CSV = "csv"
    WORKFLOW = "workflow"  # the Workflow Builder step enroll_learner
    # The learning systems (bot/core/sources): their events become enrollments too.
    XAPI = "xapi"
    CALENDAR = "calendar"
    CANVAS = "canvas"
    MOODLE = "moodle"


class NudgeKind(StrEnum):
    GOAL_INVITE = "goal_invite"  # to the learner
    PRE_TRAINING = "pre_training"  # to the manager
    DEBRIEF = "debrief"  # to the manager
    FOLLOW_UP = "follow_up"  # to the manager
    LEARNER_FOLLOW_UP = "learner_follow_up"  # to the learner, with the manager's follow-up
    REMINDER = "reminder"  # to the manager, about an unanswered prompt (parent_id)
    GOAL_SHARED = "goal_shared"  # to the manager: a goal a report shared (goal_id)


MANAGER_PROMPTS = (NudgeKind.PRE_TRAINING, NudgeKind.DEBRIEF, NudgeKind.FOLLOW_UP)
LEARNER_NUDGES = (NudgeKind.GOAL_INVITE, NudgeKind.LEARNER_FOLLOW_UP)


class NudgeStatus(StrEnum):
    PENDING = "pending"  # planned, waiting for its due time
    SENDING = "sending"  # claimed by a dispatcher under a lease
    SENT = "sent"  # delivered, waiting for an answer
    ANSWERED = "answered"  # the recipient logged it
    NOT_NEEDED = "not_needed"  # the recipient said it was not needed
    SKIPPED = "skipped"  # not sent, with a reason (too late, out of office, inactive...)
    CANCELLED = "cancelled"  # its enrollment was cancelled or re-planned
    FAILED = "failed"  # Slack refused it for good, with the reason


OPEN_NUDGE_STATUSES = (NudgeStatus.PENDING, NudgeStatus.SENDING)


class Outcome(StrEnum):
    LOGGED = "logged"
    NOT_NEEDED = "not_needed"
    APPLIED = "applied"
    PARTLY = "partly"
    NOT_YET = "not_yet"


class CaseAnswer(StrEnum):
    """The Success Case question of a follow-up, asked about each goal (or the training)."""

    CLEAR_RESULTS = "clear_results"  # Yes, with clear results
    NO_CLEAR_RESULTS = "no_clear_results"  # Yes, no clear results yet
    DIDNT_STICK = "didnt_stick"  # Tried, but it didn't stick
    NOT_APPLIED = "not_applied"  # Not applied


# How each answer counts in the follow-up metrics (applied, partly, not yet).
CASE_OUTCOMES = {
    CaseAnswer.CLEAR_RESULTS: "applied",
    CaseAnswer.NO_CLEAR_RESULTS: "applied",
    CaseAnswer.DIDNT_STICK: "partly",
    CaseAnswer.NOT_APPLIED: "not_yet",
}


class CaseSide(StrEnum):
    LEARNER = "learner"
    MANAGER = "manager"


class Quadrant(StrEnum):
    SWEET_SPOT = "sweet_spot"
    UPHILL = "uphill"
    GIFT = "gift"
    WASTE = "waste"


class Person(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    slack_id: str | None = Field(default=None, max_length=32, unique=True, index=True)
    email: str | None = Field(default=None, max_length=320, unique=True, index=True)
    name: str | None = Field(default=None, max_length=200)
    tz: str | None = Field(default=None, max_length=64)
    # Slack's locale as Slack writes it ("fr-FR", "pt-BR"), from users.list / users.info with
    # include_locale and from user_change; the language and date style of all they read.
    locale: str | None = Field(default=None, max_length=35)
    manager_id: int | None = Field(
        default=None, foreign_key="person.id", index=True, ondelete="SET NULL"
    )
    active: bool = Field(default=True)
    share_goals: bool = Field(default=True)
    # Kept by the directory sync and `user_change` (Slack sends one whenever a status changes),
    # so a nudge about to go out reads the status here instead of asking Slack again.
    status_text: str | None = Field(default=None, max_length=200)
    status_emoji: str | None = Field(default=None, max_length=100)
    # Unix time at which Slack clears the status; 0 or None: it does not expire.
    status_expiration: int | None = Field(default=None, sa_type=sa.BigInteger)
    # ISO 3166 code, optionally with a subdivision ("GB-SCT"), from people.csv: whose public
    # holidays are this person's days off (else the country of their time zone).
    country: str | None = Field(default=None, max_length=10)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Training(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200, unique=True)
    # Why the organisation runs it (at most WHY_MAX characters) and who sponsors it: shown in
    # the manager's pre-training prompt and in the advice for an "uphill" training.
    why: str | None = None
    sponsor_id: int | None = Field(default=None, foreign_key="person.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Enrollment(SQLModel, table=True):
    # The weekly summary selects enrollments by the week they were created, started or ended.
    __table_args__ = (
        sa.Index("ix_enrollment_learner_training", "learner_id", "training_id"),
        sa.Index("ix_enrollment_starts_on", "starts_on"),
        sa.Index("ix_enrollment_ends_on", "ends_on"),
        sa.Index("ix_enrollment_created_at", "created_at"),
        # Covers the summary's "created in the week", which a bulk import makes every row.
        sa.Index(
            "ix_enrollment_created_cover", "created_at", "status", "training_id", "manager_id"
        ),
        # Cover the summary's passes by start and end date; status finds the few not enrolled.
        sa.Index(
            "ix_enrollment_starts_cover",
            "starts_on",
            "status",
            "training_id",
            "manager_id",
            postgresql_include=["id"],
        ),
        sa.Index(
            "ix_enrollment_ends_cover",
            "ends_on",
            "status",
            "training_id",
            "manager_id",
            postgresql_include=["id"],
        ),
        sa.Index("ix_enrollment_status", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    external_id: str | None = Field(default=None, max_length=200, unique=True)
    learner_id: int = Field(foreign_key="person.id", ondelete="CASCADE")
    manager_id: int | None = Field(
        default=None, foreign_key="person.id", index=True, ondelete="SET NULL"
    )
    training_id: int = Field(foreign_key="training.id", index=True)
    starts_on: date
    # The day the training ended for this learner, which the debrief and follow-ups are
    # planned from: the completion date once one is reported, else the scheduled end; None
    # while a self-paced training (no scheduled end) is not completed yet.
    ends_on: date | None = None
    completed_on: date | None = None
    # iCalendar's SEQUENCE of the invite this enrollment was last read from: an older
    # revision arriving late (a lower number) changes nothing.
    sequence: int | None = None
    status: str = Field(default=EnrollmentStatus.ENROLLED, max_length=16)
    source: str = Field(max_length=16)
    enrolled_by: str | None = Field(default=None, max_length=32)
    # How much the training matters to the learner (1 = little, 3 = a lot), asked in the invite.
    learner_interest: int | None = None
    # Bumped when a cancelled enrollment is enrolled again, so its nudges are planned afresh.
    generation: int = 0
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Nudge(SQLModel, table=True):
    # The dispatcher's one query walks the first index: pending rows by due time; the
    # summary's overdue count walks the second: sent rows by when they went out.
    __table_args__ = (
        sa.Index("ix_nudge_status_due", "status", "due_at"),
        # Partial: only rows that went out are in these two, so planning (a bulk import of
        # pending rows above all) writes no entries into them.
        sa.Index(
            "ix_nudge_status_sent",
            "status",
            "sent_at",
            sqlite_where=sa.text("sent_at IS NOT NULL"),
            postgresql_where=sa.text("sent_at IS NOT NULL"),
        ),
        sa.Index(
            "ix_nudge_ts",
            "ts",
            sqlite_where=sa.text("ts IS NOT NULL"),
            postgresql_where=sa.text("ts IS NOT NULL"),
        ),
        # PostgreSQL only (migration 0005): the summary's median reads sent_at of answered
        # prompts by id from it, not from the table; SQLite reads the table by rowid.
        sa.Index(
            "ix_nudge_sent_cover",
            "id",
            postgresql_include=["sent_at"],
            postgresql_where=sa.text("sent_at IS NOT NULL"),
        ).ddl_if(dialect="postgresql"),
    )

    id: int | None = Field(default=None, primary_key=True)
    enrollment_id: int = Field(foreign_key="enrollment.id", index=True, ondelete="CASCADE")
    kind: str = Field(max_length=24)
    recipient_id: int = Field(foreign_key="person.id", index=True, ondelete="CASCADE")
    parent_id: int | None = Field(default=None, foreign_key="nudge.id", ondelete="CASCADE")
    # A goal_shared nudge's goal: the goal goes into the manager's day's message.
    goal_id: int | None = Field(default=None, foreign_key="goal.id", ondelete="CASCADE")
    # Follow-ups only: which of FOLLOW_UP_DAYS this one is (1 = the first); None otherwise.
    follow_up_round: int | None = None
    due_at: datetime = Field(sa_type=UTCDateTime)
    status: str = Field(default=NudgeStatus.PENDING, max_length=16)
    attempts: int = 0
    deliveries: int = 0  # how many messages went out (a snooze sends it again)
    ooo_deferrals: int = 0
    lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    channel: str | None = Field(default=None, max_length=32)
    ts: str | None = Field(default=None, max_length=32)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    reason: str | None = Field(default=None, max_length=300)
    idempotency_key: str = Field(max_length=120, unique=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ConversationRecord(SQLModel, table=True):
    """What a person logged against one nudge: one record per nudge, whatever the clicks."""

    # The summary reads a kind answered in some weeks, and an enrollment's records of a kind:
    # both indexes cover what those queries read (migration 0003).
    __table_args__ = (
        sa.Index("ix_conversationrecord_answered_at", "answered_at"),
        sa.Index(
            "ix_conversationrecord_kind_answered",
            "kind",
            "answered_at",
            "outcome",
            "enrollment_id",
            "nudge_id",
        ),
        sa.Index(
            "ix_conversationrecord_enrollment_kind",
            "enrollment_id",
            "kind",
            "outcome",
            "answered_at",
            "quadrant",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    nudge_id: int = Field(foreign_key="nudge.id", unique=True, ondelete="CASCADE")
    enrollment_id: int = Field(foreign_key="enrollment.id", index=True, ondelete="CASCADE")
    kind: str = Field(max_length=24)
    answered_by: int | None = Field(default=None, foreign_key="person.id", ondelete="SET NULL")
    answered_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    outcome: str = Field(max_length=16)
    # Pre-training: the three agreements and the organisation's side of the quadrant.
    what: str | None = None
    why: str | None = None
    how: str | None = None
    org_importance: int | None = None
    quadrant: str | None = Field(default=None, max_length=16)
    # Debrief.
    takeaways: str | None = None
    first_application: str | None = None
    support: str | None = None
    checkin_on: date | None = None
    # Follow-up, not-needed reason, or any free note.
    note: str | None = None


class CaseRecord(SQLModel, table=True):
    """One Success Case answer: a learner's or a manager's, in one follow-up round, about one
    goal ("goal:<id>") or the training itself ("training"). Only consenting learners are
    ever named to L&D; the others are counted."""

    __table_args__ = (
        sa.UniqueConstraint("nudge_id", "subject", name="uq_caserecord_nudge_subject"),
        sa.Index("ix_caserecord_enrollment", "enrollment_id", "follow_up_round", "side"),
        sa.Index("ix_caserecord_answered_at", "answered_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    nudge_id: int = Field(foreign_key="nudge.id", ondelete="CASCADE")
    enrollment_id: int = Field(foreign_key="enrollment.id", ondelete="CASCADE")
    goal_id: int | None = Field(default=None, foreign_key="goal.id", ondelete="CASCADE")
    subject: str = Field(max_length=32)
    side: str = Field(max_length=8)
    follow_up_round: int = 1
    answered_by: int | None = Field(default=None, foreign_key="person.id", ondelete="SET NULL")
    answer: str = Field(max_length=20)
    result: str | None = None  # what result
    evidence: str | None = None  # and how they know
    consent: bool = False  # the learner's "L&D may contact me about this"
    answered_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Note(SQLModel, table=True):
    """A thread reply under a nudge's DM; (channel, ts) makes Slack's retries harmless."""

    __table_args__ = (sa.UniqueConstraint("channel", "ts", name="uq_note_message"),)

    id: int | None = Field(default=None, primary_key=True)
    # None while the bot asks which learner a reply to a message about several is about.
    nudge_id: int | None = Field(
        default=None, foreign_key="nudge.id", index=True, ondelete="CASCADE"
    )
    author_id: int | None = Field(default=None, foreign_key="person.id", ondelete="SET NULL")
    channel: str = Field(max_length=32)
    ts: str = Field(max_length=32)
    text: str
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Goal(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    enrollment_id: int = Field(foreign_key="enrollment.id", index=True, ondelete="CASCADE")
    learner_id: int = Field(foreign_key="person.id", index=True, ondelete="CASCADE")
    text: str
    measure: str | None = None
    shared: bool = True
    shared_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class DigestRun(SQLModel, table=True):
    """One row per ISO week: the unique week is what makes the digest go out once."""

    id: int | None = Field(default=None, primary_key=True)
    week: str = Field(max_length=8, unique=True)
    started_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    posted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    status: str = Field(default="claimed", max_length=16)


class AppState(SQLModel, table=True):
    """Small facts the processes share, such as when the scheduler first ran."""

    key: str = Field(primary_key=True, max_length=64)
    value: str = Field(max_length=200)


class InboxStatus(StrEnum):
    PENDING = "pending"  # waiting for the learning system's details (retried with back-off)
    DONE = "done"  # applied to its enrollment (or nothing to do), kept to spot duplicates
    REFUSED = "refused"  # the details came, and cannot make an enrollment (the reason says why)


class InboxEvent(SQLModel, table=True):
    """An event from a learning system that needs details only that system can give (the
    learner's email, the course's dates), kept until they arrive.

    The unique (source, event_id) makes a delivery sent twice a no-op; events about one
    enrollment (`key`) are applied in the order they came.
    """

    __table_args__ = (
        sa.UniqueConstraint("source", "event_id", name="uq_inboxevent_source_event"),
        sa.Index("ix_inboxevent_status_next", "status", "next_attempt_at"),
        sa.Index("ix_inboxevent_key", "source", "key", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=16)
    event_id: str = Field(max_length=300)
    key: str = Field(max_length=200)
    payload: str = Field(sa_type=sa.Text)  # the event as it came (JSON), the claims if signed
    status: str = Field(default=InboxStatus.PENDING, max_length=16)
    attempts: int = 0
    next_attempt_at: datetime = Field(sa_type=UTCDateTime)
    lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_error: str | None = Field(default=None, max_length=500)
    outcome: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    done_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class XapiStatement(SQLModel, table=True):
    """An xAPI statement Coachbot acted on (or a voiding one), by its id: a statement sent
    again is a no-op, and a voiding statement finds what it undoes."""

    __table_args__ = (sa.Index("ix_xapistatement_key", "key", "id"),)

    id: int | None = Field(default=None, primary_key=True)  # the order they were stored in
    statement_id: str = Field(max_length=36, unique=True)  # lower case
    key: str | None = Field(default=None, max_length=200)  # the enrollment's external id
    action: str = Field(max_length=16)  # enrolled, completed, cancelled or voided
    learner: str | None = Field(default=None, max_length=320)
    training: str | None = Field(default=None, max_length=200)
    happened_on: date | None = None  # the date of its timestamp
    voids: str | None = Field(default=None, max_length=36, index=True)
    voided_by: str | None = Field(default=None, max_length=36)
    outcome: str | None = Field(default=None, max_length=300)
    stored_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
