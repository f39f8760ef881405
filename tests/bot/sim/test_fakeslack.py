"""The simulation kit: the fake Slack Web API, driven through the real slack_sdk WebClient,
and the driver's requests as Slack would send them."""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import FixedValueRetryIntervalCalculator
from slack_sdk.signature import SignatureVerifier

from bot.sim.driver import SlackDriver, signed_request_headers
from bot.sim.fakeslack import FakeSlack, PostLimits

SECTION = {"type": "section", "text": {"type": "mrkdwn", "text": "Hello"}}


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack() as server:
        server.add_user("U100", email="ada@example.com", real_name="Ada Lovelace")
        yield server


@pytest.fixture
def client(fake: FakeSlack) -> WebClient:
    return WebClient(token="xoxb-test", base_url=fake.api_url)


def error_of(call) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(SlackApiError) as caught:
        call()
    return str(caught.value.response["error"])


def test_binds_an_ephemeral_local_port() -> None:
    with FakeSlack() as one, FakeSlack() as two:
        assert one.api_url.startswith("http://127.0.0.1:")
        assert one.api_url.endswith("/api/")
        assert one.port != two.port


def test_post_message_to_a_user_opens_their_dm(fake: FakeSlack, client: WebClient) -> None:
    first = client.chat_postMessage(channel="U100", text="Hi Ada", blocks=[SECTION])
    second = client.chat_postMessage(channel="U100", text="Again")

    assert first["channel"] == "D100"
    assert first["message"]["text"] == "Hi Ada"
    assert float(second["ts"]) > float(first["ts"])
    assert [m["text"] for m in fake.dms_to("U100")] == ["Hi Ada", "Again"]
    assert fake.dms_to("U100")[0]["blocks"] == [SECTION]
    assert fake.messages[0]["user"] == fake.bot_user_id
    call = fake.calls_to("chat.postMessage")[0]
    assert call.token == "xoxb-test"
    assert call.params["blocks"] == [SECTION]  # decoded from the form's JSON string
    assert fake.count("chat.postMessage") == 2


def test_slacks_posting_limits_answer_429_with_retry_after() -> None:
    """About one a second per channel after a short burst, and a workspace ceiling."""
    limits = PostLimits(per_minute=60, burst=4, per_channel_per_second=1, per_channel_burst=2)
    with FakeSlack(post_limits=limits) as fake:
        for uid in ("U1", "U2", "U3"):
            fake.add_user(uid)
        client = WebClient(token="xoxb-test", base_url=fake.api_url)
        client.chat_postMessage(channel="U1", text="1")
        client.chat_postMessage(channel="U1", text="2")  # the channel's burst
        with pytest.raises(SlackApiError) as refused:
            client.chat_postMessage(channel="U1", text="3")
        assert refused.value.response.status_code == 429
        assert refused.value.response.headers["Retry-After"] == "1"
        client.chat_postMessage(channel="U2", text="another person: not held back")
        client.chat_postMessage(channel="U3", text="the workspace's fourth")
        with pytest.raises(SlackApiError) as ceiling:
            client.chat_postMessage(channel="U3", text="over both")
        assert ceiling.value.response.headers["Retry-After"] == "1"
        assert len(fake.messages) == 4 and fake.rate_limited == 2


def test_post_message_to_a_channel(fake: FakeSlack, client: WebClient) -> None:
    answer = client.chat_postMessage(channel="C0LEARNING", text="Welcome")
    assert answer["channel"] == "C0LEARNING"
    assert fake.messages[-1]["channel"] == "C0LEARNING"


def test_unknown_and_deactivated_users_cannot_be_messaged(
    fake: FakeSlack, client: WebClient
) -> None:
    fake.add_user("U200", deleted=True)
    assert error_of(lambda: client.chat_postMessage(channel="U999", text="x")) == (
        "channel_not_found"
    )
    assert error_of(lambda: client.chat_postMessage(channel="U200", text="x")) == (
        "account_inactive"
    )


def test_update_replaces_the_message(fake: FakeSlack, client: WebClient) -> None:
    posted = client.chat_postMessage(channel="U100", text="Before", blocks=[SECTION])
    new_blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "After"}}]
    client.chat_update(channel=posted["channel"], ts=posted["ts"], text="After", blocks=new_blocks)

    stored = fake.dms_to("U100")[0]
    assert (stored["text"], stored["blocks"]) == ("After", new_blocks)
    assert error_of(lambda: client.chat_update(channel="D100", ts="1.000001", text="x")) == (
        "message_not_found"
    )


