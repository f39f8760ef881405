"""The L&D summary delivered in Slack: the message, then the chart and the CSV as files.

What goes in them is built by bot.core.reporting; used by `/training-summary`, the App Home
button and the weekly digest (as its poster).
"""

from __future__ import annotations

import logging

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.core import reporting
from bot.core.digest import RecipientFailed
from bot.prompts import Prompts
from bot.slack.blocks import summary_blocks
from storage.metrics import Period

log = logging.getLogger(__name__)


def dm_channel(client: WebClient, user_id: str) -> str:
    """A user's DM channel id: files.completeUploadExternal refuses a user id."""
    opened = client.conversations_open(users=user_id)
    channel = opened.get("channel") or {}
    return str(channel["id"])


def post_summary(
    client: WebClient,
    channel: str,
    summary: reporting.Summary,
    csv_data: str,
    prompts: Prompts,
    *,
    intro: str | None = None,
    title: str | None = None,
) -> str | None:
    """The summary as one post; its chart and CSVs (the enrollments, and every figure with
    its counts) in that post's thread. Returns the chart's file id, when Slack gave one."""
    message = summary_blocks(summary, prompts, intro=intro, title=title)
    posted = client.chat_postMessage(
        channel=channel, text=message["text"], blocks=message["blocks"]
    )
    label = summary.week.label
    chart_name = f"training-summary-{label}.png"
    uploaded = client.files_upload_v2(
        channel=posted.get("channel") or channel,
        thread_ts=posted.get("ts"),
        initial_comment=prompts.text("summary.upload_comment", week=label),
        file_uploads=[
            {
                "content": reporting.chart_png_isolated(summary, prompts),
                "filename": chart_name,
                "title": prompts.text("summary.chart_file", week=label),
                "alt_txt": prompts.text("summary.chart_alt", week=label)[:1000],
            },
            {
                "content": csv_data.encode("utf-8"),
                "filename": f"enrollments-{label}.csv",
                "title": prompts.text("summary.csv_file", week=label),
                "snippet_type": "csv",
            },
            {
                "content": reporting.figures_csv(summary, prompts).encode("utf-8"),
                "filename": f"figures-{label}.csv",
                "title": prompts.text("summary.figures_file", week=label),
                "snippet_type": "csv",
            },
        ],
    )
    log.info("summary.posted channel=%s week=%s", channel, label)
    files = uploaded.get("files") or []
    chart = next((f for f in files if f.get("name") == chart_name), files[0] if files else {})
    return chart.get("id")


def post_csv(
    client: WebClient, channel: str, week: Period, csv_data: str, prompts: Prompts
) -> None:
    client.files_upload_v2(
        channel=channel,
        initial_comment=prompts.text("summary.csv_comment", week=week.label),
        content=csv_data.encode("utf-8"),
        filename=f"enrollments-{week.label}.csv",
        title=prompts.text("summary.csv_file", week=week.label),
        snippet_type="csv",
    )
    log.info("summary.csv_posted channel=%s week=%s", channel, week.label)


class SlackDigestPoster:
    """The weekly digest's poster (bot.core.digest.DigestPoster) over one Web API client."""

    def __init__(self, client: WebClient) -> None:
        self.client = client

    def group_members(self, group: str) -> list[str]:
        try:
            found = self.client.usergroups_users_list(usergroup=group)
        except SlackApiError as exc:
            log.warning("digest.usergroup_failed error=%s", exc.response.get("error"))
            return []
        return list(found.get("users") or ())

    def post(
        self,
        to: str,
        summary: reporting.Summary,
        csv_data: str,
        *,
        dm: bool,
        intro: str,
        title: str,
        prompts: Prompts,
    ) -> str | None:
        try:
            channel = dm_channel(self.client, to) if dm else to
            return post_summary(
                self.client, channel, summary, csv_data, prompts, intro=intro, title=title
            )
        except SlackApiError as exc:
            raise RecipientFailed(exc.response.get("error")) from exc
