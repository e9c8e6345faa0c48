"""Matrix notation: shapes checked at parse time, entries compiled to index notation."""

from __future__ import annotations

import pytest
import sympy

from derivcheck.parse import MatrixValue, ParseError, Scope, parse_equation, parse_expression
from derivcheck.vocabulary import Diff

L, d, n = (sympy.Symbol(name, integer=True, positive=True) for name in ("L", "d", "n"))
l, i, m = (sympy.Symbol(name, integer=True) for name in ("l", "i", "m"))
theta, X, Y, A = (sympy.IndexedBase(name, real=True) for name in ("theta", "X", "Y", "A"))
b = sympy.IndexedBase("b", real=True)
t = sympy.Symbol("t", real=True)


@pytest.fixture
def scope() -> Scope:
    return Scope(
        names={"L": L, "d": d, "n": n, "l": l, "i": i, "m": m, "t": t},
        families={"theta": (theta, 2), "X": (X, 2), "Y": (Y, 2), "A": (A, 2), "b": (b, 1)},
        indices=frozenset({"l", "i", "m"}),
        shapes={"theta": (L, d), "X": (d, n), "Y": (L, n), "A": (L, n), "b": (L,)},
    )


def shape(value: object) -> tuple[sympy.Expr, sympy.Expr]:
    assert isinstance(value, MatrixValue)
    return value.rows, value.cols


def test_product_shape_and_entry(scope: Scope) -> None:
    value = parse_expression("theta @ X", scope)
    assert shape(value) == (L, n)
    entry = value.at(l, i)
    assert isinstance(entry, sympy.Sum)
    (var, low, high), = entry.limits
    assert (low, high) == (1, d)
    assert entry.function == theta[l, var] * X[var, i]


def test_product_shape_clash_names_both_shapes(scope: Scope) -> None:
    with pytest.raises(ParseError) as info:
        parse_expression("theta.T @ X", scope)
    assert info.value.code == "shape-mismatch"
    assert "(d x L) @ (d x n)" in info.value.message
    assert info.value.offset == 0


def test_clash_offset_points_inside_the_expression(scope: Scope) -> None:
    with pytest.raises(ParseError) as info:
        parse_expression("exp(t) + sum(theta.T @ X)", scope)
    assert info.value.offset == len("exp(t) + sum(")


def test_bias_needs_an_explicit_broadcast(scope: Scope) -> None:
    with pytest.raises(ParseError) as info:
        parse_expression("theta @ X + b", scope)
    assert info.value.code == "shape-mismatch"
    assert "(L x n) + (L x 1)" in info.value.message and "broadcast" in info.value.message
    assert shape(parse_expression("theta @ X + b @ ones(1, n)", scope)) == (L, n)
    assert shape(parse_expression("theta @ X + broadcast(b, n)", scope)) == (L, n)


def test_elementwise_functions_and_products(scope: Scope) -> None:
    value = parse_expression("exp(A) * Y", scope)
    assert value.at(l, i) == sympy.exp(A[l, i]) * Y[l, i]
    with pytest.raises(ParseError) as info:
        parse_expression("A * theta", scope)
    assert "(L x n) * (L x d)" in info.value.message


def test_softmax_is_columnwise(scope: Scope) -> None:
    entry = parse_expression("softmax(A)", scope).at(l, i)
    numerator, denominator = entry.as_numer_denom()
    assert numerator == sympy.exp(A[l, i])
    assert isinstance(denominator, sympy.Sum) and denominator.limits[0][2] == L


def test_axis_sums(scope: Scope) -> None:
    assert shape(parse_expression("sum(A, axis=1)", scope)) == (L, 1)
    assert shape(parse_expression("sum(A, axis=0)", scope)) == (1, n)
    assert not isinstance(parse_expression("sum(A)", scope), MatrixValue)
    with pytest.raises(ParseError):
        parse_expression("sum(A, axis=2)", scope)
    with pytest.raises(ParseError):
        parse_expression("sum(A, other=1)", scope)


def test_an_axis_given_twice_is_refused_at_the_second(scope: Scope) -> None:
    # Python's parser keeps both keywords; silently taking the last would prove
    # sum(A, axis=0, axis=1) as if it said axis=1 (found by a red-team run).
    with pytest.raises(ParseError, match="axis is given twice") as caught:
        parse_expression("sum(A, axis=0, axis=1)", scope)
    assert caught.value.offset == len("sum(A, axis=0, ")


def test_entry_of_a_matrix_expression(scope: Scope) -> None:
    entry = parse_expression("((A - Y) @ X.T / n)[l, m]", scope)
    assert not isinstance(entry, MatrixValue)
    assert entry.free_symbols >= {l, m, n}


def test_gradient_has_the_variables_shape(scope: Scope) -> None:
    value = parse_expression("Derivative(sum(A), theta)", scope)
    assert shape(value) == (L, d)
    assert value.at(l, i) == Diff(value.at(l, i).args[0], theta[l, i])


