"""Runs Python's `lifetimes` 0.11.3 on inputs written by the Rust differential tests and prints
what it computes as JSON, so the tests can compare it with `regulars-analytics` number by number.

    python driver.py fit INPUT.json        fit the four models, predict on a grid
    python driver.py summary INPUT.json    summary_data_from_transaction_data and
                                           calibration_and_holdout_data on a transaction CSV
    python driver.py clv INPUT.json        the whole pipeline `regulars analyze clv` runs
    python driver.py datasets              where lifetimes keeps its CDNOW files

Floating-point numbers are written as strings holding their shortest exact representation
(Python's repr), so they read back bit for bit; those that are not finite as "nan", "inf" and
"-inf". Every fit reports:

- params: in the data's time unit, as lifetimes' `params_`;
- log_likelihood: the total, unpenalised log-likelihood of the data in that time unit, from
  lifetimes' own likelihood function evaluated at `params_` with penalizer 0 (its
  `_negative_log_likelihood` is a mean over customers for BG/NBD, MBG/NBD and Gamma-Gamma and a
  sum divided by the mean weight for Pareto/NBD, plus the penalty, and the purchase models
  evaluate it on time rescaled by 1/max(T));
- log_likelihood_from_objective: the same figure recovered from the optimiser's final objective
  `_negative_log_likelihood_` (penalty removed, un-averaged, and the x·log(scale) the time
  rescaling takes from each customer's density given back), as a check on the first;
- standard_errors: lifetimes' `standard_errors_` (not computed by lifetimes for Pareto/NBD);
- predictions on the grid the test sends, with the fitted `params_`.
"""

import json
import math
import os
import sys
import warnings

warnings.filterwarnings("ignore")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

np.seterr(all="ignore")

import lifetimes  # noqa: E402
from lifetimes import (  # noqa: E402
    BetaGeoFitter,
    GammaGammaFitter,
    ModifiedBetaGeoFitter,
    ParetoNBDFitter,
)
from lifetimes.utils import (  # noqa: E402
    calibration_and_holdout_data,
    summary_data_from_transaction_data,
)

assert lifetimes.__version__ == "0.11.3", lifetimes.__version__


def clean(value):
    """JSON-safe: numpy scalars to floats, non-finite numbers to strings, recursively."""
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean(v) for v in value]
    if isinstance(value, np.ndarray):
        return [clean(v) for v in value.tolist()]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        # As text: repr is the shortest string that reads back as the same double, and the
        # Rust side parses it with a correctly rounded parser (JSON number parsers may not be).
        value = float(value)
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    return value


def scalar(f):
    """Calls f, turning an exception into NaN (lifetimes raises on some extreme inputs)."""
    try:
        value = f()
        value = np.asarray(value, dtype=float).reshape(-1)
        return float(value[0])
    except Exception:  # noqa: BLE001
        return float("nan")


# --- fits -------------------------------------------------------------------------------------

PURCHASE_MODELS = {
    "bg_nbd": (BetaGeoFitter, ["r", "alpha", "a", "b"]),
    "mbg_nbd": (ModifiedBetaGeoFitter, ["r", "alpha", "a", "b"]),
    "pareto_nbd": (ParetoNBDFitter, ["r", "alpha", "s", "beta"]),
}


def purchase_arrays(data):
    freq = np.asarray(data["frequency"], dtype=float)
    rec = np.asarray(data["recency"], dtype=float)
    age = np.asarray(data["T"], dtype=float)
    weights = data.get("weights")
    weights = None if weights is None else np.asarray(weights, dtype=float)
    return freq, rec, age, weights


def fixed_purchase_model(name, data, params):
    """A model with the given parameters instead of fitted ones (to predict where lifetimes'
    own fit failed)."""
    fitter_class, names = PURCHASE_MODELS[name]
    freq, rec, age, weights = purchase_arrays(data)
    model = fitter_class()
    model.params_ = pd.Series([float(params[n]) for n in names], index=names)
    model.predict = model.conditional_expected_number_of_purchases_up_to_time
    w = np.ones_like(freq) if weights is None else weights
    values = np.asarray([float(params[n]) for n in names])
    x = freq.astype(int)
    if name == "pareto_nbd":
        ll = -fitter_class._negative_log_likelihood(values, x, rec, age, w, 0.0) * w.mean()
    else:
        ll = -fitter_class._negative_log_likelihood(np.log(values), x, rec, age, w, 0.0) * w.sum()
    return model, {
        "params": dict(zip(names, values)),
        "log_likelihood": float(ll),
        "log_likelihood_from_objective": float(ll),
        "standard_errors": None,
        "fixed": True,
    }


