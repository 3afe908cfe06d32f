"""Accounts: people change their own password; staff invite people by one-time sign-up links."""
