"""The learning systems' settings: off until set, and named with their fix when wrong."""

from __future__ import annotations

import pytest

from bot.settings import ConfigError, load_settings


def test_every_source_is_off_by_default() -> None:
    s = load_settings({}, env_file=None)
    assert (s.xapi_key, s.xapi_secret, s.canvas_url, s.canvas_token) == ("", "", "", "")
    assert (s.moodle_url, s.moodle_token, s.canvas_jwks_url) == ("", "", "")
    assert s.ics_feed_urls == () and s.ics_poll_minutes == 60


def test_sources_are_read_and_urls_lose_their_trailing_slash() -> None:
    s = load_settings(
        {
            "XAPI_KEY": "lrs",
            "XAPI_SECRET": "secret",
            "CANVAS_URL": "https://school.instructure.com/",
            "CANVAS_TOKEN": "7~abc",
            "MOODLE_URL": "https://moodle.example.org/",
            "MOODLE_TOKEN": "f00",
            "ENROLLMENT_WEBHOOK_TOKEN": "t",
            "ICS_FEED_URLS": "https://calendar.google.com/x/basic.ics, webcal://outlook.office365.com/y",
            "ICS_POLL_MINUTES": "15",
        },
        env_file=None,
    )
    assert s.canvas_url == "https://school.instructure.com"
    assert s.moodle_url == "https://moodle.example.org"
    assert s.ics_feed_urls == (
        "https://calendar.google.com/x/basic.ics",
        "webcal://outlook.office365.com/y",
    )
    assert s.ics_poll_minutes == 15


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"CANVAS_URL": "https://school.instructure.com"}, "CANVAS_TOKEN"),
        ({"CANVAS_TOKEN": "7~abc"}, "CANVAS_URL"),
        ({"CANVAS_URL": "school.instructure.com", "CANVAS_TOKEN": "x"}, "CANVAS_URL"),
        ({"CANVAS_JWKS_URL": "keys"}, "CANVAS_JWKS_URL"),
        ({"XAPI_KEY": "lrs"}, "XAPI_SECRET"),
        ({"MOODLE_URL": "https://m.example.org", "MOODLE_TOKEN": "x"}, "ENROLLMENT_WEBHOOK_TOKEN"),
        ({"MOODLE_TOKEN": "x", "ENROLLMENT_WEBHOOK_TOKEN": "t"}, "MOODLE_URL"),
        ({"ICS_FEED_URLS": "ftp://calendar.example.org/a.ics"}, "ICS_FEED_URLS"),
        ({"ICS_POLL_MINUTES": "0"}, "ICS_POLL_MINUTES"),
        ({"ICS_POLL_MINUTES": "hourly"}, "ICS_POLL_MINUTES"),
    ],
)
def test_a_bad_source_setting_is_named(environ: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        load_settings(environ, env_file=None)
