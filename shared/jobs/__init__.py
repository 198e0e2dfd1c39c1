"""Background jobs written once: a thread of the legacy app or a Celery task calls the same code.

Jobs take a session factory, not a session: each database update is its own short
transaction, so progress is visible to readers while the job runs.
"""
