"""Calendar invites, shaped as Outlook (Exchange) and Google Calendar send them, become
training sessions with one enrollment event per learner."""

from __future__ import annotations

from datetime import date

import pytest

from bot.core.sources import SourceError
from bot.core.sources.calendar import HORIZON_DAYS, Session, parse_calendar

W_EUROPE = """BEGIN:VTIMEZONE
TZID:W. Europe Standard Time
BEGIN:STANDARD
DTSTART:16010101T030000
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=10
END:STANDARD
BEGIN:DAYLIGHT
DTSTART:16010101T020000
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=3
END:DAYLIGHT
END:VTIMEZONE
"""

PACIFIC = """BEGIN:VTIMEZONE
TZID:Pacific Standard Time
BEGIN:STANDARD
DTSTART:16010101T020000
TZOFFSETFROM:-0700
TZOFFSETTO:-0800
RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=1SU;BYMONTH=11
END:STANDARD
BEGIN:DAYLIGHT
DTSTART:16010101T020000
TZOFFSETFROM:-0800
TZOFFSETTO:-0700
RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=2SU;BYMONTH=3
END:DAYLIGHT
END:VTIMEZONE
"""

OUTLOOK_UID = (
    "040000008200E00074C5B7101A82E0080000000030D8C6F3B1BFDA01000000000000000010000000"
    "E2C8E6E88C4F6B47A7E1F8D3A0F7C2B1"
)


def outlook(method: str, event: str, zones: str = W_EUROPE) -> str:
    """An invite as Exchange sends it: CRLF lines, folded at 75 octets, Windows zone names."""
    text = (
        f"BEGIN:VCALENDAR\nMETHOD:{method}\nPRODID:Microsoft Exchange Server 2010\n"
        f"VERSION:2.0\n{zones}{event}END:VCALENDAR\n"
    )
    return text.replace("\n", "\r\n")


def outlook_event(
    *,
    uid: str = OUTLOOK_UID,
    summary: str = "Coaching Skills",
    start: str = "DTSTART;TZID=W. Europe Standard Time:20261201T090000",
    end: str = "DTEND;TZID=W. Europe Standard Time:20261202T170000",
    sequence: int = 0,
    status: str = "CONFIRMED",
    extra: str = "",
) -> str:
    return f"""BEGIN:VEVENT
ORGANIZER;CN=Lena Lead:mailto:lena.lead@example.org
ATTENDEE;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE;CN=Ann Learne
 r:mailto:Ann.Learner@example.org
ATTENDEE;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE;CN=Bob Builde
 r:mailto:bob@example.org
ATTENDEE;CUTYPE=RESOURCE;ROLE=NON-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE
 ;CN=Room Amsterdam:mailto:room.amsterdam@example.org
DESCRIPTION;LANGUAGE=en-US:Two days of coaching practice.\\n
UID:{uid}
SUMMARY;LANGUAGE=en-US:{summary}
{start}
{end}
{extra}CLASS:PUBLIC
PRIORITY:5
DTSTAMP:20261102T101500Z
TRANSP:OPAQUE
STATUS:{status}
SEQUENCE:{sequence}
LOCATION;LANGUAGE=en-US:Room Amsterdam
X-MICROSOFT-CDO-APPT-SEQUENCE:{sequence}
X-MICROSOFT-CDO-BUSYSTATUS:TENTATIVE
X-MICROSOFT-CDO-INTENDEDSTATUS:BUSY
X-MICROSOFT-CDO-ALLDAYEVENT:FALSE
X-MICROSOFT-CDO-IMPORTANCE:1
X-MICROSOFT-CDO-INSTTYPE:0
BEGIN:VALARM
DESCRIPTION:REMINDER
TRIGGER;RELATED=START:-PT15M
ACTION:DISPLAY
END:VALARM
END:VEVENT
"""


