"""Chat templates, measured: the Jinja sandbox, Ollama's Go templates, and what a template costs a conversation."""
