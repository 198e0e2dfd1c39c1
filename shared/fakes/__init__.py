"""Local stand-ins for the outside world, for tests, demos and benchmarks."""