GOOGLE = """BEGIN:VCALENDAR
PRODID:-//Google Inc//Google Calendar 70.9054//EN
VERSION:2.0
CALSCALE:GREGORIAN
METHOD:REQUEST
BEGIN:VTIMEZONE
TZID:Europe/London
X-LIC-LOCATION:Europe/London
BEGIN:DAYLIGHT
TZOFFSETFROM:+0000
TZOFFSETTO:+0100
TZNAME:BST
DTSTART:19700329T010000
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU
END:DAYLIGHT
BEGIN:STANDARD
TZOFFSETFROM:+0100
TZOFFSETTO:+0000
TZNAME:GMT
DTSTART:19701025T020000
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU
END:STANDARD
END:VTIMEZONE
BEGIN:VEVENT
DTSTART;TZID=Europe/London:20261203T093000
DTEND;TZID=Europe/London:20261203T123000
DTSTAMP:20261102T101500Z
ORGANIZER;CN=Lena Lead:mailto:lena.lead@example.org
UID:3k2v5q8r9t0u1w2x3y4z5a6b7c@google.com
ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT=ACCEPTED;RSVP=TRUE
 ;CN=Lena Lead;X-NUM-GUESTS=0:mailto:lena.lead@example.org
ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT=DECLINED;RSVP=TRUE;
 CN=carl@example.org;X-NUM-GUESTS=0:mailto:carl@example.org
ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=
 TRUE;CN=dana@example.org;X-NUM-GUESTS=0:mailto:dana@example.org
ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=OPT-PARTICIPANT;PARTSTAT=TENTATIVE;RSVP=TRUE
 ;CN=erin@example.org;X-NUM-GUESTS=0:mailto:erin@example.org
ATTENDEE;CUTYPE=RESOURCE;ROLE=REQ-PARTICIPANT;PARTSTAT=ACCEPTED;CN=London-2-
 Boardroom (10);X-NUM-GUESTS=0:mailto:c_1888abcd1234@resource.calendar.googl
 e.com
CREATED:20261102T101400Z
DESCRIPTION:-::~:~::~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~
 :~:~:~:~:~:~:~:~::~:~::-\\nJoin with Google Meet: https://meet.google.com/a
 bc-defg-hij\\n
LAST-MODIFIED:20261102T101500Z
LOCATION:London-2-Boardroom (10)
SEQUENCE:0
STATUS:CONFIRMED
SUMMARY:Giving Feedback
TRANSP:OPAQUE
END:VEVENT
BEGIN:VEVENT
DTSTART;VALUE=DATE:20261210
DTEND;VALUE=DATE:20261211
DTSTAMP:20261102T101500Z
ORGANIZER;CN=Lena Lead:mailto:lena.lead@example.org
UID:7h8j9k0l1m2n3o4p5q6r7s8t9u@google.com
ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=
 TRUE;CN=dana@example.org;X-NUM-GUESTS=0:mailto:dana@example.org
SEQUENCE:0
STATUS:CONFIRMED
SUMMARY:Leading Change (all day)
TRANSP:TRANSPARENT
END:VEVENT
END:VCALENDAR
"""


def only(text: str) -> Session:
    [session] = parse_calendar(text).sessions
    return session


def actions(session: Session) -> dict[str, str]:
    return {e.learner_email or "": e.action for e in session.events}


def test_an_outlook_invite_enrolls_each_attendee_but_the_organizer_and_the_room() -> None:
    session = only(outlook("REQUEST", outlook_event()))
    assert session.training == "Coaching Skills"
    assert (session.starts_on, session.ends_on) == (date(2026, 12, 1), date(2026, 12, 2))
    assert actions(session) == {
        "ann.learner@example.org": "enrolled",
        "bob@example.org": "enrolled",
    }
    ann = session.events[0]
    assert ann.key == f"ics:{OUTLOOK_UID}|ann.learner@example.org"
    assert ann.key.startswith(session.key_prefix) and len(ann.key) <= 200
    assert (ann.source, ann.sequence, ann.completed_on) == ("calendar", 0, None)


