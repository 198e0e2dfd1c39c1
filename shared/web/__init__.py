"""HTTP rules both sides and the gateway apply alike: security headers, trusted hosts,
same-site writes. Pure: each side hooks them in its one place."""
