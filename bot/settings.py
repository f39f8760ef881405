"""Settings, read once from the environment and `.env`, checked before anything starts."""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dotenv import dotenv_values

from bot.prompts import SHIPPED_LOCALES, babel_locale, locale_tag, match_locale
from scheduler.calendar import AUTO, OFF, UnknownCountry, check_code
from scheduler.planning import Rules, parse_clock, parse_days
from storage.urls import url_problem

SLACK_APPS_URL = "https://api.slack.com/apps"


class ConfigError(Exception):
    """A setting is missing or malformed; the message names it and says how to fix it."""


@dataclass(frozen=True)
class Settings:
    slack_bot_token: str = ""
    slack_signing_secret: str = ""
    slack_app_token: str = ""
    slack_api_url: str = "https://slack.com/api/"
    database_url: str = "sqlite:///coachbot.db"
    port: int = 3000
    enrollment_webhook_token: str = ""
    ld_leads: frozenset[str] = frozenset()
    ld_channel: str = ""
    ld_usergroup: str = ""
    default_timezone: str = "UTC"
    delivery_time: time = time(9, 30)
    delivery_end: time = time(17, 0)
    delivery_days: frozenset[int] = frozenset({0, 1, 2, 3, 4})
    goal_invite_days: int = 5
    pre_training_days: int = 3
    post_training_days: int = 1
    follow_up_days: tuple[int, ...] = (30,)
    reminder_after_days: int = 2
    max_reminders: int = 1
    dispatch_interval_seconds: int = 30
    digest_day: int = 0
    digest_time: time = time(9, 0)
    min_group_size: int = 3
    share_notes_with_ld: bool = False
    prompts_file: str = ""
    default_locale: str = "en"
    ld_locale: str = "en"
    slack_manager_field_id: str = ""
    retention_days: int | None = None
    metrics_port: int | None = None
    holidays: str = "auto"
    # The learning systems (README, "Learning systems"); unset: that source is off.
    xapi_key: str = ""
    xapi_secret: str = ""
    ics_feed_urls: tuple[str, ...] = ()
    ics_poll_minutes: int = 60
    canvas_url: str = ""
    canvas_token: str = ""
    canvas_jwks_url: str = ""  # empty: Instructure's published key set
    moodle_url: str = ""
    moodle_token: str = ""
    extra: Mapping[str, str] = field(default_factory=dict, repr=False)

    @property
    def rules(self) -> Rules:
        return Rules(
            delivery_time=self.delivery_time,
            delivery_end=self.delivery_end,
            delivery_days=self.delivery_days,
            goal_invite_days=self.goal_invite_days,
            pre_training_days=self.pre_training_days,
            post_training_days=self.post_training_days,
            follow_up_days=self.follow_up_days,
            reminder_after_days=self.reminder_after_days,
            max_reminders=self.max_reminders,
            holidays=self.holidays,
        )

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.default_timezone)

    @property
    def socket_mode(self) -> bool:
        return bool(self.slack_app_token)

    def __repr__(self) -> str:  # secrets never reach a log line through a repr
        return f"Settings(database={_redact_url(self.database_url)!r}, port={self.port})"

    def missing_slack_credentials(self, *, http: bool) -> list[str]:
        """What `coachbot run` still needs, each with where to find it."""
        missing = []
        if not self.slack_bot_token:
            missing.append(
                "SLACK_BOT_TOKEN: the Bot User OAuth Token (xoxb-...), under "
                f"OAuth & Permissions of your app at {SLACK_APPS_URL}"
            )
        if (http or not self.slack_app_token) and not self.slack_signing_secret:
            missing.append(
                "SLACK_SIGNING_SECRET: under Basic Information > App Credentials "
                "(HTTP mode), or set SLACK_APP_TOKEN to use Socket Mode instead"
            )
        return missing


def _redact_url(url: str) -> str:
    return re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", url)


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def load_log_level(
    environ: Mapping[str, str] | None = None, *, env_file: str | Path | None = ".env"
) -> str | None:
    """LOG_LEVEL from the environment over `.env`, upper-cased; None when it is unset.

    Apart from the settings because logging is set up first, and for every command,
    including those that read no other setting (`demo`, `manifest`)."""
    value = _values(environ, env_file).get("LOG_LEVEL", "").strip().upper()
    if value and value not in LOG_LEVELS:
        raise ConfigError(
            f"LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, not {value!r} "
            "(in the environment or .env)"
        )
    return value or None


