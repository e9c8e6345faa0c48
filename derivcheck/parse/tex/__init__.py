"""The parts of the LaTeX translator (parse/latex.py): its tokens and cursor, the grammar of
expressions, and one module per construct (subscripts, names, sums, fractions, commands)."""
