"""`coachbot run --http --workers N`: several processes answer Slack on one port, and stop
together; and a listener's ack reaches Slack without waiting for the work after it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from support import Bot, eventually

from bot.sim.driver import SlackDriver
from bot.sim.fakeslack import FakeSlack
from bot.slack.ids import Action

ROOT = Path(__file__).resolve().parents[2]
SECRET = "workers-signing-secret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def children_of(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(c) for c in f.read().split()]
    except OSError:
        return []


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc; SO_REUSEPORT")
def test_workers_share_the_port_answer_slack_and_stop_together(
    fake: FakeSlack, tmp_path: Path
) -> None:
    for i in range(6):
        fake.add_user(f"UW{i:04d}", email=f"w{i}@example.org", tz="UTC")
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": f"sqlite:///{tmp_path}/workers.db",
        "SLACK_BOT_TOKEN": "xoxb-test-token",
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": fake.api_url,
    }
    env.pop("SLACK_APP_TOKEN", None)
    proc = subprocess.Popen(
        [
            sys.executable,
            *("-m", "bot", "run", "--http", "--no-scheduler"),
            "--port",
            str(port),
            "--workers",
            "2",
        ],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, proc.communicate()[0]
            try:
                with urllib.request.urlopen(url + "/healthz", timeout=2) as answer:
                    if answer.status == 200 and len(children_of(proc.pid)) == 2:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, "never healthy with two workers"
            time.sleep(0.1)
        workers = children_of(proc.pid)
        slack = SlackDriver(url, SECRET, fake)
        # New connections, spread over both workers by the kernel: every one is answered.
        for i in range(6):
            assert slack.command("/goal", "list", user=f"UW{i:04d}").status == 200
        assert len(fake.wait_for_responses(6)) == 6

        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=20)
        assert proc.returncode == 0, output
        assert not any(alive(pid) for pid in workers), output
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def test_workers_need_http_mode(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": f"sqlite:///{tmp_path}/usage.db",
        "SLACK_BOT_TOKEN": "xoxb-test-token",
        "SLACK_APP_TOKEN": "xapp-test-token",
    }
    done = subprocess.run(
        [sys.executable, "-m", "bot", "run", "--workers", "2"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "--http" in done.stderr


def test_ack_does_not_wait_for_the_work_after_it(bot: Bot, monkeypatch: Any) -> None:
    """The click is answered while its listener is still busy after its ack (here: telling
    someone the prompt is not theirs), not when the listener is done."""
    import threading

    from bot.slack import replies

    release = threading.Event()
    original = replies.tell

    def slow_tell(*args: Any, **kwargs: Any) -> None:
        release.wait(10)
        original(*args, **kwargs)

    monkeypatch.setattr("bot.slack.listeners.conversations.tell", slow_tell)
    started = time.monotonic()
    response = bot.interact(
        {
            "type": "block_actions",
            "user": {"id": "UNOBODY"},
            "trigger_id": "trigger-1",
            "channel": {"id": "DNOBODY"},
            "container": {"type": "message", "channel_id": "DNOBODY", "message_ts": "1.1"},
            "actions": [{"action_id": Action.LOG_CONVERSATION, "value": "999999"}],
        }
    )
    answered_in = time.monotonic() - started
    release.set()
    assert response.status == 200
    assert answered_in < 5
    eventually(lambda: bot.fake.calls_to("chat.postEphemeral"))
