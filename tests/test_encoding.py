"""The column encoder of the discrete and mixed families: categories found without loading
the data, codes and counts exactly as a plain lookup written here gives them, for every
input kind, and every bad value refused with its column and value named."""

from __future__ import annotations

import dask
import dask.array as da
import numpy as np
import pytest
from dask.callbacks import Callback

from distgmm._encoding import KINDS, ColumnCoding, encode, encode_partition, fit_coding
from distgmm.errors import InvalidInputError

pd = pytest.importorskip("pandas")
pa = pytest.importorskip("pyarrow")
dd = pytest.importorskip("dask.dataframe")

EST = "CategoricalMixture"

# The raw columns, as Python lists: every expected answer is computed from these.
IDS = list(range(100, 112))
PLAN = [
    "pro",
    "basic",
    "free",
    "basic",
    "pro",
    "free",
    "free",
    "basic",
    "pro",
    "team",
    "free",
    "basic",
]
COUNTRY = ["fr", "de", "fr", "it", "de", "de", "fr", "it", "it", "fr", "de", "fr"]
COUNTRY_ORDER = ["it", "fr", "de", "es"]  # a category dtype's own order, 'es' never seen
SIZE = [3, 1, 2, 3, 3, 1, 2, 2, 1, 3, 2, 1]
VISITS = [0, 3, 1, 7, 2, 0, 0, 12, 5, 1, 2, 2**53 - 1]
CHURN = [True, False, False, True, False, False, True, False, False, False, True, True]
INCOME = [1.5, np.nan, 3.25, -2.0, np.inf, 0.0, 1e300, 2.0, 5.5, 6.0, 7.0, 8.0]
KINDS_DICT = {
    "plan": "categorical",
    "visits": "count",
    "country": "categorical",
    "churn": "binary",
    "size": "categorical",
    "income": "real",
}


def codes(values, categories):
    lookup = {c: i for i, c in enumerate(categories)}
    return [float(lookup[v]) for v in values]


def expected_table():
    """The model columns in the order of KINDS_DICT, from the lists by plain lookups."""
    cols = [
        codes(PLAN, sorted(set(PLAN))),
        [float(v) for v in VISITS],
        codes(COUNTRY, COUNTRY_ORDER),
        [float(v) for v in CHURN],
        codes(SIZE, sorted(set(SIZE))),
        INCOME,
    ]
    return np.array(cols, dtype=np.float64).T


def table(strings="object"):
    """A pandas DataFrame of the lists; ``strings`` is the dtype of the text column."""
    return pd.DataFrame(
        {
            "id": IDS,
            "plan": pd.array(PLAN, dtype=strings),  # "object": Python str objects
            "country": pd.Categorical(COUNTRY, categories=COUNTRY_ORDER),
            "size": pd.array(SIZE, dtype="Int64"),
            "visits": np.array(VISITS, dtype=np.int64),
            "churn": CHURN,
            "income": INCOME,
        }
    )


def check_coding(coding):
    assert coding.n_features_in == 7
    assert list(coding.feature_names) == [
        "id",
        "plan",
        "country",
        "size",
        "visits",
        "churn",
        "income",
    ]
    assert coding.names() == list(KINDS_DICT)
    assert coding.kinds == tuple(KINDS_DICT.values())
    assert coding.columns == (1, 4, 2, 5, 3, 6)
    assert list(coding.categories[0]) == sorted(set(PLAN))
    assert list(coding.categories[2]) == COUNTRY_ORDER
    assert list(coding.categories[4]) == sorted(set(SIZE))
    assert coding.categories[4].dtype == np.int64
    assert [c is None for c in coding.categories] == [False, True, False, True, False, True]


def assert_exact(got, want):
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got, want)  # NaN where NaN, bit-equal elsewhere


@pytest.mark.parametrize("strings", ["object", "string[python]", "string[pyarrow]", "str"])
def test_pandas_table_gives_the_lookup_codes(strings):
    df = table(strings)
    coding = fit_coding(df, KINDS_DICT, estimator=EST)
    check_coding(coding)
    assert_exact(encode(df, coding, estimator=EST), expected_table())
    assert_exact(encode_partition(df, coding), expected_table())


def test_an_arrow_dictionary_column_is_categorical():
    dtype = pd.ArrowDtype(pa.dictionary(pa.int32(), pa.string()))
    df = pd.DataFrame({"plan": pd.array(PLAN, dtype=dtype), "n": VISITS})
    coding = fit_coding(df, {"plan": "categorical"}, estimator=EST)
    assert list(coding.categories[0]) == sorted(set(PLAN))
    assert_exact(encode(df, coding, estimator=EST)[:, 0], codes(PLAN, sorted(set(PLAN))))


