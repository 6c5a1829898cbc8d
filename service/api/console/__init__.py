"""The operator console: server-rendered pages under /console (admin keys only)."""
