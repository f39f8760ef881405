"""`coachbot demo`: six weeks of a simulated workspace, driven through the real app.

Nothing here is a mock-up of the product. A fake Slack Web API runs on loopback; the real
app (listeners, Block Kit, HTTP routes) answers signed requests as Slack would send them;
the real dispatcher and digest jobs run on a virtual clock against a real SQLite file. The
simulated people only decide what to click and type when a DM reaches them.
"""

from __future__ import annotations

import copy
import os
import re
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bot.settings import Settings
from bot.sim.driver import (
    SlackDriver,
    buttons,
    checkbox_value,
    date_value,
    radio_value,
    text_value,
    user_value,
    users_value,
)
from bot.sim.fakeslack import FakeSlack
from bot.slack.blocks import CASE_BUTTONS
from bot.slack.ids import (
    CONSENT_OPTION_VALUE,
    NUDGE_EVENT_TYPE,
    SHARE_OPTION_VALUE,
    Action,
    Block,
    Function,
)
from storage.db import Database
from storage.models import Nudge

SIGNING_SECRET = "demo-signing-secret"
WEBHOOK_TOKEN = "demo-webhook-token"
STEP = timedelta(minutes=30)
WEEKS = 6


# -- the simulated workspace ------------------------------------------------------------


@dataclass(frozen=True)
class Persona:
    slack_id: str
    name: str
    email: str
    tz: str
    manager: str | None = None  # slack id
    role: str = "learner"
    # Slack's language setting: what Coachbot writes to them in, dates included.
    locale: str = "en-US"
    # How this person answers: a goal, how much a training matters, the follow-up's Success
    # Case question (a CaseAnswer value), what came of it, and whether L&D may ask them more.
    goal: str | None = None
    interest: str | None = None
    case: str = "no_clear_results"
    result: str | None = None
    evidence: str | None = None
    consent: bool = False
    # How long after a DM arrives this person gets to it.
    answers_after: timedelta = timedelta(minutes=40)


PEOPLE = [
    Persona(
        "ULEA", "Lea Martin", "lea@example.org", "Europe/London", role="L&D lead", locale="en-GB"
    ),
    Persona(
        "UMAYA",
        "Maya Schulz",
        "maya@example.org",
        "Europe/Berlin",
        role="manager",
        answers_after=timedelta(hours=1),
        locale="fr-FR",
    ),
    Persona(
        "USAM",
        "Sam Carter",
        "sam@example.org",
        "America/New_York",
        role="manager",
        answers_after=timedelta(hours=3),
    ),
    Persona(
        "UKENJI",
        "Kenji Ito",
        "kenji@example.org",
        "Asia/Tokyo",
        role="manager",
        answers_after=timedelta(hours=5),
    ),
    Persona(
        "UADA",
        "Ada Weber",
        "ada@example.org",
        "Europe/Berlin",
        "UMAYA",
        goal="Ask one open question before giving advice in every 1:1",
        interest="3",
        case="clear_results",
        result="My 1:1s now end with a plan my report wrote themselves",
        evidence="Two of my reports said so in our last retro",
        consent=True,
    ),
    Persona(
        "URUI",
        "Rui Costa",
        "rui@example.org",
        "Europe/Lisbon",
        "UMAYA",
        goal="Run the weekly retro with the coaching model",
        interest="2",
        # A success case L&D counts and cannot name: Rui leaves "L&D may contact me" off.
        case="clear_results",
        result="Our retros end with two owners and a date, every week now",
    ),
    Persona(
        "UINES",
        "Ines Vogel",
        "ines@example.org",
        "Europe/Berlin",
        "UMAYA",
        interest="1",
        case="not_applied",
    ),
    Persona(
        "UJONAS",
        "Jonas Becker",
        "jonas@example.org",
        "Europe/Berlin",
        "UMAYA",
        goal="End every team meeting with one agreed next step",
        interest="3",
    ),
    Persona("UELIF", "Elif Kaya", "elif@example.org", "Europe/Berlin", "UMAYA", interest="2"),
    Persona(
        "UNOAH",
        "Noah Fischer",
        "noah@example.org",
        "Europe/Vienna",
        "UMAYA",
        interest="2",
        case="didnt_stick",
    ),
    Persona(
        "UTOM",
        "Tom Reed",
        "tom@example.org",
        "America/New_York",
        "USAM",
        goal="Give feedback within a day, with one concrete example",
        interest="3",
    ),
    Persona(
        "UPRIYA",
        "Priya Nair",
        "priya@example.org",
        "America/Chicago",
        "USAM",
        goal="Prepare my walk-away point before every vendor call",
        interest="3",
        case="didnt_stick",
    ),
    Persona(
        "ULEO",
        "Leo Brooks",
        "leo@example.org",
        "America/Los_Angeles",
        "USAM",
        interest="2",
        case="didnt_stick",
    ),
    Persona(
        "UAIKO",
        "Aiko Sato",
        "aiko@example.org",
        "Asia/Tokyo",
        "UKENJI",
        goal="Coach, don't tell: let the team find the first answer",
        interest="3",
        locale="ja-JP",
    ),
    Persona(
        "UHANA",
        "Hana Mori",
        "hana@example.org",
        "Asia/Tokyo",
        "UKENJI",
        interest="1",
        case="not_applied",
        result="A hiring freeze left no team meeting to try it in yet",
        consent=True,
    ),
    Persona(
        "UBEN",
        "Ben Clarke",
        "ben@example.org",
        "Australia/Sydney",
        "UKENJI",
        goal="Open every negotiation with the other side's interests",
        interest="2",
    ),
]
BY_ID = {p.slack_id: p for p in PEOPLE}
CASE_ACTIONS = {answer.value: action for answer, action in CASE_BUTTONS}


