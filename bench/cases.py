"""The measurements. Each takes a database kind and the sizes, and returns table rows."""

from __future__ import annotations

import http.client
import io
import json
import multiprocessing as mp
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from bench.common import (
    ROOT,
    SIGNING_SECRET,
    FakeSlackProcess,
    Row,
    analyze,
    database,
    email,
    free_port,
    insert_rows,
    median,
    percentile,
    rss_mb,
    seed_people,
    settings_for,
    slack_id,
    timed,
)
from bot.core.enrollment import EnrollmentInput, Intake
from bot.core.reporting import build_summary
from bot.prompts import load_catalogues
from bot.runtime import dispatch_client, make_dispatcher
from bot.sim.driver import SlackDriver
from bot.sim.fakeslack import PostLimits
from bot.slack.ids import Action
from bot.slack.lookup import make_intake
from scheduler.jobs import Job, build_scheduler
from scheduler.nudges import nudge_key
from storage.db import Database, is_sqlite
from storage.metrics import week_of
from storage.models import Nudge

# Notes for RESULTS.md (query plans, profiles), filled in as the run goes.
NOTES: list[str] = []


@dataclass(frozen=True)
class Sizes:
    people: int
    enrollments: int
    nudges: int
    dispatch: int
    per_row_sample: int
    aps_jobs: int
    ack_requests: int
    # The Monday rush: this many nudges due at once against a fake Slack that enforces a
    # workspace ceiling of `rush_per_minute` posts (see monday_rush_rows for the scaling).
    rush: int = 10_000
    rush_per_minute: int = 12_000
    # The day's message: this many due nudges, alone or bundled over this many managers.
    bundled: int = 10_000
    bundle_managers: int = 2_000

    @classmethod
    def full(cls) -> Sizes:
        return cls(20_000, 100_000, 1_000_000, 10_000, 500, 50_000, 1_000)

    @classmethod
    def quick(cls) -> Sizes:
        return cls(2_000, 5_000, 50_000, 500, 300, 1_000, 200, 1_000, 6_000, 500, 100)


def _n(x: float) -> str:
    return f"{x:,.0f}"


# -- import, tick, summary, ack and memory on one big database --------------------------------


