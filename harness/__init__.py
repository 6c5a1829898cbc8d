"""Code that tests/ and bench/ share (a served `cmem serve` instance); neither imports the other."""