def test_a_google_invite_a_declined_attendee_is_cancelled_and_the_room_left_out() -> None:
    result = parse_calendar(GOOGLE)
    feedback = result.sessions[0]
    assert feedback.training == "Giving Feedback"
    assert (feedback.starts_on, feedback.ends_on) == (date(2026, 12, 3), date(2026, 12, 3))
    assert actions(feedback) == {
        "carl@example.org": "cancelled",
        "dana@example.org": "enrolled",
        "erin@example.org": "enrolled",
    }
    assert result.skipped == ()


def test_an_all_day_event_ends_the_day_before_its_exclusive_dtend() -> None:
    all_day = parse_calendar(GOOGLE).sessions[1]
    assert (all_day.starts_on, all_day.ends_on) == (date(2026, 12, 10), date(2026, 12, 10))
    two_days = outlook_event(
        start="DTSTART;VALUE=DATE:20261207",
        end="DTEND;VALUE=DATE:20261209",
        extra="X-MICROSOFT-CDO-ALLDAYEVENT:TRUE\n",
    )
    session = only(outlook("REQUEST", two_days))
    assert (session.starts_on, session.ends_on) == (date(2026, 12, 7), date(2026, 12, 8))


def test_an_end_at_midnight_belongs_to_the_day_before() -> None:
    midnight = outlook_event(
        start="DTSTART;TZID=W. Europe Standard Time:20261207T000000",
        end="DTEND;TZID=W. Europe Standard Time:20261209T000000",
    )
    session = only(outlook("REQUEST", midnight))
    assert (session.starts_on, session.ends_on) == (date(2026, 12, 7), date(2026, 12, 8))


def test_a_cancellation_with_a_higher_sequence_cancels_every_learner() -> None:
    invite = only(outlook("REQUEST", outlook_event(sequence=0)))
    cancel = only(
        outlook(
            "CANCEL",
            outlook_event(summary="Canceled: Coaching Skills", sequence=1, status="CANCELLED"),
        )
    )
    assert cancel.cancelled and not cancel.cancels_all
    assert cancel.training == "Coaching Skills"
    assert actions(cancel) == {
        "ann.learner@example.org": "cancelled",
        "bob@example.org": "cancelled",
    }
    assert [e.sequence for e in cancel.events] == [1, 1]
    assert [e.key for e in cancel.events] == [e.key for e in invite.events]
    assert {e.event_id for e in cancel.events}.isdisjoint(e.event_id for e in invite.events)


def test_status_cancelled_alone_cancels_the_session() -> None:
    session = only(outlook("PUBLISH", outlook_event(status="CANCELLED", sequence=2)))
    assert set(actions(session).values()) == {"cancelled"}


def test_a_cancellation_that_lists_no_attendee_cancels_the_whole_session() -> None:
    event = f"""BEGIN:VEVENT
UID:{OUTLOOK_UID}
SUMMARY:Canceled: Coaching Skills
DTSTART;TZID=W. Europe Standard Time:20261201T090000
SEQUENCE:3
STATUS:CANCELLED
END:VEVENT
"""
    session = only(outlook("CANCEL", event))
    assert session.cancels_all
    assert session.key_prefix == f"ics:{OUTLOOK_UID}|"


def test_a_weekly_series_runs_from_its_first_to_its_last_occurrence_on_local_dates() -> None:
    # Thursdays at 17:00 in Pacific time, across the end of daylight saving: in UTC each one
    # is already Friday, but the learner's calendar says Thursday.
    series = outlook_event(
        start="DTSTART;TZID=Pacific Standard Time:20261029T170000",
        end="DTEND;TZID=Pacific Standard Time:20261029T183000",
        extra="RRULE:FREQ=WEEKLY;COUNT=4;BYDAY=TH\n",
    )
    session = only(outlook("REQUEST", series, zones=PACIFIC))
    assert (session.starts_on, session.ends_on) == (date(2026, 10, 29), date(2026, 11, 19))
    assert session.note is None


