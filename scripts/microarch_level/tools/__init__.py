"""What each package manager does with `__archspec` (one table), how to run it, and how to read what it
printed when it failed."""