def test_an_arrow_dictionary_of_several_chunks():
    chunks = [pa.array(PLAN[:5]).dictionary_encode(), pa.array(PLAN[5:]).dictionary_encode()]
    assert chunks[0].dictionary != chunks[1].dictionary  # each chunk its own dictionary
    df = pd.DataFrame({"plan": pd.arrays.ArrowExtensionArray(pa.chunked_array(chunks))})
    coding = fit_coding(df, "categorical", estimator=EST)
    assert list(coding.categories[0]) == sorted(set(PLAN))
    assert_exact(encode(df, coding, estimator=EST)[:, 0], codes(PLAN, sorted(set(PLAN))))


def test_numpy_numeric_bool_object_and_str_arrays():
    X = np.array([SIZE, [*VISITS[:-1], 4]], dtype=np.int64).T
    coding = fit_coding(X, {0: "categorical", 1: "count"}, estimator=EST)
    assert coding.feature_names is None
    assert coding.names() == ["x0", "x1"]
    want = np.array([codes(SIZE, sorted(set(SIZE))), [*VISITS[:-1], 4]], dtype=float).T
    assert_exact(encode(X, coding, estimator=EST), want)

    B = np.array([CHURN, CHURN[::-1]]).T
    coding = fit_coding(B, "categorical", estimator=EST)  # bool: [False, True], no pass
    assert [list(c) for c in coding.categories] == [[False, True]] * 2
    assert_exact(encode(B, coding, estimator=EST), B.astype(float))

    O = np.array([PLAN, SIZE, CHURN], dtype=object).T  # noqa: E741
    coding = fit_coding(O, {0: "categorical", 1: "categorical", 2: "binary"}, estimator=EST)
    assert list(coding.categories[0]) == sorted(set(PLAN))
    assert coding.categories[1].dtype == np.int64
    want = np.array([codes(PLAN, sorted(set(PLAN))), codes(SIZE, sorted(set(SIZE))), CHURN]).T
    assert_exact(encode(O, coding, estimator=EST), want.astype(float))

    U = np.array([PLAN, COUNTRY]).T
    coding = fit_coding(U, "categorical", estimator=EST)
    assert [list(c) for c in coding.categories] == [sorted(set(PLAN)), sorted(set(COUNTRY))]
    want = np.array([codes(PLAN, sorted(set(PLAN))), codes(COUNTRY, sorted(set(COUNTRY)))]).T
    assert_exact(encode(U, coding, estimator=EST), want)


def test_polars_table():
    pl = pytest.importorskip("polars")
    df = pl.DataFrame(
        {
            "id": IDS,
            "plan": pl.Series(PLAN, dtype=pl.Categorical),  # arrival order: sorted here
            "country": pl.Series(COUNTRY, dtype=pl.Enum(COUNTRY_ORDER)),  # its own order
            "size": SIZE,
            "visits": VISITS,
            "churn": CHURN,
            "income": INCOME,
        }
    )
    coding = fit_coding(df, KINDS_DICT, estimator=EST)
    check_coding(coding)
    assert_exact(encode(df, coding, estimator=EST), expected_table())


@pytest.fixture(autouse=True)
def _local_scheduler():
    """The computes counted here run on dask's local scheduler, even when an earlier test
    module left a distributed client as the default (its computes run no local callback)."""
    with dask.config.set(scheduler="threads"):
        yield


class Computes(Callback):
    """Counts the computes run by the local schedulers."""

    def __init__(self):
        super().__init__()
        self.count = 0

    def _start(self, dsk):
        self.count += 1


def loaded_frame(n_parts, loads, categories_known):
    """A dask DataFrame whose partitions record each load in ``loads``."""
    rows = np.array_split(np.arange(len(PLAN)), n_parts)

    def load(i):
        loads.append(i)
        df = table()
        if not categories_known:
            df["country"] = df["country"].astype(object)
        return df.iloc[rows[i]].reset_index(drop=True)

    meta = load(0).iloc[:0]
    loads.clear()
    return dd.from_map(load, range(n_parts), meta=meta, enforce_metadata=False)


