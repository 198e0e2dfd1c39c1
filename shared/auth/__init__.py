"""Passwords, roles, session rows and bearer tokens: the auth rules both sides apply."""
