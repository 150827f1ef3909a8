//! `regulars-bench analytics`: the analytics library against Python's `lifetimes` 0.11.3, side
//! by side in one run on the same synthetic data.
//!
//! Data (fixed seed, written once to `target/bench-data/analytics-<rows>/`): a transaction log of
//! `--rows` purchases (10,000,000) on whole days, customers' first purchases spread over two
//! years (2023–2024) and then buying by the BG/NBD process, sorted by date as shops export them;
//! and its summary (daily periods, weekly units) as one history per customer. The fits use the
//! first `--customers` (1,000,000) histories; Pareto/NBD the first `--pareto-customers`
//! (100,000); Gamma-Gamma the repeat buyers among the first `--customers`. BG/NBD is fitted a
//! second time on the same customers summarised in weekly periods (lifetimes' `freq='W'`),
//! where far fewer histories are distinct.
//!
//! Ours is timed from the histories (compressing them is part of our fit's time) and from parsed
//! transactions for the summary; best of three runs. `lifetimes` runs once per figure in its
//! own process (`crates/bench/python/lifetimes_bench.py`), as its users call it (one row per
//! customer, default options) and on the same compressed rows with weights our fit uses.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Beta, Distribution, Exp, Gamma};
use regulars_analytics::summary::{
    day_from_date, format_day, summarize, Bucket, SummaryOptions, Transaction,
};
use regulars_analytics::{
    compress, compress_spend, BgNbd, FitOptions, GammaGamma, History, ParetoNbd, SpendHistory, TimeUnit,
};
use serde_json::{json, Value};

pub struct Options {
    pub rows: usize,
    pub customers: usize,
    pub pareto_customers: usize,
    pub fresh: bool,
    /// Seconds lifetimes' summary may take on all rows before it is tried on 1,000,000.
    pub summary_budget: u64,
}

const SEED: u64 = 20_240_101;
const SUMMARY_FALLBACK_ROWS: usize = 1_000_000;

fn start_day() -> i32 {
    day_from_date(2023, 1, 1).expect("a date")
}

fn observation_end() -> i32 {
    day_from_date(2024, 12, 31).expect("a date")
}

fn summary_options() -> SummaryOptions {
    SummaryOptions {
        bucket: Bucket::Day,
        unit: TimeUnit::Week,
        observation_end: observation_end(),
    }
}

/// Customers arrive uniformly over two years; each buys at rate λ ~ Gamma(0.8, 2 weeks) and
/// leaves after a purchase with probability p ~ Beta(1.2, 12); purchase values are
/// Gamma(6, ν) with ν ~ Gamma(4, 15) per customer, in whole cents. Customers are generated
/// until the log has exactly `rows` purchases (about 8.7 per customer, so ~1.15 million
/// customers for 10 million rows), then sorted by day.
fn generate(rows: usize) -> Vec<Transaction> {
    let mut rng = StdRng::seed_from_u64(SEED);
    let rate = Gamma::new(0.8, 1.0 / 2.0).expect("rate");
    let dropout = Beta::new(1.2, 12.0).expect("dropout");
    let spend_rate = Gamma::new(4.0, 1.0 / 15.0).expect("spend");
    let (start, end) = (start_day(), observation_end());
    let mut out = Vec::with_capacity(rows);
    let mut customer = 0u64;
    while out.len() < rows {
        customer += 1;
        let first = rng.gen_range(start..=end);
        let lambda: f64 = rate.sample(&mut rng);
        let p: f64 = dropout.sample(&mut rng);
        let nu: f64 = spend_rate.sample(&mut rng);
        let amount = Gamma::new(6.0, 1.0 / nu).expect("amount");
        let wait = Exp::new(lambda).expect("wait");
        let mut t = 0.0;
        let mut day = first;
        while out.len() < rows {
            let value: f64 = amount.sample(&mut rng);
            out.push(Transaction {
                customer,
                day,
                amount: ((value * 100.0).round() / 100.0).max(0.01),
            });
            if rng.gen_bool(p) {
                break;
            }
            t += wait.sample(&mut rng);
            let next = first as f64 + (t * 7.0).floor();
            if next > end as f64 {
                break;
            }
            day = next as i32;
        }
    }
    out.sort_by_key(|t| (t.day, t.customer));
    out
}

struct Data {
    dir: PathBuf,
    transactions: Vec<Transaction>,
    histories: Vec<(History, f64)>,
    /// The same customers summarised in Monday-to-Sunday weeks (lifetimes' `freq='W'`).
    weekly: Vec<(History, f64)>,
    generated: bool,
}

