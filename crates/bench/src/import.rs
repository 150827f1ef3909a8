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

pub fn binary() -> PathBuf {
    std::env::var_os("REGULARS_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/release/regulars"))
}

/// The high-water mark of a running process's resident memory, in kB (Linux `VmHWM`).
fn peak_rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Runs the binary to completion, sampling its peak RSS while it runs. (getrusage's
/// RUSAGE_CHILDREN is no use here: a child spawned with vfork inherits the parent's high-water
/// mark at exec, so it reported this benchmark's own memory.)
fn run_measured(
    bin: &std::path::Path,
    db: &str,
    args: &[&str],
    out: &std::path::Path,
) -> anyhow::Result<(String, f64)> {
    let mut child = Command::new(bin)
        .arg("--database")
        .arg(db)
        .args(args)
        .env("RUST_LOG", "warn")
        .stdout(std::fs::File::create(out)?)
        .stderr(std::process::Stdio::null())
        .spawn()?;
    let mut peak_kb = 0;
    let status = loop {
        if let Some(kb) = peak_rss_kb(child.id()) {
            peak_kb = peak_kb.max(kb);
        }
        if let Some(status) = child.try_wait()? {
            break status;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    anyhow::ensure!(status.success(), "{args:?} failed: {status}");
    Ok((std::fs::read_to_string(out)?, peak_kb as f64 / 1024.0))
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
    let args = [
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
    ];
    let (stdout, peak_rss_mb) = run_measured(&bin, &db, &args, &dir.path().join("summary.json"))?;
    let summary: serde_json::Value = serde_json::from_str(&stdout)?;
    let seconds = started.elapsed().as_secs_f64();
    anyhow::ensure!(summary["created"] == rows as u64, "import summary: {summary}");
    Ok(Import {
        rows,
        seconds,
        rows_per_sec: rows as f64 / seconds,
        peak_rss_mb,
        parse_only_seconds,
        parse_only_over_import: parse_only_seconds / seconds,
    })
}
