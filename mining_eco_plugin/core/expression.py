"""Safe custom band expressions, e.g. ``(NIR-R)/(NIR+R)`` or ``sqrt(G*R) + NDVI*2``.

The text is parsed with :mod:`ast` and validated against a small whitelist (numbers, band /
index names, arithmetic, comparisons and a few numpy functions). Evaluation walks the
validated tree itself: the user's text is never passed to eval / exec / compile-to-code.
Undefined pixels (division by zero, log of <= 0, sqrt of < 0, inf, NaN input) become NaN.
"""
from __future__ import annotations

import ast
import operator
from typing import Callable, Iterable, Mapping

import numpy as np

from .indices import ROLE_ALIASES

MAX_LENGTH = 2000  # characters


class ExpressionError(ValueError):
    """The expression text is not a valid / allowed band expression."""


def _where(cond, a, b):
    """where(cond, a, b): a where cond is non-zero, else b; NaN where cond is NaN."""
    out = np.where(cond != 0, a, b)
    return np.where(np.isnan(cond), np.nan, out)


FUNCTIONS: dict[str, Callable] = {
    "sqrt": np.sqrt,
    "abs": np.abs,
    "log": np.log,
    "log10": np.log10,
    "exp": np.exp,
    "sin": np.sin,
    "cos": np.cos,
    "tan": np.tan,
    "arctan": np.arctan,
    "min": np.minimum,
    "max": np.maximum,
    "where": _where,
}
_ARITY = {"min": 2, "max": 2, "where": 3}  # others: 1

_BINOPS = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
}
_UNARYOPS = {ast.USub: operator.neg, ast.UAdd: operator.pos}
_CMPOPS = {
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
}
# operations that can create inf / NaN from finite operands: cleaned right away so that an
# undefined intermediate value (e.g. 1/0) can never turn into a finite result (1/(1/0) = 0).
_UNSAFE_BINOPS = (ast.Div, ast.Pow)

_HELP = (
    "only arithmetic (+ - * / **), comparisons (< <= > >= == !=), numbers, band names and "
    "the functions " + ", ".join(FUNCTIONS) + " are allowed"
)


def _canonical(name: str) -> str:
    up = name.strip().upper()
    return ROLE_ALIASES.get(up, up)


def _nan_clean(x):
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 0:
        return x if np.isfinite(x) else np.asarray(np.nan)
    np.copyto(x, np.nan, where=~np.isfinite(x))
    return x