def test_a_series_until_a_utc_time_and_with_an_exdate() -> None:
    series = outlook_event(
        start="DTSTART;TZID=W. Europe Standard Time:20261102T090000",
        end="DTEND;TZID=W. Europe Standard Time:20261102T120000",
        extra=(
            "RRULE:FREQ=WEEKLY;UNTIL=20261130T080000Z;INTERVAL=1;BYDAY=MO;WKST=MO\n"
            "EXDATE;TZID=W. Europe Standard Time:20261130T090000\n"
        ),
    )
    session = only(outlook("REQUEST", series))
    assert (session.starts_on, session.ends_on) == (date(2026, 11, 2), date(2026, 11, 23))


def test_a_cancelled_last_occurrence_moves_the_end() -> None:
    uid = "series-1@google.com"
    text = f"""BEGIN:VCALENDAR
PRODID:-//Google Inc//Google Calendar 70.9054//EN
VERSION:2.0
METHOD:REQUEST
BEGIN:VEVENT
DTSTART;TZID=Europe/Berlin:20261203T100000
DTEND;TZID=Europe/Berlin:20261203T110000
RRULE:FREQ=WEEKLY;COUNT=3
UID:{uid}
ORGANIZER:mailto:lena.lead@example.org
ATTENDEE;PARTSTAT=ACCEPTED:mailto:dana@example.org
SUMMARY:Mentoring Circle
SEQUENCE:0
END:VEVENT
BEGIN:VEVENT
DTSTART;TZID=Europe/Berlin:20261217T100000
DTEND;TZID=Europe/Berlin:20261217T110000
RECURRENCE-ID;TZID=Europe/Berlin:20261217T100000
UID:{uid}
ORGANIZER:mailto:lena.lead@example.org
ATTENDEE;PARTSTAT=ACCEPTED:mailto:dana@example.org
SUMMARY:Mentoring Circle
STATUS:CANCELLED
SEQUENCE:1
END:VEVENT
END:VCALENDAR
"""
    session = only(text)
    assert (session.starts_on, session.ends_on) == (date(2026, 12, 3), date(2026, 12, 10))
    assert session.sequence == 1 and not session.cancelled


def test_a_lone_changed_or_cancelled_occurrence_does_not_move_the_series() -> None:
    one_instance = outlook_event(
        summary="Canceled: Coaching Skills",
        status="CANCELLED",
        sequence=2,
        extra="RECURRENCE-ID;TZID=W. Europe Standard Time:20261208T090000\n",
    )
    result = parse_calendar(outlook("CANCEL", one_instance))
    assert result.sessions == ()
    [(line, reason)] = result.skipped
    assert line is not None and "RECURRENCE-ID" in reason


def test_a_series_without_end_is_read_to_a_horizon_and_says_so() -> None:
    # Two-day sessions (Tuesday and Wednesday) every week: the last one read starts on the
    # last Tuesday within the horizon and ends the day after.
    series = outlook_event(extra="RRULE:FREQ=WEEKLY;BYDAY=TU\n")
    session = only(outlook("REQUEST", series))
    assert session.starts_on == date(2026, 12, 1)
    assert session.ends_on == date(2027, 12, 1)
    assert (session.ends_on - session.starts_on).days <= HORIZON_DAYS + 1
    assert session.note is not None
    assert "without an end" in session.note and "2027-12-01" in session.note
    again = only(outlook("REQUEST", series))
    assert [e.event_id for e in again.events] == [e.event_id for e in session.events]