def test_equation_sides_must_have_one_shape(scope: Scope) -> None:
    lhs, rhs = parse_equation("Derivative(sum(A), theta) = (A - Y) @ X.T / n", scope)
    assert shape(lhs) == shape(rhs) == (L, d)
    with pytest.raises(ParseError) as info:
        parse_equation("Derivative(sum(A), theta) = X @ (A - Y).T / n", scope)
    assert info.value.code == "shape-mismatch"
    assert "(L x d) = (d x L)" in info.value.message
    with pytest.raises(ParseError):
        parse_equation("sum(A) = A", scope)


def test_only_the_transpose_attribute(scope: Scope) -> None:
    assert shape(parse_expression("A.T", scope)) == (n, L)
    for text in ("A.__class__", "A.T.__class__", "t.T", "A.func"):
        with pytest.raises(ParseError):
            parse_expression(text, scope)


def test_a_scalar_and_a_matrix_add_entrywise(scope: Scope) -> None:
    value = parse_expression("1 - A", scope)
    assert shape(value) == (L, n)
    assert value.at(l, i) == 1 - A[l, i]
    assert parse_expression("A + t", scope).at(l, i) == A[l, i] + t


def test_a_bias_column_still_needs_an_explicit_broadcast(scope: Scope) -> None:
    with pytest.raises(ParseError) as info:
        parse_expression("A + b", scope)
    assert info.value.code == "shape-mismatch"


@pytest.mark.parametrize(
    ("text", "offset"),
    [("theta[X, 1]", 6), ("theta[l, X + 1]", 9), ("ones(X)", 5), ("eye(theta)", 4), ("Sum(t, (l, 1, X))", 14), ("b[Y]", 2)],
)
def test_a_matrix_named_bare_is_not_an_index(scope: Scope, text: str, offset: int) -> None:
    # It used to fail as "cannot build this expression (AttributeError)" at the whole expression.
    with pytest.raises(ParseError) as info:
        parse_expression(text, scope)
    assert info.value.code == "shape-mismatch", info.value.message
    assert info.value.offset == offset
    assert "matrix, so it cannot be used in an index" in info.value.message


def test_an_index_of_sizes_and_indices_still_reads(scope: Scope) -> None:
    # The twin of the test above: names that are integer-valued remain indices.
    assert parse_expression("theta[l, d - 1]", scope) == theta[l, d - 1]
    assert shape(parse_expression("ones(n)", scope)) == (n, 1)
    assert parse_expression("Sum(t, (l, 1, L))", scope) == sympy.Sum(t, (l, 1, L))


def ranged(scope: Scope) -> Scope:
    """The scope with index ranges: l over 1..L, i over 1..n, m over 1..n + 1."""
    return Scope(
        names=scope.names, families=scope.families, indices=scope.indices, shapes=scope.shapes,
        ranges={l: (sympy.Integer(1), L), i: (sympy.Integer(1), n), m: (sympy.Integer(1), n + 1)},
    )


@pytest.mark.parametrize(
    ("text", "at"),
    [
        ("ones(2, 2)[3, 1]", "3"),
        ("ones(2, 2)[1, 0]", "0"),
        ("eye(n)[n + 1, 1]", "n + 1"),
        ("eye(n)[m, m]", "m"),  # m reaches n + 1
        ("eye(n)[i + 1, i]", "i + 1"),
        ("(theta @ X)[l, m]", "m"),
        ("transpose(ones(2, 3))[1, 3]", "3"),
        ("ones(n)[m]", "m"),
        ("eye(n)[l, 1]", "l"),  # 1..L may exceed 1..n
        ("eye(n)[n, n - 1]", "n - 1"),  # 0 at n = 1
        ("Sum(ones(n)[i], (i, 1, n + 1))", "i]"),  # the Sum's range, not i's declared one
        ("Sum(ones(n)[m], (m, 1, n))", None),  # the twin: m summed over 1..n only
    ],
)
def test_an_entry_outside_the_shape_is_refused(text: str, at: str | None, scope: Scope) -> None:
    if at is None:
        assert parse_expression(text, ranged(scope)).doit() == n
        return
    with pytest.raises(ParseError) as info:
        parse_expression(text, ranged(scope))
    assert info.value.code == "index-out-of-range", info.value
    assert info.value.offset == text.index(at, text.index("[")), info.value


@pytest.mark.parametrize(("text", "value"), [("ones(2, 2)[2, 1]", 1), ("eye(n)[i, i]", 1), ("eye(2)[2, 1]", 0), ("(1 + ones(n))[i]", 2)])
def test_an_entry_inside_the_shape_is_its_value(text: str, value: int, scope: Scope) -> None:
    assert parse_expression(text, ranged(scope)) == value
