"""Benchmarks: cold start of each function against its floor, ipn_webhook warm throughput."""
