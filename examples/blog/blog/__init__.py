"""A small blog, written here to show figway on an app that is not its demo.

The Flask app (blog.legacy) is the app being migrated; blog.twins holds the FastAPI twins
of its JSON routes; blog.gateway puts both behind figway's gateway; blog.parity tells
`figway verify` how to compare them. The SQL and the JSON shapes are in blog.store,
written once and run by each side with its own driver (sqlite3 and aiosqlite).
"""
