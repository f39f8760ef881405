"""The L&D summary as Block Kit, from the core's plain summary."""

from __future__ import annotations

from bot.core import reporting
from bot.core.cases import CaseReport

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
    if rounds := reporting.round_lines(summary, prompts):
        blocks.append(_section(prompts.text("summary.rounds_title") + "\n" + "\n".join(rounds)))
    blocks += case_blocks(summary.cases, prompts)
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


def case_blocks(cases: CaseReport, prompts: Prompts) -> list[Json]:
    """The success cases, per training, and the people to interview (the consenting ones):
    a section each, so that no one's result is cut short by another's."""
    counts, people = reporting.case_lines(cases, prompts)
    return [
        _section(prompts.text("summary.cases_title") + "\n" + "\n".join(counts)),
        _section(prompts.text("summary.interview_title")),
        *(_section(line) for line in people),
    ]
