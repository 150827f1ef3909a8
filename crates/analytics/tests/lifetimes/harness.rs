//! Running Python's `lifetimes` 0.11.3 on the inputs a test writes, and comparing its numbers
//! with ours. Shared by `crates/analytics/tests/differential.rs` and
//! `crates/regulars/tests/analyze_lifetimes.rs` (included by path).
//!
//! The pinned environment comes from `scripts/lifetimes-venv`, which builds it in
//! `target/lifetimes-venv` on first use. Setting `REGULARS_SKIP_LIFETIMES=1` skips these tests;
//! nothing else does: a missing Python fails them, so CI cannot pass without running them.
#![allow(dead_code)]

use std::fmt::Display;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;

pub const SKIP: &str = "REGULARS_SKIP_LIFETIMES";

/// See [`Compare::probability`].
pub const PROBABILITY_FLOOR: f64 = 1e-15;

/// The workspace root (both crates using this file sit in `crates/<name>`).
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The pinned environment's python, building it when missing; `None` only when the tests are
/// skipped explicitly with `REGULARS_SKIP_LIFETIMES=1`.
pub fn python() -> Option<PathBuf> {
    if std::env::var(SKIP).is_ok_and(|v| v == "1") {
        eprintln!("{SKIP}=1: not comparing with lifetimes");
        return None;
    }
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    let python = PYTHON.get_or_init(|| {
        let script = workspace().join("scripts/lifetimes-venv");
        let output = Command::new(&script)
            .output()
            .unwrap_or_else(|e| panic!("running {}: {e}", script.display()));
        assert!(
            output.status.success(),
            "{} failed ({}); set {SKIP}=1 to skip the comparisons with lifetimes:\n{}",
            script.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        PathBuf::from(String::from_utf8(output.stdout).expect("a UTF-8 path").trim())
    });
    Some(python.clone())
}

/// A directory for this test's input files, emptied first.
pub fn scratch(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("lifetimes")
        .join(test);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch directory");
    dir
}

/// Runs `driver.py COMMAND spec.json` and returns what it printed.
pub fn driver(python: &Path, command: &str, spec: &Value, dir: &Path, name: &str) -> Value {
    let stem: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let file = dir.join(format!("{stem}.json"));
    std::fs::write(&file, serde_json::to_vec(spec).expect("spec as JSON")).expect("writing the spec");
    let script = workspace().join("crates/analytics/tests/lifetimes/driver.py");
    let output = Command::new(python)
        .arg(&script)
        .arg(command)
        .arg(&file)
        .output()
        .expect("running the lifetimes driver");
    assert!(
        output.status.success(),
        "driver.py {command} {} failed ({}):\n{}",
        file.display(),
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "driver.py {command}: {e}\n{}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

/// Where the lifetimes package keeps its CDNOW files.
pub fn datasets(python: &Path) -> Value {
    let script = workspace().join("crates/analytics/tests/lifetimes/driver.py");
    let output = Command::new(python)
        .arg(&script)
        .arg("datasets")
        .output()
        .expect("driver.py datasets");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("JSON")
}

/// A number as the driver writes it: a float as text (its exact shortest form, or "nan",
/// "inf", "-inf"), read with Rust's correctly rounded parser; an integer; or null (NaN).
pub fn num(value: &Value) -> f64 {
    match value {
        Value::String(s) => s.parse().unwrap_or_else(|_| panic!("not a number: {s:?}")),
        Value::Number(n) => n.as_f64().expect("an f64"),
        Value::Null => f64::NAN,
        other => panic!("not a number: {other}"),
    }
}

pub fn nums(value: &Value) -> Vec<f64> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {value}"))
        .iter()
        .map(num)
        .collect()
}

/// |a − b| / max(|a|, |b|), 0 when both are 0.
pub fn relative_difference(a: f64, b: f64) -> f64 {
    let scale = a.abs().max(b.abs());
    if scale == 0.0 {
        0.0
    } else {
        (a - b).abs() / scale
    }
}

/// Collects every comparison of a test and fails once at the end with all mismatches, so a
/// failing run shows the whole picture (inputs, both numbers, the relative difference).
pub struct Compare {
    pub tolerance: f64,
    pub checked: usize,
    /// Values where lifetimes itself gave no finite number (only ours was checked: finite).
    pub lifetimes_not_finite: usize,
    /// Probabilities that agree only to within [`PROBABILITY_FLOOR`].
    pub below_floor: usize,
    pub worst: f64,
    pub worst_label: String,
    pub failures: Vec<String>,
}

impl Compare {
    pub fn new(tolerance: f64) -> Self {
        Compare {
            tolerance,
            checked: 0,
            lifetimes_not_finite: 0,
            below_floor: 0,
            worst: 0.0,
            worst_label: String::new(),
            failures: Vec::new(),
        }
    }

    /// Ours must be finite; where lifetimes is finite too they must agree within the tolerance.
    pub fn check(&mut self, label: impl Display, ours: f64, theirs: f64) {
        self.checked += 1;
        if !ours.is_finite() {
            self.failures.push(format!(
                "{label}: ours {ours:e} is not finite (lifetimes {theirs:e})"
            ));
            return;
        }
        if !theirs.is_finite() {
            self.lifetimes_not_finite += 1;
            return;
        }
        let diff = relative_difference(ours, theirs);
        if diff > self.worst {
            self.worst = diff;
            self.worst_label = label.to_string();
        }
        if diff > self.tolerance {
            self.failures.push(format!(
                "{label}: ours {ours:.12e}, lifetimes {theirs:.12e}, relative difference {diff:.2e}"
            ));
        }
    }

    /// A probability: ours must lie in [0, 1]; the two must agree within the tolerance, or
    /// within `PROBABILITY_FLOOR` absolutely. `lifetimes` computes P(X(t) = n) as a difference
    /// of terms of order one, so below about 1e-15 its digits are rounding noise (a 60-digit
    /// evaluation of the same formula shows its values there off by 1 % to 2,000 %).
    pub fn probability(&mut self, label: impl Display, ours: f64, theirs: f64) {
        if ours.is_finite() && !(0.0..=1.0).contains(&ours) {
            self.checked += 1;
            self.failures.push(format!(
                "{label}: ours {ours:e} is not a probability (lifetimes {theirs:e})"
            ));
            return;
        }
        if ours.is_finite() && theirs.is_finite() && (ours - theirs).abs() <= PROBABILITY_FLOOR {
            self.checked += 1;
            self.below_floor += 1;
            return;
        }
        self.check(label, ours, theirs);
    }

    /// Both must be equal to the last bit (summaries are exact arithmetic on whole days).
    pub fn exact(&mut self, label: impl Display, ours: f64, theirs: f64) {
        self.checked += 1;
        if ours.to_bits() != theirs.to_bits() && !(ours == 0.0 && theirs == 0.0) {
            self.failures
                .push(format!("{label}: ours {ours:?}, lifetimes {theirs:?}"));
        }
    }

    pub fn fail(&mut self, message: impl Display) {
        self.failures.push(message.to_string());
    }

    /// Prints the tally; panics listing the mismatches if there are any.
    pub fn finish(self, what: &str) {
        eprintln!(
            "{what}: {} values compared, worst relative difference {:.2e} ({}), {} where lifetimes is not finite, \
             {} probabilities within {PROBABILITY_FLOOR:e} of each other",
            self.checked, self.worst, self.worst_label, self.lifetimes_not_finite, self.below_floor
        );
        if !self.failures.is_empty() {
            let shown: Vec<&String> = self.failures.iter().take(400).collect();
            panic!(
                "{what}: {} of {} values differ from lifetimes 0.11.3 beyond {:e}:\n{}{}",
                self.failures.len(),
                self.checked,
                self.tolerance,
                shown.iter().map(|s| format!("  {s}\n")).collect::<String>(),
                if self.failures.len() > shown.len() {
                    "  …\n"
                } else {
                    ""
                }
            );
        }
    }
}