def enrollments_csv(sizes: Sizes) -> str:
    """`sizes.enrollments` rows over `sizes.people` learners, 50 trainings, start dates from
    two months ago to ten months ahead; 80 % with an LMS id, half naming the manager."""
    rng = random.Random(7)
    out = io.StringIO()
    out.write("learner_email,training,starts_on,ends_on,manager_email,external_id\n")
    today = date.today()
    for i in range(sizes.enrollments):
        learner = i % sizes.people
        course = (i // sizes.people) * 10 + i % 10
        starts = today + timedelta(days=rng.randint(-60, 300))
        ends = starts + timedelta(days=rng.randint(0, 2))
        manager = email(learner // 8) if learner and i % 2 else ""
        external = f"lms-{i}" if i % 5 else ""
        out.write(f"{email(learner)},Course {course},{starts},{ends},{manager},{external}\n")
    return out.getvalue()


def big_scenario(kind: str, sizes: Sizes) -> list[Row]:
    rows: list[Row] = []
    label = "SQLite" if kind == "sqlite" else "PostgreSQL"
    with database(kind) as db, FakeSlackProcess(users=sizes.people) as fake:
        settings = settings_for(db, fake.api_url)
        seed_people(db, sizes.people)
        text = enrollments_csv(sizes)
        intake = make_intake(settings, db, None)

        # The per-row path (what the webhook does) on a sample, for comparison.
        sample = _per_row_sample(db, intake, sizes)
        rows.append(
            Row(
                f"import, one transaction per row ({sizes.per_row_sample:,} rows)",
                label,
                f"{_n(sample)} rows/s",
            )
        )
        t0 = time.perf_counter()
        report = intake.import_csv(text)
        seconds = time.perf_counter() - t0
        assert not report.errors, report.errors[:3]
        rate = sizes.enrollments / seconds
        with db.engine.connect() as conn:
            n_nudges = conn.exec_driver_sql("SELECT count(*) FROM nudge").scalar_one()
        rows.append(
            Row(
                f"import {sizes.enrollments:,} enrollments, {sizes.people:,} people (CSV)",
                label,
                f"{_n(rate)} rows/s ({seconds:.1f} s, {n_nudges:,} nudges planned)",
                ">= 10,000 rows/s",
                rate >= 10_000,
            )
        )
        import_seconds = seconds
        topped = top_up(db, sizes)
        analyze(db)
        rows += tick_rows(db, settings, label, topped)
        rows += summary_rows(db, settings, label, sizes)
        rows += process_rows(db, fake, label, sizes)
        rows.append(
            Row(
                "rows: time to plan 5 nudges x enrollments (= the import)",
                label,
                f"{import_seconds:.1f} s for {n_nudges:,} nudge rows",
            )
        )
    return rows


def _per_row_sample(db: Database, intake: Intake, sizes: Sizes) -> float:
    """enroll_one per row on enrollments not in the CSV, then removed again."""
    today = date.today() + timedelta(days=30)
    inputs = [
        EnrollmentInput(
            learner=email(i % sizes.people),
            training=f"Sample {i // sizes.people}",
            starts_on=today,
            ends_on=today,
            external_id=f"sample-{i}",
            source="csv",
        )
        for i in range(sizes.per_row_sample)
    ]
    t0 = time.perf_counter()
    for data in inputs:
        intake.enroll_one(data)
    seconds = time.perf_counter() - t0
    with db.engine.begin() as conn:
        conn.execute(
            sa.text(
                "DELETE FROM nudge WHERE enrollment_id IN "
                "(SELECT id FROM enrollment WHERE external_id LIKE :p)"
            ),
            {"p": "sample-%"},
        )
        conn.execute(sa.text("DELETE FROM enrollment WHERE external_id LIKE :p"), {"p": "sample-%"})
        conn.execute(sa.text("DELETE FROM training WHERE name LIKE :p"), {"p": "Sample %"})
    return sizes.per_row_sample / seconds


def top_up(db: Database, sizes: Sizes) -> dict[str, int]:
    """Bring the nudge table to `sizes.nudges` rows: history for the summary (sent and answered
    prompts over eight weeks, with their records and some goals) and pending future rows."""
    rng = random.Random(11)
    now = datetime.now(UTC)
    with db.engine.connect() as conn:
        have = conn.exec_driver_sql("SELECT count(*) FROM nudge").scalar_one()
        lo, hi = conn.execute(sa.text("SELECT min(id), max(id) FROM enrollment")).one()
        learners = dict(conn.exec_driver_sql("SELECT id, learner_id FROM enrollment").all())
    extra = max(0, sizes.nudges - have)
    nudges, records = [], []
    for i in range(extra):
        eid = rng.randint(lo, hi)
        kind = ("pre_training", "debrief", "follow_up")[i % 3]
        roll = rng.random()
        row = {
            "id": None,
            "enrollment_id": eid,
            "kind": kind,
            "recipient_id": learners[eid],
            "parent_id": None,
            "attempts": 0,
            "deliveries": 0,
            "ooo_deferrals": 0,
            "lease_until": None,
            "channel": None,
            "ts": None,
            "sent_at": None,
            "reason": None,
            "idempotency_key": f"bench.{i}",
            "created_at": now,
            "updated_at": now,
        }
        if roll < 0.6:
            row.update(status="pending", due_at=now + timedelta(minutes=rng.randint(10, 400_000)))
        else:
            sent = now - timedelta(minutes=rng.randint(10, 8 * 7 * 24 * 60))
            row.update(
                status="sent" if roll < 0.85 else "answered",
                due_at=sent,
                sent_at=sent,
                channel="D" + slack_id(learners[eid])[1:],
                ts=f"{sent.timestamp():.6f}",
            )
        nudges.append(row)
    with db.engine.connect() as conn:
        start = (conn.exec_driver_sql("SELECT max(id) FROM nudge").scalar_one() or 0) + 1
    for offset, row in enumerate(nudges):
        row["id"] = start + offset
        if row["status"] == "answered":
            answered = row["sent_at"] + timedelta(hours=rng.randint(1, 96))
            records.append(
                {
                    "nudge_id": row["id"],
                    "enrollment_id": row["enrollment_id"],
                    "kind": row["kind"],
                    "answered_by": row["recipient_id"],
                    "answered_at": min(answered, now),
                    "outcome": "logged"
                    if row["kind"] != "follow_up"
                    else rng.choice(("applied", "partly", "not_yet")),
                    "quadrant": rng.choice(("sweet_spot", "uphill", "gift", "waste"))
                    if row["kind"] == "pre_training"
                    else None,
                    "org_importance": 2,
                    "note": "bench",
                }
            )
    insert_rows(db, "nudge", nudges)
    insert_rows(db, "conversationrecord", records)
    goals = [
        {
            "enrollment_id": eid,
            "learner_id": learners[eid],
            "text": "Apply it",
            "measure": None,
            "shared": True,
            "shared_at": now - timedelta(days=rng.randint(0, 50)),
            "created_at": now,
            "updated_at": now,
        }
        for eid in rng.sample(range(lo, hi + 1), min(hi - lo + 1, sizes.enrollments // 5))
    ]
    insert_rows(db, "goal", goals)
    with db.engine.connect() as conn:
        counts = dict(
            conn.exec_driver_sql(
                "SELECT CASE WHEN status = 'pending' AND due_at > CURRENT_TIMESTAMP "
                "THEN 'pending_future' ELSE status END, count(*) FROM nudge GROUP BY 1"
            ).all()
        )
        counts["total"] = conn.exec_driver_sql("SELECT count(*) FROM nudge").scalar_one()
    return counts


def _due_rows(db: Database, n: int, tag: str, due_at: datetime) -> None:
    with db.engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT id, learner_id FROM enrollment WHERE status = 'enrolled' ORDER BY id LIMIT "
            + str(n)
        ).all()
    now = datetime.now(UTC)
    insert_rows(
        db,
        "nudge",
        [
            {
                "enrollment_id": eid,
                "kind": "goal_invite",
                "recipient_id": learner,
                "due_at": due_at,
                "status": "pending",
                "attempts": 0,
                "deliveries": 0,
                "ooo_deferrals": 0,
                "idempotency_key": f"due.{tag}.{eid}",
                "created_at": now,
                "updated_at": now,
            }
            for eid, learner in rows
        ],
    )


def tick_rows(db: Database, settings: Any, label: str, counts: dict[str, int]) -> list[Row]:
    dispatcher = make_dispatcher(settings, db, dispatch_client(settings), load_catalogues(None))
    now = datetime.now(UTC)
    # Imported enrollments that started recently have late nudges due now; out of the way,
    # so that exactly 100 are due below.
    with db.engine.begin() as conn:
        conn.execute(
            sa.update(Nudge.__table__)  # type: ignore[attr-defined]
            .where(Nudge.__table__.c.status == "pending", Nudge.__table__.c.due_at <= now)  # type: ignore[attr-defined]
            .values(status="skipped", reason="bench: out of the way")
        )
    # The claim alone, five times over 100 fresh due rows among the pending future ones.
    claims = []
    for r in range(5):
        _due_rows(db, 100, f"c{r}", now - timedelta(minutes=1))
        t0 = time.perf_counter()
        got = dispatcher.claim(datetime.now(UTC), 100)
        claims.append(time.perf_counter() - t0)
        assert len(got) == 100, len(got)
        with db.engine.begin() as conn:
            conn.execute(
                sa.update(Nudge.__table__)  # type: ignore[attr-defined]
                .where(Nudge.__table__.c.id.in_([i for i, _ in got]))  # type: ignore[attr-defined]
                .values(status="sent", lease_until=None)
            )
    empty = timed(lambda: dispatcher.claim(datetime.now(UTC), 100), 5)
    _due_rows(db, 100, "tick", now - timedelta(minutes=1))
    t0 = time.perf_counter()
    report = dispatcher.tick()
    whole = time.perf_counter() - t0
    pending = counts.get("pending_future", 0)
    what = f"{counts['total']:,} nudges, {pending:,} pending in the future"
    claim_ms = median(claims) * 1000
    NOTES.append(
        f"### Claim query plan, {label}\n\n{what}.\n\n```\n{explain(db, dispatcher)}\n```\n"
    )
    return [
        Row(
            f"tick: claim 100 due among {what}",
            label,
            f"{claim_ms:.1f} ms (nothing due: {median(empty) * 1000:.1f} ms)",
            "< 10 ms",
            claim_ms < 10,
        ),
        Row(
            "tick: whole tick, claim + send the 100 due DMs (fake Slack, 0 ms)",
            label,
            f"{whole * 1000:.0f} ms, {report.sent} sent",
        ),
    ]


def explain(db: Database, dispatcher: Any) -> str:
    """The plan of the claim the dispatcher runs (PostgreSQL's is run and rolled back)."""
    table = Nudge.__table__  # type: ignore[attr-defined]
    now = datetime.now(UTC)
    if is_sqlite(db.engine):
        claim: Any = (
            sa.select(table.c.id)
            .where(table.c.status == "pending", table.c.due_at <= now)
            .order_by(table.c.due_at, table.c.id)
            .limit(100)
        )
    else:
        claim = dispatcher.claim_statement(now, 100)
    compiled = claim.compile(db.engine)
    sql = str(compiled)
    with db.engine.connect() as conn:
        if is_sqlite(db.engine):
            params = tuple(
                v.replace(tzinfo=None) if isinstance(v, datetime) else v
                for v in (compiled.params[k] for k in compiled.positiontup or ())
            )
            plan = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params).all()
            lines = [f"{r[0]:>3} {r[1]:>3} {r[3]}" for r in plan]
        else:
            trans = conn.begin()
            plan = conn.exec_driver_sql(
                "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + sql, compiled.params
            ).all()
            trans.rollback()
            lines = [r[0] for r in plan]
    return " ".join(sql.split()) + "\n\n" + "\n".join(lines)


def summary_rows(db: Database, settings: Any, label: str, sizes: Sizes) -> list[Row]:
    now = datetime.now(UTC)
    week = week_of(now, "UTC")
    result: dict[str, Any] = {}

    def run() -> None:
        result["s"] = build_summary(db, settings, week, now)

    seconds = timed(run, 3)
    total = result["s"].report.total
    ms = median(seconds) * 1000
    return [
        Row(
            f"weekly summary (build_summary): {sizes.nudges:,} nudges, "
            f"{sizes.enrollments:,} enrollments",
            label,
            f"{ms:.0f} ms (median of 3; {total.enrollments:,} enrollments in the week, "
            f"{total.answers:,} answers)",
            "< 300 ms",
            ms < 300,
        )
    ]


# -- the real process: coachbot run --http -----------------------------------------------------


def _start_bot(
    db: Database, fake: FakeSlackProcess, *, scheduler: bool, workers: int = 1
) -> tuple[Any, str]:
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": db.url,
        "SLACK_BOT_TOKEN": "xoxb-bench-token",
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": fake.api_url,
        "ENROLLMENT_WEBHOOK_TOKEN": "bench-webhook-token",
        "LD_LEADS": "ULEAD",
        "DELIVERY_TIME": "00:00",
        "DELIVERY_END": "23:59",
        "DELIVERY_DAYS": "mon-sun",
        "PYTHONPATH": str(ROOT),
    }
    env.pop("SLACK_APP_TOKEN", None)
    args = [sys.executable, "-m", "bot", "run", "--http", "--port", str(port)]
    if not scheduler:
        args.append("--no-scheduler")
    if workers > 1:
        args += ["--workers", str(workers)]
    log_path = os.path.join(tempfile.gettempdir(), f"coachbot-bench-run-{port}.log")
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            args, env=env, cwd=tempfile.gettempdir(), stdout=log, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2) as answer:
                if answer.status == 200:
                    return proc, url
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("coachbot run did not answer /healthz within 60 s")


