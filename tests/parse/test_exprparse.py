"""Tests for derivcheck.parse: text to SymPy without evaluation, limits, offsets and hostile input."""

from __future__ import annotations

import ast
import importlib
import inspect
import os
import pickle
import pkgutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
import sympy

from derivcheck import parse
from derivcheck.parse import ParseError, Scope, builder, parse_condition, parse_equation, parse_expression, parse_head, whitelist
from derivcheck.vocabulary import Diff, sigmoid

N = sympy.Symbol("N", integer=True, positive=True)
D = sympy.Symbol("D", integer=True, positive=True)
i, j, k, n, d = (sympy.Symbol(name, integer=True) for name in "ijknd")
t = sympy.Symbol("t", real=True)
L = sympy.Symbol("L")
z = sympy.IndexedBase("z", real=True)
y = sympy.IndexedBase("y", real=True)
a = sympy.IndexedBase("a", real=True)
W = sympy.IndexedBase("W", real=True)


def make_scope(**extra: sympy.Symbol) -> Scope:
    names = {
        "N": N,
        "D": D,
        "i": i,
        "j": j,
        "k": k,
        "n": n,
        "d": d,
        "t": t,
        "L": L,
        **extra,
    }
    families = {"z": (z, 1), "y": (y, 1), "a": (a, 1), "W": (W, 2)}
    return Scope(names=names, families=families, indices=frozenset("ijknd"))


@pytest.fixture
def scope() -> Scope:
    return make_scope()


def rejects(
    text: str, scope: Scope, code: str, offset: int | None = None
) -> ParseError:
    with pytest.raises(ParseError) as info:
        parse_expression(text, scope)
    assert info.value.code == code, info.value.message
    if offset is not None:
        assert info.value.offset == offset, info.value.message
    return info.value


# -- numbers --------------------------------------------------------------------------------------


def test_integer_literal(scope: Scope) -> None:
    assert parse_expression("12", scope) == sympy.Integer(12)
    assert parse_expression("9" * 50, scope) == sympy.Integer(int("9" * 50))


def test_integer_literal_over_50_digits_rejected(scope: Scope) -> None:
    rejects("1" * 51, scope, "too-large", 0)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0.5", sympy.Rational(1, 2)),
        (
            "0.1",
            sympy.Rational(1, 10),
        ),  # exact, not the binary float 0.1000000000000000055...
        ("1e-3", sympy.Rational(1, 1000)),
        ("2.5E2", sympy.Integer(250)),
        ("1_000.5", sympy.Rational(2001, 2)),
        (".25", sympy.Rational(1, 4)),
    ],
)
def test_decimal_literal_is_exact_rational(
    scope: Scope, text: str, value: sympy.Rational
) -> None:
    result = parse_expression(text, scope)
    assert result == value
    assert isinstance(result, sympy.Rational)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("1j", "unsafe-expression"),
        ("True", "unsafe-expression"),
        ("None", "unsafe-expression"),
        ("1e100000", "too-large"),
        ("0." + "1" * 60, "too-large"),
    ],
    ids=["complex", "bool", "none", "huge-exponent", "too-many-digits"],
)
def test_decimal_and_other_literals_rejected(
    scope: Scope, text: str, code: str
) -> None:
    rejects(text, scope, code, 0)


def test_division_is_a_true_quotient(scope: Scope) -> None:
    assert parse_expression("7/2", scope) == sympy.Rational(7, 2)
    assert parse_expression("t/2", scope) == t / 2
    assert parse_expression("1/(1 + t)", scope) == 1 / (1 + t)


@pytest.mark.parametrize(
    "text",
    ["7 // 2", "7 % 2", "1 << 2", "1 | 2", "1 ^ 2", "1 & 2", "~t", "not t"],
)
def test_other_operators_rejected(scope: Scope, text: str) -> None:
    rejects(text, scope, "unsafe-expression", 0)


def test_powers(scope: Scope) -> None:
    assert parse_expression("2**10", scope) == 1024
    assert parse_expression("2**-3", scope) == sympy.Rational(1, 8)
    assert parse_expression("t**1000", scope) == t**1000
    assert parse_expression("t**N", scope) == t**N
    assert parse_expression("(-t)**2", scope) == t**2
    assert parse_expression("-t**2", scope) == -(t**2)


