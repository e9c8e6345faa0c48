"""derivcheck: verify step-by-step math derivations written as YAML."""

__version__ = "0.1.0"
