"""The L&D summary as plain data: the week asked for, the figures, their text lines, the CSV
and the chart's PNG.

The numbers are defined in `storage.metrics`; this module only chooses the week and formats
them. Slack's message and its delivery are the adapter's (bot.slack.blocks, bot.slack.summary).
"""

from __future__ import annotations

import csv
import difflib
import io
import json
import logging
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.core.cases import (
    Case,
    CaseReport,
    Interviewee,
    RoundFigures,
    by_enrollment,
    case_report,
    round_days,
    round_figures,
)
from bot.mrkdwn import user_text
from bot.prompts import Prompts, load_catalogues
from bot.settings import Settings
from scheduler.planning import Rules, working_days_after
from storage.db import Database
from storage.metrics import (
    QUADRANTS,
    Counts,
    EnrollmentRow,
    Period,
    Span,
    Week,
    WeekReport,
    case_rows,
    enrollment_rows,
    iter_enrollment_rows,
    local_midnight,
    parse_week,
    summary_weeks,
    training_names,
    week_of,
    week_report,
    weekly_totals,
    weeks_ending,
)
from storage.models import NudgeKind

log = logging.getLogger(__name__)

CHART_WEEKS = 8
NOTES_MAX = 3
SPAN_DAYS_MAX = 366  # the longest YYYY-MM-DD..YYYY-MM-DD a summary covers
INTERVIEW_MAX = 10  # people to interview listed in a summary
RESULT_MAX = 300  # characters of a result or evidence quoted

Json = dict[str, Any]


class WeekArgumentError(ValueError):
    """`/training-summary` or `coachbot summary` got a period that is not last, an ISO week
    or a span of dates, or a word twice."""


class UnknownTraining(LookupError):
    """A summary was asked about a training that does not exist; `close` are names like it."""

    def __init__(self, name: str, close: Sequence[str]) -> None:
        super().__init__(name)
        self.name = name
        self.close = list(close)


@dataclass(frozen=True)
class Request:
    period: Period
    csv_only: bool = False
    training: str | None = None  # as the reader typed it; see find_training

    @property
    def week(self) -> Period:
        return self.period


_SPAN = re.compile(r"^(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})$")
# Words that look like a period, so they are never read as part of a training's name.
_PERIOD_LIKE = re.compile(r"^(last|csv|\d{4}-?w\d+|\d{4}-\d{1,2}(-\d{1,2})?(\.\..*)?)$")


def parse_span(first: str, last: str, tz: str) -> Span:
    """Two ISO dates, the first on or before the last, at most SPAN_DAYS_MAX days apart."""
    try:
        start, end = date.fromisoformat(first), date.fromisoformat(last)
    except ValueError:
        raise WeekArgumentError(f"not a date such as 2026-11-01: {first}..{last}") from None
    if end < start:
        raise WeekArgumentError(f"{last} comes before {first}")
    if (end - start).days >= SPAN_DAYS_MAX:
        raise WeekArgumentError(f"at most {SPAN_DAYS_MAX} days at a time")
    return Span(start, end, tz)


def parse_period(token: str, now: datetime, tz: str) -> Period:
    """`last`, `2026-W48` or `2026-11-01..2026-11-30`; WeekArgumentError otherwise."""
    token = token.lower()
    if token == "last":
        return week_of(now, tz).shifted(-1)
    if span := _SPAN.match(token):
        return parse_span(span.group(1), span.group(2), tz)
    try:
        return parse_week(token, tz)
    except ValueError as exc:
        raise WeekArgumentError(str(exc)) from None


def parse_request(text: str, now: datetime, tz: str) -> Request:
    """`[last | YYYY-Www | YYYY-MM-DD..YYYY-MM-DD] [csv] [training name]`: the period and
    `csv` first (in any order), then the words of a training's name."""
    period: Period = week_of(now, tz)
    csv_only = chosen = False
    words = text.split()
    while words and _PERIOD_LIKE.match(words[0].lower()):
        token = words.pop(0).lower()
        if token == "csv" and not csv_only:
            csv_only = True
        elif token != "csv" and not chosen:
            period, chosen = parse_period(token, now, tz), True
        else:
            raise WeekArgumentError(f"{token!r} twice")
    if any(_PERIOD_LIKE.match(word.lower()) for word in words):
        raise WeekArgumentError("the period goes before the training's name")
    return Request(period, csv_only, " ".join(words) or None)


