"""Signal processing used by nodes and by offline tools alike (no bus here)."""