@pytest.mark.parametrize(
    ("text", "offset"),
    [
        ("t**1001", 0),
        ("t**100000", 0),
        ("2**2**2**30", 3),
        ("10**10**10", 0),
        ("9**1000**1000", 0),
        ("(10**100)**101", 0),
        ("1 + 10**5000", 4),
    ],
)
def test_powers_too_large_rejected(scope: Scope, text: str, offset: int) -> None:
    # Well-formed mathematics whose numbers are beyond the limits: a claim holding it is undecided.
    rejects(text, scope, "too-large-to-evaluate", offset)


def test_numbers_combined_by_sympy_are_bounded(scope: Scope) -> None:
    assert parse_expression("10**1000 * 10**1000", scope) == sympy.Integer(10) ** 2000
    rejects(" * ".join(["10**1000"] * 5), scope, "too-large-to-evaluate")
    assert parse_expression("sqrt(2)*sqrt(3)", scope) == sympy.sqrt(6)
    # Each root is fine alone; SymPy would merge them into the root of an 80-digit number.
    first, second = (
        10**39 + 3,
        2 * 10**39 + 11,
    )  # primes, so nothing can be taken out of the root
    assert parse_expression(f"sqrt({first})", scope) == sympy.sqrt(first)
    rejects(f"sqrt({first})*sqrt({second})", scope, "too-large-to-evaluate", 0)


def test_roots_and_function_arguments_of_long_numbers_rejected(scope: Scope) -> None:
    assert parse_expression("sqrt(10**40 + 1)", scope) == sympy.sqrt(
        sympy.Integer(10) ** 40 + 1
    )
    rejects("sqrt(10**49 * 10**49 + 1)", scope, "too-large", 5)
    rejects("exp(log(10**60 + 1)/2)", scope, "too-large", 8)


# -- names and constants -------------------------------------------------------------------------


def test_names_and_constants(scope: Scope) -> None:
    assert parse_expression("t + L*N", scope) == t + L * N
    assert parse_expression("pi", scope) is sympy.pi
    assert parse_expression("E**t", scope) == sympy.exp(t)


def test_scope_wins_over_constants() -> None:
    energy = sympy.Symbol("E", real=True)
    assert parse_expression("E + pi", make_scope(E=energy)) == energy + sympy.pi


def test_undeclared_name_rejected(scope: Scope) -> None:
    error = rejects("t + foo", scope, "undeclared-symbol", 4)
    assert "foo" in error.message


@pytest.mark.parametrize(
    ("text", "offset", "message"),
    [
        ("t + LL", 4, "undeclared name 'LL'; did you mean 'L'?"),
        ("zz[k] + t", 0, "undeclared name 'zz'; did you mean 'z'?"),
        ("Sum(z[kk], (k, 1, N))", 6, "undeclared name 'kk'; did you mean 'k'?"),
        ("Sum(z[k], (kk, 1, N))", 11, "the bound variable of a Sum must be a declared index ('kk' is not; did you mean 'k'?)"),
        # The rejects twin: nothing declared is close to foo, so nothing is suggested.
        ("t + foo", 4, "undeclared name 'foo'"),
    ],
)
def test_an_undeclared_name_suggests_the_closest_declared_one(scope: Scope, text: str, offset: int, message: str) -> None:
    assert rejects(text, scope, "undeclared-symbol", offset).message == message


def test_a_condition_suggests_an_index_only(scope: Scope) -> None:
    with pytest.raises(ParseError) as info:
        parse_condition("kk != j", scope)
    assert info.value.message == "undeclared name 'kk'; did you mean 'k'?"
    with pytest.raises(ParseError) as far:
        parse_condition("LL != j", scope)  # L is declared, but is no index: not suggested
    assert far.value.message == "undeclared name 'LL'"


def test_function_name_without_call_rejected(scope: Scope) -> None:
    rejects("exp + 1", scope, "syntax", 0)


# -- families and indices ------------------------------------------------------------------------


def test_family_entries(scope: Scope) -> None:
    assert parse_expression("z[k]", scope) == z[k]
    assert parse_expression("W[i, d]", scope) == W[i, d]
    assert (
        parse_expression("z[k + 1] - z[2*k - 1] + a[N - k]", scope)
        == z[k + 1] - z[2 * k - 1] + a[N - k]
    )


def test_family_without_index_rejected(scope: Scope) -> None:
    error = rejects("z + 1", scope, "arity", 0)
    assert error.message == "z is indexed: write z[k]"