def find_training(db: Database, name: str) -> tuple[int, str]:
    """The training called `name` (any case); UnknownTraining with the names like it."""
    with db.session() as session:
        known = training_names(session)
    wanted = name.strip().casefold()
    for tid, known_name in known:
        if known_name.casefold() == wanted:
            return tid, known_name
    names = {n.casefold(): n for _, n in known}
    close = [names[n] for n in difflib.get_close_matches(wanted, names, n=3, cutoff=0.6)]
    close += [n for k, n in sorted(names.items()) if wanted in k and n not in close]
    raise UnknownTraining(name, close[:3])


def overdue_span(week: Period, now: datetime, rules: Rules) -> tuple[datetime, datetime]:
    """The `sent_at` span of manager prompts whose reminder moment fell in `week`, up to `now`.

    A prompt DM'd on local day d is reminded at DELIVERY_TIME, REMINDER_AFTER_DAYS working days
    later; that is monotonic in d, so the span is found by walking the days.
    """
    tz = ZoneInfo(week.tz)
    end = min(week.end, now)

    def reminded_at(day: date) -> datetime:
        on = working_days_after(day, rules.reminder_after_days, rules)
        return datetime.combine(on, rules.delivery_time, tzinfo=tz)

    # The earliest day whose reminder is in the week, and the first whose reminder is not yet.
    first = week.first - timedelta(days=rules.reminder_after_days * 7 + 7)
    while reminded_at(first) < week.start:
        first += timedelta(days=1)
    stop = first
    while reminded_at(stop) <= end and stop <= week.last:
        stop += timedelta(days=1)
    return local_midnight(first, tz), local_midnight(stop, tz)


@dataclass
class Summary:
    week: Period  # the period it covers: an ISO week, or a span of days
    report: WeekReport
    series: list[tuple[Week, Counts]]
    min_group_size: int
    notes: list[str]
    cases: CaseReport = field(default_factory=CaseReport)
    rounds: list[RoundFigures] = field(default_factory=list)
    follow_up_days: int | tuple[int, ...] = 30
    training: str | None = None  # the one training it is about, if asked

    @property
    def period(self) -> Period:
        return self.week


def build_summary(
    db: Database,
    settings: Settings,
    week: Period,
    now: datetime,
    *,
    training: tuple[int, str] | None = None,
) -> Summary:
    """The summary of `week` (or a span of days), of one `training` (id, name) if given."""
    training_id = training[0] if training else None
    k = settings.min_group_size
    overdue = overdue_span(week, now, settings.rules)
    with db.session() as session:
        if isinstance(week, Week):
            # The chart's earlier weeks come from the same statements as the report's week.
            weeks = weeks_ending(week, CHART_WEEKS)
            report, series = summary_weeks(
                session, weeks, min_group_size=k, overdue_sent=overdue, training_id=training_id
            )
            series.append(report.total)  # the same figures, overdue included
        else:  # a span: the chart shows the weeks up to its last day
            weeks = weeks_ending(week_of(week.end - timedelta(seconds=1), week.tz), CHART_WEEKS)
            report, _ = summary_weeks(
                session, [week], min_group_size=k, overdue_sent=overdue, training_id=training_id
            )
            series = weekly_totals(session, weeks, rates_only=True, training_id=training_id)
        notes: list[str] = []
        if settings.share_notes_with_ld:
            notes = _notes(enrollment_rows(session, week, training_id=training_id))
        cases = case_rows(
            session,
            answered_from=week.start,
            answered_to=week.end,
            training_id=training_id,
            manager_texts=settings.share_notes_with_ld,
        )
    return Summary(
        week,
        report,
        list(zip(weeks, series, strict=True)),
        k,
        notes,
        cases=case_report(cases, min_group_size=k),
        rounds=round_figures(cases, week.start, week.end),
        follow_up_days=_follow_up_days(settings),
        training=training[1] if training else None,
    )


def _follow_up_days(settings: Settings) -> int | tuple[int, ...]:
    days = settings.follow_up_days
    return days if isinstance(days, int) else tuple(days)


def _notes(rows: Sequence[EnrollmentRow]) -> list[str]:
    """Follow-up notes of the week, unattributed; only when the organisation chose to share."""
    found = [
        (answer.answered_at, answer.texts["note"])
        for row in rows
        for kind, answer in row.answers.items()
        if kind == NudgeKind.FOLLOW_UP and answer.texts.get("note")
    ]
    return [text for _, text in sorted(found, reverse=True)[:NOTES_MAX]]


