"""CC0 EMO-DB clips for the demo and the tests (see README.md here)."""