@pytest.mark.parametrize(
    ("text", "code", "offset"),
    [
        ("W[i]", "arity", 0),
        ("z[i, j]", "arity", 0),
        ("z[t]", "syntax", 2),
        ("z[k*j]", "syntax", 2),
        ("z[k/2]", "syntax", 2),
        ("z[q]", "undeclared-symbol", 2),
        ("t[k]", "unsafe-expression", 0),
        ("z[k][j]", "unsafe-expression", 0),
        ("z[1:2]", "unsafe-expression", 2),
        ("foo[k]", "undeclared-symbol", 0),
    ],
)
def test_bad_subscripts_rejected(
    scope: Scope, text: str, code: str, offset: int
) -> None:
    rejects(text, scope, code, offset)


# -- functions -----------------------------------------------------------------------------------


def test_whitelisted_functions(scope: Scope) -> None:
    text = "exp(t) + log(t) + sqrt(t) + tanh(t) + sin(t) + cos(t) + Abs(t)"
    expected = (
        sympy.exp(t)
        + sympy.log(t)
        + sympy.sqrt(t)
        + sympy.tanh(t)
        + sympy.sin(t)
        + sympy.cos(t)
        + sympy.Abs(t)
    )
    assert parse_expression(text, scope) == expected


@pytest.mark.parametrize(
    "text",
    [
        "log(t, 2)",
        "exp()",
        "sqrt(t, t)",
        "KroneckerDelta(k)",
        "Derivative(L)",
        "Sum(z[k])",
    ],
)
def test_wrong_argument_count_rejected(scope: Scope, text: str) -> None:
    rejects(text, scope, "arity", 0)


def test_sigmoid_is_a_function_whose_derivative_is_s_times_1_minus_s(scope: Scope) -> None:
    value = parse_expression("sigmoid(t)", scope)
    assert isinstance(value, sigmoid)
    assert value.rewrite(sympy.exp) == 1 / (1 + sympy.exp(-t))
    assert sympy.diff(value, t) == value * (1 - value)
    assert parse_expression("sigmoid(z[k])", scope).rewrite(sympy.exp) == 1 / (1 + sympy.exp(-z[k]))
    assert sigmoid(sympy.Integer(0)).rewrite(sympy.exp) == sympy.Rational(1, 2)


def test_sigmoid_rejects_two_arguments(scope: Scope) -> None:
    rejects("sigmoid(t, t)", scope, "arity", 0)


def test_kronecker_delta(scope: Scope) -> None:
    assert parse_expression("KroneckerDelta(k, j)", scope) == sympy.KroneckerDelta(k, j)
    assert parse_expression("KroneckerDelta(k, k + 1)", scope) == 0


def test_kronecker_delta_needs_integer_arguments(scope: Scope) -> None:
    rejects("KroneckerDelta(k, t)", scope, "syntax", 18)


def test_sum_one_limit(scope: Scope) -> None:
    result = parse_expression("Sum(z[k]**2, (k, 1, N))", scope)
    assert result == sympy.Sum(z[k] ** 2, (k, 1, N))
    assert result.subs(N, 3).doit() == z[1] ** 2 + z[2] ** 2 + z[3] ** 2


def test_sum_bound_variable_must_be_an_index(scope: Scope) -> None:
    error = rejects("Sum(z[k], (q, 1, N))", scope, "undeclared-symbol", 11)
    assert "bound variable of a Sum must be a declared index" in error.message
    rejects("Sum(z[k], (t, 1, N))", scope, "syntax", 11)
    rejects("Sum(z[k], (N, 1, N))", scope, "syntax", 11)
    rejects("Sum(z[k], (z[k], 1, N))", scope, "syntax", 11)


def test_sum_two_limits(scope: Scope) -> None:
    result = parse_expression("Sum(W[i, d]*z[d], (i, 1, N), (d, 1, D))", scope)
    assert result == sympy.Sum(W[i, d] * z[d], (i, 1, N), (d, 1, D))
    assert result.subs({N: 1, D: 2}).doit() == W[1, 1] * z[1] + W[1, 2] * z[2]


@pytest.mark.parametrize(
    ("text", "code", "offset"),
    [
        ("Sum(z[k], k)", "syntax", 10),
        ("Sum(z[k], (k, 1))", "arity", 10),
        ("Sum(z[k], (k, 1, N), (j, 1, N), (i, 1, N))", "arity", 0),
        ("Sum(z[k], (k, 1, t))", "syntax", 17),
        ("Sum(z[k], (k, 1, N), d=1)", "unsafe-expression", 21),
    ],
    ids=[
        "limit-not-tuple",
        "limit-of-two",
        "three-limits",
        "non-integer-bound",
        "keyword",
    ],
)
def test_bad_sums_rejected(scope: Scope, text: str, code: str, offset: int) -> None:
    rejects(text, scope, code, offset)