def fit_purchase_model(name, data, penalizer, pareto_options):
    fitter_class, names = PURCHASE_MODELS[name]
    freq, rec, age, weights = purchase_arrays(data)
    model = fitter_class(penalizer_coef=penalizer)
    rounds = 0
    if name == "pareto_nbd":
        # Nelder-Mead in plain (not log) parameters from lifetimes' random start N(1, 0.05)
        # unless the test fixes it; restarted from its own answer until the parameters stop
        # moving, because one Nelder-Mead run can stall short of the optimum.
        initial = pareto_options.get("initial_params")
        tol = pareto_options.get("tol", 1e-4)
        maxiter = pareto_options.get("maxiter", 2000)
        restarts = pareto_options.get("restarts", 0)
        model.fit(freq, rec, age, weights=weights, initial_params=initial, tol=tol, maxiter=maxiter)
        rounds = 1
        for _ in range(restarts):
            if not np.isfinite(model._negative_log_likelihood_):
                break  # the objective ran off to -inf/NaN: restarting cannot help
            previous = model.params_.values.copy()
            start = previous.copy()
            start[1] *= model._scale
            start[3] *= model._scale
            model.fit(freq, rec, age, weights=weights, initial_params=start, tol=tol, maxiter=maxiter)
            rounds += 1
            if np.max(np.abs(model.params_.values / previous - 1)) < 1e-12:
                break
    else:
        model.fit(freq, rec, age, weights=weights)
        rounds = 1
    params = [float(model.params_[n]) for n in names]

    w = np.ones_like(freq) if weights is None else weights
    x = freq.astype(int)
    if name == "pareto_nbd":
        ll = -fitter_class._negative_log_likelihood(np.asarray(params), x, rec, age, w, 0.0) * w.mean()
        scaled = np.asarray(params) * np.array([1.0, model._scale, 1.0, model._scale])
        objective_ll = -(model._negative_log_likelihood_ - penalizer * np.sum(scaled**2)) * w.mean()
    else:
        ll = -fitter_class._negative_log_likelihood(np.log(params), x, rec, age, w, 0.0) * w.sum()
        scaled = np.asarray(params) * np.array([1.0, model._scale, 1.0, 1.0])
        objective_ll = -(model._negative_log_likelihood_ - penalizer * np.sum(scaled**2)) * w.sum()
    objective_ll += np.sum(w * x) * np.log(model._scale)

    standard_errors = None
    if name != "pareto_nbd":
        standard_errors = [float(model.standard_errors_[n]) for n in names]
    return model, {
        "params": dict(zip(names, params)),
        "log_likelihood": float(ll),
        "log_likelihood_from_objective": float(objective_ll),
        "standard_errors": standard_errors,
        "scale": float(model._scale),
        "rounds": rounds,
    }


def purchase_predictions(name, model, grid):
    histories = grid["histories"]
    times = grid["times"]
    counts = grid["counts"]
    out = {
        "expected_purchases": [scalar(lambda t=t: model.expected_number_of_purchases_up_to_time(t)) for t in times],
        "conditional_expected_purchases": [
            [scalar(lambda t=t, h=h: model.conditional_expected_number_of_purchases_up_to_time(t, h[0], h[1], h[2])) for t in times]
            for h in histories
        ],
        "p_alive": [scalar(lambda h=h: model.conditional_probability_alive(h[0], h[1], h[2])) for h in histories],
    }
    if name == "pareto_nbd":
        out["conditional_probability_of_purchases"] = [
            [
                [scalar(lambda n=n, t=t, h=h: model.conditional_probability_of_n_purchases_up_to_time(n, t, h[0], h[1], h[2])) for n in counts]
                for t in times
            ]
            for h in histories
        ]
    else:
        out["probability_of_purchases"] = [
            [scalar(lambda n=n, t=t: model.probability_of_n_purchases_up_to_time(t, n)) for n in counts] for t in times
        ]
    return out


def fit_spend_model(data, penalizer):
    freq = np.asarray(data["frequency"], dtype=float)
    monetary = np.asarray(data["monetary"], dtype=float)
    weights = data.get("weights")
    weights = None if weights is None else np.asarray(weights, dtype=float)
    keep = (freq > 0) & (monetary > 0)
    freq, monetary = freq[keep], monetary[keep]
    if weights is not None:
        weights = weights[keep]
    model = GammaGammaFitter(penalizer_coef=penalizer)
    model.fit(freq, monetary, weights=weights)
    names = ["p", "q", "v"]
    params = [float(model.params_[n]) for n in names]
    w = np.ones_like(freq) if weights is None else weights
    ll = -GammaGammaFitter._negative_log_likelihood(np.log(params), freq, monetary, w, 0.0) * w.sum()
    objective_ll = -(model._negative_log_likelihood_ - penalizer * np.sum(np.asarray(params) ** 2)) * w.sum()
    return model, {
        "params": dict(zip(names, params)),
        "log_likelihood": float(ll),
        "log_likelihood_from_objective": float(objective_ll),
        "standard_errors": [float(model.standard_errors_[n]) for n in names],
        "customers": int(keep.sum()) if weights is None else float(w.sum()),
    }


