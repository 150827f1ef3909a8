//! `regulars analyze clv --json --predictions FILE` against Python's `lifetimes` 0.11.3 running
//! the same pipeline on the same transaction CSV (the real CDNOW log lifetimes ships): the
//! calibration summary, the fitted parameters and log-likelihoods of the four models, the holdout
//! purchases each predicts, and per customer the history, P(alive), expected purchases, expected
//! spend and CLV, within 1e-4 relative (the histories exactly).
//!
//! The environment comes from `scripts/lifetimes-venv` (`REGULARS_SKIP_LIFETIMES=1` skips);
//! see `crates/analytics/tests/differential.rs` for how `lifetimes` is called.

#[path = "../../analytics/tests/lifetimes/harness.rs"]
mod harness;

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

use harness::{num, nums, Compare};
use serde_json::{json, Value};

const TOLERANCE: f64 = 1e-4;

/// The CDNOW master log (`customer date cds amount`, whitespace-separated, dates as yyyymmdd)
/// as a CSV with ISO dates; customer ids keep their leading zeros.
fn cdnow_csv(python: &Path, out: &Path) {
    let datasets = harness::datasets(python);
    let text = std::fs::read_to_string(datasets["cdnow_master"].as_str().expect("a path"))
        .expect("CDNOW_master.txt");
    let mut csv = String::from("customer,date,amount\n");
    for line in text.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [customer, date, _cds, amount] = fields[..] else {
            continue;
        };
        if date.len() != 8 || !date.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        csv.push_str(&format!(
            "{customer},{}-{}-{},{amount}\n",
            &date[..4],
            &date[4..6],
            &date[6..]
        ));
    }
    std::fs::write(out, csv).expect("writing the CSV");
}

struct Case {
    name: &'static str,
    bucket: &'static str,
    freq: &'static str,
    freq_multiplier: u32,
    penalizer: f64,
}

