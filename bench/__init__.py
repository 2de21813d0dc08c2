"""Benchmarks. Each prints its figures; the README quotes them as ratios against a baseline
measured in the same run."""
