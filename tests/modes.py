"""How this run of the suite reaches the legacy app's routes, from the environment.

- neither: Flask's test client calls the Flask app (pass 1 of `make test`);
- FIGWAY_TEST_THROUGH_GATEWAY=1: the same client, through the gateway, each route with a
  FastAPI twin served by the twin (pass 2; tests/through_gateway.py);
- FIGWAY_TEST_FLASK_FREE=1: no Flask installed; the FastAPI app served alone, called by a
  client with Flask's test-client API (the Flask-free stage; tests/flask_free.py).
"""

from __future__ import annotations

import os

THROUGH_GATEWAY = os.environ.get("FIGWAY_TEST_THROUGH_GATEWAY") == "1"
FLASK_FREE = os.environ.get("FIGWAY_TEST_FLASK_FREE") == "1"
# Where a test finds the FastAPI app serving the twins (e.g. its download runner), in the
# app's `extensions`, in both modes that have one.
MODERN_KEY = "figway-through-gateway-modern"
