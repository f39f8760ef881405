"""The weekly digest: once per ISO week, at DIGEST_DAY DIGEST_TIME in DEFAULT_TIMEZONE.

The job polls every few seconds; the unique `DigestRun.week` row decides which process posts,
so restarts and several workers never post twice. A week whose digest moment came before the
first start of any process (kept in AppState) is never posted; one missed while every process
was down goes out at the next start in that same week. It reports on the week before.

Who gets it and when is decided here; the Slack calls are a `DigestPoster` handed in (wired in
bot.runtime), as the dispatcher is handed its Sender. Posted to LD_CHANNEL it is written in
LD_LOCALE; by DM, in each lead's own Slack locale.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Protocol

import sqlalchemy as sa

from bot.core import reporting
from bot.prompts import Catalogues, Prompts
from bot.settings import Settings
from storage import crud
from storage.db import Database
from storage.metrics import Counts, Week, week_of
from storage.models import AppState, DigestRun, utcnow

log = logging.getLogger(__name__)

FIRST_START_KEY = "digest_first_start"
# The chart the digest last uploaded, per recipient: "<file id> <week>", for the App Home.
CHART_KEY = "digest_chart:{to}"
CHECK_SECONDS = 30  # a missed digest goes out within this of a start (the job also runs at once)
# A claim older than this was left by a process that died while posting: it may be taken over.
CLAIM_LEASE = timedelta(minutes=15)

CLAIMED, POSTED, FAILED, NOBODY = "claimed", "posted", "failed", "no_recipient"


class RecipientFailed(Exception):
    """One recipient could not be reached; the others are still tried."""

    def __init__(self, reason: str | None) -> None:
        super().__init__(reason)
        self.reason = reason  # Slack's error code, for the log


class DigestPoster(Protocol):
    """What the digest is handed: the Slack side of it."""

    def group_members(self, group: str) -> Iterable[str]:
        """The members of a user group; none when they cannot be read."""
        ...

    def post(
        self,
        to: str,
        summary: reporting.Summary,
        csv_data: str,
        *,
        dm: bool,
        intro: str,
        title: str,
        prompts: Prompts,
    ) -> str | None:
        """The summary, its chart and its CSV to a channel, or to a person by DM (`dm`),
        written with `prompts`; returns the chart's file id when there is one, and raises
        RecipientFailed when that one recipient cannot be reached."""
        ...


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
        poster: DigestPoster,
        catalogues: Catalogues,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.settings = settings
        self.db = db
        self.poster = poster
        self.catalogues = catalogues
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
            leads.update(self.poster.group_members(self.settings.ld_usergroup))
        return sorted(leads)

    def _post(self, week: Week, now: datetime) -> str:
        covered = week.shifted(-1)
        summary = reporting.build_summary(self.db, self.settings, covered, now)
        csv_data = reporting.build_csv(self.db, self.settings, covered, now)
        intro_key = "digest.empty" if _is_empty(summary.report.total) else "digest.intro"
        targets = self.recipients()
        if not targets:
            log.warning("digest.no_recipient week=%s (set LD_CHANNEL or LD_LEADS)", week.label)
            return NOBODY
        dm = not self.settings.ld_channel
        readers = self._readers(targets) if dm else {}
        posted = 0
        for target in targets:
            prompts = self.catalogues.for_locale(
                readers.get(target) if dm else self.settings.ld_locale
            )
            title = prompts.text("digest.title", week=covered.label)
            body = prompts.text(intro_key)
            try:
                chart = self.poster.post(
                    target, summary, csv_data, dm=dm, intro=body, title=title, prompts=prompts
                )
                posted += 1
                if chart:
                    remember_chart(self.db, target, chart, covered.label)
            except RecipientFailed as exc:
                log.warning(
                    "digest.recipient_failed week=%s to=%s error=%s",
                    week.label,
                    target,
                    exc.reason,
                )
        if not posted:
            raise RuntimeError("the digest reached nobody")
        log.info("digest.posted week=%s covered=%s to=%s", week.label, covered.label, posted)
        return POSTED

    def _readers(self, leads: list[str]) -> dict[str, str | None]:
        """Each lead's stored Slack locale; a lead not in the directory reads DEFAULT_LOCALE."""
        with self.db.session() as session:
            found = {lead: crud.person_by_slack_id(session, slack_id=lead) for lead in leads}
        return {lead: person.locale for lead, person in found.items() if person is not None}


def remember_chart(db: Database, to: str, file_id: str, week: str) -> None:
    """Keep the id of the chart last posted to `to` (a lead or LD_CHANNEL)."""
    with db.session() as session:
        session.merge(AppState(key=CHART_KEY.format(to=to)[:64], value=f"{file_id} {week}"))


def latest_chart(db: Database, settings: Settings, lead: str) -> tuple[str, str] | None:
    """The file id and week of the latest digest chart a lead can see: the one sent to them,
    else the one posted to LD_CHANNEL."""
    keys = [CHART_KEY.format(to=lead)[:64]]
    if settings.ld_channel:
        keys.insert(0, CHART_KEY.format(to=settings.ld_channel)[:64])
    with db.session() as session:
        found = [row for key in keys if (row := session.get(AppState, key)) is not None]
    if not found:
        return None
    file_id, _, week = found[0].value.partition(" ")
    return file_id, week
