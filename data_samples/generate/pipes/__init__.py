"""The sample underground pipe survey (地下管线普查成果表) of seven classes.

``network`` lays each class out on the street grid, ``survey`` numbers the points and builds
the surveyors' point and segment tables, ``errors`` seeds the 15 deliberate survey errors
that ``cim qa pipes`` must find, and ``writers`` delivers the tables as an Excel workbook and
GBK / UTF-8-BOM CSVs. ``classes`` holds the per-class parameters and the file names.
"""

from data_samples.generate.pipes.classes import (
    PIPE_CLASSES,
    PIPE_CSV_GBK,
    PIPE_CSV_UTF8,
    PIPE_WORKBOOK,
)
from data_samples.generate.pipes.survey import make_pipe_survey
from data_samples.generate.pipes.writers import write_pipe_survey

__all__ = ["PIPE_CLASSES", "PIPE_CSV_GBK", "PIPE_CSV_UTF8", "PIPE_WORKBOOK", "make_pipe_survey",
           "write_pipe_survey"]
