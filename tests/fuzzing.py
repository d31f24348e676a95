"""Strategies that the fuzz tests of merge, trim and predict's readers share (Hypothesis)."""

from hypothesis import strategies as st

TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=6)
SCALAR = st.one_of(st.none(), st.booleans(), st.integers(-2 ** 70, 2 ** 70),
                   st.floats(allow_nan=True, allow_infinity=True), TEXT)
# Any JSON value, NaN and the infinities (which Python's json writes and reads) among them.
JSON_ANY = st.recursive(SCALAR, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(TEXT, inner, max_size=3)), max_leaves=6)


def mostly(common, rare, odds: int = 4):
    """COMMON, ODDS times as often as RARE (st.one_of counts a strategy given twice once)."""
    return st.integers(0, odds).flatmap(lambda draw: rare if draw == 0 else common)
