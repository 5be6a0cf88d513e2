"""The feedstock's own outputs: `generate` (recipe variants and activation scripts from archspec), the
drift check of conda-smithy's .ci_support, and `build` (the local channel)."""