def test_derivative_becomes_diff(scope: Scope) -> None:
    result = parse_expression("Derivative(L, z[k])", scope)
    assert isinstance(result, Diff)
    assert result.args == (L, z[k])
    assert parse_expression("Derivative(sigmoid(t), t)", scope) == Diff(sigmoid(t), t)
    assert parse_expression("Derivative(L, W[i, d])", scope) == Diff(L, W[i, d])


@pytest.mark.parametrize(
    ("text", "offset"),
    [
        ("Derivative(L, k)", 14),
        ("Derivative(L, N)", 14),
        ("Derivative(L, 2*t)", 14),
        ("Derivative(L, pi)", 14),
        ("Derivative(L, z[k] + 1)", 14),
    ],
    ids=["index", "size", "product", "constant", "sum"],
)
def test_derivative_needs_a_variable(scope: Scope, text: str, offset: int) -> None:
    error = rejects(text, scope, "syntax", offset)
    assert (
        error.message == "Derivative takes a variable like z[k] as its second argument"
    )


def test_diff_survives_doit_and_subs(scope: Scope) -> None:
    result = parse_expression("Derivative(L, z[k])", scope)
    assert result.doit() == result
    assert result.subs(k, 2) == Diff(L, z[2])
    assert isinstance(result.subs(L, t * z[k]), Diff)


def test_sum_of_diff_substitutes_and_expands(scope: Scope) -> None:
    result = parse_expression("Sum(Derivative(L, z[k]) * y[k], (k, 1, N))", scope)
    expanded = result.subs(N, 3).doit()
    assert expanded == sum(Diff(L, z[m]) * y[m] for m in (1, 2, 3))


def test_diff_has_two_arguments() -> None:
    with pytest.raises(TypeError):
        Diff(L)


# -- structure limits ----------------------------------------------------------------------------


def test_depth_sixty_is_accepted(scope: Scope) -> None:
    assert parse_expression("+".join(["t"] * 60), scope) == 60 * t
    assert parse_expression("(" * 60 + "t" + ")" * 60, scope) == t


def test_depth_over_sixty_rejected(scope: Scope) -> None:
    rejects("+".join(["t"] * 61), scope, "too-large")
    rejects("(" * 61 + "t" + ")" * 61, scope, "too-large", 60)
    rejects("-" * 5000 + "t", scope, "too-large")


def test_text_length_limit(scope: Scope) -> None:
    assert parse_expression("t" + " " * 9_999, scope) == t
    rejects("t" + " " * 10_000, scope, "too-large")


# -- offsets -------------------------------------------------------------------------------------


def test_offsets_count_characters_not_bytes(scope: Scope) -> None:
    unicode_scope = make_scope(é=sympy.Symbol("é"))
    error = rejects("é + ü + foo", unicode_scope, "undeclared-symbol", 4)
    assert "ü" in error.message


def test_offsets_in_multi_line_text(scope: Scope) -> None:
    assert parse_expression("t +\n  L", scope) == t + L
    rejects("t +\n foo", scope, "undeclared-symbol", 5)
    rejects("t +\r\n foo", scope, "undeclared-symbol", 6)
    rejects("(t +\n $)", scope, "syntax", 6)


def test_leading_space_and_syntax_error_offsets(scope: Scope) -> None:
    assert parse_expression("   t", scope) == t
    rejects("   foo", scope, "undeclared-symbol", 3)
    rejects("t + (1", scope, "syntax", 4)
    rejects("", scope, "syntax", 0)
    rejects("   ", scope, "syntax")


def test_comments_rejected(scope: Scope) -> None:
    rejects("t # + 1", scope, "syntax", 2)


# -- parse_equation ------------------------------------------------------------------------------


def test_equation_splits_at_single_equals(scope: Scope) -> None:
    assert parse_equation("L = Sum(z[k], (k, 1, N))", scope) == (
        L,
        sympy.Sum(z[k], (k, 1, N)),
    )
    assert parse_equation("W[i, j]=1", scope) == (W[i, j], 1)
    assert parse_equation("  t  =\n  2*t/2", scope) == (t, t)