@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing")
def test_invalid_blocks_are_refused(fake: FakeSlack, client: WebClient) -> None:
    bad = [{"type": "section"}]  # neither text nor fields
    with pytest.raises(SlackApiError) as caught:
        client.chat_postMessage(channel="C1", text="x", blocks=bad)
    assert caught.value.response["error"] == "invalid_blocks"
    assert "text or fields" in caught.value.response["errors"][0]
    assert error_of(lambda: client.chat_postMessage(channel="C1", blocks=[{"type": "nope"}])) == (
        "invalid_blocks"
    )
    assert fake.messages == []


def test_fifty_one_blocks_are_refused(fake: FakeSlack, client: WebClient) -> None:
    client.chat_postMessage(channel="C1", text="fifty", blocks=[SECTION] * 50)
    with pytest.raises(SlackApiError) as caught:
        client.chat_postMessage(channel="C1", text="too many", blocks=[SECTION] * 51)
    assert caught.value.response["error"] == "invalid_blocks"
    assert "no more than 50" in caught.value.response["errors"][0]
    assert len(fake.messages) == 1


@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing")
def test_message_needs_text_or_blocks_and_valid_metadata(client: WebClient) -> None:
    assert error_of(lambda: client.chat_postMessage(channel="C1")) == "no_text"
    bad_metadata = {"event_type": "nudge_sent"}  # no event_payload
    assert error_of(
        lambda: client.chat_postMessage(channel="C1", text="x", metadata=bad_metadata)
    ) == ("invalid_metadata")


def test_metadata_round_trip_through_history(fake: FakeSlack, client: WebClient) -> None:
    metadata = {"event_type": "nudge_sent", "event_payload": {"nudge_id": 42}}
    posted = client.chat_postMessage(channel="U100", text="Time to talk", metadata=metadata)

    plain = client.conversations_history(channel=posted["channel"])
    assert "metadata" not in plain["messages"][0]
    full = client.conversations_history(channel=posted["channel"], include_all_metadata=True)
    assert full["messages"][0]["metadata"] == metadata
    assert full["messages"][0]["ts"] == posted["ts"]


def test_history_is_newest_first_and_pages(fake: FakeSlack, client: WebClient) -> None:
    for i in range(5):
        client.chat_postMessage(channel="C1", text=f"m{i}")
    first = client.conversations_history(channel="C1", limit=3)
    assert [m["text"] for m in first["messages"]] == ["m4", "m3", "m2"]
    assert first["has_more"]
    rest = client.conversations_history(
        channel="C1", limit=3, cursor=first["response_metadata"]["next_cursor"]
    )
    assert [m["text"] for m in rest["messages"]] == ["m1", "m0"]
    assert not rest["has_more"]


def test_thread_replies(client: WebClient) -> None:
    parent = client.chat_postMessage(channel="C1", text="parent")
    client.chat_postMessage(channel="C1", text="reply", thread_ts=parent["ts"])
    replies = client.conversations_replies(channel="C1", ts=parent["ts"])
    assert [m["text"] for m in replies["messages"]] == ["parent", "reply"]
    assert replies["messages"][0]["reply_count"] == 1
    history = client.conversations_history(channel="C1")
    assert [m["text"] for m in history["messages"]] == ["parent"]


def test_reactions_ephemerals_and_permalinks(fake: FakeSlack, client: WebClient) -> None:
    posted = client.chat_postMessage(channel="C1", text="x")
    client.reactions_add(channel="C1", timestamp=posted["ts"], name="white_check_mark")
    assert error_of(
        lambda: client.reactions_add(channel="C1", timestamp=posted["ts"], name="white_check_mark")
    ) == ("already_reacted")
    assert fake.messages[0]["reactions"][0]["count"] == 1

    client.chat_postEphemeral(channel="C1", user="U100", text="only you")
    assert fake.ephemerals[0]["user"] == "U100"
    assert fake.messages[-1]["text"] == "x"

    link = client.chat_getPermalink(channel="C1", message_ts=posted["ts"])["permalink"]
    assert link.endswith("/archives/C1/p" + posted["ts"].replace(".", ""))