# --- text ------------------------------------------------------------------------------------


def too_few(whole: int, min_size: int) -> bool:
    """The small-group rule: a share of fewer than MIN_GROUP_SIZE people is not shown."""
    return 0 < whole < min_size


def _rate(part: int, whole: int, prompts: Prompts, min_size: int = 1) -> str:
    """`80 % (4 of 5)`; "too few to show" under the small-group rule."""
    if not whole:
        return prompts.text("summary.no_rate")
    if too_few(whole, min_size):
        return prompts.text("summary.too_few", min=min_size)
    return prompts.text(
        "summary.rate", percent=prompts.percent(part / whole), part=part, whole=whole
    )


def _cell(part: int, whole: int, min_size: int, prompts: Prompts) -> str:
    if whole < max(min_size, 1):
        return prompts.text("summary.hidden")
    return prompts.text(
        "summary.cell", percent=prompts.percent(part / whole), part=part, whole=whole
    )


def _duration(seconds: float | None, prompts: Prompts) -> str:
    if seconds is None:
        return prompts.text("summary.no_duration")
    hours = seconds / 3600
    if hours < 48:
        return prompts.text("summary.hours", hours=prompts.number(hours, digits=1))
    return prompts.text("summary.days", days=prompts.number(hours / 24, digits=1))


def summary_title(summary: Summary, prompts: Prompts) -> str:
    period = summary.period
    if isinstance(period, Week):
        title = prompts.text("summary.title", week=period.label)
    else:
        title = prompts.text(
            "summary.title_span",
            start=prompts.format_date(period.first),
            end=prompts.format_date(period.last),
        )
    if summary.training:
        title = prompts.text("summary.title_training", title=title, training=summary.training)
    return title


def summary_lines(summary: Summary, prompts: Prompts) -> tuple[str, list[str], list[str]]:
    """The title, the headline lines (mrkdwn) and the per-training lines."""
    t = summary.report.total
    week = summary.period
    k = summary.min_group_size
    title = summary_title(summary, prompts)
    dates = prompts.text(
        "summary.dates",
        start=prompts.format_date(week.first),
        end=prompts.format_date(week.last),
    )
    mix = " · ".join(
        prompts.text(
            "summary.quadrant_item", name=prompts.text(f"summary.{q}"), count=t.quadrants[q]
        )
        for q in QUADRANTS
    )
    lines = [
        f"_{dates}_",
        prompts.text(
            "summary.enrollments",
            count=t.enrollments,
            no_manager=t.without_manager,
            started=t.started,
            finished=t.finished,
        ),
        prompts.text("summary.pre_training", rate=_rate(t.pre_logged, t.pre_cohort, prompts, k)),
        prompts.text("summary.goals", rate=_rate(t.goals, t.goal_cohort, prompts, k)),
        prompts.text("summary.debrief", rate=_rate(t.debriefs, t.debrief_cohort, prompts, k)),
        _application_line(t, prompts, k),
        prompts.text("summary.agreement", rate=_rate(t.agreeing, t.pairs, prompts, k)),
        prompts.text(
            "summary.median",
            duration=_duration(t.median_answer_seconds, prompts),
            count=t.answers,
        ),
        prompts.text("summary.quadrants", mix=mix),
        prompts.text("summary.overdue", count=t.overdue),
    ]
    groups = []
    for group in summary.report.groups:
        c = group.counts
        cells = {
            "pre": _cell(c.pre_logged, c.pre_cohort, k, prompts),
            "goals": _cell(c.goals, c.goal_cohort, k, prompts),
            "debrief": _cell(c.debriefs, c.debrief_cohort, k, prompts),
            "applied": _cell(c.applied + c.partly, c.follow_ups, k, prompts),
        }
        if group.training_id:
            groups.append(
                prompts.text(
                    "summary.training_line",
                    training=user_text(group.name, 100),
                    size=group.size,
                    **cells,
                )
            )
        else:
            groups.append(
                prompts.text(
                    "summary.other_line", trainings=group.trainings, size=group.size, **cells
                )
            )
    return title, lines, groups


def _application_line(t: Counts, prompts: Prompts, k: int) -> str:
    rate = _rate(t.applied + t.partly, t.follow_ups, prompts, k)
    if too_few(t.follow_ups, k):  # the three counts would tell the few answers apart
        return prompts.text("summary.application_few", rate=rate)
    return prompts.text(
        "summary.application", rate=rate, applied=t.applied, partly=t.partly, not_yet=t.not_yet
    )


