//! `regulars analyze` on transaction files: no database involved.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::{Command, Output};

use regulars_analytics::metrics::Segment;
use regulars_analytics::{clv, BgNbd, GammaGamma, History, MbgNbd, ParetoNbd, PurchaseModel, TimeUnit};
use serde_json::Value;

fn file(name: &str, contents: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("analyze");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_regulars"))
        .arg("analyze")
        .args(args)
        .env_remove("REGULARS_DATABASE_URL")
        .env("RUST_LOG", "warn")
        .output()
        .unwrap()
}

fn json(args: &[&str]) -> Value {
    let out = run(args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{args:?}\nstdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

/// The five-customer store of the metrics tests, as an export with a header.
const STORE: &str = "\
order;customer;date;total
1;c3;2024-03-01;4
2;c1;2024-01-05;10
3;c1;2024-01-20;5
4;c2;2024-01-15;50
5;c1;2024-02-03;20
6;c3;2024-02-01;8
7;c3;2024-02-28;12
8;c2;2024-03-10;30
9;c4;2024-03-31;100
10;c5;2024-03-05;9
11;c1;2024-04-01;7
";

fn store_args(path: &str) -> Vec<&str> {
    vec![
        "--transactions",
        path,
        "--customer-col",
        "customer",
        "--date-col",
        "date",
        "--amount-col",
        "4",
        "--delimiter",
        ";",
    ]
}

#[test]
fn rfm_segments_and_kpis() {
    let path = file("store.csv", STORE);
    let path = path.to_str().unwrap();
    let mut args = vec!["rfm"];
    args.extend(store_args(path));
    args.push("--json");
    let out = json(&args);
    assert_eq!(out["as_of"], "2024-04-01");
    assert_eq!(out["customers"], 5);
    assert_eq!(out["kpis"]["orders"], 11);
    assert_eq!(out["kpis"]["revenue"], 255.0);
    assert_eq!(out["kpis"]["repeat_purchase_rate"], 0.6);
    let counts: Vec<(String, u64)> = out["segments"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["customers"].as_u64().unwrap() > 0)
        .map(|s| {
            (
                s["segment"].as_str().unwrap().to_string(),
                s["customers"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        counts,
        [
            ("champions".to_string(), 1),
            ("potential_loyalist".to_string(), 1),
            ("need_attention".to_string(), 1),
            ("at_risk".to_string(), 1),
            ("hibernating".to_string(), 1),
        ]
    );
    assert_eq!(out["segments"].as_array().unwrap().len(), 11);
    // Top 5 % of 5 customers is 1: c4 spent 100.
    assert_eq!(out["vips"]["customers"], 1);
    assert_eq!(out["vips"]["revenue"], 100.0);

    // As readable tables.
    args.pop();
    let out = run(&args);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("RFM as of 2024-04-01: 5 customers\n"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("Champions") && l.contains("20.0%")),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("repeat-purchase rate") && l.ends_with(" 60.0%")),
        "{text}"
    );
}

#[test]
fn cohort_matrix_and_retention() {
    let path = file("store-cohorts.csv", STORE);
    let path = path.to_str().unwrap();
    let mut args = vec!["cohorts"];
    args.extend(store_args(path));
    args.push("--json");
    let out = json(&args);
    let first = &out["cohorts"][0];
    assert_eq!(first["month"], "2024-01");
    assert_eq!(first["size"], 2);
    assert_eq!(first["customers"], serde_json::json!([2, 1, 1, 1]));
    assert_eq!(first["revenue"], serde_json::json!([65.0, 20.0, 30.0, 7.0]));
    assert_eq!(first["retention"], serde_json::json!([1.0, 0.5, 0.5, 0.5]));
    assert_eq!(out["cohorts"][2]["customers"], serde_json::json!([2, 0]));
    let months: Vec<(&str, f64)> = out["monthly_retention"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["month"].as_str().unwrap(), m["retention"].as_f64().unwrap()))
        .collect();
    assert_eq!(months, [("2024-01", 0.5), ("2024-02", 0.5), ("2024-03", 0.0)]);
    assert_eq!(out["retention_curve"][1]["retention"], 0.5);
    assert_eq!(out["retention_curve"][1]["weighted_retention"], 0.4);

    // An observation end cuts April off: three months, and March is the last.
    args.extend(["--observation-end", "2024-03-31"]);
    let out = json(&args);
    assert_eq!(out["cohorts"][0]["customers"], serde_json::json!([2, 1, 1]));
    assert_eq!(out["monthly_retention"].as_array().unwrap().len(), 2);

    args.retain(|a| *a != "--json");
    let text = String::from_utf8(run(&args).stdout).unwrap();
    let january: Vec<&str> = text
        .lines()
        .find(|l| l.starts_with("2024-01 "))
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!(january, ["2024-01", "2", "100.0%", "50.0%", "50.0%"], "{text}");
}

/// A year of a few hundred simulated customers (deterministic), plus `alice`, whose numbers
/// are checked by hand, and one bad row.
fn year_of_purchases() -> (String, f64) {
    let mut text = String::from("customer,date,amount\n");
    text.push_str("alice,2024-01-01,10\nalice,2024-01-01,5\nalice,2024-01-15,20.00\nalice,2024-02-12,30\n");
    text.push_str("bob,2024-02-30,5\n");
    let mut state = 0x853c_49e6_748f_ea9bu64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let start = 19_723; // 2024-01-01
    let (calibration_end, observation_end) = (start + 243, start + 365); // 2024-08-31, 2024-12-31
    let mut holdout = 0.0;
    for customer in 0..400 {
        let rate = [0.01, 0.03, 0.08][customer % 3];
        let dropout = [0.05, 0.15, 0.4][(customer / 3) % 3];
        let mut day = start as f64 + (next() * 90.0).floor();
        let mut days = Vec::new();
        loop {
            days.push(day as i32);
            if next() < dropout {
                break;
            }
            day += -next().ln() / rate;
            if day as i32 > observation_end {
                break;
            }
        }
        let spend = 10.0 + (customer % 7) as f64 * 5.0;
        for d in &days {
            let (y, m, dd) = civil(*d);
            writeln!(
                text,
                "cust-{customer:04},{y}-{m:02}-{dd:02},{:.2}",
                spend + next() * 10.0
            )
            .unwrap();
        }
        let mut held: Vec<i32> = days.iter().copied().filter(|d| *d > calibration_end).collect();
        held.dedup();
        if days[0] <= calibration_end {
            holdout += held.len() as f64;
        }
    }
    (text, holdout)
}

fn civil(day: i32) -> (i32, u32, u32) {
    regulars_analytics::summary::date_of_day(day)
}

#[test]
fn clv_fits_every_model_and_compares_with_the_holdout() {
    let (text, actual) = year_of_purchases();
    let path = file("year.csv", &text);
    let predictions = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("analyze")
        .join("predictions.csv");
    let base = [
        "clv",
        "--transactions",
        path.to_str().unwrap(),
        "--customer-col",
        "customer",
        "--date-col",
        "date",
        "--amount-col",
        "amount",
        "--bucket",
        "day",
        "--unit",
        "week",
        "--observation-end",
        "2024-12-31",
    ];
    let mut args = base.to_vec();
    args.extend([
        "--calibration-end",
        "2024-08-31",
        "--json",
        "--predictions",
        predictions.to_str().unwrap(),
    ]);
    let out = run(&args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("line 6: date column `date`: `2024-02-30` is not a date in the format %Y-%m-%d"),
        "{stderr}"
    );
    assert!(stderr.contains("1 of "), "{stderr}");
    let out: Value = serde_json::from_slice(&out.stdout).unwrap();

    let customers = out["customers"].as_u64().unwrap();
    assert!(customers > 300, "{out}");
    for (model, keys) in [
        ("bg_nbd", ["r", "alpha", "a", "b"]),
        ("mbg_nbd", ["r", "alpha", "a", "b"]),
        ("pareto_nbd", ["r", "alpha", "s", "beta"]),
        ("gamma_gamma", ["p", "q", "v", "customers"]),
    ] {
        for key in keys {
            let value = out["models"][model][key].as_f64().unwrap_or(f64::NAN);
            assert!(value.is_finite() && value > 0.0, "{model}.{key} = {value}");
        }
    }
    assert!(out["models"]["bg_nbd"]["log_likelihood"].as_f64().unwrap() < 0.0);
    assert_eq!(out["holdout"]["actual_purchases"].as_f64().unwrap(), actual);
    for model in ["bg_nbd", "mbg_nbd", "pareto_nbd"] {
        let predicted = out["holdout"]["predicted_purchases"][model].as_f64().unwrap();
        assert!(
            predicted > 0.5 * actual && predicted < 2.0 * actual,
            "{model}: {predicted} vs {actual}"
        );
    }

    let csv = std::fs::read_to_string(&predictions).unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next().unwrap(),
        "customer,frequency,recency,T,monetary,p_alive,expected_purchases_12m,expected_average_spend,clv_12m,rfm,segment"
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len() as u64, customers);
    // alice: three purchase days (two orders on 2024-01-01 are one), six weeks from the first to
    // the last, 243 days to the calibration end; the two repeat days' mean is 25.
    let alice = rows.iter().find(|r| r[0] == "alice").unwrap();
    let numbers: Vec<f64> = alice[1..9].iter().map(|v| v.parse().unwrap()).collect();
    assert_eq!(numbers[..4], [2.0, 6.0, 243.0 / 7.0, 25.0]);
    assert!(
        alice[9]
            .split('-')
            .all(|s| matches!(s, "1" | "2" | "3" | "4" | "5")),
        "{alice:?}"
    );
    assert!(Segment::from_key(alice[10]).is_some(), "{alice:?}");
    assert!(!rows.iter().any(|r| r[0] == "bob"));

    // The predictions and the holdout figures are the fitted models applied to the calibration
    // histories: recompute them from the printed parameters.
    let param = |model: &str, key: &str| out["models"][model][key].as_f64().unwrap();
    let bg = BgNbd {
        r: param("bg_nbd", "r"),
        alpha: param("bg_nbd", "alpha"),
        a: param("bg_nbd", "a"),
        b: param("bg_nbd", "b"),
    };
    let mbg = MbgNbd {
        r: param("mbg_nbd", "r"),
        alpha: param("mbg_nbd", "alpha"),
        a: param("mbg_nbd", "a"),
        b: param("mbg_nbd", "b"),
    };
    let pareto = ParetoNbd {
        r: param("pareto_nbd", "r"),
        alpha: param("pareto_nbd", "alpha"),
        s: param("pareto_nbd", "s"),
        beta: param("pareto_nbd", "beta"),
    };
    let gg = GammaGamma {
        p: param("gamma_gamma", "p"),
        q: param("gamma_gamma", "q"),
        v: param("gamma_gamma", "v"),
    };
    let h = History::new(2.0, 6.0, 243.0 / 7.0);
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * b.abs().max(1e-12);
    assert!(close(numbers[4], bg.p_alive(&h)), "{alice:?}");
    assert!(
        close(numbers[5], bg.conditional_expected_purchases(12.0 * 4.345, &h)),
        "{alice:?}"
    );
    let spend = gg.expected_average_spend(2.0, 25.0);
    assert!(close(numbers[6], spend), "{alice:?}");
    let value = clv::customer_lifetime_value(&bg, &h, spend, 12, 0.01, TimeUnit::Week);
    assert!(close(numbers[7], value), "{alice:?} vs {value}");

    let duration = 122.0 / 7.0; // 2024-08-31 to 2024-12-31, in weeks
    let histories: Vec<History> = rows
        .iter()
        .map(|r| {
            History::new(
                r[1].parse().unwrap(),
                r[2].parse().unwrap(),
                r[3].parse().unwrap(),
            )
        })
        .collect();
    let models: [(&str, &dyn PurchaseModel); 3] =
        [("bg_nbd", &bg), ("mbg_nbd", &mbg), ("pareto_nbd", &pareto)];
    for (name, model) in models {
        let expected: f64 = histories
            .iter()
            .map(|h| model.conditional_expected_purchases(duration, h))
            .sum();
        let printed = out["holdout"]["predicted_purchases"][name].as_f64().unwrap();
        assert!(
            (printed - expected).abs() < 1e-9 * expected,
            "{name}: {printed} vs {expected}"
        );
    }
    assert!(!rows.iter().any(|r| r[0] == "bob"));

    // Without a calibration end: fitted on everything, no holdout.
    let mut args = base.to_vec();
    args.push("--json");
    let out = json(&args);
    assert!(out.get("holdout").is_none(), "{out}");
    // Everyone first bought in the first quarter, before the calibration end.
    assert_eq!(out["customers"].as_u64().unwrap(), customers);
    assert_eq!(customers, 401);

    // Tables.
    let mut args = base.to_vec();
    args.extend(["--calibration-end", "2024-08-31"]);
    let text = String::from_utf8(run(&args).stdout).unwrap();
    assert!(
        text.contains("BG/NBD") && text.contains("Pareto/NBD") && text.contains("Gamma-Gamma"),
        "{text}"
    );
    assert!(text.contains("holdout purchases"), "{text}");
}

#[test]
fn errors_name_the_flag_column_or_line() {
    let path = file("errors.csv", STORE);
    let path = path.to_str().unwrap();
    let stderr = |args: &[&str]| {
        let out = run(args);
        assert!(!out.status.success(), "{args:?} succeeded");
        String::from_utf8(out.stderr).unwrap()
    };
    let mut args = vec![
        "rfm",
        "--transactions",
        path,
        "--customer-col",
        "client",
        "--date-col",
        "date",
    ];
    args.extend(["--amount-col", "total", "--delimiter", ";"]);
    let message = stderr(&args);
    assert!(
        message.contains("--customer-col: the customer column `client` is not in the header (columns: `order`, `customer`, `date`, `total`)"),
        "{message}"
    );

    let mut args = vec!["cohorts"];
    args.extend(store_args(path));
    args.extend(["--observation-end", "2024-02-31"]);
    assert!(stderr(&args).contains("--observation-end \"2024-02-31\" is not a date like 2024-03-31"));

    let mut args = vec!["clv"];
    args.extend(store_args(path));
    args.extend(["--calibration-end", "2024-04-01"]);
    assert!(
        stderr(&args).contains("--calibration-end 2024-04-01 must be before --observation-end 2024-04-01")
    );

    let mut args = vec!["clv"];
    args.extend(store_args(path));
    args.extend([
        "--calibration-end",
        "2023-12-01",
        "--observation-end",
        "2024-04-01",
    ]);
    assert!(stderr(&args).contains("no transaction on or before 2023-12-01"));

    // Semicolons read with the default comma: every row is one field, all bad.
    let args = [
        "rfm",
        "--transactions",
        path,
        "--customer-col",
        "1",
        "--date-col",
        "2",
        "--amount-col",
        "3",
        "--no-header",
    ];
    let message = stderr(&args);
    assert!(
        message.contains("line 1: date column 2: is missing: the row has too few fields"),
        "{message}"
    );
    assert!(message.contains("12 of 12 rows are bad"), "{message}");

    let missing = [
        "rfm",
        "--transactions",
        "/nonexistent/file.csv",
        "--customer-col",
        "1",
        "--date-col",
        "2",
        "--amount-col",
        "3",
    ];
    assert!(
        stderr(&missing).contains("--transactions /nonexistent/file.csv: cannot read /nonexistent/file.csv")
    );
}
