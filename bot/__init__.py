"""The Slack side: app factory, listeners, Block Kit builders, HTTP routes and the CLI."""
