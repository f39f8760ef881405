"""Learning-system sources: each turns a vendor's message into neutral `SourceEvent`s."""

from bot.core.sources.event import SourceError, SourceEvent

__all__ = ["SourceError", "SourceEvent"]