@pytest.mark.parametrize(
    ("text", "code", "offset"),
    [
        ("t == 1", "syntax", 0),
        ("t != 1", "syntax", 0),
        ("t <= 1", "syntax", 0),
        ("t >= 1", "syntax", 0),
        ("t", "syntax", 0),
        ("t = 1 = 2", "syntax", 6),
        ("t = (t == 1)", "unsafe-expression", 5),
        ("t = (y := 1)", "unsafe-expression", 5),
        (
            "exp(t=1)",
            "syntax",
            0,
        ),  # the '=' is inside brackets, so there is no top-level '='
    ],
)
def test_equation_needs_exactly_one_top_level_equals(
    scope: Scope, text: str, code: str, offset: int
) -> None:
    with pytest.raises(ParseError) as info:
        parse_equation(text, scope)
    assert (info.value.code, info.value.offset) == (code, offset), info.value.message
    if code == "syntax":
        assert info.value.message.startswith("expected one '=' between two sides")


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("t + t = 2*t = t*2", "write a `chain:`"),
        ("t == t", "'==' compares"),
        ("t <= 1", "'<=' compares"),
        ("   ", "the claim is empty"),
    ],
)
def test_a_claim_without_one_equals_says_what_to_write(scope: Scope, text: str, hint: str) -> None:
    # Found by a newcomer run: "expected one '='" alone did not say what to do instead.
    with pytest.raises(ParseError) as info:
        parse_equation(text, scope)
    assert hint in info.value.message, info.value.message


def test_a_claim_with_no_equals_and_no_comparison_gets_no_guess(scope: Scope) -> None:
    with pytest.raises(ParseError) as info:
        parse_equation("t + 1", scope)
    assert info.value.message == "expected one '=' between two sides"


@pytest.mark.parametrize(
    ("text", "offset"),
    [("Sum(t, (k, 1, N) = 1", 3), ("exp(t = 1", 3), ("(t + [1] = 1", 0)],
)
def test_an_equals_inside_a_bracket_never_closed_points_at_the_bracket(scope: Scope, text: str, offset: int) -> None:
    # The commonest typo: the message names the bracket, at its column, not "one '='".
    with pytest.raises(ParseError) as info:
        parse_equation(text, scope)
    assert (info.value.code, info.value.offset) == ("syntax", offset)
    assert info.value.message.startswith(f"'{text[offset]}' was never closed")


def test_a_closed_bracket_with_an_equals_inside_is_still_one_equals_too_few(scope: Scope) -> None:
    # The rejects twin: every bracket closed, the '=' inside one: the old message, at 0.
    with pytest.raises(ParseError) as info:
        parse_equation("exp(t=1) + (t)", scope)
    assert (info.value.offset, info.value.message) == (0, "expected one '=' between two sides")


@pytest.mark.parametrize(
    ("text", "code", "offset"),
    [
        ("t = 1 + foo", "undeclared-symbol", 8),
        ("W[i, j] = z + 1", "arity", 10),
        ("foo = t", "undeclared-symbol", 0),
        ("t =\n  foo", "undeclared-symbol", 6),
        ("t = (1 +", "syntax", 4),
        ("t = ", "syntax", 4),
    ],
)
def test_equation_offsets_are_into_the_whole_text(
    scope: Scope, text: str, code: str, offset: int
) -> None:
    with pytest.raises(ParseError) as info:
        parse_equation(text, scope)
    assert (info.value.code, info.value.offset) == (code, offset), info.value.message


# -- parse_condition -----------------------------------------------------------------------------


def test_condition(scope: Scope) -> None:
    assert parse_condition("k != j", scope) == (k, j)
    assert parse_condition(" d!=i ", scope) == (d, i)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("k == j", "syntax"),
        ("k < j", "syntax"),
        ("k != j != i", "syntax"),
        ("k", "syntax"),
        ("k != t", "syntax"),
        ("k != N", "syntax"),
        ("k != q", "undeclared-symbol"),
        ("k + 1 != j", "syntax"),
        ("k != j and j != i", "unsafe-expression"),
        ("__import__('os') != k", "unsafe-expression"),
    ],
)
def test_condition_rejects(scope: Scope, text: str, code: str) -> None:
    with pytest.raises(ParseError) as info:
        parse_condition(text, scope)
    assert info.value.code == code, info.value.message


# -- parse_head ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("L", ("L", ())),
        ("a[k]", ("a", ("k",))),
        ("W[i, d]", ("W", ("i", "d"))),
        (" W [ i ,d ] ", ("W", ("i", "d"))),
        ("α[k]", ("α", ("k",))),
    ],
)
def test_head(text: str, expected: tuple[str, tuple[str, ...]]) -> None:
    assert parse_head(text) == expected


