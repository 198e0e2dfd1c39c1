"""The one database layer: models, engines and sessions for both sides, migrations."""
