"""The workbench: prompt work beside the chat (saved prompts and versions, the token count)."""