@pytest.mark.parametrize(
    ("text", "offset"),
    [
        ("", 0),
        ("1a", 0),
        ("_x", 0),
        ("__class__", 0),
        ("a[_k]", 2),
        ("W[i, i]", 5),
        ("a[]", 2),
        ("a[k,]", 4),
        ("a[k", 3),
        ("a[k] + 1", 5),
        ("a.b", 1),
        ("lambda", 0),
        ("a[k+1]", 3),
        ("a[a]", 2),
        ("ｚ", 0),
    ],
)
def test_head_rejects(text: str, offset: int) -> None:
    with pytest.raises(ParseError) as info:
        parse_head(text)
    assert (info.value.code, info.value.offset) == ("syntax", offset), (
        info.value.message
    )


def test_head_length_limit() -> None:
    with pytest.raises(ParseError) as info:
        parse_head("a" * 20_000)
    assert info.value.code == "too-large"


# -- hostile input -------------------------------------------------------------------------------

HOSTILE = [
    pytest.param(
        "__import__('os').system('touch /tmp/derivcheck-pwned')",
        "unsafe-expression",
        0,
        id="import-os-system",
    ),
    pytest.param("x.__class__.__mro__", "unsafe-expression", 0, id="dunder-mro"),
    pytest.param("z.__class__", "unsafe-expression", 0, id="family-dunder"),
    pytest.param(
        "().__class__.__bases__[0].__subclasses__()",
        "unsafe-expression",
        0,
        id="subclasses-walk",
    ),
    pytest.param("(lambda: 1)()", "unsafe-expression", 0, id="lambda-call"),
    pytest.param("lambda: 1", "unsafe-expression", 0, id="lambda"),
    pytest.param("[x for x in ()]", "unsafe-expression", 0, id="list-comprehension"),
    pytest.param("(x for x in ())", "unsafe-expression", 0, id="generator"),
    pytest.param('"abc"', "unsafe-expression", 0, id="string"),
    pytest.param("b'abc'", "unsafe-expression", 0, id="bytes"),
    pytest.param(r'"\d"', "unsafe-expression", 0, id="string-with-invalid-escape"),
    pytest.param('f"{1}"', "unsafe-expression", 0, id="f-string"),
    pytest.param("exp(x=1)", "unsafe-expression", 4, id="keyword-argument"),
    pytest.param("exp(*z)", "unsafe-expression", 4, id="starred-argument"),
    pytest.param("exp(**{})", "unsafe-expression", 4, id="double-starred-argument"),
    pytest.param('eval("1")', "unsafe-expression", 0, id="eval"),
    pytest.param('exec("1")', "unsafe-expression", 0, id="exec"),
    pytest.param('getattr(z, "x")', "unsafe-expression", 0, id="getattr"),
    pytest.param('Symbol("x")', "unsafe-expression", 0, id="Symbol-string"),
    pytest.param('sympify("x")', "unsafe-expression", 0, id="sympify"),
    pytest.param('S("1")', "unsafe-expression", 0, id="S-string"),
    pytest.param('Rational("1/2")', "unsafe-expression", 0, id="Rational-string"),
    pytest.param("t(1)", "unsafe-expression", 0, id="call-of-a-symbol"),
    pytest.param("sympy.exp(t)", "unsafe-expression", 0, id="attribute-call"),
    pytest.param("(y := 1)", "unsafe-expression", 1, id="walrus"),
    pytest.param("1 if 1 else 2", "unsafe-expression", 0, id="conditional"),
    pytest.param("z[k].func", "unsafe-expression", 0, id="indexed-attribute"),
    pytest.param("t < 1", "unsafe-expression", 0, id="comparison"),
    pytest.param("t and 1", "unsafe-expression", 0, id="boolean"),
    pytest.param("[1, 2]", "unsafe-expression", 0, id="list"),
    pytest.param("{1: 2}", "unsafe-expression", 0, id="dict"),
    pytest.param("2**2**2**30", "too-large-to-evaluate", 3, id="power-tower"),
    pytest.param("10**100000", "too-large-to-evaluate", 0, id="huge-power"),
    pytest.param("10**10**10", "too-large-to-evaluate", 0, id="power-10-10-10"),
    pytest.param("9**1000**1000", "too-large-to-evaluate", 0, id="power-9-1000-1000"),
    pytest.param("factorial(10**9)", "unsafe-expression", 0, id="factorial"),
    pytest.param("1" * 5000, "too-large", 0, id="int-literal-5000-digits"),
    pytest.param("(" * 500 + "1" + ")" * 500, "too-large", 60, id="parentheses-500"),
    pytest.param("+".join(["t"] * 10_000), "too-large", None, id="text-20000-chars"),
    pytest.param("2**" * 3000 + "2", "too-large", None, id="deep-power-chain"),
    pytest.param("foo + 1", "undeclared-symbol", 0, id="undeclared"),
    pytest.param("__builtins__", "undeclared-symbol", 0, id="builtins-name"),
    pytest.param("z + 1", "arity", 0, id="family-without-index"),
    pytest.param("W[i]", "arity", 0, id="arity"),
    pytest.param(
        "Sum(z[k], (q, 1, N))", "undeclared-symbol", 11, id="sum-undeclared-bound"
    ),
    pytest.param("Sum(z[k], k)", "syntax", 10, id="sum-limit-not-tuple"),
    pytest.param("t = 1", "syntax", 2, id="equals-in-expression"),
]


