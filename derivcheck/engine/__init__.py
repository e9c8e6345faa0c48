"""The equivalence engine: symbolic proof, concrete checks, numeric refutation."""
