"""The migration dashboard at /_figway/ (gateway/dashboard/page.py): figway's own page,
template and static files, for any app behind the gateway (nothing of the demo's)."""
