"""Unified coding: one scheme (decode/explain) and one allocator for every layer.

See docs/coding.md for the scheme.
"""

from cim.coding.allocator import allocate_codes
from cim.coding.scheme import DecodedCode, decode

__all__ = ["DecodedCode", "allocate_codes", "decode"]
