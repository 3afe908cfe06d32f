"""Test cases: a prompt run over a table of inputs, every answer checked, runs compared."""