def round_label(round_number: int, follow_up_days: int | Sequence[int], prompts: Prompts) -> str:
    """ "after 30 days" when FOLLOW_UP_DAYS says how many days the round is, else its number."""
    days = round_days(round_number, follow_up_days)
    if days is None:
        return prompts.text("summary.round_n", round=round_number)
    return prompts.text("summary.round_days", days=days)


def round_lines(summary: Summary, prompts: Prompts) -> list[str]:
    """The Success Case answers of the period, per follow-up round and side."""
    k = summary.min_group_size
    lines = []
    for f in summary.rounds:
        values = {
            "when": round_label(f.round, summary.follow_up_days, prompts),
            "who": prompts.text(f"summary.side_{f.side}"),
            "rate": _rate(f.applied + f.partly, f.answers, prompts, k),
        }
        if too_few(f.answers, k):
            lines.append(prompts.text("summary.round_line_few", **values))
        else:
            lines.append(
                prompts.text(
                    "summary.round_line",
                    applied=f.applied,
                    partly=f.partly,
                    not_yet=f.not_yet,
                    **values,
                )
            )
    return lines


def case_lines(c: CaseReport, prompts: Prompts) -> tuple[list[str], list[str]]:
    """The success and non-success cases, per training, and the people to interview: one
    line each, then how many more are counted without a name."""
    counts = [
        prompts.text(
            "summary.cases_total",
            success=c.success,
            non_success=c.non_success,
            answered=c.answered,
        )
    ]
    for group in c.trainings:
        values = {"success": group.success, "non_success": group.non_success}
        if group.training_id:
            counts.append(
                prompts.text(
                    "summary.cases_training",
                    training=user_text(group.name, 100),
                    answered=group.answered,
                    **values,
                )
            )
        else:
            counts.append(
                prompts.text(
                    "summary.cases_other",
                    trainings=group.trainings,
                    answered=group.answered,
                    **values,
                )
            )
    people = [interview_line(i, prompts) for i in c.interview[:INTERVIEW_MAX]]
    if len(c.interview) > INTERVIEW_MAX:
        people.append(
            prompts.text("summary.interview_more", count=len(c.interview) - INTERVIEW_MAX)
        )
    if not people:
        people.append(prompts.text("summary.interview_none"))
    if c.unnamed:
        people.append(prompts.text("summary.interview_unnamed", count=c.unnamed))
    return counts, people


def interview_line(person: Interviewee, prompts: Prompts) -> str:
    """One consenting learner: who, which training, the case, and the result they described."""
    line = prompts.text(
        "summary.interview_line",
        learner=user_text(person.learner or prompts.raw("format.someone"), 100),
        training=user_text(person.training, 100),
        case=prompts.text(f"summary.case_{person.case.value}"),
        result=user_text(_one_line(person.result), RESULT_MAX)
        if person.result
        else prompts.text("summary.no_result"),
    )
    if person.evidence:
        line += prompts.text(
            "summary.interview_evidence", evidence=user_text(_one_line(person.evidence), RESULT_MAX)
        )
    if person.manager_result:
        line += prompts.text(
            "summary.interview_manager",
            result=user_text(_one_line(person.manager_result), RESULT_MAX),
        )
    return line


def _one_line(text: str) -> str:
    return " ".join(text.split())


def summary_text(summary: Summary, prompts: Prompts) -> str:
    """The same summary for a terminal: no mrkdwn markers."""
    title, lines, groups = summary_lines(summary, prompts)
    out = [title, "=" * len(title), *lines]
    if groups:
        out += ["", prompts.text("summary.by_training"), *groups]
    if rounds := round_lines(summary, prompts):
        out += ["", prompts.text("summary.rounds_title"), *rounds]
    counts, people = case_lines(summary.cases, prompts)
    out += ["", prompts.text("summary.cases_title"), *counts]
    out += ["", prompts.text("summary.interview_title"), *people]
    if summary.notes:
        out += ["", prompts.text("summary.notes_title"), *(f"> {n}" for n in summary.notes)]
    out += ["", prompts.text("summary.privacy", min=summary.min_group_size)]
    text = "\n".join(out)
    text = re.sub(r"(?<![\w*])[*_]([^*_\n]+)[*_](?![\w*])", r"\1", text)
    return text.replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")


