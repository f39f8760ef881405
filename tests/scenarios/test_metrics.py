"""Prometheus metrics: scraped from METRICS_PORT after real enrollments, requests and a
dispatch through the fake Slack, and summed over `run --http --workers N`."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from support import Bot, ada_and_grace, dispatch_due, eventually

from bot.metrics import DueNudges
from bot.runtime import serve_metrics
from bot.sim.driver import http, signed_request_headers
from bot.sim.fakeslack import FakeSlack
from storage.db import Database

ROOT = Path(__file__).resolve().parents[2]
SECRET = "metrics-signing-secret"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def movement(before: Samples, after: Samples) -> Callable[..., float]:
    """How far a sample (by name and labels) moved from one scrape to the next."""

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    return moved


def scrape(url: str) -> Samples:
    with urllib.request.urlopen(url + "/metrics", timeout=10) as answer:
        assert answer.status == 200
        assert answer.headers["Content-Type"].startswith("text/plain")
        return parse(answer.read().decode())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def metrics_url(bot: Bot) -> Iterator[str]:
    """METRICS_PORT of the bot's process, on an ephemeral port, with the bot's clock."""
    server = serve_metrics(replace(bot.settings, metrics_port=0), bot.db, clock=bot.clock)
    assert server is not None
    yield f"http://127.0.0.1:{server.effective_port}"
    server.close()


def test_a_dispatch_moves_the_counters_and_empties_the_due_gauge(
    bot: Bot, metrics_url: str
) -> None:
    before = scrape(metrics_url)
    ada_and_grace(bot)  # the LMS webhook: Ada's training on 8-9 Dec, Grace her manager
    bot.clock.set(datetime(2026, 12, 3, 9, 31, tzinfo=UTC))  # goal invite and pre-training due
    due = scrape(metrics_url)
    assert value(due, "coachbot_nudges_due") == 2
    assert value(due, "coachbot_nudges_due_oldest_seconds") > 2 * 86400  # the invite: 1 Dec
    assert value(due, "coachbot_database_up") == 1

    report = dispatch_due(bot)
    assert report.sent == 2
    after = scrape(metrics_url)
    moved = movement(before, after)

    assert moved("coachbot_enrollments_total", source="webhook", result="created") == 1
    assert moved("coachbot_nudges_sent_total", kind="goal_invite") == 1
    assert moved("coachbot_nudges_sent_total", kind="pre_training") == 1
    assert moved("coachbot_dispatch_lag_seconds_count") == 2
    # The goal invite was due on 1 Dec and went out on the 3rd: in the +Inf bucket only.
    assert moved("coachbot_dispatch_lag_seconds_bucket", le="86400.0") == 1
    assert moved("coachbot_dispatch_lag_seconds_bucket", le="+Inf") == 2
    assert moved("coachbot_slack_api_calls_total", method="chat.postMessage", outcome="ok") == 2
    assert value(after, "coachbot_nudges_due") == 0
    assert value(after, "coachbot_nudges_due_oldest_seconds") == 0


def test_slack_errors_refusals_and_acks_are_counted(bot: Bot, metrics_url: str) -> None:
    before = scrape(metrics_url)
    ada_and_grace(bot)
    assert bot.webhook({"learner_email": "nobody@example.org"}).status == 400
    # A listener's own client (the one Bolt makes for each request) is counted too.
    bot.command("/enroll", user="UGRACE")
    bot.fake.wait_for_calls("views.open")
    bot.clock.set(datetime(2026, 12, 3, 9, 31, tzinfo=UTC))
    bot.fake.fail_always("chat.postMessage", error="user_not_found")
    report = dispatch_due(bot)
    assert report.failed == 2
    moved = movement(before, scrape(metrics_url))

    assert moved("coachbot_enrollments_total", source="webhook", result="refused") == 1
    assert moved("coachbot_nudges_failed_total", kind="pre_training") == 1
    assert moved("coachbot_nudges_failed_total", kind="goal_invite") == 1
    assert moved("coachbot_nudges_sent_total", kind="pre_training") == 0
    errors = moved(
        "coachbot_slack_api_calls_total", method="chat.postMessage", outcome="user_not_found"
    )
    assert errors == 2
    assert moved("coachbot_slack_api_calls_total", method="views.open", outcome="ok") == 1
    assert moved("coachbot_slack_request_seconds_count") >= 1  # the /enroll command
    assert moved("coachbot_slack_request_seconds_bucket", le="3.0") >= 1


def test_the_readme_and_the_dashboard_name_only_metrics_that_exist(
    bot: Bot, metrics_url: str
) -> None:
    with urllib.request.urlopen(metrics_url + "/metrics", timeout=10) as answer:
        families = list(text_string_to_metric_families(answer.read().decode()))
    suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_count", "_sum"]}
    exposed = {f.name for f in families} | {
        f.name + suffix for f in families for suffix in suffixes.get(f.type, [])
    }
    readme = (ROOT / "README.md").read_text()
    monitoring = readme[readme.index("## Monitoring") :].split("\n## ", 1)[0]
    dashboard = (ROOT / "docs" / "grafana-dashboard.json").read_text()
    for doc, text in (("README.md, Monitoring", monitoring), ("the dashboard", dashboard)):
        named = set(re.findall(r"coachbot_[a-z_]+[a-z]", text))
        assert len(named) > 5, doc
        assert named <= exposed, f"{doc} names {sorted(named - exposed)}"


def test_the_metrics_port_answers_only_at_metrics(bot: Bot, metrics_url: str) -> None:
    assert http("GET", metrics_url + "/", None, {}).status == 404
    assert http("GET", metrics_url + "/metrics", None, {}).status == 200


def test_a_scrape_answers_when_the_database_does_not(tmp_path: Path) -> None:
    down = Database(f"sqlite:///{tmp_path}/missing/dir/coachbot.db")
    families = {f.name: f for f in DueNudges(down).collect()}
    assert families["coachbot_database_up"].samples[0].value == 0
    assert "coachbot_nudges_due" not in families


def test_a_failing_metrics_hook_never_fails_a_stored_batch(bot: Bot) -> None:
    from bot.runtime import make_dispatcher

    ada_and_grace(bot)
    bot.clock.set(datetime(2026, 12, 3, 9, 31, tzinfo=UTC))
    dispatcher = make_dispatcher(
        bot.settings, bot.db, bot.services.client, bot.services.catalogues, clock=bot.clock
    )

    def broken(*_args: Any) -> None:
        raise RuntimeError("metrics are down")

    dispatcher.on_outcome = broken
    assert dispatcher.tick().sent == 2
    assert dispatcher.tick().claimed == 0  # recorded as sent: nothing to send again


def _slash_goal_list(url: str, user: str, response_url: str) -> None:
    body = urllib.parse.urlencode(
        {
            "command": "/goal",
            "text": "list",
            "user_id": user,
            "team_id": "T0FAKE0001",
            "channel_id": "D" + user[1:],
            "trigger_id": "trigger-1",
            "response_url": response_url,
        }
    )
    request = urllib.request.Request(
        url + "/slack/events", data=body.encode(), headers=signed_request_headers(SECRET, body)
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 200


def _start(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "bot", *args],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def stop(proc: subprocess.Popen[str]) -> str:
    """SIGTERM (unless it has exited), killed after 20 s; everything it printed."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        output, _ = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        output, _ = proc.communicate()
    return output


