"""The parity harness: does a FastAPI twin answer like its Flask original?"""