def test_windows_zone_names_without_vtimezone_still_resolve() -> None:
    # 00:30 in Berlin is still the day before in UTC; the event's own zone counts.
    event = outlook_event(
        start="DTSTART;TZID=W. Europe Standard Time:20261202T003000",
        end="DTEND;TZID=W. Europe Standard Time:20261202T020000",
    )
    session = only(outlook("REQUEST", event, zones=""))
    assert (session.starts_on, session.ends_on) == (date(2026, 12, 2), date(2026, 12, 2))


def test_a_feed_in_utc_with_x_wr_timezone_is_read_in_that_zone() -> None:
    text = """BEGIN:VCALENDAR
PRODID:-//Google Inc//Google Calendar 70.9054//EN
VERSION:2.0
X-WR-CALNAME:Trainings
X-WR-TIMEZONE:America/New_York
BEGIN:VEVENT
DTSTART:20261202T013000Z
DTEND:20261202T033000Z
UID:utc-1@google.com
ATTENDEE;PARTSTAT=ACCEPTED:mailto:dana@example.org
SUMMARY:Evening Workshop
END:VEVENT
END:VCALENDAR
"""
    session = only(text)
    assert (session.starts_on, session.ends_on) == (date(2026, 12, 1), date(2026, 12, 1))


def test_a_repeated_read_gives_the_same_event_ids_and_a_change_new_ones() -> None:
    first = only(outlook("REQUEST", outlook_event()))
    again = only(outlook("REQUEST", outlook_event()))
    moved = only(
        outlook(
            "REQUEST",
            outlook_event(sequence=1, start="DTSTART;TZID=W. Europe Standard Time:20261208T090000"),
        )
    )
    assert [e.event_id for e in again.events] == [e.event_id for e in first.events]
    assert moved.events[0].key == first.events[0].key
    assert moved.events[0].event_id != first.events[0].event_id
    assert moved.events[0].sequence == 1


def test_events_that_cannot_be_read_are_skipped_with_their_line_and_why() -> None:
    broken = outlook_event(uid="broken-1", start="DTSTART:2026120")
    unnamed = outlook_event(uid="unnamed-1", summary="")
    lonely = """BEGIN:VEVENT
UID:lonely-1
SUMMARY:Nobody Invited
DTSTART:20261201T090000Z
ORGANIZER:mailto:lena.lead@example.org
ATTENDEE;CUTYPE=ROOM:mailto:room@example.org
END:VEVENT
"""
    text = outlook("REQUEST", outlook_event() + broken + unnamed + lonely)
    result = parse_calendar(text)
    assert [s.uid for s in result.sessions] == [OUTLOOK_UID]
    reasons = dict(result.skipped)
    lines = text.split("\r\n")
    for line, reason in result.skipped:
        assert line is not None and lines[line - 1] == "BEGIN:VEVENT", reason
    assert len(reasons) == 3
    assert any("DTSTART" in r for r in reasons.values())
    assert any("SUMMARY" in r for r in reasons.values())
    assert any("no learner" in r for r in reasons.values())


@pytest.mark.parametrize(
    "text",
    [
        "",
        "this is not a calendar",
        "BEGIN:VEVENT\nUID:1\nDTSTART:20261201\nEND:VEVENT\n",
        "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:1\n",
        b"BEGIN:VCALENDAR\r\nSUMMARY:\xff\xfe\r\nEND:VCALENDAR\r\n",
    ],
)
def test_text_that_is_not_icalendar_is_refused_saying_so(text: str | bytes) -> None:
    with pytest.raises(SourceError) as caught:
        parse_calendar(text)
    assert caught.value.field == "calendar"
    assert caught.value.message


def test_an_empty_calendar_has_no_sessions() -> None:
    result = parse_calendar("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n")
    assert result.sessions == () and result.skipped == () and result.events == []


def test_a_very_long_uid_still_fits_the_external_id_column() -> None:
    session = only(outlook("REQUEST", outlook_event(uid="x" * 300)))
    assert all(len(e.key) <= 200 and e.key.startswith(session.key_prefix) for e in session.events)
    assert session.key_prefix.startswith("ics:#")
