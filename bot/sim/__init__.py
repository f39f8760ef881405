"""What the demo, the tests and the bench share: the fake Slack Web API and one driver
that talks to the real app as Slack would."""