def test_category_dtypes_need_no_pass_and_the_others_one():
    loads = []
    frame = loaded_frame(4, loads, categories_known=True)
    with dask.config.set(scheduler="sync"), Computes() as computes:
        coding = fit_coding(frame, {"country": "categorical", "churn": "binary"}, estimator=EST)
    assert (computes.count, loads) == (0, [])
    assert list(coding.categories[0]) == COUNTRY_ORDER

    with dask.config.set(scheduler="sync"), Computes() as computes:
        coding = fit_coding(frame, KINDS_DICT, estimator=EST)
    assert computes.count == 1
    assert sorted(loads) == [0, 1, 2, 3]  # each partition read once, for all three columns
    check_coding(coding)

    loads.clear()
    frame = loaded_frame(5, loads, categories_known=False)
    with dask.config.set(scheduler="sync"), Computes() as computes:
        coding = fit_coding(frame, KINDS_DICT, estimator=EST)
    assert computes.count == 1
    assert sorted(loads) == [0, 1, 2, 3, 4]
    assert list(coding.categories[2]) == sorted(set(COUNTRY))  # unknown: found, sorted


@pytest.mark.parametrize("npartitions", [1, 3, 12])
def test_dask_frame_equals_pandas(npartitions):
    df = table("string[pyarrow]")
    frame = dd.from_pandas(df, npartitions=npartitions)
    coding = fit_coding(frame, KINDS_DICT, estimator=EST)
    check_coding(coding)
    out = encode(frame, coding, estimator=EST)
    assert isinstance(out, da.Array)
    assert out.dtype == np.float64
    assert out.chunks[0] == tuple(len(part) for part in frame.partitions)  # known lengths
    local = encode(df, fit_coding(df, KINDS_DICT, estimator=EST), estimator=EST)
    assert_exact(out.compute(), local)
    unknown = encode(frame, coding, estimator=EST, lengths=False)
    assert np.isnan(unknown.chunks[0]).all()
    assert_exact(unknown.compute(), expected_table())


# dask's own Parquet reader calls reset_index(inplace=True), which pandas 3.1 deprecates
@pytest.mark.filterwarnings("ignore:The inplace keyword in DataFrame.reset_index")
@pytest.mark.parametrize("dtype_backend", [None, "pyarrow"])
def test_dask_read_parquet_of_string_and_dictionary_columns(tmp_path, dtype_backend):
    pq = pytest.importorskip("pyarrow.parquet")
    bounds = [0, 5, 9, 12]
    for i in range(3):  # each file its own dictionary, in arrival order
        rows = slice(bounds[i], bounds[i + 1])
        t = pa.table(
            {
                "plan": pa.array(PLAN[rows]),
                "country": pa.array(COUNTRY[rows]).dictionary_encode(),
                "size": pa.array(SIZE[rows], pa.int32()),
                "visits": pa.array(VISITS[rows]),
            }
        )
        pq.write_table(t, tmp_path / f"part.{i}.parquet")
    frame = dd.read_parquet(tmp_path, dtype_backend=dtype_backend)
    assert frame.dtypes["country"] == "category" or "dictionary<" in str(frame.dtypes["country"])
    kinds = {
        "country": "categorical",
        "plan": "categorical",
        "visits": "count",
        "size": "categorical",
    }
    with Computes() as computes:
        coding = fit_coding(frame, kinds, estimator=EST)
    assert computes.count == 1
    found = [list(c) for c in coding.categories if c is not None]
    assert found == [sorted(set(COUNTRY)), sorted(set(PLAN)), sorted(set(SIZE))]
    want = np.array(
        [
            codes(COUNTRY, sorted(set(COUNTRY))),
            codes(PLAN, sorted(set(PLAN))),
            VISITS,
            codes(SIZE, sorted(set(SIZE))),
        ],
        dtype=float,
    ).T
    assert_exact(encode(frame, coding, estimator=EST).compute(), want)


def test_dask_array_equals_numpy():
    X = np.array([SIZE, VISITS, CHURN, INCOME], dtype=np.float64).T
    kinds = {0: "categorical", 1: "count", 2: "binary", 3: "real"}
    dX = da.from_array(X, chunks=(5, 2))
    with Computes() as computes:
        coding = fit_coding(dX, kinds, estimator=EST)
    assert computes.count == 1
    assert list(coding.categories[0]) == sorted(set(SIZE))
    out = encode(dX, coding, estimator=EST)
    assert out.chunks == ((5, 5, 2), (4,))
    want = encode(X, fit_coding(X, kinds, estimator=EST), estimator=EST)
    assert_exact(out.compute(), want)
    assert_exact(want[:, 0], codes(SIZE, sorted(set(SIZE))))


