"""The load engine: one bulk writer, one load pipeline, one report."""
