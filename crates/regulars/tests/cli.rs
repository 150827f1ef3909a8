//! The binary as a store owner runs it: create a store, import real exports twice, see the
//! summaries and exit codes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use regulars_testkit::{Backend, TestDb};
use serde_json::Value;

struct Cli {
    database: TestDb,
    // Declared last so it outlives the database's pool.
    _runtime: tokio::runtime::Runtime,
}

impl Cli {
    fn new(backend: Backend) -> Cli {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let database = runtime.block_on(TestDb::new(backend));
        Cli {
            database,
            _runtime: runtime,
        }
    }

    fn database(&self) -> String {
        self.database.url.clone()
    }

    fn dir(&self) -> &Path {
        self.database.dir.path()
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_regulars"))
            .arg("--database")
            .arg(self.database())
            .args(args)
            .env_remove("REGULARS_DATABASE_URL")
            .env("RUST_LOG", "warn")
            .output()
            .unwrap()
    }

    fn json(&self, args: &[&str]) -> (i32, Value) {
        let out = self.run(args);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
            panic!(
                "{args:?}: {e}\nstdout: {stdout}\nstderr: {}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
        (out.status.code().unwrap(), value)
    }

    fn store(&self, currency: &str) -> String {
        let (code, store) = self.json(&[
            "store",
            "create",
            "--name",
            "CLI shop",
            "--currency",
            currency,
            "--timezone",
            "Asia/Kolkata",
        ]);
        assert_eq!(code, 0);
        store["id"].as_str().unwrap().to_string()
    }

    fn write(&self, name: &str, content: &str) -> PathBuf {
        let path = self.dir().join(name);
        std::fs::write(&path, content).unwrap();
        path
    }
}

fn fixture(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/fixtures")
        .join(path)
}

#[test]
fn every_subcommand_has_help() {
    let cli = Cli::new(Backend::Sqlite);
    for args in [
        vec!["--help"],
        vec!["serve", "--help"],
        vec!["migrate", "--help"],
        vec!["demo", "--help"],
        vec!["store", "create", "--help"],
        vec!["store", "secret", "--help"],
        vec!["apikey", "create", "--help"],
        vec!["user", "create", "--help"],
        vec!["import", "--help"],
        vec!["analytics", "refit", "--help"],
        vec!["loyalty", "nightly", "--help"],
        vec!["check", "--help"],
    ] {
        let out = cli.run(&args);
        assert!(out.status.success(), "{args:?}");
        assert!(String::from_utf8_lossy(&out.stdout).contains("Usage"), "{args:?}");
    }
}

fn a_store_gets_a_hashed_key_and_rotating_secrets(backend: Backend) {
    let cli = Cli::new(backend);
    let store = cli.store("INR");
    let (code, key) = cli.json(&["apikey", "create", "--store", &store, "--name", "shop"]);
    assert_eq!(code, 0);
    let key = key["key"].as_str().unwrap().to_string();
    assert!(key.starts_with("rk_") && key.len() > 30);
    if backend == Backend::Sqlite {
        let db = std::fs::read(cli.dir().join("test.db")).unwrap();
        assert!(
            !db.windows(key.len()).any(|w| w == key.as_bytes()),
            "the key is not stored in clear"
        );
    }

    for secret in ["first-secret-1", "second-secret-2"] {
        let (code, out) = cli.json(&[
            "store", "secret", "--store", &store, "--source", "shopify", "--secret", secret,
        ]);
        assert_eq!(code, 0);
        assert!(out["webhook_path"].as_str().unwrap().ends_with(&store));
    }
    let (_, out) = cli.json(&[
        "store", "secret", "--store", &store, "--source", "shopify", "--secret", "x2345678",
    ]);
    assert_eq!(out["active_secrets"], 3);
    let (code, _) = cli.json(&[
        "store",
        "secret",
        "--store",
        &store,
        "--source",
        "shopify",
        "--secret",
        "first-secret-1",
        "--remove",
    ]);
    assert_eq!(code, 0);

    let bad = cli.run(&[
        "store",
        "create",
        "--name",
        "x",
        "--currency",
        "RUPEES",
        "--timezone",
        "Asia/Kolkata",
    ]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--currency"));
}

fn the_real_truncated_shopify_export_is_reported_and_reimport_changes_nothing(backend: Backend) {
    let cli = Cli::new(backend);
    let store = cli.store("PKR");
    let file = fixture("shopify_csv/customers_export.real-store.REDACTED.csv");
    let file = file.to_str().unwrap();
    let (code, first) = cli.json(&["import", "shopify-customers", file, "--store", &store]);
    assert_eq!(code, 1, "a rejected row fails the import unless --allow-errors");
    assert_eq!(first["created"], 3);
    assert_eq!(first["rejected"], 1);
    let rejection = &first["rejections"][0];
    assert_eq!(rejection["line"], 5, "the cut-off record starts on line 5");
    assert!(
        rejection["reason"].as_str().unwrap().contains("truncated"),
        "{rejection}"
    );

    let (code, second) = cli.json(&[
        "import",
        "shopify-customers",
        file,
        "--store",
        &store,
        "--allow-errors",
    ]);
    assert_eq!(code, 0);
    assert_eq!(
        (second["created"].clone(), second["unchanged"].clone()),
        (Value::from(0), Value::from(3))
    );
}

fn transaction_logs_with_named_or_numbered_columns_import_idempotently(backend: Backend) {
    let cli = Cli::new(backend);
    let store = cli.store("USD");
    let csv = cli.write(
        "tx.csv",
        "customer,when,amount\nc1,2024-01-05,10.00\nc1,2024-02-05,12.50\nc1,2024-02-05,12.50\nc2,2024-01-09,7.25\nc3,not-a-date,1.00\n",
    );
    let args = [
        "--customer-col",
        "customer",
        "--date-col",
        "when",
        "--amount-col",
        "amount",
    ];
    let mut cmd = vec!["import", "transactions", csv.to_str().unwrap(), "--store", &store];
    cmd.extend(args);
    let (code, first) = cli.json(&cmd);
    assert_eq!(code, 1);
    assert_eq!(
        first["created"], 4,
        "two identical consecutive rows are two transactions"
    );
    assert_eq!(first["rejections"][0]["line"], 6);

    cmd.push("--allow-errors");
    let (code, second) = cli.json(&cmd);
    assert_eq!(code, 0);
    assert_eq!(
        (second["created"].clone(), second["unchanged"].clone()),
        (Value::from(0), Value::from(4))
    );

    let cdnow = cli.write(
        "cdnow.txt",
        "00001 19970101  1  11.77\n00002 19970112  1  12.00\n00002 19970112  5  77.00\n",
    );
    let (code, out) = cli.json(&[
        "import",
        "transactions",
        cdnow.to_str().unwrap(),
        "--store",
        &store,
        "--delimiter",
        "whitespace",
        "--no-header",
        "--customer-col",
        "0",
        "--date-col",
        "1",
        "--amount-col",
        "3",
        "--date-format",
        "%Y%m%d",
    ]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(out["created"], 3);
}

fn a_shopify_orders_export_groups_rows_into_orders(backend: Backend) {
    let cli = Cli::new(backend);
    let store = cli.store("USD");
    let headers = std::fs::read_to_string(fixture("shopify_csv/HEADERS.txt")).unwrap();
    let header = headers
        .lines()
        .find(|l| l.starts_with("Name,Email,Financial Status"))
        .unwrap();
    let columns: Vec<&str> = header.split(',').collect();
    let row = |values: &[(&str, &str)]| -> String {
        columns
            .iter()
            .map(|c| {
                values
                    .iter()
                    .find(|(k, _)| k == c)
                    .map(|(_, v)| v.to_string())
                    .unwrap_or_default()
            })
            .collect::<Vec<_>>()
            .join(",")
    };
    let content = [
        header.to_string(),
        row(&[
            ("Name", "#1001"),
            ("Email", "asha@example.com"),
            ("Financial Status", "paid"),
            ("Currency", "USD"),
            ("Subtotal", "30.00"),
            ("Shipping", "5.00"),
            ("Taxes", "0.00"),
            ("Total", "35.00"),
            ("Created at", "2025-03-20 05:20:57 -0700"),
            ("Lineitem quantity", "1"),
            ("Lineitem name", "Tea"),
            ("Lineitem price", "10.00"),
            ("Lineitem sku", "TEA"),
            ("Id", "5550001"),
        ]),
        row(&[
            ("Name", "#1001"),
            ("Lineitem quantity", "2"),
            ("Lineitem name", "Cups"),
            ("Lineitem price", "10.00"),
            ("Lineitem sku", "CUP"),
        ]),
        row(&[
            ("Name", "#1002"),
            ("Email", "asha@example.com"),
            ("Financial Status", "paid"),
            ("Currency", "USD"),
            ("Subtotal", "10.00"),
            ("Total", "10.00"),
            ("Created at", "2025-04-01 10:00:00 -0700"),
            ("Lineitem quantity", "1"),
            ("Lineitem name", "Tea"),
            ("Lineitem price", "10.00"),
            ("Lineitem sku", "TEA"),
            ("Id", "5550002"),
        ]),
    ]
    .join("\n");
    let file = cli.write("orders_export.csv", &content);
    let (code, out) = cli.json(&[
        "import",
        "shopify-orders",
        file.to_str().unwrap(),
        "--store",
        &store,
    ]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(out["created"], 2);
    let (_, again) = cli.json(&[
        "import",
        "shopify-orders",
        file.to_str().unwrap(),
        "--store",
        &store,
    ]);
    assert_eq!(again["unchanged"], 2);
}

fn people_are_created_with_a_role_and_a_password_given_or_generated(backend: Backend) {
    let cli = Cli::new(backend);
    let store = cli.store("INR");
    let other = cli.store("AMD");
    let (code, out) = cli.json(&[
        "user",
        "create",
        "--store",
        &store,
        "--email",
        "Owner@Shop.in",
        "--role",
        "owner",
    ]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(out["role"], "owner");
    let generated = out["password"]
        .as_str()
        .expect("a generated password is shown once");
    assert!(generated.len() >= 16);

    // A password piped on standard input is used and never echoed.
    let mut child = Command::new(env!("CARGO_BIN_EXE_regulars"))
        .args(["--database", &cli.database(), "user", "create", "--store", &store])
        .args(["--email", "agent@shop.in", "--role", "support"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"the agent's own passphrase\n")
        .unwrap();
    let piped = child.wait_with_output().unwrap();
    assert!(piped.status.success());
    let piped: Value = serde_json::from_slice(&piped.stdout).unwrap();
    assert!(piped.get("password").is_none(), "{piped}");

    // The same person joins a second store: no new password.
    let (code, again) = cli.json(&[
        "user",
        "create",
        "--store",
        &other,
        "--email",
        "owner@shop.in",
        "--role",
        "viewer",
    ]);
    assert_eq!(code, 0);
    assert!(again.get("password").is_none());

    let db = &cli.database.db;
    let rt = &cli._runtime;
    let owner = rt
        .block_on(db.log_in("owner@shop.in", generated, "127.0.0.1"))
        .unwrap();
    let regulars_store::LoginOutcome::Ok { session, .. } = owner else {
        panic!("the generated password signs in: {owner:?}");
    };
    assert_eq!(session.memberships.len(), 2);
    let agent = rt
        .block_on(db.log_in("agent@shop.in", "the agent's own passphrase", "127.0.0.1"))
        .unwrap();
    assert!(matches!(agent, regulars_store::LoginOutcome::Ok { .. }));

    let (code, _) = cli.json(&["user", "disable", "--email", "agent@shop.in"]);
    assert_eq!(code, 0);
    let refused = rt
        .block_on(db.log_in("agent@shop.in", "the agent's own passphrase", "127.0.0.1"))
        .unwrap();
    assert!(matches!(refused, regulars_store::LoginOutcome::Refused));

    let bad = cli.run(&[
        "user",
        "create",
        "--store",
        &store,
        "--email",
        "x@shop.in",
        "--role",
        "boss",
    ]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--role"));
}

fn analytics_refit_reports_counts_and_why_a_small_store_has_no_model(backend: Backend) {
    let cli = Cli::new(backend);
    let store = cli.store("USD");
    let csv = cli.write(
        "tx.csv",
        "customer,when,amount\nc1,2024-01-05,10.00\nc1,2024-02-05,12.50\nc2,2024-01-09,7.25\n",
    );
    let (code, _) = cli.json(&[
        "import",
        "transactions",
        csv.to_str().unwrap(),
        "--store",
        &store,
        "--customer-col",
        "customer",
        "--date-col",
        "when",
        "--amount-col",
        "amount",
    ]);
    assert_eq!(code, 0);
    let (code, reports) = cli.json(&["analytics", "refit", "--store", &store]);
    assert_eq!(code, 0, "{reports}");
    let r = &reports[0];
    assert_eq!(r["store_id"], store.as_str());
    assert_eq!(
        (r["customers"].clone(), r["repeat_buyers"].clone()),
        (2.into(), 1.into())
    );
    assert_eq!(r["fitted"], false);
    assert_eq!(r["failure"], "too_few_customers");
    assert_eq!(r["written"], 2);
    let (code, all) = cli.json(&["analytics", "refit"]);
    assert_eq!(code, 0);
    assert_eq!(all.as_array().unwrap().len(), 1);
    let bad = cli.run(&["analytics", "refit", "--store", "nope"]);
    assert!(!bad.status.success());
}

/// Past orders are history: they earn loyalty points only when the import says so; then
/// `regulars check` finds the ledger clean and `regulars loyalty nightly` runs.
fn imports_credit_loyalty_points_only_when_asked(backend: Backend) {
    let cli = Cli::new(backend);
    let csv = cli.write(
        "history.csv",
        "customer,when,amount\nc1,2024-01-05,1200.00\nc2,2024-02-01,300.50\n",
    );
    let program = regulars_domain::loyalty::Program {
        enabled: true,
        pending_days: 0,
        expiry_days: None,
        ..Default::default()
    };
    let mut earned = Vec::new();
    for credit in [false, true] {
        let store = cli.store("INR");
        let id = regulars_domain::StoreId::parse(&store).unwrap();
        cli._runtime
            .block_on(cli.database.db.set_loyalty_program(id, &program, "test"))
            .unwrap();
        let mut cmd = vec!["import", "transactions", csv.to_str().unwrap(), "--store", &store];
        cmd.extend([
            "--customer-col",
            "customer",
            "--date-col",
            "when",
            "--amount-col",
            "amount",
        ]);
        if credit {
            cmd.push("--credit-points");
        }
        let (code, summary) = cli.json(&cmd);
        assert_eq!((code, summary["created"].as_i64()), (0, Some(2)), "{summary}");
        let liability = cli
            ._runtime
            .block_on(
                cli.database
                    .db
                    .loyalty_liability(id, regulars_domain::Timestamp::now()),
            )
            .unwrap();
        earned.push(liability.available_points);
    }
    assert_eq!(earned, [0, 1_200 + 300]);
    let (code, checks) = cli.json(&["check"]);
    assert_eq!(code, 0, "{checks}");
    assert!(checks.as_array().unwrap().iter().all(|c| c["clean"] == true));
    let (code, nightly) = cli.json(&["loyalty", "nightly"]);
    assert_eq!(code, 0);
    assert_eq!(nightly.as_array().unwrap().len(), 2);
}

/// `sqlite::NAME` and `postgres::NAME` for each `fn NAME(backend: Backend)`.
macro_rules! on_both_backends {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $( #[test] fn $test() { super::$test(super::Backend::Sqlite) } )*
        }
        mod postgres {
            $( #[test] fn $test() { super::$test(super::Backend::Postgres) } )*
        }
    };
}

on_both_backends!(
    a_store_gets_a_hashed_key_and_rotating_secrets,
    the_real_truncated_shopify_export_is_reported_and_reimport_changes_nothing,
    transaction_logs_with_named_or_numbered_columns_import_idempotently,
    a_shopify_orders_export_groups_rows_into_orders,
    people_are_created_with_a_role_and_a_password_given_or_generated,
    analytics_refit_reports_counts_and_why_a_small_store_has_no_model,
    imports_credit_loyalty_points_only_when_asked,
);
