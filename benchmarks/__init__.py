"""Benchmarks: the lecture's workloads in pygraph against numpy, TF1 graph mode, PyTensor and JAX.

Run `python -m benchmarks` (or `make bench`); `python -m benchmarks --help` lists the options.  This package
imports nothing at the top level so that W8's fresh processes time only the framework's own import.
"""