@pytest.mark.cluster
def test_on_a_cluster(cluster1):
    df = table("string[pyarrow]")
    df["country"] = df["country"].astype(object)
    frame = dd.from_pandas(df, npartitions=3)
    coding = fit_coding(frame, KINDS_DICT, estimator=EST, client=cluster1)
    assert list(coding.categories[2]) == sorted(set(COUNTRY))
    out = encode(frame, coding, estimator=EST, client=cluster1)
    local = encode(df, fit_coding(df, KINDS_DICT, estimator=EST), estimator=EST)
    assert_exact(cluster1.compute(out).result(), local)
    bad = dd.from_pandas(df.assign(visits=df["visits"] - 1), npartitions=3)
    with pytest.raises(InvalidInputError, match=r"column 'visits' has the value -1"):
        cluster1.compute(encode(bad, coding, estimator=EST, client=cluster1)).result()


# --- refused input --------------------------------------------------------------------


@pytest.mark.parametrize("strings", ["object", "str", "string[python]"])
def test_an_unseen_category(strings):
    df = table(strings)
    coding = fit_coding(df, KINDS_DICT, estimator=EST)
    later = df.assign(plan=pd.array(["gold", *PLAN[1:]], dtype=strings))
    with pytest.raises(
        InvalidInputError, match=r"column 'plan' has the value 'gold' not seen"
    ) as e:
        encode(later, coding, estimator=EST)
    assert "['basic', 'free', 'pro', 'team']" in str(e.value)
    assert "handle_unknown='ignore'" in str(e.value)
    out = encode(later, coding, estimator=EST, handle_unknown="ignore")
    assert_exact(out[:, 0], [-1.0, *codes(PLAN[1:], sorted(set(PLAN)))])

    # the category and dictionary paths, and an unnamed numpy column
    later = df.assign(
        country=pd.Categorical(["es", *COUNTRY[1:]], categories=["es", "fr", "de", "it"])
    )
    assert_exact(
        encode(later, coding, estimator=EST)[:, 2], codes(["es", *COUNTRY[1:]], COUNTRY_ORDER)
    )
    later = df.assign(country=pd.Categorical(["pl", *COUNTRY[1:]]))
    with pytest.raises(InvalidInputError, match=r"column 'country' has the value 'pl' not seen"):
        encode(later, coding, estimator=EST)
    dtype = pd.ArrowDtype(pa.dictionary(pa.int32(), pa.string()))
    later = df.assign(plan=pd.array([*PLAN[:-1], "gold"], dtype=dtype))
    with pytest.raises(InvalidInputError, match=r"column 'plan' has the value 'gold'"):
        encode(later, coding, estimator=EST)
    X = np.array([SIZE, SIZE]).T
    coding = fit_coding(X, "categorical", estimator=EST)
    with pytest.raises(InvalidInputError, match=r"column 1 has the value 7 not seen"):
        encode(np.array([[1, 1], [2, 7]]), coding, estimator=EST)


@pytest.mark.parametrize("missing", [None, np.nan, pd.NA, pd.NaT])
@pytest.mark.parametrize("name", ["plan", "size", "country"])
def test_a_missing_categorical_value(name, missing):
    df = table()
    coding = fit_coding(df, KINDS_DICT, estimator=EST)
    bad = df.astype({name: object})
    bad.loc[4, name] = missing
    with pytest.raises(InvalidInputError, match=rf"column '{name}' has a missing value"):
        encode(bad, coding, estimator=EST)
    if name == "country":  # a category dtype's own missing code
        bad = df.copy()
        bad.loc[4, name] = np.nan
        with pytest.raises(InvalidInputError, match=r"column 'country' has a missing value"):
            encode(bad, coding, estimator=EST)


@pytest.mark.parametrize(
    ("values", "shown"),
    [
        ([-1, *VISITS[1:]], "-1"),
        ([2.5, *VISITS[1:]], "2.5"),
        ([np.inf, *VISITS[1:]], "inf"),
        ([2**53, *VISITS[1:]], str(2**53)),
        ([np.nan, *VISITS[1:]], "a missing value"),
        (pd.array([None, *VISITS[1:]], dtype="Int64"), "a missing value"),
        (["3", *VISITS[1:]], "'3'"),
    ],
)
def test_a_bad_count(values, shown):
    df = table()
    coding = fit_coding(df, KINDS_DICT, estimator=EST)
    bad = df.assign(visits=pd.Series(values, dtype=object) if isinstance(values, list) else values)
    with pytest.raises(InvalidInputError, match=r"column 'visits' has") as e:
        encode(bad, coding, estimator=EST)
    assert shown in str(e.value)
    X = np.array([[1.0, 2.0], [3.0, -4.0]])  # unnamed numpy: the position
    with pytest.raises(InvalidInputError, match=r"column 1 has the value -4.0, not a count"):
        encode(X, fit_coding(X, "count", estimator=EST), estimator=EST)


