"""``edgevid bench``: latency, throughput, load time, memory, video FPS and accuracy per configuration.

The methodology (warm-up, stopping rule, statistics) is documented in ``docs/bench.md``.
"""
