"""The Slack adapter: the Bolt app, its listeners, Block Kit builders, the Web API client
and the delivery of nudges as DMs."""