@pytest.mark.parametrize(
    ("value", "shown"), [(2, "2"), (-1.0, "-1.0"), ("yes", "'yes'"), (None, "missing")]
)
def test_a_bad_binary_value(value, shown):
    df = table()
    coding = fit_coding(df, KINDS_DICT, estimator=EST)
    bad = df.astype({"churn": object})
    bad.loc[7, "churn"] = value
    with pytest.raises(InvalidInputError, match=r"column 'churn' has") as e:
        encode(bad, coding, estimator=EST)
    assert shown in str(e.value)
    ok = df.assign(churn=np.array(CHURN, dtype=np.int64))  # 0/1 as well as False/True
    assert_exact(encode(ok, coding, estimator=EST), expected_table())
    mixed = [int(v) if i % 2 else v for i, v in enumerate(CHURN)]  # bools and ints
    ok = df.assign(churn=pd.Series(mixed, dtype=object))
    assert_exact(encode(ok, coding, estimator=EST), expected_table())


def test_values_that_cannot_be_sorted_into_categories():
    df = pd.DataFrame({"mix": ["a", 1, "b", 2]})
    with pytest.raises(InvalidInputError, match=r"column 'mix' of X mixes values of the types"):
        fit_coding(df, "categorical", estimator=EST)
    with dask.config.set({"dataframe.convert-string": False}):  # keep the objects
        frame = dd.from_pandas(df, npartitions=2)
    with pytest.raises(InvalidInputError, match=r"\['int', 'str'\]"):
        fit_coding(frame, "categorical", estimator=EST)


def test_bad_kinds():
    df = table()
    with pytest.raises(InvalidInputError, match=r"column 'plans', which X does not have"):
        fit_coding(df, {"plans": "categorical"}, estimator=EST)
    with pytest.raises(InvalidInputError, match=r"column 9, which X does not have"):
        fit_coding(np.ones((3, 2)), {9: "count"}, estimator=EST)
    with pytest.raises(InvalidInputError, match=r"kind 'gaussian' for column 'income'"):
        fit_coding(df, {"income": "gaussian"}, estimator=EST)
    with pytest.raises(InvalidInputError, match=r"'counts'"):
        fit_coding(df, "counts", estimator=EST)
    with pytest.raises(InvalidInputError, match=r"column 'plan' twice"):
        fit_coding(df, {"plan": "categorical", 1: "categorical"}, estimator=EST)
    with pytest.raises(InvalidInputError, match=r"column 'plan' of X has dtype .*'count'"):
        fit_coding(df, {"plan": "count"}, estimator=EST)
    assert KINDS == ("categorical", "count", "binary", "real")


def test_other_columns_at_encode():
    df = table()
    coding = fit_coding(df, KINDS_DICT, estimator=EST)
    assert isinstance(coding, ColumnCoding)
    with pytest.raises(InvalidInputError, match=r"X has 6 features, but CategoricalMixture"):
        encode(df.drop(columns="id"), coding, estimator=EST)
    swapped = df[["plan", "id", *df.columns[2:]]]
    with pytest.raises(InvalidInputError, match=r"X has the columns \['plan', 'id'"):
        encode(swapped, coding, estimator=EST)
    with pytest.raises(InvalidInputError, match=r"fitted on \['id', 'plan'"):
        encode(dd.from_pandas(swapped, npartitions=2), coding, estimator=EST)
    with pytest.raises(InvalidInputError, match=r"handle_unknown"):
        encode(df, coding, estimator=EST, handle_unknown="skip")


def test_a_bad_value_in_a_dask_partition_surfaces_at_compute():
    df = table()
    coding = fit_coding(df, KINDS_DICT, estimator=EST)
    bad = df.assign(churn=np.array([*CHURN[:-1], 3]))
    out = encode(dd.from_pandas(bad, npartitions=3), coding, estimator=EST)  # lazy: no error
    with pytest.raises(InvalidInputError, match=r"column 'churn' has the value 3"):
        out.compute()