def _values(environ: Mapping[str, str] | None, env_file: str | Path | None) -> dict[str, str]:
    values: dict[str, str] = {}
    if env_file is not None and Path(env_file).is_file():
        values.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    values.update(os.environ if environ is None else environ)
    return values


def load_settings(
    environ: Mapping[str, str] | None = None, *, env_file: str | Path | None = ".env"
) -> Settings:
    """Read the environment over `.env`; raise ConfigError naming every bad variable."""
    reader = _Reader(_values(environ, env_file))
    default_locale = reader.locale("DEFAULT_LOCALE", "en")
    settings = Settings(
        slack_bot_token=reader.token("SLACK_BOT_TOKEN", ("xoxb-",)),
        slack_signing_secret=reader.text("SLACK_SIGNING_SECRET"),
        slack_app_token=reader.token("SLACK_APP_TOKEN", ("xapp-",)),
        slack_api_url=reader.url("SLACK_API_URL", "https://slack.com/api/"),
        database_url=reader.database_url("DATABASE_URL", "sqlite:///coachbot.db"),
        port=reader.number("PORT", 3000, low=1, high=65535),
        enrollment_webhook_token=reader.text("ENROLLMENT_WEBHOOK_TOKEN"),
        ld_leads=reader.slack_ids("LD_LEADS"),
        ld_channel=reader.text("LD_CHANNEL"),
        ld_usergroup=reader.text("LD_USERGROUP"),
        default_timezone=reader.timezone("DEFAULT_TIMEZONE", "UTC"),
        delivery_time=reader.clock("DELIVERY_TIME", time(9, 30)),
        delivery_end=reader.clock("DELIVERY_END", time(17, 0)),
        delivery_days=reader.days("DELIVERY_DAYS", frozenset({0, 1, 2, 3, 4})),
        goal_invite_days=reader.number("GOAL_INVITE_DAYS", 5, low=0, high=60),
        pre_training_days=reader.number("PRE_TRAINING_DAYS", 3, low=0, high=60),
        post_training_days=reader.number("POST_TRAINING_DAYS", 1, low=0, high=60),
        follow_up_days=reader.increasing("FOLLOW_UP_DAYS", (30,), low=1, high=365),
        reminder_after_days=reader.number("REMINDER_AFTER_DAYS", 2, low=1, high=60),
        max_reminders=reader.number("MAX_REMINDERS", 1, low=0, high=10),
        dispatch_interval_seconds=reader.number("DISPATCH_INTERVAL_SECONDS", 30, low=1, high=3600),
        digest_day=reader.weekday("DIGEST_DAY", 0),
        digest_time=reader.clock("DIGEST_TIME", time(9, 0)),
        min_group_size=reader.number("MIN_GROUP_SIZE", 3, low=1, high=1000),
        share_notes_with_ld=reader.flag("SHARE_NOTES_WITH_LD", False),
        prompts_file=reader.file("PROMPTS_FILE"),
        default_locale=default_locale,
        ld_locale=reader.locale("LD_LOCALE", default_locale),
        slack_manager_field_id=reader.text("SLACK_MANAGER_FIELD_ID"),
        retention_days=reader.optional_int("RETENTION_DAYS", low=1, high=36500),
        metrics_port=reader.optional_int("METRICS_PORT", low=1, high=65535),
        holidays=reader.holidays("HOLIDAYS"),
        xapi_key=reader.text("XAPI_KEY"),
        xapi_secret=reader.text("XAPI_SECRET"),
        ics_feed_urls=reader.urls("ICS_FEED_URLS", ("http", "https", "webcal")),
        ics_poll_minutes=reader.number("ICS_POLL_MINUTES", 60, low=1, high=1440),
        canvas_url=reader.base_url("CANVAS_URL", "https://yourschool.instructure.com"),
        canvas_token=reader.text("CANVAS_TOKEN"),
        canvas_jwks_url=reader.base_url("CANVAS_JWKS_URL", "https://keys.example.org/jwks"),
        moodle_url=reader.base_url("MOODLE_URL", "https://moodle.example.org"),
        moodle_token=reader.text("MOODLE_TOKEN"),
    )
    if settings.delivery_end <= settings.delivery_time:
        reader.errors.append(
            "DELIVERY_END must be later than DELIVERY_TIME "
            f"(got {settings.delivery_time:%H:%M} to {settings.delivery_end:%H:%M})"
        )
    if settings.metrics_port is not None and settings.metrics_port == settings.port:
        reader.errors.append(
            f"METRICS_PORT must differ from PORT (both are {settings.port}): "
            "Prometheus scrapes its own port"
        )
    _check_sources(settings, reader)
    if reader.errors:
        raise ConfigError(
            "Coachbot's configuration needs fixing (in the environment or .env):\n  - "
            + "\n  - ".join(reader.errors)
        )
    return settings


