"""Safe custom band expressions."""
import warnings
from math import sqrt

import numpy as np
import pytest

from mining_eco_plugin.core.expression import FUNCTIONS, BandExpression, ExpressionError
from mining_eco_plugin.core.indices import ROLES, compute_index

ALLOWED = ROLES + ("NDVI",)
VALUES = dict(
    B=np.array([0.05, 0.12]), G=np.array([0.08, 0.15]), R=np.array([0.10, 0.20]),
    NIR=np.array([0.30, 0.25]), SWIR1=np.array([0.20, 0.35]), SWIR2=np.array([0.12, 0.28]),
)


def ev(text, values=VALUES):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return BandExpression(text, ALLOWED).evaluate(values)


def test_ndvi_expression_equals_index():
    out = ev("(NIR-R)/(NIR+R)")
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, compute_index("NDVI", VALUES))
    np.testing.assert_allclose(out, [0.5, 0.05 / 0.45], rtol=1e-6)


def test_names_case_insensitive_aliases_and_index_names():
    e = BandExpression("(nir - Red) * 2 + ndvi", ALLOWED)
    assert e.names == ("NDVI", "NIR", "R")
    out = e.evaluate({**VALUES, "NDVI": np.array([1.0, 2.0])})
    np.testing.assert_allclose(out, [0.4 + 1.0, 0.1 + 2.0], rtol=1e-6)


def test_functions():
    np.testing.assert_allclose(ev("sqrt(G*R)"), [sqrt(0.008), sqrt(0.03)], rtol=1e-6)
    np.testing.assert_allclose(ev("max(B, R) - min(G, SWIR2)"), [0.10 - 0.08, 0.20 - 0.15], rtol=1e-6)
    np.testing.assert_allclose(ev("abs(-NIR) ** 2 + log10(100)"), [0.09 + 2, 0.0625 + 2], rtol=1e-6)
    np.testing.assert_allclose(ev("where(NIR > 0.28, 1, -1)"), [1, -1])
    np.testing.assert_allclose(ev("(R <= 0.1) * 5 + SQRT(4)"), [7, 2])
    assert set(FUNCTIONS) >= {"sqrt", "abs", "log", "log10", "exp", "sin", "cos", "tan", "arctan", "min", "max"}


def test_undefined_pixels_are_nan():
    zero = dict(R=np.array([0.0, 0.1]), NIR=np.array([0.0, -0.2]))
    out = ev("(NIR-R)/(NIR+R)", zero)  # 0/0 and -0.3/-0.1
    assert np.isnan(out[0]) and out[1] == pytest.approx(3.0)
    assert np.isnan(ev("NIR/R", zero)[0])  # x/0 -> NaN, never inf
    assert np.isnan(ev("1/(1/R)", zero)[0])  # an undefined intermediate stays undefined
    assert np.isnan(ev("log(R)", zero)[0]) and np.isnan(ev("sqrt(NIR)", zero)[1])
    assert np.isnan(ev("exp(1000*R + 1000)", zero)).all()  # overflow
    nan_in = dict(R=np.array([np.nan, 0.1]), NIR=np.array([0.3, 0.3]))
    assert np.isnan(ev("R < 1", nan_in)[0]) and ev("R < 1", nan_in)[1] == 1


def test_constant_expression_broadcasts():
    out = ev("2 ** 3")
    np.testing.assert_array_equal(out, [8, 8])


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("__import__('os')", "'__import__' is not allowed"),
        ("NIR.real", "'NIR.real' is not allowed"),
        ("[x for x in B]", "is not allowed"),
        ("B[0]", "is not allowed"),
        ("lambda: 1", "is not allowed"),
        ("'abc'", "is not allowed"),
        ("min(B, R, key=G)", "positional"),
        ("open(B)", "'open' is not allowed"),
        ("_B", "'_B' is not allowed"),
        ("NIR(2)", "band name"),
        ("sqrt", "function"),
        ("sqrt(B, R)", "1 argument"),
        ("B and R", "is not allowed"),
        ("NIR ^ 2", "**"),
        ("", "empty"),
        ("   ", "empty"),
        ("(NIR - R", "syntax"),
        ("NIRR + 1", "unknown name 'NIRR'"),
    ],
)
def test_refused(text, fragment):
    with pytest.raises(ExpressionError, match=None) as info:
        BandExpression(text, ALLOWED)
    assert fragment in str(info.value)
    assert isinstance(info.value, ValueError)


def test_unknown_name_message_lists_allowed_names():
    with pytest.raises(ExpressionError) as info:
        BandExpression("NIRR - R", ALLOWED)
    msg = str(info.value)
    assert "'NIRR'" in msg and "NIR" in msg and "SWIR2" in msg and "NDVI" in msg


def test_huge_number_refused_cleanly():
    with pytest.raises(ExpressionError):
        BandExpression("1" + "0" * 400, ALLOWED)
    assert np.isnan(ev("9 ** 9 ** 9 * R")).all()  # float overflow -> NaN, no exception


def test_expression_pickles_by_its_text():
    """Issue 12: a block pass ships expressions to worker processes; a deeply nested one pickles too."""
    import pickle
    e = BandExpression("(nir - red) / (NIR + R) + sqrt(G * SWIR1)", ALLOWED)
    copy = pickle.loads(pickle.dumps(e))
    assert copy.names == e.names and copy.text == e.text
    np.testing.assert_array_equal(copy.evaluate(VALUES), e.evaluate(VALUES))
    deep = BandExpression("+".join(["R"] * 900), ALLOWED)          # a syntax tree 900 deep: too deep for pickle
    assert pickle.loads(pickle.dumps(deep)).names == ("R",)


def test_named_expressions():
    """CUSTOM_EXPRESSIONS of the index calculator: name=expression per line or separated by ';' (the form the
    index search writes), the first '=' separates (comparisons keep their '=='), blank entries ignored."""
    from mining_eco_plugin.core.expression import named_expressions
    text = "ND_G_NIR=(G-NIR)/(G+NIR)\n\n  TR = (SWIR1-NIR+B)/(SWIR1+NIR-B) ;WET2=where(NIR==R, 0, NIR)\n"
    assert named_expressions(text) == [("ND_G_NIR", "(G-NIR)/(G+NIR)"), ("TR", "(SWIR1-NIR+B)/(SWIR1+NIR-B)"),
                                       ("WET2", "where(NIR==R, 0, NIR)")]
    assert named_expressions("") == [] and named_expressions(None) == []
    for bad, fragment in (("(NIR-R)/(NIR+R)", "not name=expression"), ("A=", "not name=expression"),
                          ("A==R", "not name=expression"), ("1A=R", "not a valid name"),
                          ("../x=R", "not a valid name"), ("A=R;a=G", "given twice")):
        with pytest.raises(ExpressionError) as info:
            named_expressions(bad)
        assert fragment in str(info.value), (bad, str(info.value))
