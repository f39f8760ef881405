"""`python -m bot` is `coachbot`."""

from bot.cli import main

raise SystemExit(main())