def _check_sources(settings: Settings, reader: _Reader) -> None:
    """Settings that only make sense together."""
    pairs = (
        ("XAPI_KEY", settings.xapi_key, "XAPI_SECRET", settings.xapi_secret),
        ("CANVAS_URL", settings.canvas_url, "CANVAS_TOKEN", settings.canvas_token),
        ("MOODLE_URL", settings.moodle_url, "MOODLE_TOKEN", settings.moodle_token),
    )
    for first, one, second, other in pairs:
        if bool(one) != bool(other):
            missing, given = (second, first) if one else (first, second)
            reader.errors.append(f"{missing} must be set too: {given} is set, and they go together")
    if settings.moodle_url and not settings.enrollment_webhook_token:
        reader.errors.append(
            "ENROLLMENT_WEBHOOK_TOKEN must be set when MOODLE_URL is: Moodle's local_webhooks "
            "plugin sends it as its token, and POST /api/lms/moodle refuses any other"
        )


class _Reader:
    """Parses one variable at a time and collects every error, so one run names them all."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self.values = values
        self.errors: list[str] = []

    def text(self, name: str, default: str = "") -> str:
        return self.values.get(name, "").strip() or default

    def holidays(self, name: str) -> str:
        value = self.text(name, AUTO)
        if value.lower() in (AUTO, OFF):
            return value.lower()
        codes = []
        for code in value.split(","):
            try:
                codes.append(check_code(code))
            except UnknownCountry as exc:
                self.errors.append(f"{name}: {exc} (or `auto`, or `off`)")
        return ",".join(codes)

    def token(self, name: str, prefixes: tuple[str, ...]) -> str:
        value = self.text(name)
        if value and not value.startswith(prefixes):
            self.errors.append(f"{name} should start with {' or '.join(prefixes)}")
        return value

    def url(self, name: str, default: str) -> str:
        value = self.text(name, default)
        if not re.match(r"^https?://", value):
            self.errors.append(f"{name} must be an http(s) URL such as {default}")
            return default
        return value if value.endswith("/") else value + "/"

    def base_url(self, name: str, example: str) -> str:
        """An optional http(s) base URL, without a trailing slash; empty when unset."""
        value = self.text(name)
        if value and not re.match(r"^https?://[^/\s]+", value):
            self.errors.append(f"{name} must be an http(s) URL such as {example}, not {value!r}")
            return ""
        return value.rstrip("/")

    def urls(self, name: str, schemes: tuple[str, ...]) -> tuple[str, ...]:
        """Comma-separated URLs, each with one of `schemes`."""
        found = tuple(part.strip() for part in self.text(name).split(",") if part.strip())
        pattern = re.compile(rf"^({'|'.join(schemes)})://[^/\s]+", re.IGNORECASE)
        bad = [url for url in found if not pattern.match(url)]
        if bad:
            self.errors.append(
                f"{name} must be URLs starting with {', '.join(s + '://' for s in schemes)}, "
                f"separated by commas (not {bad[0]!r})"
            )
            return tuple(url for url in found if pattern.match(url))
        return found

    def database_url(self, name: str, default: str) -> str:
        value = self.text(name, default)
        if not re.match(r"^(sqlite|postgres(ql)?)(\+\w+)?://", value):
            self.errors.append(
                f"{name} must look like sqlite:///coachbot.db or "
                "postgresql://user:password@host:5432/coachbot"
            )
            return default
        problem = url_problem(value)
        if problem:
            self.errors.append(f"{name}: {problem}")
            return default
        return value

    def number(self, name: str, default: int, *, low: int, high: int) -> int:
        raw = self.text(name)
        if not raw:
            return default
        try:
            value = int(raw)
        except ValueError:
            self.errors.append(f"{name} must be a whole number from {low} to {high}, not {raw!r}")
            return default
        if not low <= value <= high:
            self.errors.append(f"{name} must be from {low} to {high}, not {value}")
            return default
        return value

    def increasing(
        self, name: str, default: tuple[int, ...], *, low: int, high: int
    ) -> tuple[int, ...]:
        """Comma-separated whole numbers from `low` to `high`, each larger than the one before."""
        raw = self.text(name)
        if not raw:
            return default
        problem = f"{name} must be whole numbers from {low} to {high}, separated by commas"
        try:
            values = tuple(int(part) for part in raw.split(","))
        except ValueError:
            self.errors.append(f"{problem}, such as 30 or 30,90, not {raw!r}")
            return default
        if not all(low <= value <= high for value in values):
            self.errors.append(f"{problem}, not {raw!r}")
            return default
        if any(later <= earlier for earlier, later in itertools.pairwise(values)):
            self.errors.append(
                f"{name} must go up, each number larger than the one before, not {raw!r}"
            )
            return default
        return values

    def optional_int(self, name: str, *, low: int, high: int) -> int | None:
        return self.number(name, 0, low=low, high=high) if self.text(name) else None

    def flag(self, name: str, default: bool) -> bool:
        raw = self.text(name).lower()
        if not raw:
            return default
        if raw in ("1", "true", "yes", "on"):
            return True
        if raw in ("0", "false", "no", "off"):
            return False
        self.errors.append(f"{name} must be true or false, not {raw!r}")
        return default

    def clock(self, name: str, default: time) -> time:
        raw = self.text(name)
        if not raw:
            return default
        try:
            return parse_clock(raw)
        except ValueError:
            self.errors.append(f"{name} must be a time of day as HH:MM, such as 09:30, not {raw!r}")
            return default

    def days(self, name: str, default: frozenset[int]) -> frozenset[int]:
        raw = self.text(name)
        if not raw:
            return default
        try:
            days = parse_days(raw)
        except ValueError as exc:
            self.errors.append(f"{name}: {exc} (use mon,tue,wed,thu,fri,sat,sun)")
            return default
        if not days:
            self.errors.append(f"{name} must name at least one day, such as mon,tue,wed,thu,fri")
            return default
        return days

    def weekday(self, name: str, default: int) -> int:
        raw = self.text(name)
        if not raw:
            return default
        try:
            days = parse_days(raw)
        except ValueError:
            days = frozenset()
        if len(days) != 1:
            self.errors.append(f"{name} must be one day such as mon, not {raw!r}")
            return default
        return next(iter(days))

    def timezone(self, name: str, default: str) -> str:
        raw = self.text(name, default)
        try:
            ZoneInfo(raw)
        except (ZoneInfoNotFoundError, ValueError):
            self.errors.append(
                f"{name} must be an IANA time zone such as Europe/Paris or UTC, not {raw!r}"
            )
            return default
        return raw

    def slack_ids(self, name: str) -> frozenset[str]:
        ids = frozenset(part.strip() for part in self.text(name).split(",") if part.strip())
        bad = sorted(i for i in ids if not re.fullmatch(r"[UW][A-Z0-9]{2,}", i))
        if bad:
            self.errors.append(
                f"{name} must be Slack user ids such as U012ABCDEF, separated by commas "
                f"(not {', '.join(bad)}); find one under a profile's ⋮ > Copy member ID"
            )
        return ids

    def locale(self, name: str, default: str) -> str:
        raw = self.text(name)
        if not raw:
            return default
        if match_locale(raw, None) is None or babel_locale(raw) is None:
            self.errors.append(
                f"{name} must be a language Coachbot ships, {', '.join(SHIPPED_LOCALES)}, "
                f"optionally with a region as Slack writes it (en-GB, fr-CA), not {raw!r}"
            )
            return default
        return locale_tag(raw)

    def file(self, name: str) -> str:
        raw = self.text(name)
        if raw and not Path(raw).is_file():
            self.errors.append(f"{name} names a file that does not exist: {raw}")
            return ""
        return raw