@pytest.mark.parametrize(("text", "code", "offset"), HOSTILE)
def test_hostile_input_rejected(
    scope: Scope, text: str, code: str, offset: int | None
) -> None:
    with pytest.raises(ParseError) as info:
        parse_expression(text, scope)
    error = info.value
    assert error.code == code, error.message
    assert 0 <= error.offset <= len(text)
    if offset is not None:
        assert error.offset == offset, error.message


SENTINEL_TEMPLATES = [
    "__import__('os').system('touch {p}')",
    '__import__("subprocess").call(["touch", "{p}"])',
    "open('{p}', 'w')",
    "exec(\"open('{p}', 'w')\")",
    "eval(\"__import__('os').system('touch {p}')\")",
    "getattr(__import__('os'), 'system')('touch {p}')",
    "[__import__('os').system('touch {p}') for _ in (1,)]",
    "(lambda: __import__('os').system('touch {p}'))()",
    "z[__import__('os').system('touch {p}')]",
    "Sum(__import__('os').system('touch {p}'), (k, 1, N))",
    "Derivative(L, __import__('os').system('touch {p}'))",
    "t + __import__('os').system('touch {p}')",
]


@pytest.mark.parametrize("template", SENTINEL_TEMPLATES)
def test_nothing_is_executed(scope: Scope, tmp_path: Path, template: str) -> None:
    sentinel = tmp_path / "pwned"
    payload = template.format(p=sentinel)
    attempts = [
        lambda: parse_expression(payload, scope),
        lambda: parse_equation(f"L = {payload}", scope),
        lambda: parse_equation(f"{payload} = L", scope),
        lambda: parse_condition(f"{payload} != k", scope),
        lambda: parse_head(payload),
    ]
    for attempt in attempts:
        with pytest.raises(ParseError):
            attempt()
    assert not sentinel.exists()


def parse_modules() -> list[ModuleType]:
    """Every module of derivcheck.parse, found on disk, so that a new module is guarded too."""
    found = [parse] + [importlib.import_module(info.name) for info in pkgutil.walk_packages(parse.__path__, "derivcheck.parse.")]
    names = {module.__name__ for module in found}
    # The walk must have found the package's rooms, or every guard below would pass vacuously.
    assert {"derivcheck.parse.expr", "derivcheck.parse.whitelist", "derivcheck.parse.builder.calls", "derivcheck.parse.latex", "derivcheck.parse.tex.parser"} <= names
    return found


def test_module_never_evaluates_strings() -> None:
    # A static guard: the parser's own source calls none of the string-evaluating entry points
    # (re.compile is the one harmless "compile").
    forbidden = {"eval", "exec", "compile", "sympify", "parse_expr", "S", "__import__"}
    for module in parse_modules():
        for node in ast.walk(ast.parse(inspect.getsource(module))):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            if isinstance(func, ast.Name):
                assert func.id not in forbidden, (
                    f"{module.__name__} calls {func.id} at line {node.lineno}"
                )
            elif isinstance(func, ast.Attribute):
                is_regex = (
                    func.attr == "compile"
                    and isinstance(func.value, ast.Name)
                    and func.value.id == "re"
                )
                assert is_regex or func.attr not in forbidden, (
                    f"{module.__name__} calls .{func.attr} at line {node.lineno}"
                )


def test_parse_imports_only_its_own_rooms_and_the_vocabulary() -> None:
    # Arrows point down: text becomes math here, so nothing of the engine, the runner, the
    # reports, the YAML reader or the faces may be imported (nor anything that imports them).
    # The data room (model.py) is below every room: parse takes its spelling suggestion from it.
    for module in parse_modules():
        for node in ast.walk(ast.parse(inspect.getsource(module))):
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom):
                # `from derivcheck import engine` imports derivcheck.engine.
                names = [f"{node.module}.{alias.name}" for alias in node.names] if node.module == "derivcheck" else [node.module or ""]
            for name in names:
                if name.startswith("derivcheck"):
                    assert name.startswith("derivcheck.parse") or name in ("derivcheck.vocabulary", "derivcheck.model"), (module.__name__, name)


