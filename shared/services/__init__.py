"""Route logic written once: each function takes a sync Session and returns JSON-ready data.

Flask calls these directly; FastAPI runs the very same functions through
``AsyncSession.run_sync`` on the async driver, so the two sides execute the same SQL.
Services flush but never commit: the caller owns the transaction.
"""