# --- App Home --------------------------------------------------------------------------------


def headline_numbers(
    db: Database, settings: Settings, now: datetime, *, prompts: Prompts | None = None
) -> list[tuple[str, str]]:
    """This week's headline numbers for a lead's App Home: (label, value) pairs."""
    if prompts is None:
        prompts = load_catalogues(
            settings.prompts_file or None, default_locale=settings.default_locale
        ).default
    week = week_of(now, settings.default_timezone)
    with db.session() as session:
        t = week_report(
            session,
            week,
            min_group_size=settings.min_group_size,
            overdue_sent=overdue_span(week, now, settings.rules),
        ).total
    k = settings.min_group_size
    pairs = [
        ("home_enrollments", prompts.number(t.enrollments)),
        ("home_pre_training", _rate(t.pre_logged, t.pre_cohort, prompts, k)),
        ("home_goals", _rate(t.goals, t.goal_cohort, prompts, k)),
        ("home_debrief", _rate(t.debriefs, t.debrief_cohort, prompts, k)),
        ("home_application", _rate(t.applied + t.partly, t.follow_ups, prompts, k)),
        ("home_overdue", prompts.number(t.overdue)),
    ]
    return [(prompts.text(f"summary.{key}"), value) for key, value in pairs]


def cases_to_follow_up(db: Database, settings: Settings, now: datetime) -> CaseReport:
    """Every success and non-success case so far, for a lead's App Home: the consenting
    learners named, the others counted."""
    with db.session() as session:
        rows = case_rows(session, answered_to=now, manager_texts=settings.share_notes_with_ld)
    return case_report(rows, min_group_size=settings.min_group_size)


# --- CSV -------------------------------------------------------------------------------------

CSV_COLUMNS = (
    "enrollment_id",
    "external_id",
    "training",
    "starts_on",
    "ends_on",
    "has_manager",
    "goal_shared_before_start",
    "pre_training",
    "pre_training_on",
    "talked_before_start",
    "quadrant",
    "debrief",
    "debrief_on",
    "debriefed_within_7_days",
    "manager_follow_up",
    "learner_follow_up",
    "follow_up_agree",
    "success_case",
)
NOTE_COLUMNS = (
    "pre_training_what",
    "pre_training_why",
    "pre_training_how",
    "debrief_takeaways",
    "debrief_first_application",
    "debrief_support",
    "follow_up_note",
)


def _yes_no(value: bool | None) -> str:
    return "" if value is None else ("yes" if value else "no")


def csv_text(
    rows: Iterable[EnrollmentRow],
    tz: str,
    *,
    share_notes: bool,
    cases: dict[int, Case | None] | None = None,
) -> str:
    """One row per enrollment counted in the week, with a header row; names never appear.
    `cases` holds each enrollment's success case (see bot.core.cases), by id."""
    cases = cases or {}
    zone = ZoneInfo(tz)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS + (NOTE_COLUMNS if share_notes else ()))
    for row in rows:
        a = row.answers
        pre, debrief = a.get(NudgeKind.PRE_TRAINING), a.get(NudgeKind.DEBRIEF)
        mine, theirs = a.get(NudgeKind.FOLLOW_UP), a.get(NudgeKind.LEARNER_FOLLOW_UP)
        pre_on = pre.answered_at.astimezone(zone).date() if pre else None
        debrief_on = debrief.answered_at.astimezone(zone).date() if debrief else None
        goal_on = (
            row.first_goal_shared_at.astimezone(zone).date() if row.first_goal_shared_at else None
        )
        values = [
            row.id,
            row.external_id or "",
            _safe_cell(row.training),
            row.starts_on.isoformat(),
            row.ends_on.isoformat() if row.ends_on else "",
            _yes_no(row.has_manager),
            _yes_no(goal_on is not None and goal_on <= row.starts_on),
            pre.outcome if pre else "",
            pre_on.isoformat() if pre_on else "",
            _yes_no(
                bool(pre and pre.outcome == "logged" and pre_on and pre_on <= row.starts_on)
                if row.has_manager
                else None
            ),
            (pre.quadrant or "") if pre else "",
            debrief.outcome if debrief else "",
            debrief_on.isoformat() if debrief_on else "",
            _yes_no(
                bool(
                    debrief
                    and debrief.outcome == "logged"
                    and debrief_on
                    and row.ends_on
                    and debrief_on <= row.ends_on + timedelta(days=7)
                )
                if row.has_manager
                else None
            ),
            mine.outcome if mine else "",
            theirs.outcome if theirs else "",
            _yes_no(mine.outcome == theirs.outcome if mine and theirs else None),
            (case.value if (case := cases.get(row.id)) else ""),
        ]
        if share_notes:
            texts = {
                "pre_training_what": pre.texts.get("what") if pre else None,
                "pre_training_why": pre.texts.get("why") if pre else None,
                "pre_training_how": pre.texts.get("how") if pre else None,
                "debrief_takeaways": debrief.texts.get("takeaways") if debrief else None,
                "debrief_first_application": (
                    debrief.texts.get("first_application") if debrief else None
                ),
                "debrief_support": debrief.texts.get("support") if debrief else None,
                "follow_up_note": mine.texts.get("note") if mine else None,
            }
            values += [_safe_cell(texts[name] or "") for name in NOTE_COLUMNS]
        writer.writerow(values)
    return buffer.getvalue()


