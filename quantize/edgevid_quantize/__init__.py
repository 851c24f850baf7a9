"""edgevid-quantize: the host toolchain that builds model variants into the edgevid model store.

It imports ``edgevid``; ``edgevid`` never imports it (the ``build`` command loads it on demand).
"""

__version__ = "0.1.0"
