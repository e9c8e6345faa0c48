"""The equivalence engine: symbolic proof, concrete checks, numeric refutation."""

from derivcheck.engine import fastpaths

fastpaths.install()
