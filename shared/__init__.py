"""Code both sides of the migration execute: config, database, auth, services, clients."""

__version__ = "0.9.7"
