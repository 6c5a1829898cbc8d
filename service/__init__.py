"""coherent-memory: assembles coherent, budgeted context for LLM applications."""
