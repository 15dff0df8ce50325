"""Question answering stage: retrieval, extractive answering, conversation, CLI and evaluation."""
