"""The weekly digest: once per ISO week, at DIGEST_DAY DIGEST_TIME in DEFAULT_TIMEZONE.

The job polls every few seconds; the unique `DigestRun.week` row decides which process posts,
so restarts and several workers never post twice. A week whose digest moment came before the
first start of any process (kept in AppState) is never posted; one missed while every process
was down goes out at the next start in that same week. It reports on the week before.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

import sqlalchemy as sa
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.core import reporting
from bot.prompts import Prompts
from bot.settings import Settings
from bot.slack import summary as slack_summary  # for one commit: the poster is handed in next
from scheduler.jobs import Job
from storage.db import Database
from storage.metrics import Counts, Week, week_of
from storage.models import AppState, DigestRun, utcnow

log = logging.getLogger(__name__)

FIRST_START_KEY = "digest_first_start"
CHECK_SECONDS = 30  # a missed digest goes out within this of a start (the job also runs at once)
# A claim older than this was left by a process that died while posting: it may be taken over.
CLAIM_LEASE = timedelta(minutes=15)

CLAIMED, POSTED, FAILED, NOBODY = "claimed", "posted", "failed", "no_recipient"


def digest_moment(week: Week, settings: Settings) -> datetime:
    day = week.monday + timedelta(days=settings.digest_day)
    return datetime.combine(day, settings.digest_time, tzinfo=settings.zone)


def _is_empty(c: Counts) -> bool:
    return not (
        c.enrollments
        or c.started
        or c.finished
        or c.debrief_cohort
        or c.follow_ups
        or c.answers
        or c.overdue
    )


class Digest:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        client: WebClient,
        prompts: Prompts,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.settings = settings
        self.db = db
        self.client = client
        self.prompts = prompts
        self.clock = clock

    def first_start(self, now: datetime) -> datetime:
        """When a scheduler first ran against this database; recorded by the first to ask."""
        with self.db.session() as session:
            row = session.get(AppState, FIRST_START_KEY)
            if row is not None:
                return datetime.fromisoformat(row.value)
        try:
            with self.db.session() as session:
                session.add(AppState(key=FIRST_START_KEY, value=now.isoformat()))
            log.info("digest.first_start at=%s", now.isoformat())
            return now
        except sa.exc.IntegrityError:  # another process recorded it first
            with self.db.session() as session:
                row = session.get(AppState, FIRST_START_KEY)
                assert row is not None
                return datetime.fromisoformat(row.value)

    def tick(self) -> str | None:
        """Post this week's digest if it is due and nobody has; the week posted, else None."""
        now = self.clock()
        first = self.first_start(now)
        week = week_of(now, self.settings.default_timezone)
        moment = digest_moment(week, self.settings)
        if now < moment or moment < first:
            return None
        if not self._claim(week.label, now):
            return None
        try:
            status = self._post(week, now)
        except Exception:
            log.exception("digest.failed week=%s", week.label)
            self._finish(week.label, FAILED, None)
            return None
        self._finish(week.label, status, self.clock())
        return week.label if status == POSTED else None

    def _claim(self, label: str, now: datetime) -> bool:
        try:
            with self.db.session() as session:
                session.add(DigestRun(week=label, started_at=now, status=CLAIMED))
            return True
        except sa.exc.IntegrityError:
            pass
        # A failed or abandoned run may be taken over, by exactly one process (compare-and-set).
        table = DigestRun.__table__  # type: ignore[attr-defined]
        with self.db.session() as session:
            result = session.execute(
                sa.update(table)
                .where(
                    table.c.week == label,
                    sa.or_(
                        table.c.status == FAILED,
                        sa.and_(table.c.status == CLAIMED, table.c.started_at < now - CLAIM_LEASE),
                    ),
                )
                .values(status=CLAIMED, started_at=now)
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    def _finish(self, label: str, status: str, posted_at: datetime | None) -> None:
        table = DigestRun.__table__  # type: ignore[attr-defined]
        with self.db.session() as session:
            session.execute(
                sa.update(table)
                .where(table.c.week == label)
                .values(status=status, posted_at=posted_at)
            )

    def recipients(self) -> list[str]:
        """LD_CHANNEL alone when set, else every lead's DM channel."""
        if self.settings.ld_channel:
            return [self.settings.ld_channel]
        leads = set(self.settings.ld_leads)
        if self.settings.ld_usergroup:
            try:
                found = self.client.usergroups_users_list(usergroup=self.settings.ld_usergroup)
                leads.update(found.get("users") or ())
            except SlackApiError as exc:
                log.warning("digest.usergroup_failed error=%s", exc.response.get("error"))
        return sorted(leads)

    def _post(self, week: Week, now: datetime) -> str:
        covered = week.shifted(-1)
        summary = reporting.build_summary(self.db, self.settings, covered, now)
        csv_data = reporting.build_csv(self.db, self.settings, covered, now)
        title = self.prompts.text("digest.title", week=covered.label)
        body = self.prompts.text(
            "digest.empty" if _is_empty(summary.report.total) else "digest.intro"
        )
        targets = self.recipients()
        if not targets:
            log.warning("digest.no_recipient week=%s (set LD_CHANNEL or LD_LEADS)", week.label)
            return NOBODY
        posted = 0
        for target in targets:
            try:
                channel = target
                if not self.settings.ld_channel:
                    channel = slack_summary.dm_channel(self.client, target)
                slack_summary.post_summary(
                    self.client, channel, summary, csv_data, self.prompts, intro=body, title=title
                )
                posted += 1
            except SlackApiError as exc:
                log.warning(
                    "digest.recipient_failed week=%s to=%s error=%s",
                    week.label,
                    target,
                    exc.response.get("error"),
                )
        if not posted:
            raise RuntimeError("the digest reached nobody")
        log.info("digest.posted week=%s covered=%s to=%s", week.label, covered.label, posted)
        return POSTED


def digest_job(
    settings: Settings,
    db: Database,
    client: WebClient,
    prompts: Prompts,
    *,
    clock: Callable[[], datetime] = utcnow,
) -> Job:
    digest = Digest(settings, db, client, prompts, clock=clock)
    return Job("digest", digest.tick, CHECK_SECONDS)
