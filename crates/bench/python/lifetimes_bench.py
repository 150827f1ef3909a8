"""Times Python's `lifetimes` 0.11.3 for `regulars-bench analytics`, on the files the benchmark
writes to target/bench-data/analytics/. One measurement per process; prints JSON.

    python lifetimes_bench.py fit MODEL HISTORIES.csv CUSTOMERS MODE
        MODEL: bg_nbd, pareto_nbd or gamma_gamma; MODE: users (one row per customer, default
        options, as lifetimes' users call it) or compressed (the distinct rows with weights,
        the input our fit works on; compressing is timed separately). Gamma-Gamma fits the
        repeat buyers among the first CUSTOMERS customers. Pareto/NBD's random start is seeded.
    python lifetimes_bench.py summary TRANSACTIONS.csv ROWS OBSERVATION_END
        summary_data_from_transaction_data on the first ROWS rows (daily periods, weeks:
        freq='D', freq_multiplier=7, with monetary values); reading the CSV and parsing its dates
        are timed separately, as our summary starts from parsed transactions too.
"""

import json
import sys
import time
import warnings

warnings.filterwarnings("ignore")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

np.seterr(all="ignore")

import lifetimes  # noqa: E402
from lifetimes import BetaGeoFitter, GammaGammaFitter, ParetoNBDFitter  # noqa: E402
from lifetimes.utils import summary_data_from_transaction_data  # noqa: E402

assert lifetimes.__version__ == "0.11.3", lifetimes.__version__


def distinct_rows(*columns):
    """The distinct rows of the given columns and how many times each occurs."""
    stacked = np.column_stack(columns)
    unique, counts = np.unique(stacked, axis=0, return_counts=True)
    return [unique[:, i] for i in range(unique.shape[1])], counts.astype(float)


def fit(model, path, customers, mode):
    frame = pd.read_csv(path, nrows=customers)
    x = frame["frequency"].values
    tx = frame["recency"].values
    age = frame["T"].values
    monetary = frame["monetary"].values
    compress_seconds = 0.0
    if model == "gamma_gamma":
        repeat = (x > 0) & (monetary > 0)
        columns = (x[repeat], monetary[repeat])
    else:
        columns = (x, tx, age)
    weights = None
    if mode == "compressed":
        started = time.perf_counter()
        columns, weights = distinct_rows(*columns)
        compress_seconds = time.perf_counter() - started
    started = time.perf_counter()
    if model == "bg_nbd":
        fitter = BetaGeoFitter().fit(*columns, weights=weights)
        names = ["r", "alpha", "a", "b"]
    elif model == "pareto_nbd":
        np.random.seed(0)
        fitter = ParetoNBDFitter().fit(*columns, weights=weights)
        names = ["r", "alpha", "s", "beta"]
    else:
        fitter = GammaGammaFitter().fit(*columns, weights=weights)
        names = ["p", "q", "v"]
    seconds = time.perf_counter() - started
    return {
        "model": model,
        "mode": mode,
        "customers": int(len(x)) if model != "gamma_gamma" else int(((x > 0) & (monetary > 0)).sum()),
        "rows": int(len(columns[0])),
        "seconds": seconds,
        "compress_seconds": compress_seconds,
        "params": {n: float(fitter.params_[n]) for n in names},
    }


def summary(path, rows, observation_end):
    started = time.perf_counter()
    frame = pd.read_csv(path, nrows=rows, dtype={"customer": np.int64, "date": str, "amount": float})
    read_seconds = time.perf_counter() - started
    started = time.perf_counter()
    frame["date"] = pd.to_datetime(frame["date"], format="%Y-%m-%d")
    parse_seconds = time.perf_counter() - started
    started = time.perf_counter()
    result = summary_data_from_transaction_data(
        frame,
        "customer",
        "date",
        monetary_value_col="amount",
        observation_period_end=observation_end,
        freq="D",
        freq_multiplier=7,
    )
    seconds = time.perf_counter() - started
    return {
        "rows": int(len(frame)),
        "customers": int(len(result)),
        "seconds": seconds,
        "read_seconds": read_seconds,
        "parse_dates_seconds": parse_seconds,
        "repeat_buyers": int((result["frequency"] > 0).sum()),
        "sum_frequency": float(result["frequency"].sum()),
        "sum_T": float(result["T"].sum()),
    }


def main():
    if sys.argv[1] == "fit":
        out = fit(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])
    elif sys.argv[1] == "summary":
        out = summary(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    else:
        raise SystemExit(f"unknown command {sys.argv[1]!r}")
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
