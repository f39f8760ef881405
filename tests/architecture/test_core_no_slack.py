"""The summary, the digest and privacy are domain modules: importing them loads no Slack code.

Run in a fresh interpreter, so modules other tests imported cannot hide an import.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOMAIN = ("bot.core.reporting", "bot.core.digest", "bot.core.privacy")
SLACK = ("slack_sdk", "slack_bolt", "bot.slack", "bot.services")


def test_reporting_digest_and_privacy_import_nothing_from_slack() -> None:
    script = (
        "import sys\n"
        + "".join(f"import {name}\n" for name in DOMAIN)
        + f"print(sorted(m for m in sys.modules for s in {SLACK!r}"
        + " if m == s or m.startswith(s + '.')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]", done.stdout