def _stop(proc: Any) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def idle_rss(kind: str) -> Row:
    label = "SQLite" if kind == "sqlite" else "PostgreSQL"
    with database(kind) as db, FakeSlackProcess(users=10) as fake:
        proc, _url = _start_bot(db, fake, scheduler=True)
        try:
            time.sleep(3)
            mb = rss_mb(proc.pid)
        finally:
            _stop(proc)
    return Row(
        "RSS of coachbot run --http, idle (empty database)",
        label,
        f"{mb:.0f} MB",
        "< 150 MB",
        mb < 150,
    )


def process_rows(db: Database, fake: FakeSlackProcess, label: str, sizes: Sizes) -> list[Row]:
    """`coachbot run --http` (with its scheduler) on the imported database: ack latency of
    signed commands and clicks, 50 at once, then its memory."""
    with db.engine.connect() as conn:
        eid, manager_id = conn.exec_driver_sql(
            "SELECT id, manager_id FROM enrollment WHERE manager_id IS NOT NULL "
            "AND status = 'enrolled' ORDER BY id LIMIT 1"
        ).one()
    now = datetime.now(UTC)
    insert_rows(
        db,
        "nudge",
        [
            {
                "enrollment_id": eid,
                "kind": "pre_training",
                "recipient_id": manager_id,
                "due_at": now,
                "status": "sent",
                "attempts": 1,
                "deliveries": 1,
                "ooo_deferrals": 0,
                "channel": "D" + slack_id(manager_id - 1)[1:],
                "ts": "1700000000.000100",
                "sent_at": now,
                "idempotency_key": "ack.click",
                "created_at": now,
                "updated_at": now,
            }
        ],
    )
    with db.engine.connect() as conn:
        nudge_id = conn.exec_driver_sql(
            "SELECT id FROM nudge WHERE idempotency_key = 'ack.click'"
        ).scalar_one()
    manager = slack_id(manager_id - 1)
    # --no-scheduler: the app replica alone, as behind a load balancer; workers dispatch.
    proc, url = _start_bot(db, fake, scheduler=False)
    # The app's answers to commands and clicks go to the fake Slack's response_url.
    slack = SlackDriver(url, SIGNING_SECRET, slack_url=fake.url)
    try:
        time.sleep(2)
        commands, clicks = ack_latency(slack, manager, nudge_id, sizes.ack_requests)
        # The summary inside the process, as a lead's /training-summary builds it; memory is
        # read once its chart and CSV have reached Slack, the peak too.
        uploads = fake.counts().get("files.completeUploadExternal", 0)
        _post(slack, slack.command_body("/training-summary", user="ULEAD"))
        peak = 0.0
        deadline = time.monotonic() + 120
        while fake.counts().get("files.completeUploadExternal", 0) == uploads:
            if time.monotonic() > deadline:
                raise RuntimeError("the /training-summary answer never reached Slack")
            peak = max(peak, rss_mb(proc.pid))
            time.sleep(0.2)
        time.sleep(1)
        mb = rss_mb(proc.pid)
        peak = max(peak, mb)
    finally:
        _stop(proc)
    rows = []
    for name, values in (("slash command /goal list", commands), ("button click", clicks)):
        p50, p99 = percentile(values, 50) * 1000, percentile(values, 99) * 1000
        rows.append(
            Row(
                f"ack: {name}, 50 concurrent ({len(values)} requests)",
                label,
                f"p50 {p50:.0f} ms, p99 {p99:.0f} ms",
                "p99 < 50 ms",
                p99 < 50,
            )
        )
    rows.append(
        Row(
            "RSS of coachbot run --http after the import, acks and a summary",
            label,
            f"{mb:.0f} MB (peak while summarising: {peak:.0f} MB)",
            "< 150 MB",
            mb < 150,
        )
    )
    return rows


