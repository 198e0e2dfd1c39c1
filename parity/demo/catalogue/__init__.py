"""Parity scenarios, one module per resource; scenarios.py assembles them."""
