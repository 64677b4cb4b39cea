"""Adapters to the outside world that the CLI uses directly (the Karmada API)."""