# -- terminal output ----------------------------------------------------------------------


class Out:
    """The transcript: plain when piped or with --fast, coloured on a terminal."""

    def __init__(self, *, color: bool, progress: bool) -> None:
        self.color = color
        self.progress_on = progress
        self.lines: list[str] = []
        self._progress_shown = False

    def _c(self, code: str, text: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.color else text

    def bold(self, text: str) -> str:
        return self._c("1", text)

    def dim(self, text: str) -> str:
        return self._c("2", text)

    def cyan(self, text: str) -> str:
        return self._c("36", text)

    def green(self, text: str) -> str:
        return self._c("32", text)

    def yellow(self, text: str) -> str:
        return self._c("33", text)

    def magenta(self, text: str) -> str:
        return self._c("35", text)

    def say(self, text: str = "") -> None:
        self._clear_progress()
        self.lines.append(_strip_ansi(text))
        print(text, flush=True)

    def progress(self, text: str) -> None:
        if not self.progress_on:
            return
        sys.stderr.write("\r\033[2K" + self.dim(text))
        sys.stderr.flush()
        self._progress_shown = True

    def _clear_progress(self) -> None:
        if self._progress_shown:
            sys.stderr.write("\r\033[2K")
            sys.stderr.flush()
            self._progress_shown = False


def _strip_ansi(text: str) -> str:
    return re.sub(r"\033\[[0-9;]*m", "", text)


def mrkdwn_to_text(
    text: str, names: dict[str, str], bold: Callable[[re.Match[str]], str] = lambda m: m.group(1)
) -> str:
    """Slack mrkdwn as a person reads it: mentions as names, links as their text."""
    text = re.sub(r"<@([UW][A-Z0-9]+)>", lambda m: "@" + names.get(m.group(1), m.group(1)), text)
    text = re.sub(r"<(https?://[^|>]+)\|([^>]+)>", r"\2", text)
    text = re.sub(r"<(https?://[^>]+)>", r"\1", text)
    text = re.sub(r"(?<![\w*])\*([^*\n]+)\*(?![\w*])", bold, text)
    text = re.sub(r"(?<![\w_])_([^_\n]+)_(?![\w_])", r"\1", text)
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return text


def render_blocks(blocks: list[dict[str, Any]], names: dict[str, str], out: Out) -> list[str]:
    """Block Kit as text: sections, context in grey, buttons as [ Label ]."""
    lines: list[str] = []

    def strong(match: re.Match[str]) -> str:
        return out.bold(match.group(1))

    for block in blocks:
        kind = block.get("type")
        if kind == "header":
            lines.append(out.bold(block["text"]["text"]))
        elif kind == "section":
            if block.get("text"):
                lines += mrkdwn_to_text(block["text"]["text"], names, strong).splitlines()
            for f in block.get("fields") or []:
                lines.append(mrkdwn_to_text(f["text"], names, strong))
            if block.get("accessory", {}).get("type") == "button":
                lines.append(out.cyan(f"[ {block['accessory']['text']['text']} ]"))
        elif kind == "context":
            text = " ".join(
                e.get("text", "") for e in block.get("elements", []) if e.get("type") != "image"
            )
            lines += [out.dim(line) for line in mrkdwn_to_text(text, names).splitlines()]
        elif kind == "actions":
            labels = []
            for element in block.get("elements", []):
                if element.get("type") == "button":
                    labels.append(f"[ {element['text']['text']} ]")
                elif element.get("options"):
                    labels += [f"( ) {o['text']['text']}" for o in element["options"]]
            lines.append(out.cyan("  ".join(labels)))
        elif kind == "divider":
            lines.append(out.dim("-" * 40))
    return lines


# -- the six weeks ----------------------------------------------------------------------------


class VirtualClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Demo:
    out: Out
    folder: Path
    fast: bool
    fake: FakeSlack = field(init=False)
    clock: VirtualClock = field(init=False)
    seen: int = 0
    snoozed: set[str] = field(default_factory=set)
    pending: list[tuple[datetime, int, Persona, dict[str, Any], str]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    # Coachbot-initiated DMs per (person, local day): one message a day, at most.
    dms_per_day: dict[tuple[str, date], int] = field(default_factory=dict)

    def names(self) -> dict[str, str]:
        return {p.slack_id: p.name.split()[0] for p in PEOPLE} | {"U0COACHBOT": "Coachbot"}

    # The simulated people's decisions, one per kind of DM.
    def react(self, person: Persona, message: dict[str, Any], kind: str | None) -> None:
        slack, out = self.slack, self.out
        first = f"{self.clock().astimezone(ZoneInfo(person.tz)):%H:%M} {person.name.split()[0]}"
        actions = buttons(message)
        now = self.clock()
        local_day = now.astimezone(ZoneInfo(person.tz)).date()
        if kind == "goal_invite":
            if person.interest:
                slack.click(
                    message,
                    Action.INTEREST,
                    user=person.slack_id,
                    value=f"{_nudge_id(message)}:{person.interest}",
                )
                level = {"1": "A little", "2": "Somewhat", "3": "A lot"}[person.interest]
                out.say(f"      {first} answers: matters to me {out.bold(level.lower())}")
            if person.goal and person.slack_id in ("UADA", "UTOM", "UBEN"):
                slack.command("/goal", person.goal, user=person.slack_id)
                out.say(f"      {first} types {out.bold('/goal ' + person.goal)}")
                self._bump("goals")
            elif person.goal:
                slack.click(message, Action.SHARE_GOAL, user=person.slack_id)
                slack.submit(
                    slack.opened_view(),
                    {
                        Block.GOAL_TEXT: text_value(person.goal),
                        Block.GOAL_MEASURE: text_value("My manager and I look at it together"),
                        Block.SHARE: checkbox_value([SHARE_OPTION_VALUE]),
                    },
                    user=person.slack_id,
                )
                share = _label(actions, Action.SHARE_GOAL)
                out.say(f"      {first} clicks {share} and writes: {person.goal}")
                self._bump("goals")
        elif kind in ("pre_training", "reminder") and Action.LOG_CONVERSATION in actions:
            report = self._learner_of(message)
            if person.slack_id == "USAM" and report == "UTOM" and "USAM-pre" not in self.snoozed:
                self.snoozed.add("USAM-pre")
                slack.click(message, Action.REMIND_TOMORROW, user=person.slack_id)
                out.say(
                    f"      {first} clicks {out.yellow(_label(actions, Action.REMIND_TOMORROW))}"
                )
                self._bump("snoozes")
                return
            if person.slack_id == "UKENJI" and report == "UHANA":
                self.fake_thread_reply(
                    person, message, "Hana and I agreed this one can wait for next quarter."
                )
                slack.click(message, Action.NOT_NEEDED, user=person.slack_id)
                slack.submit(
                    slack.opened_view(),
                    {Block.REASON: text_value("Postponed to next quarter")},
                    user=person.slack_id,
                )
                not_needed = _label(actions, Action.NOT_NEEDED)
                out.say(f"      {first} clicks {not_needed}: Postponed to next quarter")
                return
            if person.slack_id == "UKENJI" and report == "UBEN" and kind != "reminder":
                out.say(f"      {first} is busy today and does not answer")
                return
            slack.click(message, Action.LOG_CONVERSATION, user=person.slack_id)
            what = BY_ID[report].goal or "Get the basics right"
            slack.submit(
                slack.opened_view(),
                {
                    Block.WHAT: text_value(what),
                    Block.WHY: text_value("The team needs it this quarter"),
                    Block.HOW: text_value("Try it in the next team meeting; I'll give feedback"),
                    Block.ORG_IMPORTANCE: radio_value("3" if report != "URUI" else "1"),
                    Block.CHECKIN_ON: date_value(local_day + timedelta(days=14)),
                },
                user=person.slack_id,
            )
            out.say(
                f"      {first} clicks {out.green(_label(actions, Action.LOG_CONVERSATION))}, "
                f"agrees on what, why and how"
            )
            self._bump("logged")
        elif kind == "debrief" and Action.LOG_CONVERSATION in actions:
            slack.click(message, Action.LOG_CONVERSATION, user=person.slack_id)
            slack.submit(
                slack.opened_view(),
                {
                    Block.TAKEAWAYS: text_value("Listening before advising"),
                    Block.FIRST_APPLICATION: text_value("Monday's 1:1"),
                    Block.SUPPORT: text_value("I'll sit in once and give feedback"),
                    Block.CHECKIN_ON: date_value(local_day + timedelta(days=21)),
                },
                user=person.slack_id,
            )
            out.say(f"      {first} logs the debrief: takeaways, first try, support")
            self._bump("logged")
        elif kind in ("follow_up", "learner_follow_up"):
            self._answer_follow_up(person, message, first)

    def _answer_follow_up(self, person: Persona, message: dict[str, Any], first: str) -> None:
        """The Success Case question, about each goal (or the training) of each learner the
        message asks about; a learner with something to tell says what came of it."""
        slack, out = self.slack, self.out
        # The DM is updated in place as each subject is answered: read it as it arrived.
        message = copy.deepcopy(message)
        asked = [
            element["value"]
            for block in message.get("blocks") or []
            for element in block.get("elements") or []
            if element.get("action_id") == Action.CASE_CLEAR_RESULTS
        ]
        for value in dict.fromkeys(asked):
            learner = BY_ID[self._learner_of_nudge(int(value.split(":")[0]))]
            answer = learner.case
            if person is not learner and learner.slack_id == "UPRIYA":
                answer = "no_clear_results"  # manager and learner do not always agree
            action = CASE_ACTIONS[answer]
            slack.click(message, action, user=person.slack_id, value=value)
            about = "" if person is learner else f" about {learner.name.split()[0]}"
            out.say(f"      {first} answers{about}: {out.green(_label(buttons(message), action))}")
            self._bump("follow-up answers")
            if person is learner and (learner.result or learner.consent):
                consent = [CONSENT_OPTION_VALUE] if learner.consent else []
                slack.submit(
                    slack.opened_view(),
                    {
                        Block.RESULT: text_value(learner.result or ""),
                        Block.EVIDENCE: text_value(learner.evidence or ""),
                        Block.CONSENT: checkbox_value(consent),
                    },
                    user=person.slack_id,
                )
                told = f'"{learner.result}"' if learner.result else "nothing more"
                may = "ticks" if learner.consent else "leaves off"
                out.say(f"      {first} adds {told}, and {may} {out.bold('L&D may contact me')}")

    def fake_thread_reply(self, person: Persona, message: dict[str, Any], text: str) -> None:
        ts = f"{self.clock().timestamp():.6f}"
        self.fake.add_message(
            message["channel"], text, user=person.slack_id, ts=ts, thread_ts=message["ts"]
        )
        self.slack.event(
            {
                "type": "message",
                "channel_type": "im",
                "channel": message["channel"],
                "user": person.slack_id,
                "text": text,
                "ts": ts,
                "thread_ts": message["ts"],
            }
        )
        self.out.say(
            f'      {person.name.split()[0]} replies in the thread: "{text}" '
            f"{self.out.dim('(recorded as a note, :memo: reaction)')}"
        )
        self._bump("notes")

    def _bump(self, key: str) -> None:
        self.counts[key] = self.counts.get(key, 0) + 1

    def _learner_of(self, message: dict[str, Any]) -> str:
        return self._learner_of_nudge(_nudge_id(message))

    def _learner_of_nudge(self, nudge_id: int | None) -> str:
        with self.db.session() as session:
            from storage.models import Enrollment, Person

            nudge = session.get(Nudge, nudge_id)
            enrollment = session.get(Enrollment, nudge.enrollment_id) if nudge else None
            learner = session.get(Person, enrollment.learner_id) if enrollment else None
            return learner.slack_id if learner and learner.slack_id else ""

    def kind_of(self, message: dict[str, Any]) -> str | None:
        nudge_id = _nudge_id(message)
        if nudge_id is None:
            return None
        with self.db.session() as session:
            nudge = session.get(Nudge, nudge_id)
            return nudge.kind if nudge else None

    # -- running it -----------------------------------------------------------------------

    def run(self) -> int:
        started = time.monotonic()
        self.folder.mkdir(parents=True, exist_ok=True)
        db_path = self.folder / "coachbot-demo.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db_path}{suffix}").unlink(missing_ok=True)
        start = _next_monday(datetime.now(UTC))
        self.start = start
        self.clock = VirtualClock(start.replace(hour=7, minute=0))
        with FakeSlack() as fake:
            self.fake = fake
            for p in PEOPLE:
                fake.add_user(
                    p.slack_id,
                    email=p.email,
                    real_name=p.name,
                    name=p.name.split()[0].lower(),
                    tz=p.tz,
                    locale=p.locale,
                )
            fake.add_usergroup("S0LD", "learning", ["ULEA"])
            settings = Settings(
                slack_bot_token="xoxb-demo",
                slack_signing_secret=SIGNING_SECRET,
                slack_api_url=fake.api_url,
                database_url=f"sqlite:///{db_path}",
                enrollment_webhook_token=WEBHOOK_TOKEN,
                ld_leads=frozenset({"ULEA"}),
                default_timezone="Europe/London",
            )
            self.settings = settings
            self.db = Database(settings.database_url)
            self.db.upgrade()
            with self._app(settings) as url:
                # A person looks for a moment, after a command or click, for the modal it opens.
                self.slack = SlackDriver(
                    url,
                    SIGNING_SECRET,
                    fake,
                    webhook_token=WEBHOOK_TOKEN,
                    clock=self.clock,
                    settle=0.5,
                )
                self._intro(start)
                self._enroll(start)
                self._weeks(start)
                self._finish(started)
            self.db.dispose()
        return 0

    @staticmethod
    def _dummy() -> None:
        return None

    def _app(self, settings: Settings) -> Any:
        from contextlib import contextmanager

        from bot.runtime import make_dispatcher
        from bot.slack.app import AckFirstExecutor, create_app
        from bot.slack.client import make_client
        from bot.web import create_web, make_server

        @contextmanager
        def serving() -> Iterator[str]:
            client = make_client(settings.slack_bot_token, settings.slack_api_url)
            app, services = create_app(settings, self.db, client, clock=self.clock)
            self.services = services
            executor = app.listener_runner.listener_executor
            assert isinstance(executor, AckFirstExecutor)
            self.listeners = executor
            # The terminal's summary is L&D's, in LD_LOCALE like the digest in a channel.
            self.prompts = services.catalogues.for_locale(settings.ld_locale)
            self.dispatcher = make_dispatcher(
                settings, self.db, client, services.catalogues, clock=self.clock
            )
            self.digest: Callable[[], Any] = self._dummy
            try:
                from bot.runtime import digest_job

                self.digest = digest_job(
                    settings, self.db, client, services.catalogues, clock=self.clock
                ).func
            except ImportError:
                pass
            server = make_server(create_web(settings, app, services, http=True), port=0)
            try:
                yield f"http://127.0.0.1:{server.effective_port}"
            finally:
                server.close()

        return serving()

    def _intro(self, start: datetime) -> None:
        out = self.out
        out.say(
            out.bold("Coachbot demo")
            + out.dim(" · a simulated workspace, the real app, a virtual clock, no Slack account")
        )
        out.say(
            out.dim(
                f"{len(PEOPLE)} people in 7 time zones: 1 L&D lead, 3 managers, "
                f"9 learners. Six weeks from Monday {start:%d %b %Y}."
            )
        )
        out.say(
            out.dim(
                "Each person reads Coachbot in their Slack language: Maya (a manager) has Slack "
                "in French (fr-FR), Aiko (a learner) in Japanese (ja-JP), Lea in British "
                "English (en-GB), everyone else in US English."
            )
        )
        out.say()

    def _enroll(self, start: datetime) -> None:
        out, _fake, slack = self.out, self.fake, self.slack
        from bot.core.directory import import_people
        from bot.slack.directory_sync import sync_from_slack

        out.say(out.magenta(f"== {self._day_label(self.clock())}: people and enrollments =="))
        people_csv = "email,manager_email,name\n" + "\n".join(
            f"{p.email},{BY_ID[p.manager].email if p.manager else ''},{p.name}" for p in PEOPLE
        )
        report = import_people(
            self.db,
            people_csv,
            rules=self.settings.rules,
            default_tz=self.settings.default_timezone,
            clock=self.clock,
        )
        out.say(f"  coachbot import people: {report.lines('people')[0]}")
        seen = sync_from_slack(
            self.db,
            self.services.client,
            rules=self.settings.rules,
            default_tz=self.settings.default_timezone,
            clock=self.clock,
        )
        out.say(f"  directory sync (users.list): {seen} people, time zones from Slack")
        d = start.date()
        coaching = (d + timedelta(days=8), d + timedelta(days=9))
        feedback = (d + timedelta(days=14), d + timedelta(days=14))
        negotiation = (d + timedelta(days=3), d + timedelta(days=4))
        team = ("UADA", "URUI", "UJONAS", "UELIF", "UNOAH")  # Maya's team goes together
        for p in (*team, "UTOM", "UAIKO", "UHANA"):
            answer = slack.webhook(
                {
                    "external_id": f"lms-{p}",
                    "learner_email": BY_ID[p].email,
                    "training": "Coaching Skills",
                    "starts_on": coaching[0].isoformat(),
                    "ends_on": coaching[1].isoformat(),
                }
            ).json()
            assert answer and answer.get("result") == "created", answer
        out.say(
            f"  LMS webhook: 8 learners in {out.bold('Coaching Skills')}, "
            f"{coaching[0]:%a %d %b}-{coaching[1]:%a %d %b}; five of them are Maya's team, "
            "so each of her prompts comes as one message a day"
        )
        self._holiday_beat(start)
        slack.command("/enroll", user="UMAYA")
        answer = slack.submit(
            slack.opened_view(),
            {
                Block.LEARNERS: users_value(["UINES"]),
                Block.TRAINING: text_value("Giving Feedback"),
                Block.STARTS_ON: date_value(feedback[0]),
                Block.ENDS_ON: date_value(feedback[1]),
                Block.MANAGER: user_value(None),
            },
            user="UMAYA",
        ).json()
        assert answer and answer.get("response_action") == "update", answer
        slack.command("/enroll", user="USAM")
        slack.submit(
            slack.opened_view(),
            {
                Block.LEARNERS: users_value(["ULEO"]),
                Block.TRAINING: text_value("Giving Feedback"),
                Block.STARTS_ON: date_value(feedback[0]),
                Block.ENDS_ON: date_value(feedback[1]),
                Block.MANAGER: user_value(None),
            },
            user="USAM",
        )
        out.say(
            f"  /enroll modal: Maya enrolls Ines, Sam enrolls Leo in "
            f"{out.bold('Giving Feedback')}, {feedback[0]:%a %d %b}"
        )
        step = {
            "training": "Giving Feedback",
            "starts_on": feedback[0].isoformat(),
            "ends_on": feedback[1].isoformat(),
            "enrolled_by": {"id": "UKENJI", "secret": "demo"},  # "Person who used this workflow"
        }
        run = slack.function_step(Function.ENROLL_LEARNER, {**step, "learner": "UHANA"})
        assert run["state"] == "completed", run
        out.say(
            f"  Workflow Builder step {out.bold('Enroll a learner')}: Kenji's onboarding workflow "
            f"enrolls Hana in Giving Feedback (enrollment {run['outputs']['enrollment_id']})"
        )
        run = slack.function_step(Function.ENROLL_LEARNER, {**step, "learner": "ULEO"})
        assert run["state"] == "failed", run
        out.say(out.dim(f"    and refuses Leo, one of Sam's reports: {run['error']}"))
        from bot.slack.lookup import make_intake

        csv_rows = "learner_email,training,starts_on,ends_on\n" + "\n".join(
            f"{BY_ID[p].email},Negotiation Basics,{negotiation[0]},{negotiation[1]}"
            for p in ("UPRIYA", "UBEN")
        )
        csv_rows += "\nnobody@example.org,Negotiation Basics,2026-13-01,2026-12-02"
        intake = make_intake(self.settings, self.db, self.services.client, clock=self.clock)
        result = intake.import_csv(csv_rows)
        out.say(f"  coachbot import enrollments: {result.lines('enrollments')[0]}")
        for line in result.lines("enrollments")[1:]:
            out.say(out.dim(f"  {line.strip()}"))
        out.say(
            f"  {out.bold('Negotiation Basics')} starts {negotiation[0]:%a %d %b}: "
            f"a late enrollment, so its goal invites go out at once"
        )
        out.say()

    def _holiday_beat(self, start: datetime) -> None:
        """A short training that ends the working day before a public holiday of its
        manager's place: the debrief moves past the holiday."""
        from scheduler.calendar import calendar, country_of_zone
        from scheduler.planning import working_days_after

        rules = self.settings.rules
        # Learners without a goal of their own: the beat changes no goal the demo counts.
        for learner in ("ULEO", "UHANA", "UINES", "UELIF"):
            manager = BY_ID[BY_ID[learner].manager or ""]
            country = country_of_zone(manager.tz)
            if not country:
                continue
            days_off = calendar(country)
            place = rules.for_place(None, manager.tz)
            for offset in range(12, 33):
                day = (start + timedelta(days=offset)).date()
                if day.weekday() >= 5 or day not in days_off:
                    continue
                end = day - timedelta(days=1)
                while end.weekday() >= 5 or end in days_off:
                    end -= timedelta(days=1)
                naive = working_days_after(end, rules.post_training_days, rules)  # weekends only
                moved = working_days_after(end, rules.post_training_days, place)
                answer = self.slack.webhook(
                    {
                        "external_id": f"lms-holiday-{learner}",
                        "learner_email": BY_ID[learner].email,
                        "training": "Time to Think",
                        "starts_on": end.isoformat(),
                        "ends_on": end.isoformat(),
                    }
                ).json()
                assert answer and answer.get("result") == "created", answer
                name = days_off.get(day) if hasattr(days_off, "get") else "a public holiday"
                self.out.say(
                    f"  {self.out.bold('Time to Think')} for {BY_ID[learner].name.split()[0]}"
                    f" ends {end:%a %d %b}; {name} ({day:%a %d %b}) is a public holiday where "
                    f"{manager.name.split()[0]} works ({country}), so the debrief moves from "
                    f"{naive:%a %d %b} to {moved:%a %d %b}"
                )
                return

    def most_dms_in_a_day(self) -> tuple[int, str, str]:
        """The most Coachbot-initiated DMs one person got on one local day: (count, who, day)."""
        if not self.dms_per_day:
            return 0, "", ""
        (name, day), count = max(self.dms_per_day.items(), key=lambda item: item[1])
        return count, name, f"{day:%a %d %b}"

    def _weeks(self, start: datetime) -> None:
        end = start + timedelta(weeks=WEEKS)
        day_shown: date | None = None
        steps = int((end - self.clock()) / STEP)
        for i in range(steps):
            # What the people's clicks set going after Slack was answered (a shared goal on
            # its way to the manager) ends before the clock moves: at the speed of the virtual
            # clock it would otherwise outlive its dispatch lease, and go out twice.
            self.listeners.idle(timeout=10)
            self.clock.now += STEP
            now = self.clock()
            self.out.progress(f"  simulating {now:%a %d %b %H:%M} UTC  [{i + 1}/{steps}]")
            self.dispatcher.tick()
            self.digest()
            due = sorted(r for r in self.pending if r[0] <= now)
            self.pending = [r for r in self.pending if r[0] > now]
            messages = self._new_messages()
            if (messages or due) and now.date() != day_shown:
                self.out.say(self.out.magenta(f"== {self._day_label(now)} =="))
                day_shown = now.date()
            for message in messages:
                self._show(message)
            for _when, _n, person, message, kind in due:
                self.react(person, message, kind)
                self._drain_responses()

    def _new_messages(self) -> list[dict[str, Any]]:
        messages = self.fake.messages[self.seen :]
        self.seen = len(self.fake.messages)
        return [m for m in messages if not m.get("user") or m.get("user") == "U0COACHBOT"]

    def _show(self, message: dict[str, Any]) -> None:
        out = self.out
        channel = message.get("channel", "")
        recipient = next((p for p in PEOPLE if self.fake.dm_channel(p.slack_id) == channel), None)
        kind = self.kind_of(message)
        if recipient is None:
            who = "#learning (digest)" if channel.startswith("C") else channel
            out.say(f"  {out.bold('Coachbot')} → {who}")
        else:
            local = self.clock().astimezone(ZoneInfo(recipient.tz))
            label = (
                f"{recipient.name.split()[0]} ({recipient.role}, {local:%H:%M} {recipient.tz}, "
                f"{recipient.locale})"
            )
            out.say(f"  {out.bold('DM')} → {label}" + (out.dim(f"  [{kind}]") if kind else ""))
        for line in render_blocks(message.get("blocks") or [], self.names(), out) or [
            message.get("text", "")
        ]:
            out.say(f"    │ {line}")
        self._bump("DMs" if recipient else "digests")
        if recipient is not None and (message.get("metadata") or {}).get("event_type") == (
            NUDGE_EVENT_TYPE
        ):
            key = (recipient.name, local.date())
            self.dms_per_day[key] = self.dms_per_day.get(key, 0) + 1
        if recipient is not None and kind:
            when = self.clock() + recipient.answers_after
            self.pending.append((when, len(self.pending), recipient, message, kind))

    def _drain_responses(self) -> None:
        # Messages the reactions caused (a goal shared with a manager) appear in order.
        for message in self._new_messages():
            self._show(message)

    def _day_label(self, moment: datetime) -> str:
        return moment.strftime("%a %d %b %Y")

    def _finish(self, started: float) -> None:
        out = self.out
        out.say()
        out.say(out.magenta("== The L&D summary =="))
        files = self._report()
        out.say()
        counts = ", ".join(f"{k}: {v}" for k, v in sorted(self.counts.items()))
        out.say(out.bold("What happened: ") + counts)
        most, who, day = self.most_dms_in_a_day()
        out.say(
            out.bold("One message a day: ")
            + f"the most DMs anyone got from Coachbot on one local day was {most}"
            + (f" ({who}, {day})" if who else "")
        )
        out.say(out.bold("Files written:"))
        for label, path in files:
            out.say(f"  {label:<10} {path}")
        out.say(
            out.dim(
                f"Done in {time.monotonic() - started:.1f} s of real time; "
                f"every Slack call went to the fake on 127.0.0.1:{self.fake.port}."
            )
        )

    def _report(self) -> list[tuple[str, Path]]:
        files: list[tuple[str, Path]] = [("database", self.folder / "coachbot-demo.db")]
        try:
            from bot.core.reporting import build_csv, build_summary, chart_png, summary_text
            from storage.metrics import week_of
        except ImportError:
            self.out.say("  (reporting is not available in this build)")
            return files
        now = self.clock()
        tz = self.settings.default_timezone
        # The week the big training ran (talks before, goals, debriefs), then the last full
        # week (the follow-ups): what a lead would ask for on those Mondays.
        weeks = [week_of(self.start + timedelta(days=8), tz), week_of(now - timedelta(days=7), tz)]
        for n, week in enumerate(weeks):
            summary = build_summary(self.db, self.settings, week, now)
            for line in summary_text(summary, self.prompts).splitlines():
                self.out.say("  " + mrkdwn_to_text(line, self.names()))
            table = self.folder / f"enrollments-{week.label}.csv"
            table.write_text(build_csv(self.db, self.settings, week, now), encoding="utf-8")
            files.append(("CSV", table))
            if n == len(weeks) - 1:
                chart = self.folder / f"training-summary-{week.label}.png"
                chart.write_bytes(chart_png(summary, self.prompts))
                files.append(("chart", chart))
            self.out.say()
        return files


def _label(actions: dict[str, Any], action_id: str) -> str:
    """The button as its reader saw it, in their language: `[ Noter notre échange ]`."""
    return f"[ {actions[action_id]['text']['text']} ]"


def _nudge_id(message: dict[str, Any]) -> int | None:
    payload = (message.get("metadata") or {}).get("event_payload") or {}
    value = payload.get("nudge_id")
    return int(value) if isinstance(value, int | str) and str(value).isdigit() else None


def _next_monday(now: datetime) -> datetime:
    day = now.date() + timedelta(days=(7 - now.weekday()) % 7 or 7)
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def run_demo(*, fast: bool, out: Path) -> int:
    color = not fast and sys.stdout.isatty() and "NO_COLOR" not in os.environ
    printer = Out(color=color, progress=not fast and sys.stderr.isatty())
    demo = Demo(out=printer, folder=out, fast=fast)
    return demo.run()
