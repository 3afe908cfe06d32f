"""The workbench: tools for shaping a prompt beside the chat, starting with its token count."""