def spend_predictions(model, grid):
    return {
        "expected_average_spend": [
            scalar(lambda s=s: model.conditional_expected_average_profit(s[0], s[1])) for s in grid["spend"]
        ]
    }


class ArrayPredictions:
    """Hands lifetimes' `predict` numpy arrays instead of pandas Series. With pandas 1.5.3,
    Pareto/NBD's prediction raises on Series when alpha >= beta (scipy's hyp2f1 called on a mix
    of Series and scalars: "Cannot apply ufunc hyp2f1 to mixed DataFrame and Series inputs"), so
    `customer_lifetime_value` fails as documented; the numbers are the same either way."""

    def __init__(self, model):
        self.model = model

    def predict(self, t, frequency, recency, T):
        return self.model.predict(t, np.asarray(frequency), np.asarray(recency), np.asarray(T))


def clv_predictions(spend_model, purchase_model, grid, freq):
    """lifetimes' GammaGammaFitter.customer_lifetime_value for each grid history with its spend."""
    histories = grid["histories"]
    spend = grid["clv_spend"]
    frame = pd.DataFrame(
        {
            "frequency": [h[0] for h in histories],
            "recency": [h[1] for h in histories],
            "T": [h[2] for h in histories],
            "monetary": spend,
        }
    )
    values = spend_model.customer_lifetime_value(
        ArrayPredictions(purchase_model),
        frame["frequency"],
        frame["recency"],
        frame["T"],
        frame["monetary"],
        time=grid.get("clv_months", 12),
        discount_rate=grid.get("clv_discount_rate", 0.01),
        freq=freq,
    )
    return [float(v) for v in values.values]


def command_fit(spec):
    data = spec["data"]
    penalizer = spec.get("penalizer", 0.0)
    grid = spec.get("grid")
    result = {}
    fitted = {}
    for name in spec.get("models", ["bg_nbd", "mbg_nbd", "pareto_nbd", "gamma_gamma"]):
        try:
            if name == "gamma_gamma":
                model, out = fit_spend_model(data, penalizer)
                if grid:
                    out["predictions"] = spend_predictions(model, grid)
            elif name in spec.get("fixed", {}):
                model, out = fixed_purchase_model(name, data, spec["fixed"][name])
                if grid:
                    out["predictions"] = purchase_predictions(name, model, grid)
            else:
                model, out = fit_purchase_model(name, data, penalizer, spec.get("pareto", {}))
                if grid:
                    out["predictions"] = purchase_predictions(name, model, grid)
            fitted[name] = model
        except Exception as error:  # noqa: BLE001
            out = {"error": f"{type(error).__name__}: {error}"}
        result[name] = out
    if grid and "gamma_gamma" in fitted and grid.get("clv_spend") is not None:
        freq = {"week": "W", "day": "D", "month": "M"}[spec.get("unit", "week")]
        for name in ("bg_nbd", "mbg_nbd", "pareto_nbd"):
            if name in fitted:
                result[name]["predictions"]["clv"] = clv_predictions(fitted["gamma_gamma"], fitted[name], grid, freq)
    return result


# --- summaries --------------------------------------------------------------------------------


def read_transactions(spec):
    frame = pd.read_csv(spec["csv"], dtype={"customer": np.int64, "date": str, "amount": float})
    return frame


def summary_rows(summary, monetary):
    rows = []
    for customer, row in summary.iterrows():
        entry = {
            "customer": int(customer),
            "frequency": float(row["frequency"]),
            "recency": float(row["recency"]),
            "T": float(row["T"]),
        }
        if monetary:
            entry["monetary"] = float(row["monetary_value"])
        rows.append(entry)
    rows.sort(key=lambda r: r["customer"])
    return rows