def _safe_cell(text: str) -> str:
    # A spreadsheet runs a cell starting with = + - @ as a formula; keep it text.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def build_csv(
    db: Database,
    settings: Settings,
    week: Period,
    now: datetime,
    *,
    training_id: int | None = None,
) -> str:
    # Streamed: the week may count every enrollment, and only the CSV text needs to be kept.
    share = settings.share_notes_with_ld
    with db.session() as session:
        answered = case_rows(
            session, answered_from=week.start, answered_to=week.end, training_id=training_id
        )
        cases = {found.enrollment_id: found.case for found in by_enrollment(answered)}
        rows = iter_enrollment_rows(
            session,
            week,
            overdue_sent=overdue_span(week, now, settings.rules),
            texts=share,
            training_id=training_id,
        )
        return csv_text(rows, settings.default_timezone, share_notes=share, cases=cases)


FIGURE_COLUMNS = ("section", "group", "figure", "part", "whole", "value")


def figures_csv(summary: Summary, prompts: Prompts) -> str:
    """Every figure of the summary, one a row: its counts beside the text the summary shows
    (`80 % (4 of 5)`); a share of fewer than MIN_GROUP_SIZE keeps only "too few to show"."""
    k = summary.min_group_size
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(FIGURE_COLUMNS)

    def share(section: str, group: str, figure: str, part: int, whole: int) -> None:
        hidden = too_few(whole, k)
        value = _rate(part, whole, prompts, k)
        writer.writerow(
            [
                section,
                _safe_cell(group),
                figure,
                "" if hidden else part,
                "" if hidden else whole,
                value,
            ]
        )

    def rates(section: str, group: str, c: Counts) -> None:
        share(section, group, "pre_training", c.pre_logged, c.pre_cohort)
        share(section, group, "goals", c.goals, c.goal_cohort)
        share(section, group, "debrief", c.debriefs, c.debrief_cohort)
        share(section, group, "application", c.applied + c.partly, c.follow_ups)

    total = summary.report.total
    rates("total", "", total)
    share("total", "", "agreement", total.agreeing, total.pairs)
    for group in summary.report.groups:
        name = group.name if group.training_id else prompts.text("summary.other_group")
        rates("training", name, group.counts)
    for f in summary.rounds:
        when = round_label(f.round, summary.follow_up_days, prompts)
        share("follow_up", when, f"{f.side}_applied", f.applied + f.partly, f.answers)
    c = summary.cases
    writer.writerow(["cases", "", "success", c.success, c.answered, c.success])
    writer.writerow(["cases", "", "non_success", c.non_success, c.answered, c.non_success])
    for g in c.trainings:
        name = g.name if g.training_id else prompts.text("summary.other_group")
        writer.writerow(["cases", _safe_cell(name), "success", g.success, g.answered, g.success])
        writer.writerow(
            ["cases", _safe_cell(name), "non_success", g.non_success, g.answered, g.non_success]
        )
    for week, counts in summary.series:
        rates("week", week.label, counts)
    return buffer.getvalue()


# --- chart -----------------------------------------------------------------------------------

_COLORS = {
    "pre": "#2E6FD8",
    "goals": "#8A5CD1",
    "debrief": "#F08A24",
    "application": "#1B9E77",
    "sweet_spot": "#1B9E77",
    "uphill": "#F08A24",
    "gift": "#8A5CD1",
    "waste": "#B0B7C3",
}


