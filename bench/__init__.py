"""Benchmarks that print numbers (medians, p99, ratios against baselines from the same run)."""