fn write_histories(path: &Path, histories: &[(History, f64)]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    writeln!(out, "frequency,recency,T,monetary")?;
    for (h, m) in histories {
        writeln!(out, "{},{},{},{}", h.frequency, h.recency, h.age, m)?;
    }
    out.flush()?;
    Ok(())
}

fn data_dir(rows: usize) -> PathBuf {
    crate::dataset::data_dir().join(format!("analytics-{rows}"))
}

fn write_transactions(path: &Path, transactions: &[Transaction]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    writeln!(out, "customer,date,amount")?;
    for t in transactions {
        writeln!(out, "{},{},{}", t.customer, format_day(t.day), t.amount)?;
    }
    out.flush()?;
    Ok(())
}

fn read_transactions(path: &Path) -> anyhow::Result<Vec<Transaction>> {
    let mut reader = csv::Reader::from_path(path)?;
    let mut out = Vec::new();
    let mut record = csv::StringRecord::new();
    while reader.read_record(&mut record)? {
        let date = &record[1];
        let day = day_from_date(date[..4].parse()?, date[5..7].parse()?, date[8..10].parse()?)
            .with_context(|| format!("bad date {date:?}"))?;
        out.push(Transaction {
            customer: record[0].parse()?,
            day,
            amount: record[2].parse()?,
        });
    }
    Ok(out)
}

fn prepare(opts: &Options) -> anyhow::Result<Data> {
    let dir = data_dir(opts.rows);
    let csv = dir.join("transactions.csv");
    let histories_csv = dir.join("histories.csv");
    let (transactions, generated) = if csv.exists() && histories_csv.exists() && !opts.fresh {
        eprintln!("reading {}…", csv.display());
        (read_transactions(&csv)?, false)
    } else {
        eprintln!("generating {} transactions (seed {SEED})…", opts.rows);
        std::fs::create_dir_all(&dir)?;
        let transactions = generate(opts.rows);
        write_transactions(&csv, &transactions)?;
        (transactions, true)
    };
    let summary = summarize(&transactions, &summary_options());
    let histories: Vec<(History, f64)> = summary.iter().map(|s| (s.history, s.monetary)).collect();
    if generated {
        write_histories(&histories_csv, &histories)?;
    }
    let weekly_options = SummaryOptions {
        bucket: Bucket::Week,
        ..summary_options()
    };
    let weekly: Vec<(History, f64)> = summarize(&transactions, &weekly_options)
        .iter()
        .map(|s| (s.history, s.monetary))
        .collect();
    let weekly_csv = dir.join("histories-weekly.csv");
    if generated || !weekly_csv.exists() {
        write_histories(&weekly_csv, &weekly)?;
    }
    Ok(Data {
        dir,
        transactions,
        histories,
        weekly,
        generated,
    })
}

/// The best of `runs` timings of `f`, and its last result.
fn best_of<T>(runs: usize, mut f: impl FnMut() -> T) -> (f64, T) {
    let mut best = f64::INFINITY;
    let mut last = None;
    for _ in 0..runs {
        let started = Instant::now();
        let value = f();
        best = best.min(started.elapsed().as_secs_f64());
        last = Some(value);
    }
    (best, last.expect("at least one run"))
}

/// Repeat buyers' (frequency, mean spend), identical pairs merged into weighted rows.
fn spend_rows(histories: &[(History, f64)]) -> Vec<SpendHistory> {
    compress_spend(histories.iter().map(|(h, m)| (h.frequency, *m)))
}

fn python() -> anyhow::Result<PathBuf> {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/lifetimes-venv");
    let output = Command::new(&script)
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| script.display().to_string())?;
    anyhow::ensure!(output.status.success(), "{} failed", script.display());
    Ok(PathBuf::from(String::from_utf8(output.stdout)?.trim()))
}

