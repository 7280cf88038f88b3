"""Benchmarks, run by hand from the repository root as modules (``python -m bench.<name>``).

A package so that the scripts import the project (``cim``, ``loaders``, ``data_samples``) by
name, without editing ``sys.path``.
"""
