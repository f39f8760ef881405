"""Scheduling: when nudges are due, and sending them when they are."""