def chart_png(summary: Summary, prompts: Prompts) -> bytes:
    """Rates over the last weeks and the quadrant mix, as a PNG, rendered without a display."""
    return render_chart(chart_spec(summary, prompts))


def chart_spec(summary: Summary, prompts: Prompts) -> Json:
    """Everything the chart draws, as plain JSON-able values: texts, labels and numbers."""
    lines: tuple[tuple[str, str, Callable[[Counts], tuple[int, int]]], ...] = (
        ("pre", "chart_pre_training", lambda c: (c.pre_logged, c.pre_cohort)),
        ("goals", "chart_goals", lambda c: (c.goals, c.goal_cohort)),
        ("debrief", "chart_debrief", lambda c: (c.debriefs, c.debrief_cohort)),
        ("application", "chart_application", lambda c: (c.applied + c.partly, c.follow_ups)),
    )
    k = summary.min_group_size

    def point(part: int, whole: int) -> tuple[float | None, str]:
        """A week's value and its label: `4 of 5`, or "too few" under the small-group rule."""
        if not whole:
            return None, ""
        if too_few(whole, k):
            return None, prompts.text("summary.chart_too_few")
        return part / whole, prompts.text("summary.chart_count", part=part, whole=whole)

    totals = dict.fromkeys(QUADRANTS, 0)
    for _, counts in summary.series:
        for q, n in counts.quadrants.items():
            totals[q] += n
    return {
        "title": prompts.text("summary.chart_title", week=summary.week.label),
        # ISO week number, and the week's Monday as the reader writes a date.
        "labels": [
            f"W{w.label[-2:]}\n{prompts.format_short_date(w.monday)}" for w, _ in summary.series
        ],
        "yticks": [[share, prompts.percent(share)] for share in (0, 0.25, 0.5, 0.75, 1)],
        "lines": [
            {
                "key": key,
                "label": prompts.text(f"summary.{label}"),
                "values": [point(*get(c))[0] for _, c in summary.series],
                "points": [point(*get(c))[1] for _, c in summary.series],
            }
            for key, label, get in lines
        ],
        "rates_title": prompts.text("summary.chart_rates"),
        "quadrants_title": prompts.text("summary.chart_quadrants"),
        "quadrants": [
            {
                "key": q,
                "name": prompts.text(f"summary.{q}"),
                "count": totals[q],
                "count_label": prompts.number(totals[q]),
            }
            for q in QUADRANTS
        ],
        "no_quadrants": prompts.text("summary.chart_no_quadrants"),
    }


# The chart's fonts, tried glyph by glyph: matplotlib's own DejaVu Sans for Latin, Greek and
# Cyrillic, then IPAexGothic (the matplotlib-fontja package ships it) for Japanese.
LATIN_FONT = "DejaVu Sans"
CJK_FONT_PACKAGE, CJK_FONT_FILE = "matplotlib_fontja", ("fonts", "ipaexg.ttf")


# Kana, CJK ideographs and full-width forms all lie from U+3000 up; DejaVu has none of them.
CJK_FROM = 0x3000


