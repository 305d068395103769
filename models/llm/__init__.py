"""LLM backends behind the classifier interface: local causal LMs, NLI models and OpenAI-compatible servers."""
