"""asv benchmarks of every backend, and PyTorch peers, for the performance dashboard."""