def _prompt_dm(manager: str, nudge_id: int) -> dict[str, Any]:
    """The pre-training DM a click is on, as the fake Slack stores it: its one button."""
    button = {
        "type": "button",
        "action_id": Action.LOG_CONVERSATION,
        "value": str(nudge_id),
        "text": {"type": "plain_text", "text": "Log our conversation"},
    }
    return {
        "channel": "D" + manager[1:],
        "ts": "1700000000.000100",
        "text": "",
        "blocks": [{"type": "actions", "block_id": "b", "elements": [button]}],
    }


def _post(slack: SlackDriver, body: str, connection: Any = None) -> float:
    """One signed request, timed from sending to the answer's last byte; with `connection`
    (an http.client.HTTPConnection) over keep-alive, as Slack's own servers send them, else
    on a new connection."""
    request = slack.signed_request(body)
    if connection is not None:
        t0 = time.perf_counter()
        connection.request("POST", request.path, body=request.data, headers=request.headers)
        answer = connection.getresponse()
        payload = answer.read()
        seconds = time.perf_counter() - t0
        if answer.status != 200:
            raise RuntimeError(f"{answer.status} {payload[:300]!r} for {body[:300]}")
        return seconds
    t0 = time.perf_counter()
    response = slack.post(request.path, request.data, request.headers)
    seconds = time.perf_counter() - t0
    if response.status != 200:
        raise RuntimeError(f"{response.status} {response.body[:300]!r} for {body[:300]}")
    return seconds


