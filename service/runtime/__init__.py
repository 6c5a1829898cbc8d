"""Runtime: the composition root and the process entry points' machinery."""
