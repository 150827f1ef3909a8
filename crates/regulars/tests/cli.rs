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

/// `regulars referrals run` settles what is due as of `--at` and nothing twice: a friend's
/// order carrying the advocate's code, placed 30 days ago, is still waiting for its 14-day
/// window as of the day after, is rewarded once as of now, and a second run finds nothing.
fn referrals_run_rewards_a_due_referral_once(backend: Backend) {
    use regulars_domain::referral::ReferralProgram;
    use regulars_domain::{
        Currency, CustomerInput, Email, FinancialStatus, LineItemInput, OrderInput, Source, StoreId,
        Timestamp,
    };
    let cli = Cli::new(backend);
    let id = cli.store("INR");
    let db = &cli.database.db;
    let rt = &cli._runtime;
    let store = rt.block_on(db.store(StoreId::parse(&id).unwrap())).unwrap();
    let loyalty = regulars_domain::loyalty::Program {
        enabled: true,
        ..Default::default()
    };
    rt.block_on(db.set_loyalty_program(store.id, &loyalty, "test"))
        .unwrap();
    let program = ReferralProgram {
        enabled: true,
        ..ReferralProgram::default()
    };
    rt.block_on(db.set_referral_program(&store, &program, "test"))
        .unwrap();
    let customer = |external: &str, email: &str, first: &str| CustomerInput {
        external_id: Some(external.into()),
        email: Some(Email::parse(email).unwrap()),
        first_name: Some(first.into()),
        ..CustomerInput::default()
    };
    let (advocate, _) = rt
        .block_on(db.upsert_customer(
            store.id,
            Source::Api,
            &customer("c-anna", "anna@example.in", "Anna"),
            "test",
        ))
        .unwrap();
    let code = rt.block_on(db.referral_code(&store, advocate)).unwrap().code;
    let day = 86_400_000;
    let now = Timestamp::now();
    let placed = Timestamp(now.0 - 30 * day);
    let order = OrderInput {
        source: Source::Api,
        external_id: "ref-1001".into(),
        order_number: Some("#1001".into()),
        customer: Some(customer("c-ravi", "ravi.k@example.in", "Ravi")),
        placed_at: placed,
        source_updated_at: None,
        currency: Currency::INR,
        subtotal: 100_000,
        discount_total: 10_000,
        shipping_total: 0,
        tax_total: 0,
        total: 90_000,
        financial_status: FinancialStatus::Paid,
        cancelled_at: None,
        line_items: vec![LineItemInput {
            external_id: None,
            product_external_id: None,
            variant_external_id: None,
            sku: Some("TEA-ASM-1K".into()),
            title: "Assam tea 1 kg".into(),
            quantity: 1,
            unit_price: 100_000,
            discount: 10_000,
        }],
        discount_codes: vec![code.to_lowercase()],
        refunds: Vec::new(),
        marketplace: None,
        buyer_accepts_marketing: None,
        note: None,
        signals: Default::default(),
    };
    order.validate().unwrap();
    rt.block_on(db.upsert_orders(&store, std::slice::from_ref(&order), "test"))
        .unwrap();
    let listed = |status| {
        let filter = regulars_store::ReferralFilter {
            status: Some(status),
            ..Default::default()
        };
        rt.block_on(db.referrals(store.id, &filter)).unwrap()
    };
    assert_eq!(
        listed(regulars_store::ReferralStatus::Pending).len(),
        1,
        "the order made a referral"
    );

    let report = |args: &[&str]| {
        let (code, out) = cli.json(args);
        assert_eq!(code, 0, "{args:?}: {out}");
        let reports = out.as_array().unwrap().clone();
        assert_eq!(reports.len(), 1, "{out}");
        assert_eq!(reports[0]["store_id"], id.as_str());
        reports[0]["report"].clone()
    };
    let early = Timestamp(placed.0 + day).to_rfc3339();
    let r = report(&["referrals", "run", "--store", &id, "--at", &early]);
    assert_eq!(
        (r["qualified"].as_u64(), r["rewarded"].as_u64()),
        (Some(0), Some(0)),
        "{r}"
    );

    let at = now.to_rfc3339();
    let r = report(&["referrals", "run", "--at", &at]);
    assert_eq!(r["rewarded"], 1, "{r}");
    assert_eq!(r["qualified"], 1, "{r}");
    assert_eq!(
        (r["cancelled"].as_u64(), r["unrewarded"].as_u64()),
        (Some(0), Some(0)),
        "{r}"
    );
    let rewarded = listed(regulars_store::ReferralStatus::Rewarded);
    assert_eq!(rewarded.len(), 1);
    assert_eq!(rewarded[0].advocate_id, advocate);
    assert_eq!(rewarded[0].advocate_reward.as_ref().unwrap()["points"], 500);

    let r = report(&["referrals", "run", "--at", &at]);
    assert_eq!(r["rewarded"], 0, "{r}");
    assert_eq!(r["qualified"], 0, "{r}");

    let help = cli.run(&["referrals", "run", "--help"]);
    assert!(help.status.success());
    let bad = cli.run(&["referrals", "run", "--at", "yesterday"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--at"));
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
    referrals_run_rewards_a_due_referral_once,
);
