"""Clients for the services figway talks to over the network."""
