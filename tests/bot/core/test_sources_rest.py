"""The learning systems' REST calls sort failures into "try again" and "never", and the
inbox's back-off grows from seconds to an hour, honouring Retry-After."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.core.sources.inbox import backoff
from bot.core.sources.rest import LmsRefused, LmsUnavailable, pool, request
from bot.sim.lms import FakeCanvas


@pytest.fixture
def canvas() -> Iterator[FakeCanvas]:
    with FakeCanvas() as server:
        server.add_user(5, name="Ada", primary_email="ada@example.org")
        yield server


def get(canvas: FakeCanvas, path: str, token: str | None = None) -> object:
    headers = {"Authorization": f"Bearer {token or canvas.token}"}
    answer = request(pool(), "GET", canvas.url + path, what=f"GET {path}", headers=headers)
    return answer.json("Canvas")


def test_an_answer_comes_back_as_json(canvas: FakeCanvas) -> None:
    assert get(canvas, "/api/v1/users/5/profile")["primary_email"] == "ada@example.org"  # type: ignore[index]


def test_what_is_worth_retrying_and_what_is_not(canvas: FakeCanvas) -> None:
    with pytest.raises(LmsRefused, match="HTTP 404"):
        get(canvas, "/api/v1/users/6/profile")
    with pytest.raises(LmsUnavailable, match="check the token"):
        get(canvas, "/api/v1/users/5/profile", token="revoked")
    canvas.fail(429, times=1, retry_after=30)
    with pytest.raises(LmsUnavailable) as limited:
        get(canvas, "/api/v1/users/5/profile")
    assert limited.value.retry_after == 30
    canvas.fail(502, times=1)
    with pytest.raises(LmsUnavailable, match="HTTP 502"):
        get(canvas, "/api/v1/users/5/profile")
    canvas.go_down()
    with pytest.raises(LmsUnavailable, match="GET /api/v1/users/5/profile"):
        get(canvas, "/api/v1/users/5/profile")
    canvas.come_back()
    assert get(canvas, "/api/v1/users/5/profile")


def test_the_back_off_doubles_up_to_an_hour_and_waits_at_least_retry_after() -> None:
    assert [backoff(n) for n in (1, 2, 3, 4)] == [5, 10, 20, 40]
    assert backoff(30) == 3600
    assert backoff(1, retry_after=120) == 120
    assert backoff(1, retry_after=86400) == 3600