class BandExpression:
    """A validated band expression over ``allowed_names`` (case-insensitive, aliases resolved)."""

    def __init__(self, text: str, allowed_names: Iterable[str]):
        self.text = "" if text is None else str(text)
        allowed = []
        for n in allowed_names:
            c = _canonical(str(n))
            if c not in allowed:
                allowed.append(c)
        self._allowed = tuple(allowed)
        if not self.text.strip():
            raise ExpressionError("the expression is empty: write e.g. (NIR-R)/(NIR+R)")
        if len(self.text) > MAX_LENGTH:
            raise ExpressionError(f"the expression is longer than {MAX_LENGTH} characters")
        try:
            tree = ast.parse(self.text.strip(), mode="eval")
        except SyntaxError as e:
            col = f" at column {e.offset}" if e.offset else ""
            raise ExpressionError(f"invalid expression syntax{col}: {self.text.strip()!r}") from None
        except (ValueError, RecursionError, MemoryError):
            raise ExpressionError("the expression cannot be read (too deeply nested or invalid characters)") from None
        self._source = self.text.strip()
        used: set[str] = set()
        try:
            self._check(tree.body, used)
        except RecursionError:
            raise ExpressionError("the expression is too deeply nested") from None
        self._tree = tree.body
        self.names = tuple(sorted(used))

    def __repr__(self):
        return f"BandExpression({self.text!r})"

    def __reduce__(self):
        """Pickled as its text and names (parsed and validated again), not as a syntax tree: a block pass ships
        the expression to worker processes, and a deeply nested tree would exceed pickle's recursion limit."""
        return type(self), (self.text, self._allowed)

    # ---- validation -------------------------------------------------------------------
    def _snippet(self, node) -> str:
        return ast.get_source_segment(self._source, node) or type(node).__name__

    def _refuse(self, node, what: str | None = None):
        raise ExpressionError(f"{what or self._snippet(node)!r} is not allowed: {_HELP}")

    def _check(self, node, used: set[str]) -> None:
        if isinstance(node, ast.Constant):
            if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
                self._refuse(node)
            try:
                float(node.value)
            except OverflowError:
                raise ExpressionError(f"the number {self._snippet(node)} is too large") from None
        elif isinstance(node, ast.Name):
            if node.id.startswith("_"):
                self._refuse(node, node.id)
            name = _canonical(node.id)
            if name not in self._allowed:
                if node.id.lower() in FUNCTIONS:
                    raise ExpressionError(
                        f"'{node.id}' is a function: call it with arguments, e.g. {node.id.lower()}(NIR)"
                    )
                raise ExpressionError(
                    f"unknown name '{node.id}' in expression; allowed names: "
                    f"{', '.join(self._allowed)} (case-insensitive; "
                    f"{', '.join(ROLE_ALIASES)} also accepted)"
                )
            used.add(name)
        elif isinstance(node, ast.BinOp):
            if type(node.op) not in _BINOPS:
                if isinstance(node.op, ast.BitXor):
                    raise ExpressionError(
                        f"'^' is not allowed in {self._snippet(node)!r}: write powers with **, e.g. NIR**2"
                    )
                self._refuse(node)
            self._check(node.left, used)
            self._check(node.right, used)
        elif isinstance(node, ast.UnaryOp):
            if type(node.op) not in _UNARYOPS:
                self._refuse(node)
            self._check(node.operand, used)
        elif isinstance(node, ast.Compare):
            if any(type(op) not in _CMPOPS for op in node.ops):
                self._refuse(node)
            self._check(node.left, used)
            for c in node.comparators:
                self._check(c, used)
        elif isinstance(node, ast.Call):
            fname = node.func.id if isinstance(node.func, ast.Name) else None
            if fname is None or fname.startswith("_") or fname.lower() not in FUNCTIONS:
                if fname is not None and _canonical(fname) in self._allowed:
                    raise ExpressionError(f"'{fname}' is a band name, not a function")
                self._refuse(node.func)
            if node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
                raise ExpressionError(
                    f"{self._snippet(node)!r}: only positional arguments are allowed, e.g. min(R, G)"
                )
            n = _ARITY.get(fname.lower(), 1)
            if len(node.args) != n:
                raise ExpressionError(
                    f"{fname}() takes {n} argument{'s' if n > 1 else ''}, got {len(node.args)}"
                )
            for a in node.args:
                self._check(a, used)
        else:
            self._refuse(node)

    # ---- evaluation -------------------------------------------------------------------
    def evaluate(self, values: Mapping[str, np.ndarray]) -> np.ndarray:
        """Evaluate on ``values`` (name -> array, case-insensitive); float32, NaN = undefined."""
        lookup = {_canonical(str(k)): v for k, v in values.items()}
        missing = [n for n in self.names if n not in lookup]
        if missing:
            raise KeyError(f"no values given for {', '.join(missing)} (expression {self.text!r})")
        arrays = {n: np.asarray(lookup[n], dtype=np.float64) for n in self.names}
        with np.errstate(all="ignore"):
            result = np.asarray(self._eval(self._tree, arrays))
            if values:
                shape = np.broadcast_shapes(*(np.shape(v) for v in values.values()))
                if result.shape != shape:
                    result = np.broadcast_to(result, shape)
            out = result.astype(np.float32)
        np.copyto(out, np.nan, where=~np.isfinite(out))
        return out

    def _eval(self, node, arrays):
        if isinstance(node, ast.Constant):
            return np.float64(node.value)
        if isinstance(node, ast.Name):
            return arrays[_canonical(node.id)]
        if isinstance(node, ast.BinOp):
            res = _BINOPS[type(node.op)](self._eval(node.left, arrays), self._eval(node.right, arrays))
            return _nan_clean(res) if isinstance(node.op, _UNSAFE_BINOPS) else res
        if isinstance(node, ast.UnaryOp):
            return _UNARYOPS[type(node.op)](self._eval(node.operand, arrays))
        if isinstance(node, ast.Compare):
            left = self._eval(node.left, arrays)
            result, nan = None, np.isnan(left)
            for op, comp in zip(node.ops, node.comparators):
                right = self._eval(comp, arrays)
                r = _CMPOPS[type(op)](left, right)
                result = r if result is None else (result & r)
                nan = nan | np.isnan(right)
                left = right
            return np.where(nan, np.nan, result.astype(np.float64))
        if isinstance(node, ast.Call):
            args = [self._eval(a, arrays) for a in node.args]
            return _nan_clean(FUNCTIONS[node.func.id.lower()](*args))
        raise ExpressionError(f"{self._snippet(node)!r} is not allowed")  # unreachable after _check


NAME_PATTERN = r"[A-Za-z][A-Za-z0-9_]*"


def named_expressions(text: str) -> list:
    """``name=expression`` entries, one per line or separated by ``;`` (as the spectral index search writes
    them), as [(name, expression text)]. Blank entries are ignored; the first ``=`` separates the name (letters,
    digits and _, starting with a letter) from the expression (which may hold ``==``). ExpressionError naming the
    entry otherwise; the expressions themselves are checked by BandExpression."""
    import re

    out, seen = [], set()
    for raw in re.split(r"[\n;]", str(text or "")):
        entry = raw.strip()
        if not entry:
            continue
        name, sep, expr = entry.partition("=")
        name, expr = name.strip(), expr.strip()
        if not sep or not expr or expr.startswith("="):
            raise ExpressionError(f"{entry!r} is not name=expression, e.g. NDVI2=(NIR-R)/(NIR+R)")
        if not re.fullmatch(NAME_PATTERN, name):
            raise ExpressionError(f"{name!r} (in {entry!r}) is not a valid name; use letters, digits and _, "
                                  "starting with a letter")
        if name.upper() in seen:
            raise ExpressionError(f"the name {name!r} is given twice; give every expression its own name")
        seen.add(name.upper())
        out.append((name, expr))
    return out
