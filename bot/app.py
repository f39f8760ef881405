"""The app factory: builds the Bolt app and the HTTP routes around explicit services."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from slack_bolt import App
from slack_sdk import WebClient

from bot.listeners import register_all
from bot.prompts import Prompts, load_prompts
from bot.services import Services
from bot.settings import Settings
from bot.slack import make_client
from bot.web import WebApp
from storage.db import Database
from storage.models import utcnow

log = logging.getLogger(__name__)


def create_app(
    settings: Settings,
    db: Database,
    client: WebClient | None = None,
    *,
    clock: Callable[[], datetime] = utcnow,
    prompts: Prompts | None = None,
) -> tuple[App, Services]:
    """The Bolt app with every listener registered, and the services it shares."""
    if client is None:
        client = make_client(settings.slack_bot_token, settings.slack_api_url)
    services = Services(
        settings=settings,
        db=db,
        client=client,
        prompts=prompts or load_prompts(settings.prompts_file or None),
        clock=clock,
    )
    app = App(
        client=client,
        signing_secret=settings.slack_signing_secret or None,
        # Socket Mode has no signing secret: its traffic arrives over the authenticated socket.
        request_verification_enabled=bool(settings.slack_signing_secret),
        token_verification_enabled=False,
        ignoring_self_events_enabled=True,
        logger=logging.getLogger("bot.bolt"),
    )
    register_all(app, services)
    return app, services


def create_web(settings: Settings, app: App, services: Services, *, http: bool) -> WebApp:
    """The WSGI routes; Slack's route only in HTTP mode, where requests are signed."""
    return WebApp(services, app if http and settings.slack_signing_secret else None)
