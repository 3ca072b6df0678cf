"""The llm-platform stack program and its offline tooling (plan, schema)."""
