"""evosearch."""
