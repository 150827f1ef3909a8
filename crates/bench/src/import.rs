//! (d) A transaction-log import through the real binary, against just parsing the same file.

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use anyhow::Context;
use serde::Serialize;

#[derive(Debug, Serialize)]
pub struct Import {
    pub rows: usize,
    pub seconds: f64,
    pub rows_per_sec: f64,
    pub peak_rss_mb: f64,
    /// Reading and splitting the same file with the csv crate, nothing else: the floor.
    pub parse_only_seconds: f64,
    pub parse_only_over_import: f64,
}

fn binary() -> PathBuf {
    std::env::var_os("REGULARS_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/release/regulars"))
}

/// Peak resident memory of finished children, in MB (Linux reports kilobytes).
fn children_peak_rss_mb() -> f64 {
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage writes into the struct we own.
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    usage.ru_maxrss as f64 / 1024.0
}

pub async fn run(rows: usize, customers: usize) -> anyhow::Result<Import> {
    let bin = binary();
    anyhow::ensure!(
        bin.exists(),
        "{} not found: run `cargo build --release -p regulars` first",
        bin.display()
    );
    let dir = tempfile::tempdir()?;
    let csv = dir.path().join("transactions.csv");
    regulars_sample::write_transactions_csv(
        std::io::BufWriter::new(std::fs::File::create(&csv)?),
        rows,
        customers,
        3,
    )?;
    let db = format!("sqlite://{}", dir.path().join("import.db").display());
    let run = |args: &[&str]| -> anyhow::Result<String> {
        let out = Command::new(&bin)
            .arg("--database")
            .arg(&db)
            .args(args)
            .env("RUST_LOG", "warn")
            .output()?;
        anyhow::ensure!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(String::from_utf8(out.stdout)?)
    };
    let store: serde_json::Value = serde_json::from_str(&run(&[
        "store",
        "create",
        "--name",
        "Import",
        "--currency",
        "INR",
        "--timezone",
        "Asia/Kolkata",
    ])?)?;
    let store = store["id"].as_str().context("store id")?.to_string();

    let parse_started = Instant::now();
    let mut reader = csv::Reader::from_path(&csv)?;
    let mut record = csv::ByteRecord::new();
    let mut parsed = 0usize;
    while reader.read_byte_record(&mut record)? {
        parsed += 1;
    }
    anyhow::ensure!(parsed == rows, "parsed {parsed} of {rows} rows");
    let parse_only_seconds = parse_started.elapsed().as_secs_f64();

    let started = Instant::now();
    let summary: serde_json::Value = serde_json::from_str(&run(&[
        "import",
        "transactions",
        csv.to_str().unwrap(),
        "--store",
        &store,
        "--customer-col",
        "customer_id",
        "--date-col",
        "date",
        "--amount-col",
        "amount",
    ])?)?;
    let seconds = started.elapsed().as_secs_f64();
    anyhow::ensure!(summary["created"] == rows as u64, "import summary: {summary}");
    Ok(Import {
        rows,
        seconds,
        rows_per_sec: rows as f64 / seconds,
        peak_rss_mb: children_peak_rss_mb(),
        parse_only_seconds,
        parse_only_over_import: parse_only_seconds / seconds,
    })
}
