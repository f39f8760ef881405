"""Fixtures of the nudge engine's tests; the helpers live in nudge_world.py beside this file."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from support import Clock

from bot.sim.fakeslack import FakeSlack
from storage.db import Database

# Test modules import their helpers by name; this folder is not on the path by default.
sys.path.insert(0, str(Path(__file__).parent))

from nudge_world import World


@pytest.fixture
def world(db: Database, fake: FakeSlack, clock: Clock) -> World:
    return World(db, fake, clock)