def test_conversations_open(fake: FakeSlack, client: WebClient) -> None:
    assert client.conversations_open(users="U100")["channel"]["id"] == "D100"
    assert error_of(lambda: client.conversations_open(users="U404")) == "user_not_found"


def test_views(fake: FakeSlack, client: WebClient) -> None:
    modal = {
        "type": "modal",
        "callback_id": "goal_modal",
        "title": {"type": "plain_text", "text": "Goal"},
        "submit": {"type": "plain_text", "text": "Save"},
        "blocks": [
            {
                "type": "input",
                "block_id": "goal",
                "label": {"type": "plain_text", "text": "Goal"},
                "element": {"type": "plain_text_input", "action_id": "text"},
            }
        ],
    }
    opened = client.views_open(trigger_id="123.456", view=modal)["view"]
    assert opened["id"].startswith("V")
    assert opened["callback_id"] == "goal_modal"
    pushed = client.views_push(trigger_id="123.457", view=modal)["view"]
    assert pushed["id"] != opened["id"]
    updated = client.views_update(view_id=opened["id"], view={**modal, "private_metadata": "7"})
    assert updated["view"]["id"] == opened["id"]
    assert fake.views[opened["id"]]["private_metadata"] == "7"

    assert error_of(lambda: client.views_open(trigger_id="", view=modal)) == "invalid_arguments"
    assert error_of(lambda: client.views_update(view_id="V404", view=modal)) == "not_found"
    huge = {**modal, "blocks": [SECTION] * 101}
    assert error_of(lambda: client.views_open(trigger_id="1.2", view=huge)) == ("invalid_arguments")
    no_submit = {k: v for k, v in modal.items() if k != "submit"}
    assert error_of(lambda: client.views_open(trigger_id="1.2", view=no_submit)) == (
        "invalid_arguments"
    )

    home = {"type": "home", "blocks": [SECTION]}
    client.views_publish(user_id="U100", view=home)
    assert fake.home_views["U100"]["blocks"] == [SECTION]


def test_users_list_pages_over_everyone(fake: FakeSlack, client: WebClient) -> None:
    for i in range(450):
        fake.add_user(f"U{i:04d}X", email=f"person{i}@example.com", deleted=i == 7)

    pages, cursor = [], None
    while True:
        page = client.users_list(limit=200, cursor=cursor)
        pages.append(page["members"])
        cursor = page["response_metadata"]["next_cursor"]
        if not cursor:
            break

    members = [m for page in pages for m in page]
    assert len(pages) == 3
    assert [len(p) for p in pages] == [200, 200, len(fake.users) - 400]
    assert len({m["id"] for m in members}) == len(fake.users) == 453  # + U100, Slackbot, bot
    assert any(m["is_bot"] for m in members)
    assert any(m["deleted"] for m in members)


def test_user_lookups(fake: FakeSlack, client: WebClient) -> None:
    fake.set_status("U100", "On training", ":books:", expiration=1_900_000_000)
    found = client.users_lookupByEmail(email="ADA@example.com")["user"]
    assert found["id"] == "U100"
    assert found["profile"]["status_text"] == "On training"
    assert client.users_info(user="U100")["user"]["real_name"] == "Ada Lovelace"
    assert client.users_profile_get(user="U100")["profile"]["email"] == "ada@example.com"
    assert error_of(lambda: client.users_lookupByEmail(email="nobody@example.com")) == (
        "users_not_found"
    )
    assert error_of(lambda: client.users_info(user="U404")) == "user_not_found"


def test_usergroups(fake: FakeSlack, client: WebClient) -> None:
    fake.add_usergroup("S1", "ld-leads", ["U100"])
    assert client.usergroups_users_list(usergroup="S1")["users"] == ["U100"]
    assert error_of(lambda: client.usergroups_users_list(usergroup="S404")) == "no_such_subteam"


def test_rate_limit_is_retried_after_retry_after(fake: FakeSlack) -> None:
    client = WebClient(
        token="xoxb-test",
        base_url=fake.api_url,
        retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=1)],
    )
    fake.fail_next("chat.postMessage", status=429, retry_after=1)
    started = time.monotonic()
    answer = client.chat_postMessage(channel="C1", text="eventually")
    assert answer["ok"]
    assert time.monotonic() - started >= 1.0
    assert fake.count("chat.postMessage") == 2
    assert len(fake.messages) == 1