def command_summary(spec):
    transactions = read_transactions(spec)
    out = {"summaries": [], "holdouts": []}
    for options in spec["summaries"]:
        summary = summary_data_from_transaction_data(
            transactions,
            "customer",
            "date",
            monetary_value_col="amount",
            observation_period_end=options.get("observation_end"),
            freq=options["freq"],
            freq_multiplier=options.get("freq_multiplier", 1),
        )
        out["summaries"].append(summary_rows(summary, True))
    for options in spec.get("holdouts", []):
        holdout = calibration_and_holdout_data(
            transactions,
            "customer",
            "date",
            calibration_period_end=options["calibration_end"],
            observation_period_end=options.get("observation_end"),
            freq=options["freq"],
            freq_multiplier=options.get("freq_multiplier", 1),
            monetary_value_col="amount",
        )
        rows = []
        for customer, row in holdout.iterrows():
            rows.append(
                {
                    "customer": int(customer),
                    "frequency": float(row["frequency_cal"]),
                    "recency": float(row["recency_cal"]),
                    "T": float(row["T_cal"]),
                    "monetary": float(row["monetary_value_cal"]),
                    "holdout_frequency": float(row["frequency_holdout"]),
                    "holdout_monetary": float(row["monetary_value_holdout"]),
                    "holdout_duration": float(row["duration_holdout"]),
                }
            )
        rows.sort(key=lambda r: r["customer"])
        out["holdouts"].append(rows)
    return out


# --- the CLI's pipeline -----------------------------------------------------------------------


def command_clv(spec):
    """What `regulars analyze clv --calibration-end … --json --predictions …` reports, the
    lifetimes way: calibration_and_holdout_data on the transaction CSV; the three purchase
    models and Gamma-Gamma fitted on the calibration summary as users call lifetimes (one row
    per customer; Pareto/NBD as the "pareto" options say); the holdout purchases each model
    predicts (the sum over customers of `predict(duration_holdout, …)`); and per customer
    BG/NBD's P(alive), expected purchases over the horizon and CLV with Gamma-Gamma's spend."""
    transactions = pd.read_csv(spec["csv"], dtype={spec["customer_col"]: str, spec["date_col"]: str})
    frame = calibration_and_holdout_data(
        transactions,
        spec["customer_col"],
        spec["date_col"],
        calibration_period_end=spec["calibration_end"],
        observation_period_end=spec["observation_end"],
        freq=spec["freq"],
        freq_multiplier=spec.get("freq_multiplier", 1),
        monetary_value_col=spec["amount_col"],
    )
    data = {
        "frequency": frame["frequency_cal"].values,
        "recency": frame["recency_cal"].values,
        "T": frame["T_cal"].values,
        "monetary": frame["monetary_value_cal"].values,
    }
    x, tx, age = data["frequency"], data["recency"], data["T"]
    penalizer = spec.get("penalizer", 0.0)
    duration = frame["duration_holdout"].values
    result = {
        "customers": [str(c) for c in frame.index],
        "summary": {column: frame[column].values for column in frame.columns},
        "holdout_actual": float(frame["frequency_holdout"].sum()),
    }
    models = {}
    for name in ("bg_nbd", "mbg_nbd", "pareto_nbd"):
        model, out = fit_purchase_model(name, data, penalizer, spec.get("pareto", {}))
        out["holdout_predicted"] = float(np.sum(model.predict(duration, x, tx, age)))
        models[name] = model
        result[name] = out
    spend, out = fit_spend_model(data, penalizer)
    result["gamma_gamma"] = out
    out["expected_average_spend"] = spend.conditional_expected_average_profit(
        frame["frequency_cal"], frame["monetary_value_cal"]
    ).values
    months = spec.get("months", 12)
    freq = spec.get("clv_freq", "W")
    factor = {"W": 4.345, "M": 1.0, "D": 30}[freq]
    bg = models["bg_nbd"]
    result["bg_nbd"]["p_alive"] = bg.conditional_probability_alive(x, tx, age)
    result["bg_nbd"]["expected_purchases"] = bg.predict(months * factor, x, tx, age)
    result["bg_nbd"]["clv"] = spend.customer_lifetime_value(
        ArrayPredictions(bg),
        frame["frequency_cal"],
        frame["recency_cal"],
        frame["T_cal"],
        frame["monetary_value_cal"],
        time=months,
        discount_rate=spec.get("monthly_discount_rate", 0.01),
        freq=freq,
    ).values
    return result


def command_datasets():
    directory = os.path.join(os.path.dirname(lifetimes.__file__), "datasets")
    return {
        "cdnow_master": os.path.join(directory, "CDNOW_master.txt"),
        "cdnow_sample": os.path.join(directory, "CDNOW_sample.txt"),
    }


def main():
    command = sys.argv[1]
    if command == "datasets":
        result = command_datasets()
    else:
        with open(sys.argv[2]) as handle:
            spec = json.load(handle)
        result = {"fit": command_fit, "summary": command_summary, "clv": command_clv}[command](spec)
    json.dump(clean(result), sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
