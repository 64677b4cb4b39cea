"""Day-2 operations through Git (issue 14): pure decisions over the observed state and the previous render."""