def test_rate_limit_without_a_retry_handler(fake: FakeSlack, client: WebClient) -> None:
    fake.fail_next("*", retry_after=7)
    with pytest.raises(SlackApiError) as caught:
        client.auth_test()
    assert caught.value.response.status_code == 429
    assert caught.value.response.headers["Retry-After"] == "7"
    assert caught.value.response["error"] == "ratelimited"
    assert client.auth_test()["user_id"] == fake.bot_user_id


def test_server_error_once_then_success(fake: FakeSlack) -> None:
    handler = ServerErrorRetryHandler(
        max_retry_count=1, interval_calculator=FixedValueRetryIntervalCalculator(0.01)
    )
    client = WebClient(token="xoxb-test", base_url=fake.api_url, retry_handlers=[handler])
    fake.fail_next("chat.postMessage", status=500)
    assert client.chat_postMessage(channel="C1", text="x")["ok"]
    assert fake.count("chat.postMessage") == 2


def test_error_faults_and_clearing(fake: FakeSlack, client: WebClient) -> None:
    fake.fail_next("users.info", error="fatal_error", count=2)
    assert error_of(lambda: client.users_info(user="U100")) == "fatal_error"
    assert error_of(lambda: client.users_info(user="U100")) == "fatal_error"
    assert client.users_info(user="U100")["ok"]

    fake.fail_always("chat.postMessage", status=503)
    with pytest.raises(SlackApiError) as caught:
        client.chat_postMessage(channel="C1", text="x")
    assert caught.value.response.status_code == 503
    fake.clear_faults()
    assert client.chat_postMessage(channel="C1", text="x")["ok"]


def test_hang_makes_the_client_time_out(fake: FakeSlack) -> None:
    client = WebClient(token="xoxb-test", base_url=fake.api_url, timeout=0.2)  # type: ignore[arg-type]
    fake.hang_next("auth.test", 1.0)
    with pytest.raises(TimeoutError):
        client.auth_test()
    assert client.auth_test()["ok"]


def test_latency_is_applied(fake: FakeSlack, client: WebClient) -> None:
    fake.latency = 0.05
    started = time.monotonic()
    client.auth_test()
    assert time.monotonic() - started >= 0.05


def test_files_upload_v2_round_trip(fake: FakeSlack, client: WebClient) -> None:
    content = bytes(range(256)) * 4
    dm = client.conversations_open(users="U100")["channel"]["id"]
    answer = client.files_upload_v2(
        channel=dm,
        content=content,
        filename="report.png",
        title="Quarterly report",
        initial_comment="Here is the report",
    )
    assert answer["file"]["title"] == "Quarterly report"
    (stored,) = fake.files
    assert (stored["name"], stored["bytes"], stored["channel"]) == ("report.png", content, dm)
    assert fake.dms_to("U100")[-1]["text"] == "Here is the report"
    assert fake.count("files.completeUploadExternal") == 1


