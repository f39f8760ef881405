"""Calendar invites into enrollments: `coachbot import calendar FILE.ics` through the real
command line, and the iCalendar feeds of ICS_FEED_URLS read by their scheduler job. The
invites are shaped as RFC 5545/5546 and Google Calendar write them."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select
from support import Bot, Clock, start_bot

from bot.cli import main
from bot.sim.fakeslack import FakeSlack
from storage.db import Database
from storage.models import Enrollment, Nudge

UID = "7kukuqrfedlm2f9t0vr42q3h6k@google.com"


def invite(
    *,
    starts: date,
    ends: date | None = None,
    sequence: int = 0,
    attendees: tuple[str, ...] = ("ada@example.org", "lin@example.org"),
    declined: tuple[str, ...] = (),
    method: str = "REQUEST",
    status: str = "CONFIRMED",
    summary: str = "Coaching Skills",
    uid: str = UID,
) -> str:
    """An all-day session as Google Calendar sends it (DTEND exclusive), with its organizer
    and a room among the attendees."""
    last = (ends or starts) + timedelta(days=1)
    people = [
        "ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=CHAIR;PARTSTAT=ACCEPTED;CN=L&D Team:"
        "mailto:learning@example.org",
        "ATTENDEE;CUTYPE=ROOM;ROLE=NON-PARTICIPANT;PARTSTAT=ACCEPTED;CN=Room Ada:"
        "mailto:c_188a@resource.calendar.google.com",
    ]
    for email in attendees:
        partstat = "DECLINED" if email in declined else "NEEDS-ACTION"
        people.append(
            f"ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT={partstat};RSVP=TRUE;"
            f"CN={email}:mailto:{email}"
        )
    lines = [
        "BEGIN:VCALENDAR",
        "PRODID:-//Google Inc//Google Calendar 70.9054//EN",
        "VERSION:2.0",
        "CALSCALE:GREGORIAN",
        f"METHOD:{method}",
        "BEGIN:VEVENT",
        f"DTSTART;VALUE=DATE:{starts:%Y%m%d}",
        f"DTEND;VALUE=DATE:{last:%Y%m%d}",
        "DTSTAMP:20261120T090000Z",
        "ORGANIZER;CN=L&D Team:mailto:learning@example.org",
        f"UID:{uid}",
        *people,
        "CREATED:20261120T085959Z",
        "LAST-MODIFIED:20261120T090000Z",
        f"SEQUENCE:{sequence}",
        f"STATUS:{status}",
        f"SUMMARY:{summary}",
        "TRANSP:OPAQUE",
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    return "\r\n".join(lines) + "\r\n"


def enrollments(db: Database) -> dict[str, Enrollment]:
    with db.session() as s:
        return {e.external_id or "": e for e in s.exec(select(Enrollment))}


def key(email: str, uid: str = UID) -> str:
    return f"ics:{uid}|{email}"


@pytest.fixture
def cal(fake: FakeSlack, db: Database, clock: Clock, db_url: str) -> Iterator[Bot]:
    instance, server = start_bot(fake, db, clock, db_url)
    _people(instance)
    yield instance
    server.close()


def _people(bot: Bot) -> None:
    for uid, name in (("UADA", "Ada"), ("ULIN", "Lin"), ("UGRACE", "Grace")):
        bot.fake.add_user(uid, email=f"{name.lower()}@example.org", real_name=name, tz="UTC")


# The clock fixture's Monday 23 November 2026.
DEC_8, DEC_9 = date(2026, 12, 8), date(2026, 12, 9)


def test_each_attendee_is_an_enrollment_and_a_newer_revision_updates_it(cal: Bot) -> None:
    report = cal.web.sources.import_calendar(invite(starts=DEC_8, ends=DEC_9, sequence=1))
    assert (report.created, report.skipped) == (2, [])
    stored = enrollments(cal.db)
    assert set(stored) == {key("ada@example.org"), key("lin@example.org")}
    ada = stored[key("ada@example.org")]
    assert (ada.source, ada.starts_on, ada.ends_on, ada.sequence) == ("calendar", DEC_8, DEC_9, 1)

    moved = cal.web.sources.import_calendar(invite(starts=DEC_9, sequence=2))
    assert (moved.created, moved.updated) == (0, 2)
    assert enrollments(cal.db)[key("ada@example.org")].starts_on == DEC_9

    # An older revision arriving late changes nothing.
    late = cal.web.sources.import_calendar(invite(starts=DEC_8, ends=DEC_9, sequence=1))
    assert late.updated == 0 and len(late.skipped) == 2 and late.ok
    assert "older revision" in late.skipped[0][1]
    assert enrollments(cal.db)[key("ada@example.org")].starts_on == DEC_9

    # The same revision again: nothing to do.
    same = cal.web.sources.import_calendar(invite(starts=DEC_9, sequence=2))
    assert (same.unchanged, same.skipped) == (2, [])


def test_a_declined_invite_cancels_that_learner_and_a_cancelled_session_everyone(
    cal: Bot,
) -> None:
    cal.web.sources.import_calendar(invite(starts=DEC_8))
    declined = cal.web.sources.import_calendar(invite(starts=DEC_8, declined=("lin@example.org",)))
    assert declined.cancelled == 1
    stored = enrollments(cal.db)
    assert stored[key("lin@example.org")].status == "cancelled"
    assert stored[key("ada@example.org")].status == "enrolled"
    with cal.db.session() as s:
        lin = stored[key("lin@example.org")]
        assert {n.status for n in s.exec(select(Nudge).where(Nudge.enrollment_id == lin.id))} == {
            "cancelled"
        }

    # METHOD:CANCEL listing nobody: every learner of the session.
    cancel = cal.web.sources.import_calendar(
        invite(starts=DEC_8, sequence=1, attendees=(), method="CANCEL", status="CANCELLED")
    )
    assert cancel.cancelled == 1
    assert {e.status for e in enrollments(cal.db).values()} == {"cancelled"}


def test_an_attendee_left_out_of_a_newer_revision_is_cancelled_but_not_by_a_reply(
    cal: Bot,
) -> None:
    cal.web.sources.import_calendar(invite(starts=DEC_8, sequence=0))
    # An attendee's reply repeats the SEQUENCE and lists only them.
    reply = invite(starts=DEC_8, sequence=0, attendees=("ada@example.org",), method="REPLY")
    assert cal.web.sources.import_calendar(reply).cancelled == 0
    newer = cal.web.sources.import_calendar(
        invite(starts=DEC_8, sequence=1, attendees=("ada@example.org",))
    )
    assert newer.cancelled == 1
    assert enrollments(cal.db)[key("lin@example.org")].status == "cancelled"


def test_learners_nobody_knows_and_old_sessions_are_skipped_with_their_line(cal: Bot) -> None:
    text = invite(starts=DEC_8, attendees=("ada@example.org", "nobody@example.org"))
    report = cal.web.sources.import_calendar(text)
    assert report.created == 1 and not report.ok
    ((line, reason),) = report.skipped
    assert line == 6 and "nobody@example.org" in reason and "matches nobody" in reason
    old = cal.web.sources.import_calendar(invite(starts=date(2026, 8, 3), uid="old@google.com"))
    assert old.ok and old.created == 0
    assert "too long ago" in old.skipped[0][1]


def test_the_command_prints_what_it_did_like_the_csv_import(
    monkeypatch: pytest.MonkeyPatch,
    db_url: str,
    fake: FakeSlack,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
    monkeypatch.setenv("SLACK_API_URL", fake.api_url)
    fake.add_user("UADA", email="ada@example.org", real_name="Ada", tz="UTC")
    starts = date.today() + timedelta(days=14)  # the command runs on the real clock
    path = tmp_path / "invite.ics"
    path.write_text(invite(starts=starts, attendees=("ada@example.org", "zed@example.org")))

    assert main(["import", "calendar", str(path)]) == 1
    out = capsys.readouterr().out
    assert "1 enrollments created, 0 updated, 0 cancelled, 0 unchanged, 1 skipped" in out
    assert "line 6: attendee zed@example.org matches nobody in the directory or in Slack" in out

    path.write_text(
        invite(starts=starts, attendees=("ada@example.org",), declined=("ada@example.org",))
    )
    assert main(["import", "calendar", str(path)]) == 0
    assert "0 enrollments created, 0 updated, 1 cancelled" in capsys.readouterr().out

    path.write_text("not a calendar")
    assert main(["import", "calendar", str(path)]) == 1
    assert "is not iCalendar text" in capsys.readouterr().out
    assert main(["import", "calendar", str(tmp_path / "missing.ics")]) == 2


class Feed:
    """A calendar feed on an ephemeral port that answers 304 to its own ETag."""

    def __init__(self) -> None:
        self.text = ""
        self.version = 0
        self.requests: list[dict[str, str]] = []
        feed = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                headers = {k.lower(): v for k, v in self.headers.items()}
                feed.requests.append(headers)
                etag = f'"v{feed.version}"'
                if headers.get("if-none-match") == etag:
                    self.send_response(304)
                    self.end_headers()
                    return
                body = feed.text.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/calendar; charset=utf-8")
                self.send_header("ETag", etag)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = (
            f"http://127.0.0.1:{self.server.server_address[1]}/calendar/private-abc/basic.ics"
        )

    def publish(self, text: str) -> None:
        self.text, self.version = text, self.version + 1

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_feeds_are_read_by_their_job_and_an_unchanged_feed_costs_one_304(
    fake: FakeSlack, db: Database, clock: Clock, db_url: str
) -> None:
    feed = Feed()
    bot, server = start_bot(fake, db, clock, db_url, ics_feed_urls=(feed.url,), ics_poll_minutes=15)
    try:
        _people(bot)
        from bot.runtime import source_jobs

        jobs = {job.id: job for job in source_jobs(bot.settings, bot.web.sources)}
        assert jobs["ics_poll"].seconds == 15 * 60
        feed.publish(invite(starts=DEC_8, sequence=0))
        jobs["ics_poll"].func()
        assert len(enrollments(db)) == 2
        (result,) = bot.web.sources.poll_feeds().values()
        assert result == "unchanged"
        assert feed.requests[-1]["if-none-match"] == '"v1"'

        feed.publish(invite(starts=DEC_9, sequence=1))
        (report,) = bot.web.sources.poll_feeds().values()
        assert not isinstance(report, str) and report.updated == 2
        feed.close()
        (down,) = bot.web.sources.poll_feeds().values()
        assert isinstance(down, str) and "feed http://127.0.0.1" in down
        assert "private-abc" not in down  # a private feed's secret stays out of logs
    finally:
        server.close()
