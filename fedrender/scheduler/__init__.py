"""Scheduling: pure functions from (requests, cluster summaries, rule verdicts) to a member placement."""