/// Runs the Python side; `None` when it did not finish within `budget`.
fn lifetimes(python: &Path, args: &[String], budget: Duration) -> anyhow::Result<Option<Value>> {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("python/lifetimes_bench.py");
    eprintln!("  lifetimes: {}", args.join(" "));
    let out_path = std::env::temp_dir().join(format!("lifetimes-bench-{}.json", std::process::id()));
    let mut child = Command::new(python)
        .arg(&script)
        .args(args)
        .stdout(std::fs::File::create(&out_path)?)
        .stderr(Stdio::inherit())
        .spawn()?;
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if started.elapsed() > budget {
            child.kill()?;
            child.wait()?;
            eprintln!("  … stopped after {} s", budget.as_secs());
            return Ok(None);
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let text = std::fs::read_to_string(&out_path)?;
    let _ = std::fs::remove_file(&out_path);
    if !status.success() {
        bail!("lifetimes_bench.py {} failed: {status}", args.join(" "));
    }
    Ok(Some(serde_json::from_str(&text)?))
}

fn max_relative_difference(ours: &[(&str, f64)], theirs: &Value) -> f64 {
    ours.iter()
        .map(|(name, value)| {
            let other = theirs["params"][*name].as_f64().unwrap_or(f64::NAN);
            (value - other).abs() / value.abs().max(other.abs())
        })
        .fold(0.0, f64::max)
}

struct Measured {
    model: &'static str,
    /// How the report names it.
    label: &'static str,
    /// The histories file lifetimes reads.
    file: &'static str,
    customers: usize,
    rows: usize,
    seconds: f64,
    /// Of which compressing the histories.
    compress_seconds: f64,
    params: Vec<(&'static str, f64)>,
    /// The total log-likelihood of the data at a parameter set (ours, by our formulas), to tell
    /// which of two differing answers fits better.
    log_likelihood: Box<dyn Fn(&Value) -> f64>,
}

fn param(params: &Value, name: &str) -> f64 {
    params[name].as_f64().unwrap_or(f64::NAN)
}

/// Total log-likelihood of weighted purchase histories at `params` (JSON, by name).
fn purchase_log_likelihood(model: &str, rows: &[regulars_analytics::Weighted], params: &Value) -> f64 {
    use regulars_analytics::PurchaseModel;
    let m: Box<dyn PurchaseModel> = if model == "bg_nbd" {
        Box::new(BgNbd {
            r: param(params, "r"),
            alpha: param(params, "alpha"),
            a: param(params, "a"),
            b: param(params, "b"),
        })
    } else {
        Box::new(ParetoNbd {
            r: param(params, "r"),
            alpha: param(params, "alpha"),
            s: param(params, "s"),
            beta: param(params, "beta"),
        })
    };
    rows.iter().map(|w| w.weight * m.log_likelihood(&w.history)).sum()
}

fn spend_log_likelihood(rows: &[SpendHistory], params: &Value) -> f64 {
    let m = GammaGamma {
        p: param(params, "p"),
        q: param(params, "q"),
        v: param(params, "v"),
    };
    rows.iter()
        .map(|s| s.weight * m.log_likelihood(s.frequency, s.monetary))
        .sum()
}

fn fit_report(ours: &Measured, users: &Value, compressed: &Value) -> Value {
    let seconds = |v: &Value| v["seconds"].as_f64().unwrap_or(f64::NAN);
    let ours_params: serde_json::Map<String, Value> = ours
        .params
        .iter()
        .map(|(n, v)| (n.to_string(), json!(v)))
        .collect();
    let ours_params = Value::Object(ours_params);
    json!({
        "model": ours.label,
        "customers": ours.customers,
        "distinct_rows": ours.rows,
        "ours_seconds": ours.seconds,
        "ours_compress_seconds": ours.compress_seconds,
        "ours_params": ours_params,
        "ours_log_likelihood": (ours.log_likelihood)(&ours_params),
        "lifetimes_users_log_likelihood": (ours.log_likelihood)(&users["params"]),
        "lifetimes_compressed_log_likelihood": (ours.log_likelihood)(&compressed["params"]),
        "lifetimes_users_seconds": seconds(users),
        "lifetimes_users_params": users["params"],
        "lifetimes_compressed_seconds": seconds(compressed),
        "lifetimes_compress_seconds": compressed["compress_seconds"],
        "lifetimes_compressed_params": compressed["params"],
        "ratio_users": seconds(users) / ours.seconds,
        "ratio_compressed": seconds(compressed) / ours.seconds,
        "max_relative_parameter_difference_users": max_relative_difference(&ours.params, users),
        "max_relative_parameter_difference_compressed": max_relative_difference(&ours.params, compressed),
    })
}

pub fn run(opts: Options) -> anyhow::Result<()> {
    let started = Instant::now();
    let data = prepare(&opts)?;
    let customers = opts.customers.min(data.histories.len());
    let pareto_customers = opts.pareto_customers.min(customers);
    eprintln!(
        "{} transactions of {} customers ({}); fits on the first {customers}, Pareto/NBD on {pareto_customers}",
        data.transactions.len(),
        data.histories.len(),
        if data.generated { "generated" } else { "earlier run" }
    );
    let histories = &data.histories[..customers];
    let options = FitOptions::default();

    eprintln!("ours: summary of {} transactions…", data.transactions.len());
    let (summary_seconds, summary) = best_of(3, || summarize(&data.transactions, &summary_options()));
    eprintln!("  {summary_seconds:.3} s, {} customers", summary.len());

    eprintln!("ours: BG/NBD on {customers} customers…");
    let (bg_seconds, (bg, bg_rows)) = best_of(3, || {
        let rows = compress(histories.iter().map(|(h, _)| *h));
        (BgNbd::fit(&rows, &options), rows.len())
    });
    let bg = bg.context("our BG/NBD fit")?.model;
    eprintln!("  {bg_seconds:.3} s ({bg_rows} distinct rows): {bg:?}");

    eprintln!("ours: Pareto/NBD on {pareto_customers} customers…");
    let (pareto_seconds, (pareto, pareto_rows)) = best_of(3, || {
        let rows = compress(histories[..pareto_customers].iter().map(|(h, _)| *h));
        (ParetoNbd::fit(&rows, &options), rows.len())
    });
    let pareto = pareto.context("our Pareto/NBD fit")?.model;
    eprintln!("  {pareto_seconds:.3} s ({pareto_rows} distinct rows): {pareto:?}");

    let repeat_buyers = histories
        .iter()
        .filter(|(h, m)| h.frequency > 0.0 && *m > 0.0)
        .count();
    eprintln!("ours: Gamma-Gamma on {repeat_buyers} repeat buyers…");
    let (gg_seconds, (gg, gg_rows)) = best_of(3, || {
        let rows = spend_rows(histories);
        (GammaGamma::fit(&rows, &options), rows.len())
    });
    let gg = gg.context("our Gamma-Gamma fit")?.model;
    eprintln!("  {gg_seconds:.3} s ({gg_rows} distinct rows): {gg:?}");

    let weekly = &data.weekly[..customers];
    eprintln!("ours: BG/NBD on {customers} customers, weekly periods…");
    let (weekly_seconds, (weekly_bg, weekly_rows)) = best_of(3, || {
        let rows = compress(weekly.iter().map(|(h, _)| *h));
        (BgNbd::fit(&rows, &options), rows.len())
    });
    let weekly_bg = weekly_bg.context("our BG/NBD fit on weekly periods")?.model;
    eprintln!("  {weekly_seconds:.3} s ({weekly_rows} distinct rows): {weekly_bg:?}");

    // Compressing alone, the part of our fit times that is not the optimiser.
    let (bg_compress, bg_data) = best_of(3, || compress(histories.iter().map(|(h, _)| *h)));
    let (weekly_compress, weekly_data) = best_of(3, || compress(weekly.iter().map(|(h, _)| *h)));
    let (pareto_compress, pareto_data) = best_of(3, || {
        compress(histories[..pareto_customers].iter().map(|(h, _)| *h))
    });
    let (spend_compress, spend_data) = best_of(3, || spend_rows(histories));
    let python = python()?;
    let hour = Duration::from_secs(3600);
    let mut fits = Vec::new();
    for ours in [
        Measured {
            model: "bg_nbd",
            label: "bg_nbd",
            file: "histories.csv",
            customers,
            rows: bg_rows,
            seconds: bg_seconds,
            compress_seconds: bg_compress,
            params: vec![("r", bg.r), ("alpha", bg.alpha), ("a", bg.a), ("b", bg.b)],
            log_likelihood: Box::new(move |p| purchase_log_likelihood("bg_nbd", &bg_data, p)),
        },
        Measured {
            model: "pareto_nbd",
            label: "pareto_nbd",
            file: "histories.csv",
            customers: pareto_customers,
            rows: pareto_rows,
            seconds: pareto_seconds,
            compress_seconds: pareto_compress,
            params: vec![
                ("r", pareto.r),
                ("alpha", pareto.alpha),
                ("s", pareto.s),
                ("beta", pareto.beta),
            ],
            log_likelihood: Box::new(move |p| purchase_log_likelihood("pareto_nbd", &pareto_data, p)),
        },
        Measured {
            model: "gamma_gamma",
            label: "gamma_gamma",
            file: "histories.csv",
            customers: repeat_buyers,
            rows: gg_rows,
            seconds: gg_seconds,
            compress_seconds: spend_compress,
            params: vec![("p", gg.p), ("q", gg.q), ("v", gg.v)],
            log_likelihood: Box::new(move |p| spend_log_likelihood(&spend_data, p)),
        },
        Measured {
            model: "bg_nbd",
            label: "bg_nbd_weekly",
            file: "histories-weekly.csv",
            customers,
            rows: weekly_rows,
            seconds: weekly_seconds,
            compress_seconds: weekly_compress,
            params: vec![
                ("r", weekly_bg.r),
                ("alpha", weekly_bg.alpha),
                ("a", weekly_bg.a),
                ("b", weekly_bg.b),
            ],
            log_likelihood: Box::new(move |p| purchase_log_likelihood("bg_nbd", &weekly_data, p)),
        },
    ] {
        let n = if ours.model == "pareto_nbd" {
            pareto_customers
        } else {
            customers
        };
        let run = |mode: &str| -> anyhow::Result<Value> {
            let file = data.dir.join(ours.file).display().to_string();
            let args = ["fit", ours.model, &file, &n.to_string(), mode].map(String::from);
            lifetimes(&python, &args, hour)?
                .with_context(|| format!("lifetimes {} ({mode}) took over an hour", ours.model))
        };
        let users = run("users")?;
        let compressed = run("compressed")?;
        let report = fit_report(&ours, &users, &compressed);
        eprintln!(
            "  {}: ours {:.3} s, lifetimes {:.1} s as users call it ({:.0}×), {:.1} s compressed ({:.0}×)",
            ours.label,
            ours.seconds,
            report["lifetimes_users_seconds"].as_f64().unwrap_or(f64::NAN),
            report["ratio_users"].as_f64().unwrap_or(f64::NAN),
            report["lifetimes_compressed_seconds"]
                .as_f64()
                .unwrap_or(f64::NAN),
            report["ratio_compressed"].as_f64().unwrap_or(f64::NAN),
        );
        fits.push(report);
    }

    let transactions_csv = data.dir.join("transactions.csv").display().to_string();
    let end = format_day(observation_end());
    let summary_args = |rows: usize| {
        [
            "summary".to_string(),
            transactions_csv.clone(),
            rows.to_string(),
            end.clone(),
        ]
    };
    let mut theirs = lifetimes(
        &python,
        &summary_args(data.transactions.len()),
        Duration::from_secs(opts.summary_budget),
    )?;
    let all = thousands(data.transactions.len() as u64);
    let mut note = format!("lifetimes ran on all {all} rows");
    if theirs.is_none() {
        note = format!(
            "lifetimes did not finish {all} rows within {} s, so it was measured on the first {}",
            opts.summary_budget,
            thousands(SUMMARY_FALLBACK_ROWS as u64)
        );
        theirs = lifetimes(&python, &summary_args(SUMMARY_FALLBACK_ROWS), hour)?;
    }
    let theirs = theirs.context("lifetimes' summary")?;
    let their_rows = theirs["rows"].as_u64().unwrap_or(0) as usize;
    // Ours on the same rows as lifetimes, when that is fewer.
    let ours_on_their_rows = if their_rows < data.transactions.len() {
        let subset = &data.transactions[..their_rows];
        Some(best_of(3, || summarize(subset, &summary_options())).0)
    } else {
        None
    };
    let their_seconds = theirs["seconds"].as_f64().unwrap_or(f64::NAN);
    let summary_report = json!({
        "rows": data.transactions.len(),
        "customers": summary.len(),
        "ours_seconds": summary_seconds,
        "target_seconds": 2.0,
        "lifetimes": theirs,
        "lifetimes_note": note,
        "ours_seconds_on_lifetimes_rows": ours_on_their_rows.unwrap_or(summary_seconds),
        "ratio": their_seconds / ours_on_their_rows.unwrap_or(summary_seconds),
        "same_customers": theirs["customers"].as_u64() == Some(if their_rows < data.transactions.len() {
            summarize(&data.transactions[..their_rows], &summary_options()).len() as u64
        } else {
            summary.len() as u64
        }),
    });
    eprintln!(
        "summary: ours {summary_seconds:.3} s for {} rows; lifetimes {their_seconds:.1} s for {their_rows} rows",
        data.transactions.len()
    );

    let report = json!({
        "benchmark": "analytics",
        "machine": { "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1), "os": std::env::consts::OS },
        "reference": "Python lifetimes 0.11.3 (numpy 1.26.4, scipy 1.11.4, pandas 1.5.3, autograd 1.6.2), same data, same run",
        "data": {
            "seed": SEED,
            "transactions": data.transactions.len(),
            "customers": data.histories.len(),
            "first_purchases": "uniform over 2023-01-01 to 2024-12-31",
            "observation_end": end,
            "periods": "daily purchases, model time in weeks (lifetimes: freq='D', freq_multiplier=7)",
            "files": data.dir.display().to_string(),
        },
        "fits": fits,
        "summary": summary_report,
        "targets": { "ratio": ">= 50 (lifetimes seconds / ours)", "summary_seconds": "< 2 for 10,000,000 transactions" },
        "total_seconds": started.elapsed().as_secs_f64(),
    });
    // The full-size run's figures go to bench/results/; smaller runs' beside their data.
    let full = (opts.rows, opts.customers, opts.pareto_customers) == (10_000_000, 1_000_000, 100_000);
    let results = if full {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../bench/results")
    } else {
        data.dir.clone()
    };
    std::fs::create_dir_all(&results)?;
    std::fs::write(
        results.join("analytics.json"),
        serde_json::to_string_pretty(&report)? + "\n",
    )?;
    std::fs::write(results.join("analytics.md"), markdown(&report))?;
    eprintln!("written to {}", results.join("analytics.json").display());
    println!("{}", markdown(&report));
    Ok(())
}

/// 1234567 → "1,234,567".
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn markdown(report: &Value) -> String {
    let f = |v: &Value| v.as_f64().unwrap_or(f64::NAN);
    let count = |v: &Value| thousands(v.as_u64().unwrap_or(0));
    let name = |model: &str| match model {
        "bg_nbd" => "BG/NBD",
        "bg_nbd_weekly" => "BG/NBD, weekly periods",
        "pareto_nbd" => "Pareto/NBD",
        _ => "Gamma-Gamma",
    };
    let mut out = String::from(
        "# Analytics against lifetimes 0.11.3\n\n\
         Written by `cargo run --release -p regulars-bench -- analytics`; figures from `analytics.json`.\n\n\
         | fit | customers (distinct rows) | ours s | lifetimes s, as users call it | ratio | lifetimes s, compressed rows | ratio | max relative parameter difference (users / compressed) | log-likelihood ours − lifetimes (users / compressed) |\n\
         |---|---|---|---|---|---|---|---|---|\n",
    );
    for fit in report["fits"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "| {} | {} ({}) | {:.3} | {:.1} | {:.0}× | {:.1} | {:.0}× | {:.1e} / {:.1e} | {:+.1e} / {:+.1e} |\n",
            name(fit["model"].as_str().unwrap_or("")),
            count(&fit["customers"]),
            count(&fit["distinct_rows"]),
            f(&fit["ours_seconds"]),
            f(&fit["lifetimes_users_seconds"]),
            f(&fit["ratio_users"]),
            f(&fit["lifetimes_compressed_seconds"]),
            f(&fit["ratio_compressed"]),
            f(&fit["max_relative_parameter_difference_users"]),
            f(&fit["max_relative_parameter_difference_compressed"]),
            f(&fit["ours_log_likelihood"]) - f(&fit["lifetimes_users_log_likelihood"]),
            f(&fit["ours_log_likelihood"]) - f(&fit["lifetimes_compressed_log_likelihood"]),
        ));
    }
    let s = &report["summary"];
    out.push_str(&format!(
        "\n| summary (daily periods, weeks) | rows | customers | seconds | target |\n|---|---|---|---|---|\n\
         | ours | {} | {} | {:.3} | < 2 s |\n\
         | lifetimes `summary_data_from_transaction_data` | {} | {} | {:.1} (+ {:.1} reading the CSV, {:.1} parsing dates) | |\n\n\
         {}. Ratio on the same rows: {:.0}×.\n",
        count(&s["rows"]),
        count(&s["customers"]),
        f(&s["ours_seconds"]),
        count(&s["lifetimes"]["rows"]),
        count(&s["lifetimes"]["customers"]),
        f(&s["lifetimes"]["seconds"]),
        f(&s["lifetimes"]["read_seconds"]),
        f(&s["lifetimes"]["parse_dates_seconds"]),
        s["lifetimes_note"].as_str().unwrap_or(""),
        f(&s["ratio"]),
    ));
    out
}
