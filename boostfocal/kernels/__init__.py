"""Pure Numba kernels: the only place where boostfocal does math.

They import only numpy, numba and math, compile lazily on first use and cache the machine code on
disk (``cache=True``), so ``import boostfocal`` compiles nothing.
"""
