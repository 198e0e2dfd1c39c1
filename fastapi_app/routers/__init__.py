"""One router per resource, named as on the Flask side."""
