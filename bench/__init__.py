"""`make bench`: figway's promises measured side by side, legacy-owned against FastAPI-owned."""
