"""HTTP load tests; kit/ holds the parts shared with benches/stdio_bench.py."""
