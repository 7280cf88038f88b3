"""Unified coding: one scheme (decode/explain) and one allocator for every layer.

See docs/coding.md for the scheme.
"""

from cim.coding.allocator import allocate_codes, reserve_serials
from cim.coding.scheme import DecodedCode, decode

__all__ = ["DecodedCode", "allocate_codes", "decode", "reserve_serials"]