def _texts(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _texts(item)
    elif isinstance(value, list):
        for item in value:
            yield from _texts(item)


def needs_cjk(spec: Json) -> bool:
    return any(ord(ch) >= CJK_FROM for text in _texts(spec) for ch in text)


def chart_fonts(*, cjk: bool) -> list[str]:
    """The font families the chart draws with: with `cjk`, the Japanese one after DejaVu,
    registered from its package, which is only located, never imported (importing it
    would switch every matplotlib figure of the process to its font)."""
    import importlib.util

    from matplotlib import font_manager

    families = [LATIN_FONT]
    if not cjk:
        return families
    spec = importlib.util.find_spec(CJK_FONT_PACKAGE)
    folders = list(spec.submodule_search_locations or []) if spec else []
    path = next((p for f in folders if os.path.isfile(p := os.path.join(f, *CJK_FONT_FILE))), None)
    if path is None:
        log.warning("summary.chart_font_missing package=%s", CJK_FONT_PACKAGE)
        return families
    font_manager.fontManager.addfont(path)
    return [*families, font_manager.FontProperties(fname=path).get_name()]


def render_chart(spec: Json) -> bytes:
    """The PNG of a `chart_spec`, drawn with matplotlib's Agg canvas."""
    import matplotlib

    cjk = needs_cjk(spec)
    with matplotlib.rc_context({"font.family": chart_fonts(cjk=cjk)}):
        # IPAexGothic has no bold face: a Japanese title is set in its one weight.
        return _draw_chart(spec, title_weight="normal" if cjk else "bold")


def _draw_chart(spec: Json, *, title_weight: str = "bold") -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 4.6), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    grid = fig.add_gridspec(1, 3)
    rates, mix = fig.add_subplot(grid[0, :2]), fig.add_subplot(grid[0, 2])
    fig.suptitle(spec["title"], fontsize=14, fontweight=title_weight, x=0.01, ha="left")
    labels = spec["labels"]
    xs = list(range(len(labels)))
    for index, line in enumerate(spec["lines"]):
        values = [float("nan") if y is None else y for y in line["values"]]
        color = _COLORS[line["key"]]
        rates.plot(
            xs, values, marker="o", linewidth=2.2, markersize=5, color=color, label=line["label"]
        )
        # Each rate's counts beside its point; a week of too few people says so at the foot.
        for x, y, text in zip(xs, line["values"], line.get("points") or (), strict=False):
            if text and y is not None:
                rates.annotate(
                    text,
                    (x, y),
                    textcoords="offset points",
                    xytext=(0, 6),
                    ha="center",
                    fontsize=7,
                    color=color,
                )
            elif text:
                rates.text(
                    x, 0.02 + 0.07 * index, text, ha="center", fontsize=7, color=color, alpha=0.8
                )
    rates.set_title(spec["rates_title"], loc="left", fontsize=11)
    rates.set_xticks(xs, labels)
    rates.set_ylim(-0.03, 1.05)
    ticks = spec["yticks"]
    rates.set_yticks([share for share, _ in ticks], [label for _, label in ticks])
    rates.grid(axis="y", color="#E3E6EB")
    rates.legend(loc="upper left", bbox_to_anchor=(0, -0.1), ncols=4, frameon=False, fontsize=9)
    for side in ("top", "right"):
        rates.spines[side].set_visible(False)

    quadrants = spec["quadrants"]
    names = [q["name"] for q in quadrants]
    mix.set_title(spec["quadrants_title"], loc="left", fontsize=11)
    if sum(q["count"] for q in quadrants):
        heights = [q["count"] for q in quadrants]
        bars = mix.barh(names, heights, color=[_COLORS[q["key"]] for q in quadrants])
        mix.bar_label(bars, labels=[q["count_label"] for q in quadrants], padding=3)
        mix.invert_yaxis()
        mix.set_xlim(0, max(heights) * 1.25)
        mix.xaxis.set_visible(False)
    else:
        mix.text(
            0.5,
            0.5,
            spec["no_quadrants"],
            ha="center",
            va="center",
            color="#6B7280",
            wrap=True,
        )
        mix.set_xticks([])
        mix.set_yticks([])
    for side in ("top", "right", "bottom"):
        mix.spines[side].set_visible(False)
    out = io.BytesIO()
    fig.savefig(out, format="png", facecolor="white")
    return out.getvalue()


CHART_TIMEOUT = 60  # seconds for the child process that draws the chart


def chart_png_isolated(summary: Summary, prompts: Prompts) -> bytes:
    """`chart_png` drawn in a short-lived child process.

    matplotlib and numpy add some 45 MB to a process once imported, and a long-running bot
    would carry them for good after its first summary; a child gives all of it back when it
    exits. Should the child fail, the chart is drawn here, so the lead still gets it.
    """
    spec = chart_spec(summary, prompts)
    # The folder that holds the `bot` package: bot/core/reporting.py is three levels down.
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, (root, os.environ.get("PYTHONPATH")))),
    }
    try:
        done = subprocess.run(
            [sys.executable, "-c", "from bot.core.reporting import _chart_child; _chart_child()"],
            input=json.dumps(spec).encode("utf-8"),
            capture_output=True,
            env=env,
            timeout=CHART_TIMEOUT,
            check=True,
        )
        if done.stdout.startswith(b"\x89PNG"):
            return done.stdout
        log.warning("summary.chart_child_output bytes=%d", len(done.stdout))
    except (OSError, subprocess.SubprocessError) as exc:
        log.warning("summary.chart_child_failed error=%s", type(exc).__name__)
    return render_chart(spec)


def _chart_child() -> None:
    """The child's side of `chart_png_isolated`: a spec on stdin, the PNG on stdout."""
    spec = json.loads(sys.stdin.buffer.read())
    sys.stdout.buffer.write(render_chart(spec))
    sys.stdout.buffer.flush()
