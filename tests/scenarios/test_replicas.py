"""Scale-out on PostgreSQL: two `coachbot run --http --no-scheduler` replicas take enrollments
(some sent to both at once), two `coachbot worker` processes dispatch, and every nudge reaches
Slack exactly once. Real processes, one database, the fake Slack on an ephemeral port."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select

from bot.sim.fakeslack import FakeSlack
from bot.slack.ids import NUDGE_EVENT_TYPE
from storage.db import Database
from storage.models import Enrollment, Nudge

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "replica-webhook-token"
LEARNERS = 12
DUPLICATED = range(0, LEARNERS, 2)  # these enrollments are sent to both replicas at once


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def post(url: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """POST like an LMS does: a 503 (database or Slack busy) is retried after Retry-After."""
    for _attempt in range(8):
        request = urllib.request.Request(
            url + "/api/enrollments",
            data=json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=20) as answer:
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as error:
            status, answer_body = error.code, json.loads(error.read() or b"{}")
            if status != 503:
                return status, answer_body
            time.sleep(min(float(error.headers.get("Retry-After") or 1), 2.0))
    return status, answer_body


def wait_healthy(url: str, proc: subprocess.Popen[str], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[0]
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"{url} never became healthy")


def test_two_replicas_and_two_workers_deliver_each_nudge_once(
    pg_url: str, fake: FakeSlack, tmp_path: Path
) -> None:
    fake.add_user("UMGR", email="manager@example.org", real_name="Manager", tz="UTC")
    for i in range(LEARNERS):
        fake.add_user(f"UL{i:03d}", email=f"l{i}@example.org", real_name=f"L{i}", tz="UTC")
    db = Database(pg_url)
    db.upgrade()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": pg_url,
        "SLACK_BOT_TOKEN": "xoxb-test-token",
        "SLACK_SIGNING_SECRET": "replica-signing-secret",
        "SLACK_API_URL": fake.api_url,
        "ENROLLMENT_WEBHOOK_TOKEN": TOKEN,
        "DISPATCH_INTERVAL_SECONDS": "1",
        # Every day, all day: the goal invites and pre-training prompts are due at once.
        "DELIVERY_TIME": "00:00",
        "DELIVERY_END": "23:59",
        "DELIVERY_DAYS": "mon-sun",
        "GOAL_INVITE_DAYS": "5",
        "PRE_TRAINING_DAYS": "3",
        "DEFAULT_TIMEZONE": "UTC",
    }
    env.pop("SLACK_APP_TOKEN", None)
    ports = [free_port(), free_port()]
    apps = [
        subprocess.Popen(
            [sys.executable, "-m", "bot", "run", "--http", "--no-scheduler", "--port", str(p)],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for p in ports
    ]
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "bot", "worker"],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(2)
    ]
    processes = apps + workers
    try:
        urls = [f"http://127.0.0.1:{p}" for p in ports]
        for url, proc in zip(urls, apps, strict=True):
            wait_healthy(url, proc)

        starts = date.today() + timedelta(days=2)
        bodies = [
            {
                "external_id": f"lms-{i}",
                "learner_email": f"l{i}@example.org",
                "manager_email": "manager@example.org",
                "training": "Scale Out",
                "starts_on": str(starts),
                "ends_on": str(starts),
            }
            for i in range(LEARNERS)
        ]
        answers: list[tuple[int, int, dict[str, Any]]] = []
        lock = threading.Lock()

        def send(i: int, url: str) -> None:
            status, body = post(url, bodies[i])
            with lock:
                answers.append((i, status, body))

        jobs = [(i, urls[i % 2]) for i in range(LEARNERS)]
        jobs += [(i, urls[(i + 1) % 2]) for i in DUPLICATED]  # the same one, the other replica
        threads = [threading.Thread(target=send, args=job) for job in jobs]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)

        assert len(answers) == len(jobs)
        refused = [(i, status, body) for i, status, body in answers if status not in (200, 201)]
        assert not refused, refused
        created = Counter(i for i, status, _ in answers if status == 201)
        assert created == Counter(range(LEARNERS)), "each enrollment created exactly once"
        duplicates = [body for _, status, body in answers if status == 200]
        assert len(duplicates) == len(DUPLICATED)
        assert {b["result"] for b in duplicates} == {"duplicate"}
        ids = {i: body["id"] for i, _, body in answers}
        assert len(set(ids.values())) == LEARNERS

        # A goal invite to each learner and a pre-training prompt to the manager, per
        # enrollment: the learners' in a DM each, the manager's in her day's message. The
        # prompts of enrollments that arrived after it went out wait for tomorrow's (the
        # training starts the day after), so each prompt is sent or waiting.
        expected = 2 * LEARNERS

        def settled() -> list[Nudge]:
            now = datetime.now(UTC)
            with db.session() as session:
                planned = session.exec(
                    select(Nudge).where(col(Nudge.kind).in_(["goal_invite", "pre_training"]))
                ).all()
            waiting = [
                n
                for n in planned
                if n.kind == "pre_training" and n.status == "pending" and n.due_at > now
            ]
            sent = [n for n in planned if n.status == "sent"]
            return sent if len(planned) == expected == len(sent) + len(waiting) else []

        deadline = time.monotonic() + 90
        due = settled()
        while not due and time.monotonic() < deadline:
            time.sleep(0.2)
            due = settled()
        time.sleep(2.5)  # two more ticks of each worker: nothing else may go out

        with db.session() as session:
            enrollments = session.exec(select(Enrollment)).all()
        assert len(enrollments) == LEARNERS
        assert len([n for n in due if n.kind == "goal_invite"]) == LEARNERS
        assert any(n.kind == "pre_training" for n in due)  # the manager's day's message
        messages = [
            m["metadata"]["event_payload"]
            for m in list(fake.messages)
            if (m.get("metadata") or {}).get("event_type") == NUDGE_EVENT_TYPE
        ]
        posted = Counter(i for p in messages for i in p.get("nudge_ids", [p["nudge_id"]]))
        assert posted == Counter({n.id: 1 for n in due}), "each nudge posted exactly once"
        assert fake.count("chat.postMessage") == len(messages)
        assert len(messages) < expected  # the manager's prompts came together
        for nudge in due:
            assert nudge.ts is not None and nudge.channel is not None
    finally:
        for proc in processes:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        outputs = []
        for proc in processes:
            try:
                outputs.append(proc.communicate(timeout=20)[0])
            except subprocess.TimeoutExpired:
                proc.kill()
                outputs.append(proc.communicate()[0])
        db.dispose()
    assert [p.returncode for p in processes] == [0, 0, 0, 0], outputs[-1][-2000:]
