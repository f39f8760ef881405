"""Every length limit of what people type, in one place (Slack's own limits live with the
Block Kit builders)."""

GOAL_MAX = 3000  # an application goal (INTERFACE.md: /goal)
MEASURE_MAX = 1000  # "how you'll know" beside a goal
TEXT_MAX = 3000  # each free-text answer in a conversation modal
NOTE_MAX = 4000  # a thread reply kept as a note
TRAINING_NAME_MAX = 200
