"""Benchmark harness for DataTasker (issue 3): data generator, DuckDB baseline, runner."""