def _env(fake: FakeSlack, tmp_path: Path, metrics_port: int) -> dict[str, str]:
    env = {
        **os.environ,
        "TMPDIR": str(tmp_path),  # where the parent makes its multiprocess folder
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": f"sqlite:///{tmp_path}/metrics.db",
        "SLACK_BOT_TOKEN": "xoxb-test-token",
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": fake.api_url,
        "METRICS_PORT": str(metrics_port),
        "ENROLLMENT_WEBHOOK_TOKEN": "metrics-webhook-token",
    }
    env.pop("SLACK_APP_TOKEN", None)
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    return env


@pytest.mark.skipif(sys.platform != "linux", reason="SO_REUSEPORT")
def test_run_with_workers_serves_the_sum_over_the_workers(fake: FakeSlack, tmp_path: Path) -> None:
    for i in range(6):
        fake.add_user(f"UW{i:04d}", email=f"w{i}@example.org", tz="UTC")
    port, metrics_port = free_port(), free_port()
    proc = _start(
        ["run", "--http", "--no-scheduler", "--port", str(port), "--workers", "2"],
        _env(fake, tmp_path, metrics_port),
        tmp_path,
    )
    url, metrics_url = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{metrics_port}"
    try:

        def up() -> bool:
            assert proc.poll() is None, proc.communicate()[0]
            try:
                with urllib.request.urlopen(url + "/healthz", timeout=2) as answer:
                    return answer.status == 200 and bool(scrape(metrics_url))
            except OSError:
                return False

        eventually(up, timeout=30)
        response_url = fake.api_url.removesuffix("api/") + "response/metrics"
        # Six new connections, which the kernel spreads over both workers; the parent, which
        # serves /metrics, answers none of them itself.
        for i in range(6):
            _slash_goal_list(url, f"UW{i:04d}", response_url)
        fake.wait_for_responses(6)
        enroll = urllib.request.Request(
            url + "/api/enrollments",
            data=b'{"learner_email": "w0@example.org", "training": "Coaching Skills", '
            b'"starts_on": "2030-03-04", "ends_on": "2030-03-05"}',
            headers={
                "Authorization": "Bearer metrics-webhook-token",
                "Content-Type": "application/json",
            },
        )
        with urllib.request.urlopen(enroll, timeout=10) as answer:
            assert answer.status == 201
        samples = scrape(metrics_url)
        assert value(samples, "coachbot_slack_request_seconds_count") == 6
        assert value(samples, "coachbot_enrollments_total", source="webhook", result="created") == 1
        assert value(samples, "coachbot_database_up") == 1
        assert len(list(tmp_path.glob("coachbot-metrics-*"))) == 1
    finally:
        output = stop(proc)
    assert proc.returncode == 0, output
    assert not list(tmp_path.glob("coachbot-metrics-*")), "the parent removes its folder"


def test_the_worker_serves_metrics(fake: FakeSlack, tmp_path: Path) -> None:
    metrics_port = free_port()
    proc = _start(["worker"], _env(fake, tmp_path, metrics_port), tmp_path)
    try:

        def scraped() -> Samples | None:
            assert proc.poll() is None, proc.communicate()[0]
            try:
                return scrape(f"http://127.0.0.1:{metrics_port}")
            except OSError:
                return None

        samples = eventually(scraped, timeout=30)
        assert value(samples, "coachbot_nudges_due") == 0
        assert value(samples, "coachbot_database_up") == 1
        assert ("process_resident_memory_bytes", frozenset()) in samples
    finally:
        output = stop(proc)
    assert proc.returncode == 0, output
