"""Lifeline monitoring (城市生命线, issue 14): sensor readings, thresholds, alarms, gaps,
partitions and the API keys of reading sources."""