def ack_latency(
    slack: SlackDriver,
    manager: str,
    nudge_id: int,
    total: int,
    *,
    clients: int = 50,
    processes: int = 5,
    _plan: list[list[tuple[str, str]]] | None = None,
    _go: Any = None,
    _out: Any = None,
) -> tuple[list[float], list[float]]:
    """`clients` concurrent clients, each sending its share of `total` signed requests one
    after another on its own keep-alive connection: alternately `/goal list` and a
    log_conversation click.

    The clients run in `processes` processes of their own, so the measuring side's GIL does not
    queue answers that have already arrived and inflate the latencies it reports.
    """
    if _plan is not None:  # one client process: its threads, started together on `_go`
        commands: list[float] = []
        clicks: list[float] = []
        lock = threading.Lock()
        host, _, port = slack.app_url.removeprefix("http://").partition(":")
        connected = threading.Barrier(len(_plan) + 1)

        def client(requests: list[tuple[str, str]]) -> None:
            connection = http.client.HTTPConnection(host, int(port), timeout=30)
            connection.connect()
            connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            connected.wait()
            _go.wait()
            for kind, body in requests:
                seconds = _post(slack, body, connection)
                with lock:
                    (clicks if kind == "click" else commands).append(seconds)
            connection.close()

        threads = [threading.Thread(target=client, args=(requests,)) for requests in _plan]
        for thread in threads:
            thread.start()
        connected.wait()
        _out.put("connected")
        for thread in threads:
            thread.join()
        _out.put((commands, clicks))
        return commands, clicks

    per_thread = max(2, total // clients)
    dm = _prompt_dm(manager, nudge_id)
    plans: list[list[tuple[str, str]]] = [
        [
            ("click", slack.click_body(dm, Action.LOG_CONVERSATION, user=manager))
            if (t + k) % 2
            else ("command", slack.command_body("/goal", "list", user=slack_id(t * 97 + k)))
            for k in range(per_thread)
        ]
        for t in range(clients)
    ]
    for k in range(10):  # warm up: imports, connection pool
        _post(slack, slack.command_body("/goal", "list", user=slack_id(k)))
    ctx = mp.get_context("spawn")
    go, out = ctx.Event(), ctx.Queue()
    workers = [
        ctx.Process(
            target=ack_latency,
            args=(slack, manager, nudge_id, total),
            kwargs={"_plan": plans[i::processes], "_go": go, "_out": out},
            daemon=True,
        )
        for i in range(processes)
    ]
    for worker in workers:
        worker.start()
    for _ in workers:  # every client connected and waiting: they start together
        assert out.get(timeout=120) == "connected"
    go.set()
    commands, clicks = [], []
    for _ in workers:
        c, k = out.get(timeout=300)
        commands += c
        clicks += k
    for worker in workers:
        worker.join(timeout=10)
    return commands, clicks


# -- dispatching -------------------------------------------------------------------------------


def _seed_due(
    db: Database, n: int, managers: int = 0, *, due: datetime | None = None, tz: str | None = None
) -> None:
    """`n` nudges due now (or at `due`): goal invites to `n` learners each, or (with
    `managers`) the pre-training prompts of `n` learners spread evenly over that many
    managers. Everyone lives in `tz` when it is given."""
    seed_people(db, n + managers, per_manager=10**9, tz=tz)
    now = datetime.now(UTC)
    insert_rows(db, "training", [{"id": 1, "name": "Bench", "created_at": now}])
    starts = date.today() + timedelta(days=7)
    insert_rows(
        db,
        "enrollment",
        [
            {
                "id": i + 1,
                "learner_id": managers + i + 1,
                "manager_id": (i % managers) + 1 if managers else None,
                "training_id": 1,
                "starts_on": starts,
                "ends_on": starts,
                "status": "enrolled",
                "source": "csv",
                "generation": 0,
                "created_at": now,
                "updated_at": now,
            }
            for i in range(n)
        ],
    )
    kind = "pre_training" if managers else "goal_invite"
    insert_rows(
        db,
        "nudge",
        [
            {
                "id": i + 1,
                "enrollment_id": i + 1,
                "kind": kind,
                "recipient_id": (i % managers) + 1 if managers else i + 1,
                "due_at": due or now,
                "status": "pending",
                "attempts": 0,
                "deliveries": 0,
                "ooo_deferrals": 0,
                "idempotency_key": nudge_key(i + 1, 0, kind),
                "created_at": now,
                "updated_at": now,
            }
            for i in range(n)
        ],
    )
    analyze(db)


def _dispatch_all(db: Database, settings: Any, fake: FakeSlackProcess, n: int) -> Any:
    """Tick until the `n` due nudges are out; (dispatcher, sent, seconds, Slack call counts)."""
    dispatcher = make_dispatcher(settings, db, dispatch_client(settings), load_catalogues(None))
    fake.reset()
    t0 = time.perf_counter()
    sent = 0
    while sent < n:
        report = dispatcher.tick()
        sent += report.sent
        if report.claimed == 0:
            break
    return dispatcher, sent, time.perf_counter() - t0, fake.counts()


def dispatch_rows(kind: str, sizes: Sizes, latency_ms: int) -> list[Row]:
    label = "SQLite" if kind == "sqlite" else "PostgreSQL"
    n = sizes.dispatch
    with database(kind) as db, FakeSlackProcess(latency=latency_ms / 1000, users=n) as fake:
        settings = settings_for(db, fake.api_url)
        _seed_due(db, n)
        dispatcher, sent, seconds, calls = _dispatch_all(db, settings, fake, n)
        with db.engine.connect() as conn:
            late = [
                (s - d).total_seconds()
                for s, d in conn.execute(
                    sa.select(Nudge.sent_at, Nudge.due_at).where(Nudge.status == "sent")
                ).all()
            ]
    posts = calls.get("chat.postMessage", 0)
    total = sum(calls.values())
    rate = sent / seconds
    target = 500 if latency_ms == 0 else 200
    return [
        Row(
            f"dispatch {n:,} due nudges, Slack at {latency_ms} ms/call",
            label,
            f"{_n(rate)} DMs/s ({seconds:.1f} s, {sent:,} sent, "
            f"{dispatcher.workers} sender threads)",
            f">= {target} DMs/s",
            rate >= target and sent == n,
        ),
        Row(
            f"  Slack calls per nudge ({latency_ms} ms)",
            label,
            f"chat.postMessage {posts / max(sent, 1):.2f}; all calls {total / max(sent, 1):.3f} "
            f"(users.profile.get {calls.get('users.profile.get', 0)})",
            "1.0 postMessage",
            posts == sent,
        ),
        Row(
            f"  lateness behind due time ({latency_ms} ms)",
            label,
            f"p50 {percentile(late, 50):.1f} s, p99 {percentile(late, 99):.1f} s "
            f"(all {n:,} due at once)",
        ),
    ]


def bundle_rows(kind: str, sizes: Sizes) -> list[Row]:
    """The day's message: `sizes.bundled` due nudges as as many DMs (one per learner), and
    the same number spread over `sizes.bundle_managers` managers (one DM each, bundling
    their reports' prompts), side by side, Slack at 20 ms a call."""
    label = "SQLite" if kind == "sqlite" else "PostgreSQL"
    n, managers = sizes.bundled, sizes.bundle_managers
    rows = []
    for per_person, people in (("one per person", 0), ("bundled", managers)):
        with database(kind) as db, FakeSlackProcess(latency=0.02, users=n + people) as fake:
            settings = settings_for(db, fake.api_url)
            _seed_due(db, n, people)
            _, sent, seconds, calls = _dispatch_all(db, settings, fake, n)
        posts = calls.get("chat.postMessage", 0)
        dms = people or n
        rows.append(
            Row(
                f"dispatch {n:,} nudges to {dms:,} people ({per_person}), 20 ms/call",
                label,
                f"{_n(posts / seconds)} DMs/s, {_n(sent / seconds)} nudges/s "
                f"({posts:,} DMs, {sum(calls.values()) / max(posts, 1):.3f} Slack calls per DM)",
                f"{dms:,} DMs, 1.0 call per DM",
                sent == n and posts == dms and sum(calls.values()) == posts,
            )
        )
    return rows


# -- the Monday rush: everyone's nudge due at 09:30, and a Slack that says no ---------------------

SLACK_PER_MINUTE = 600  # Slack: chat.postMessage allows "several hundred messages a minute"
ORGANISATION = 50_000


def _zone_at_nine(now: datetime) -> str:
    """A fixed-offset zone where it is 09:xx now, so the rush runs on the real clock (the
    dispatcher's wake-ups are real time) inside a real 09:30-like window."""
    offset = 9 - now.hour
    if offset < -12:
        offset += 24
    if offset > 14:
        offset -= 24
    return "UTC" if offset == 0 else f"Etc/GMT{-offset:+d}"  # Etc/GMT-5 is UTC+5


def monday_rush_rows(kind: str, sizes: Sizes) -> list[Row]:
    """`sizes.rush` people's nudges fall due at the window's opening, all at once, and the
    fake Slack enforces Slack's limits on chat.postMessage: about one a second per channel,
    and a workspace ceiling (429 with Retry-After). Dispatched as `coachbot worker` does:
    the polling job every DISPATCH_INTERVAL_SECONDS, woken early by each Retry-After.

    Scaled: 50,000 people at Slack's ~600 a minute would take 80-odd minutes, so the bench
    sends a fifth of them (10,000) under a ceiling twenty times higher (12,000 a minute),
    a floor of 50 s; the share of the ceiling it reaches carries over to the real scale.
    """
    label = "SQLite" if kind == "sqlite" else "PostgreSQL"
    n, per_minute = sizes.rush, sizes.rush_per_minute
    rate = per_minute / 60
    limits = PostLimits(per_minute=per_minute, burst=2 * rate)  # two seconds' worth at once
    start = datetime.now(UTC)
    tz = _zone_at_nine(start)
    opening = start.astimezone(ZoneInfo(tz)).time().replace(second=0, microsecond=0)
    due = start
    with (
        database(kind) as db,
        FakeSlackProcess(users=n, post_limits=limits) as fake,
    ):
        settings = settings_for(
            db,
            fake.api_url,
            default_timezone=tz,
            delivery_time=opening,
            delivery_end=clock_time(17, 0),
        )
        _seed_due(db, n, due=due, tz=tz)
        dispatcher = make_dispatcher(settings, db, dispatch_client(settings), load_catalogues(None))
        job = Job("dispatch", dispatcher.tick, settings.dispatch_interval_seconds)
        scheduler = build_scheduler([job])
        fake.reset()
        count_sent = sa.select(sa.func.count()).where(Nudge.status == "sent")  # type: ignore[arg-type]
        t0 = time.perf_counter()
        scheduler.start()
        deadline = t0 + 10 * n / rate + 120
        sent = 0
        while sent < n and time.perf_counter() < deadline:
            time.sleep(0.25)
            with db.engine.connect() as conn:
                sent = conn.execute(count_sent).scalar_one()
        seconds = time.perf_counter() - t0
        scheduler.shutdown(wait=True)
        posts, distinct, refused = fake.nudges()
        calls = fake.counts()
        with db.engine.connect() as conn:
            # Behind the 09:30 they were all due at (a retry moves a row's own due_at).
            late = [
                (sent_at - due).total_seconds()
                for (sent_at,) in conn.execute(
                    sa.select(Nudge.sent_at).where(Nudge.status == "sent")
                ).all()
            ]
            failed = conn.execute(
                sa.select(sa.func.count()).where(Nudge.status == "failed")  # type: ignore[arg-type]
            ).scalar_one()
    floor = max(0.0, n - limits.burst) / rate
    share = floor / seconds if seconds else float("nan")
    real = ORGANISATION / SLACK_PER_MINUTE / share  # minutes, at the real scale
    done_at = datetime.combine(date.today(), clock_time(9, 30)) + timedelta(minutes=real)
    once = posts == distinct == sent == n
    return [
        Row(
            f"Monday rush: {n:,} nudges due at once, Slack's limits enforced "
            f"({per_minute:,}/min workspace, 1/s per channel)",
            label,
            f"all out in {seconds:.1f} s ({_n(sent / seconds)} DMs/s; the ceiling allows "
            f"{floor:.0f} s: {share:.0%} of it); {posts:,} posts for {distinct:,} nudges",
            "every DM once",
            once and failed == 0,
        ),
        Row(
            "  Slack's 429s on the way",
            label,
            f"{refused:,} posts answered 429, each retried at its Retry-After; "
            f"chat.postMessage {calls.get('chat.postMessage', 0) / max(n, 1):.2f} calls a "
            f"nudge; {failed} failed",
        ),
        Row(
            "  lateness behind 09:30",
            label,
            f"p50 {percentile(late, 50):.0f} s, p99 {percentile(late, 99):.0f} s, "
            f"last {max(late, default=float('nan')):.0f} s",
        ),
        Row(
            f"  scaled to {ORGANISATION:,} people at Slack's ~{SLACK_PER_MINUTE}/min",
            label,
            f"about {real:.0f} min: the last nudge out by {done_at:%H:%M}, inside the window",
            "before 17:00",
            done_at.time() < clock_time(17, 0),
        ),
    ]


# -- the alternative: one APScheduler job per nudge ----------------------------------------------


def apscheduler_rows(kind: str, sizes: Sizes) -> list[Row]:
    label = "SQLite" if kind == "sqlite" else "PostgreSQL"
    full = sizes.enrollments * 5
    n = sizes.aps_jobs
    scale = full / n
    with database(kind) as db:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        sched = json.loads(
            subprocess.run(
                [sys.executable, "-m", "bench.aps", "schedule", db.url, str(n)],
                env=env,
                capture_output=True,
                text=True,
                check=True,
                cwd=ROOT,
            ).stdout
        )
        start = json.loads(
            subprocess.run(
                [sys.executable, "-m", "bench.aps", "start", db.url],
                env=env,
                capture_output=True,
                text=True,
                check=True,
                cwd=ROOT,
            ).stdout
        )
    rate = n / sched["seconds"]
    return [
        Row(
            f"APScheduler SQLAlchemyJobStore: schedule {n:,} jobs (1 per nudge)",
            label,
            f"{_n(rate)} jobs/s ({sched['seconds']:.1f} s; x{scale:.0f} = "
            f"~{full / rate / 60:.0f} min for {full:,})",
        ),
        Row(
            f"APScheduler: start() with {n:,} jobs, then get_jobs()",
            label,
            f"start {start['start_seconds'] * 1000:.0f} ms; get_jobs "
            f"{start['get_jobs_seconds']:.1f} s "
            f"(x{scale:.0f} = ~{start['get_jobs_seconds'] * scale:.0f} s)",
        ),
        Row(
            f"APScheduler: RSS after start / after loading {n:,} jobs",
            label,
            f"{start['rss_after_start_mb']:.0f} / {start['rss_after_get_jobs_mb']:.0f} MB "
            f"(+{start['rss_after_get_jobs_mb'] - start['rss_after_start_mb']:.0f} MB; "
            f"x{scale:.0f} = "
            f"~{(start['rss_after_get_jobs_mb'] - start['rss_after_start_mb']) * scale:.0f} MB)",
        ),
    ]