fn compare_cli(case: &Case) {
    let Some(python) = harness::python() else { return };
    let dir = harness::scratch(case.name);
    let csv = dir.join("cdnow.csv");
    cdnow_csv(&python, &csv);
    let predictions = dir.join("predictions.csv");
    let output = Command::new(env!("CARGO_BIN_EXE_regulars"))
        .args(["analyze", "clv", "--transactions"])
        .arg(&csv)
        .args([
            "--customer-col",
            "customer",
            "--date-col",
            "date",
            "--amount-col",
            "amount",
        ])
        .args(["--bucket", case.bucket, "--unit", "week"])
        .args([
            "--calibration-end",
            "1997-09-30",
            "--observation-end",
            "1998-06-30",
        ])
        .args([
            "--penalizer",
            &case.penalizer.to_string(),
            "--json",
            "--predictions",
        ])
        .arg(&predictions)
        .output()
        .expect("running regulars");
    assert!(
        output.status.success(),
        "regulars analyze clv failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let ours: Value = serde_json::from_slice(&output.stdout).expect("JSON from --json");

    let spec = json!({
        "csv": csv,
        "customer_col": "customer",
        "date_col": "date",
        "amount_col": "amount",
        "calibration_end": "1997-09-30",
        "observation_end": "1998-06-30",
        "freq": case.freq,
        "freq_multiplier": case.freq_multiplier,
        "penalizer": case.penalizer,
        "months": 12,
        "monthly_discount_rate": 0.01,
        "clv_freq": "W",
        "pareto": { "initial_params": [1.0, 1.0, 1.0, 1.0], "tol": 1e-10, "maxiter": 4_000, "restarts": 5 },
    });
    let theirs = harness::driver(&python, "clv", &spec, &dir, "lifetimes");
    let mut c = Compare::new(TOLERANCE);
    let ids: Vec<&str> = theirs["customers"]
        .as_array()
        .expect("ids")
        .iter()
        .map(|v| v.as_str().expect("an id"))
        .collect();
    c.exact(
        "customers",
        ours["customers"].as_f64().expect("customers"),
        ids.len() as f64,
    );

    for (model, names) in [
        ("bg_nbd", ["r", "alpha", "a", "b"].as_slice()),
        ("mbg_nbd", ["r", "alpha", "a", "b"].as_slice()),
        ("pareto_nbd", ["r", "alpha", "s", "beta"].as_slice()),
        ("gamma_gamma", ["p", "q", "v"].as_slice()),
    ] {
        for name in names {
            c.check(
                format!("{model} {name}"),
                ours["models"][model][name].as_f64().expect("a parameter"),
                num(&theirs[model]["params"][*name]),
            );
        }
        if model != "gamma_gamma" {
            c.check(
                format!("{model} log-likelihood"),
                ours["models"][model]["log_likelihood"]
                    .as_f64()
                    .expect("a log-likelihood"),
                num(&theirs[model]["log_likelihood"]),
            );
            c.check(
                format!("{model} predicted holdout purchases"),
                ours["holdout"]["predicted_purchases"][model]
                    .as_f64()
                    .expect("a prediction"),
                num(&theirs[model]["holdout_predicted"]),
            );
        }
    }
    c.exact(
        "gamma_gamma repeat buyers",
        ours["models"]["gamma_gamma"]["customers"]
            .as_f64()
            .expect("a count"),
        num(&theirs["gamma_gamma"]["customers"]),
    );
    c.exact(
        "actual holdout purchases",
        ours["holdout"]["actual_purchases"].as_f64().expect("a count"),
        num(&theirs["holdout_actual"]),
    );

    // The predictions file, customer by customer.
    let text = std::fs::read_to_string(&predictions).expect("the predictions file");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("a header").split(',').collect();
    let column = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .unwrap_or_else(|| panic!("no column {name} in {header:?}"))
    };
    let (frequency, recency, age, monetary) = (
        column("frequency"),
        column("recency"),
        column("T"),
        column("monetary"),
    );
    let (p_alive, expected, spend, clv) = (
        column("p_alive"),
        column("expected_purchases_12m"),
        column("expected_average_spend"),
        column("clv_12m"),
    );
    let rows: HashMap<&str, Vec<&str>> = lines
        .map(|line| {
            let fields: Vec<&str> = line.split(',').collect();
            (fields[0], fields)
        })
        .collect();
    c.exact("predictions rows", rows.len() as f64, ids.len() as f64);
    let summary = &theirs["summary"];
    let their = |key: &str| nums(&summary[key]);
    let (x, tx, big_t, m) = (
        their("frequency_cal"),
        their("recency_cal"),
        their("T_cal"),
        their("monetary_value_cal"),
    );
    let (their_alive, their_expected) = (
        nums(&theirs["bg_nbd"]["p_alive"]),
        nums(&theirs["bg_nbd"]["expected_purchases"]),
    );
    let their_spend = nums(&theirs["gamma_gamma"]["expected_average_spend"]);
    let their_clv = nums(&theirs["bg_nbd"]["clv"]);
    let mut money = Compare::new(1e-12);
    for (i, id) in ids.iter().enumerate() {
        let Some(row) = rows.get(id) else {
            c.fail(format!("customer {id}: not in our predictions"));
            continue;
        };
        let value = |k: usize| {
            row[k]
                .parse::<f64>()
                .unwrap_or_else(|_| panic!("customer {id}: {:?}", row[k]))
        };
        c.exact(format!("customer {id} frequency"), value(frequency), x[i]);
        c.exact(format!("customer {id} recency"), value(recency), tx[i]);
        c.exact(format!("customer {id} T"), value(age), big_t[i]);
        money.check(format!("customer {id} monetary"), value(monetary), m[i]);
        c.check(format!("customer {id} p_alive"), value(p_alive), their_alive[i]);
        c.check(
            format!("customer {id} expected purchases in 12 months"),
            value(expected),
            their_expected[i],
        );
        c.check(
            format!("customer {id} expected average spend"),
            value(spend),
            their_spend[i],
        );
        c.check(format!("customer {id} CLV"), value(clv), their_clv[i]);
    }
    money.finish(&format!("{} amounts", case.name));
    c.finish(case.name);
}

#[test]
fn analyze_clv_matches_lifetimes_days_in_weeks() {
    compare_cli(&Case {
        name: "analyze_clv_day_buckets",
        bucket: "day",
        freq: "D",
        freq_multiplier: 7,
        penalizer: 0.0,
    });
}

#[test]
fn analyze_clv_matches_lifetimes_weekly_buckets_penalized() {
    compare_cli(&Case {
        name: "analyze_clv_week_buckets",
        bucket: "week",
        freq: "W",
        freq_multiplier: 1,
        penalizer: 0.001,
    });
}