def test_no_function_in_parse_is_over_80_lines() -> None:
    # Issue 13: a function fits on a screen; a long builder is split by node kind or driven by a table.
    lengths = {}
    for module in parse_modules():
        for node in ast.walk(ast.parse(inspect.getsource(module))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lengths[f"{module.__name__}.{node.name}"] = node.end_lineno - node.lineno + 1
    assert len(lengths) > 100  # the walk saw the parsers' methods
    assert {name: length for name, length in lengths.items() if length > 80} == {}


def test_the_builder_has_a_handler_for_each_node_and_name_the_whitelist_lets_through() -> None:
    # The whitelist (what may pass) and the builder's tables (what each thing means) are kept
    # apart; they must name the same things, or an allowed call would fail as "cannot be called".
    assert builder.CALL_NAMES == whitelist.CALLABLE
    allowed = {ast.Constant, ast.BinOp, ast.UnaryOp, ast.Attribute, ast.Call, ast.Name, ast.Subscript, ast.Tuple}
    assert builder.NODE_TYPES == allowed
    for node_type in allowed:
        whitelisted = node_type in whitelist._CHECKS or node_type in whitelist._CHECKED_WHILE_BUILDING
        assert whitelisted, node_type
    # Compare passes the whitelist only for conditions, which are read without the builder.
    assert ast.Compare in whitelist._CHECKS and ast.Compare not in builder.NODE_TYPES


def test_the_tuple_and_transpose_handlers_refuse_what_they_cannot_build(scope: Scope) -> None:
    # Two node types whose handlers mostly refuse: a tuple outside a Sum limit, .T of a scalar.
    tuple_error = rejects("t + (k, 1, N)", scope, "unsafe-expression", 4)
    assert tuple_error.message == "a tuple is only allowed as a Sum limit like (k, 1, N)"
    transpose_error = rejects("2 * t.T", scope, "shape-mismatch", 4)
    assert transpose_error.message == "the operand of .T must be a vector or a matrix, not a scalar"


def test_the_list_of_functions_in_a_refusal_is_the_same_in_every_run() -> None:
    # Sorted without case, sum and Sum tied and followed the set's order, which changes with
    # the hash seed: the same file gave different messages from one run to the next.
    script = (
        "from derivcheck.parse import ParseError, Scope, parse_expression\n"
        "try:\n"
        "    parse_expression('f(1)', Scope(names={}, families={}))\n"
        "except ParseError as error:\n"
        "    print(error.message)\n"
    )
    messages = set()
    for seed in ("1", "3", "4"):  # seeds that put sum and Sum each way round in the set
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, env={**os.environ, "PYTHONHASHSEED": seed})
        messages.add(done.stdout)
    assert len(messages) == 1, messages
    assert "sqrt, Sum, sum, tanh" in messages.pop()


# -- the error type ------------------------------------------------------------------------------


def test_parse_error_carries_message_offset_and_code() -> None:
    error = ParseError("bad", 3, "arity")
    assert isinstance(error, ValueError)
    assert (error.message, error.offset, error.code, str(error)) == (
        "bad",
        3,
        "arity",
        "bad",
    )
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.message, copy.offset, copy.code) == ("bad", 3, "arity")


def test_parse_error_defaults() -> None:
    error = ParseError("bad")
    assert (error.offset, error.code) == (0, "syntax")


@pytest.mark.parametrize(("text", "meant"), [("Derivatve(t, t)", "Derivative"), ("sigmod(t)", "sigmoid"), ("ssum(t)", "sum")])
def test_a_misspelt_function_names_the_closest_one(scope: Scope, text: str, meant: str) -> None:
    # Found by a newcomer run: a typo got only the list of every function.
    with pytest.raises(ParseError) as info:
        parse_expression(text, scope)
    assert info.value.code == "unsafe-expression"
    assert f"cannot be called; did you mean '{meant}'?" in info.value.message, info.value.message


def test_a_call_of_something_far_from_any_function_gets_no_guess(scope: Scope) -> None:
    with pytest.raises(ParseError) as info:
        parse_expression("__import__('os')", scope)
    assert "did you mean" not in info.value.message
