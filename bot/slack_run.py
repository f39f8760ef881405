"""`slack run`'s start hook (.slack/hooks.json): the bot in Socket Mode, on the Slack CLI's app.

The hooks declare an SDK-managed connection, so the Slack CLI starts this once, as a
long-running process, and hands it the tokens of the app it installed for local development
as SLACK_CLI_XAPP and SLACK_CLI_XOXB. They win over `.env`, which may hold another app's;
everything else is configured as for `coachbot run`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import MutableMapping

# The Slack CLI's names for the tokens, and ours.
CLI_TOKENS = {"SLACK_CLI_XAPP": "SLACK_APP_TOKEN", "SLACK_CLI_XOXB": "SLACK_BOT_TOKEN"}


def main(environ: MutableMapping[str, str] = os.environ) -> int:
    for given, ours in CLI_TOKENS.items():
        if environ.get(given):
            environ[ours] = environ[given]
    if not environ.get("SLACK_APP_TOKEN"):
        print(
            "coachbot: no app-level token: `slack run` passes SLACK_CLI_XAPP to this hook; "
            "to run the bot without the Slack CLI, use `coachbot run`",
            file=sys.stderr,
        )
        return 2
    from bot.cli import main as coachbot

    # The app token is set and --http is not given: Socket Mode. Arguments the Slack CLI may
    # add (its protocol flags) are not coachbot's, so none are passed on.
    return coachbot(["run"])


if __name__ == "__main__":
    sys.exit(main())
