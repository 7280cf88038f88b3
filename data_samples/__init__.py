"""Committed sample data (the Jining sample set under ``jining/``) and its generator.

A package so that tests, benchmarks and ``python -m data_samples.generate`` import the
generator by name instead of editing ``sys.path``.
"""
