"""The strangler: one ASGI process that serves the legacy Flask app and its FastAPI twins."""
