"""One question to one answer: the model's conversation, its trimming and redaction, budgets and feedback."""
