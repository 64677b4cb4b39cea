"""fedrender's in-cluster reconciler: initiates and reconfigures a MongoDB replica set, one safe step at a time.

``decide`` is pure: it returns the next single action from the roster and what was observed. ``mongo`` and
``kube`` are the adapters that observe and act.
"""