def test_upload_endpoint_accepts_multipart(fake: FakeSlack, client: WebClient) -> None:
    target = client.files_getUploadURLExternal(filename="a.bin", length=3)
    boundary = "xyz"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.bin"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + b"\x00\xff\r\n"
        + f"\r\n--{boundary}--\r\n".encode()
    )
    request = urllib.request.Request(
        target["upload_url"],
        data=body,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 200
    client.files_completeUploadExternal(files=[{"id": target["file_id"]}], channel_id="C0REPORTS")
    assert fake.files[0]["bytes"] == b"\x00\xff\r\n"


def test_upload_refuses_a_user_id_as_channel(client: WebClient) -> None:
    with pytest.raises(SlackApiError) as caught:
        client.files_upload_v2(channel="U100", content=b"x", filename="x.txt")
    assert caught.value.response["error"] == "invalid_arguments"


def test_auth_is_required(fake: FakeSlack) -> None:
    anonymous = WebClient(base_url=fake.api_url)
    assert error_of(lambda: anonymous.chat_postMessage(channel="C1", text="x")) == "not_authed"
    assert fake.calls[-1].token is None
    fake.revoked_tokens.add("xoxb-old")
    revoked = WebClient(token="xoxb-old", base_url=fake.api_url)
    assert error_of(revoked.auth_test) == "invalid_auth"
    assert fake.messages == []


def test_unknown_method_and_socket_mode(client: WebClient) -> None:
    assert error_of(lambda: client.api_call("chat.teleport")) == "unknown_method"
    assert error_of(lambda: client.apps_connections_open(app_token="xapp-1")) == "not_allowed"


def test_json_bodies_are_accepted(fake: FakeSlack, client: WebClient) -> None:
    client.api_call("chat.postMessage", json={"channel": "C1", "blocks": [SECTION], "text": "j"})
    assert fake.messages[0]["blocks"] == [SECTION]


def test_calls_are_recorded_and_reset(fake: FakeSlack, client: WebClient) -> None:
    client.auth_test()
    assert fake.calls[0].method == "auth.test"
    assert fake.calls[0].at <= time.time()
    fake.reset_calls()
    assert fake.calls == [] and fake.count("auth.test") == 0


def test_many_concurrent_requests(fake: FakeSlack, client: WebClient) -> None:
    def post(i: int) -> str:
        return str(client.chat_postMessage(channel="C1", text=str(i))["ts"])

    with ThreadPoolExecutor(max_workers=32) as pool:
        stamps = list(pool.map(post, range(300)))
    assert len(set(stamps)) == 300
    assert fake.count("chat.postMessage") == len(fake.messages) == 300


def test_signed_request_headers_verify() -> None:
    body = json.dumps({"type": "event_callback"})
    headers = signed_request_headers("secret", body)
    verifier = SignatureVerifier("secret")
    assert verifier.is_valid(
        body=body,
        timestamp=headers["X-Slack-Request-Timestamp"],
        signature=headers["X-Slack-Signature"],
    )
    assert headers["Content-Type"] == "application/json"
    old = signed_request_headers("secret", "a=1", timestamp=1_700_000_000)
    assert old["X-Slack-Request-Timestamp"] == "1700000000"
    assert old["Content-Type"] == "application/x-www-form-urlencoded"


def test_the_fake_keeps_no_state_at_module_level() -> None:
    """Two workspaces in one process (a test's and a demo's) share nothing: every mutable
    thing in bot.sim.fakeslack is a constant or lives on a FakeSlack."""
    import bot.sim.fakeslack as module

    mutable = {
        name
        for name, value in vars(module).items()
        if isinstance(value, dict | list | set) and name.lstrip("_") != name.lstrip("_").upper()
    }
    assert mutable <= {"__all__", "__annotations__", "__builtins__"}, mutable


def test_the_driver_signs_as_slack_does_without_sending(fake: FakeSlack) -> None:
    driver = SlackDriver("http://127.0.0.1:9", "secret", fake)
    body = driver.command_body("/goal", "list", user="U100")
    request = driver.signed_request(body)
    assert request.path == "/slack/events" and request.data == body.encode()
    assert SignatureVerifier("secret").is_valid(
        body=body,
        timestamp=request.headers["X-Slack-Request-Timestamp"],
        signature=request.headers["X-Slack-Signature"],
    )
    form = dict(urllib.parse.parse_qsl(body))
    assert form["team_id"] == fake.team_id and form["channel_id"] == fake.dm_channel("U100")
    assert form["response_url"].startswith(fake.url + "/response/")
    assert fake.calls == []


def test_a_click_is_on_a_message_or_on_a_view(fake: FakeSlack) -> None:
    driver = SlackDriver("http://127.0.0.1:9", "secret", fake)
    option = {"value": "7:3", "text": {"type": "plain_text", "text": "A lot"}}
    blocks = [
        {
            "type": "actions",
            "block_id": "answers",
            "elements": [
                {"type": "button", "action_id": "go", "value": "7"},
                {"type": "radio_buttons", "action_id": "pick", "options": [option]},
            ],
        }
    ]
    message = {"channel": "D100", "ts": "1.5", "text": "Hi", "blocks": blocks}
    click = driver.click_payload(message, "go", user="U100")
    assert click["container"] == {
        "type": "message",
        "channel_id": "D100",
        "message_ts": "1.5",
        "is_ephemeral": False,
    }
    assert click["actions"][0]["value"] == "7" and click["actions"][0]["block_id"] == "answers"
    picked = driver.click_payload(message, "pick", user="U100", value="7:3")
    assert picked["actions"][0]["selected_option"] == option

    home = {"type": "home", "id": "VHOME", "blocks": blocks}
    on_view = driver.click_payload(home, "go", user="U100", value="8")
    assert on_view["container"] == {"type": "view", "view_id": "VHOME"}
    assert on_view["view"] is home and "channel" not in on_view
    assert on_view["actions"][0]["value"] == "8"
