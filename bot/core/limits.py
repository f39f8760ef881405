"""How long what people type may be, each limit in one place, for every door that checks it.

Slack's own Block Kit limits stay with the builders (bot/slack/blocks/primitives.py). The
stored ones fit their columns (storage/models.py; tests/bot/core/test_limits.py holds the two
together).
"""

from __future__ import annotations

TRAINING_NAME_MAX = 200  # the /enroll modal, the intake (every source), shown names
EXTERNAL_ID_MAX = 200  # an LMS's enrollment id
PERSON_NAME_MAX = 200  # people.csv `name`, and a name as shown
EMAIL_MAX = 320  # RFC 5321: 64 + @ + 255
STATUS_TEXT_MAX = 200  # what is kept of a Slack status
STATUS_EMOJI_MAX = 100
LOCALE_MAX = 35  # a Slack locale such as fr-FR (BCP 47 keeps tags to 35 characters)
GOAL_TEXT_MAX = 3000  # /goal and the goal modal (INTERFACE.md)
GOAL_MEASURE_MAX = 1000  # "how you will know", in the goal modal
ANSWER_TEXT_MAX = 3000  # a free-text answer in a modal (a reason, a note, a result)
NOTE_MAX = 4000  # a reply in a prompt's thread, kept as a note
WHY_MAX = 500  # why a training matters (INTERFACE.md, "Why it matters")
# Goals a follow-up asks about, the first ones set: each is two blocks of a Slack message.
FOLLOW_UP_GOALS_MAX = 8
