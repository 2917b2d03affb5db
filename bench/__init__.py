"""Benchmarks run from the command line (`emx bench ...`)."""
