"""The L&D summary as Block Kit, from the core's plain summary."""

from __future__ import annotations

from bot.core import reporting

# The mrkdwn text helpers live below the domain, which fills prompts with user text too; they
# are re-exported here for the builders' callers.
from bot.mrkdwn import escape, user_text
from bot.prompts import Prompts
from bot.slack.blocks.primitives import Json, _context, _header, _message, _section

SUMMARY_NOTE_MAX = 280  # characters of one quoted note


def summary_blocks(
    summary: reporting.Summary,
    prompts: Prompts,
    *,
    intro: str | None = None,
    title: str | None = None,
) -> Json:
    """The summary message: `{"text": fallback, "blocks": [...]}` within Slack's limits."""
    default_title, lines, groups = reporting.summary_lines(summary, prompts)
    title = title or default_title
    blocks: list[Json] = [_header(title)]
    if intro:
        blocks.append(_section(intro))
    blocks.append(_section("\n".join(lines)))
    if groups:
        blocks.append(_section(prompts.text("summary.by_training") + "\n" + "\n".join(groups)))
    if summary.notes:
        quoted = [
            prompts.text(
                "summary.note_line", note=user_text(n.replace("\n", " "), SUMMARY_NOTE_MAX)
            )
            for n in summary.notes
        ]
        blocks.append(_section(prompts.text("summary.notes_title") + "\n" + "\n".join(quoted)))
    blocks.append(_context(prompts.text("summary.privacy", min=summary.min_group_size)))
    return _message(escape(title), blocks)
