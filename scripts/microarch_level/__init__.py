"""Tooling for the microarch-level feedstock: x86-64 level gate and compiler-flag packages."""

__version__ = "0.1.0"
