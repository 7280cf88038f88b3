"""Pipe-network loaders (地下管线): survey result tables and GIS network layers.

``load`` runs a delivery end to end; ``survey`` and ``gis`` read the two kinds of delivery into
``records``; ``qa`` checks them against the rules; ``topology`` links points and segments;
``fields`` parses values; ``dictionaries`` holds the CJJ 61 dictionaries; ``write`` writes one
delivery as one load.
"""

from loaders.pipes.load import load_pipes, load_pipes_files, qa_pipes, read_delivery, run_qa

__all__ = ["load_pipes", "load_pipes_files", "qa_pipes", "read_delivery", "run_qa"]
