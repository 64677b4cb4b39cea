"""The CEL engine: typed environments over cel-expr-python, compile diagnostics with carets, guarded evaluation."""
