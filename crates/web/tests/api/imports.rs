//! Imports from the dashboard at the HTTP level: a multipart upload, the import in the
//! background, its page with the rejected rows; who may import, CSRF, and other stores' imports.

use std::time::{Duration, Instant};

use regulars_domain::Role;
use regulars_store::{ImportId, ImportStatus};
use regulars_testkit::{on_both_backends, Backend};
use reqwest::multipart::{Form, Part};
use serde_json::Value;

use crate::helpers::{fixture, TestApp};
use crate::staff::{person, Browser};

/// Four purchases and, on line 5, a date that is not one.
const TRANSACTIONS: &str = "customer,when,amount\n\
    c1,2024-01-05,10.00\n\
    c1,2024-02-05,12.50\n\
    c2,2024-01-09,7.25\n\
    c3,not-a-date,1.00\n\
    c4,2024-03-01,3.00\n";

const TRANSACTION_COLUMNS: [(&str, &str); 3] = [
    ("customer_col", "customer"),
    ("date_col", "when"),
    ("amount_col", "amount"),
];

/// The form as a browser sends it: the token first, the file last.
fn form(csrf: &str, kind: &str, options: &[(&str, &str)], file_name: &str, content: &[u8]) -> Form {
    let mut form = Form::new()
        .text("csrf", csrf.to_string())
        .text("kind", kind.to_string());
    for (name, value) in options {
        form = form.text(name.to_string(), value.to_string());
    }
    form.part(
        "file",
        Part::bytes(content.to_vec())
            .file_name(file_name.to_string())
            .mime_str("text/csv")
            .unwrap(),
    )
}

async fn upload_to(browser: &Browser, app: &TestApp, store: &str, form: Form) -> reqwest::Response {
    browser
        .client
        .post(app.url(&format!("/app/{store}/import")))
        .header("cookie", browser.cookies.join("; "))
        .multipart(form)
        .send()
        .await
        .unwrap()
}

async fn upload(browser: &Browser, app: &TestApp, form: Form) -> reqwest::Response {
    upload_to(browser, app, &app.store.id.to_string(), form).await
}

/// The import page a successful upload is sent on to.
fn import_page(response: &reqwest::Response, app: &TestApp) -> String {
    assert_eq!(
        response.status(),
        303,
        "the import starts and the browser is sent on"
    );
    let location = response.headers()["location"].to_str().unwrap().to_string();
    let prefix = format!("/app/{}/import/", app.store.id);
    assert!(location.starts_with(&prefix), "{location}");
    location
}

/// Polls the progress fragment as the page does until the import has ended; returns the
/// whole page then.
async fn wait_until_done(browser: &Browser, app: &TestApp, page: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let fragment = browser.get(app, &format!("{page}/progress")).await;
        assert_eq!(fragment.status(), 200);
        let html = fragment.text().await.unwrap();
        assert!(!html.contains("<html"), "a fragment, not a page");
        if !html.contains("data-status=\"running\"") {
            assert!(!html.contains("hx-trigger"), "polling stops at the end: {html}");
            let full = browser.get(app, page).await;
            assert_eq!(full.status(), 200);
            return full.text().await.unwrap();
        }
        assert!(html.contains("hx-trigger=\"every 1s\""), "{html}");
        assert!(Instant::now() < deadline, "the import never ended: {html}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn import_id(page: &str) -> ImportId {
    ImportId::parse(page.rsplit('/').next().unwrap()).unwrap()
}

async fn summary(app: &TestApp, page: &str) -> (ImportStatus, Value) {
    let record = app.db.import(app.store.id, import_id(page)).await.unwrap();
    let summary = serde_json::from_str(record.summary.as_deref().unwrap()).unwrap();
    (record.status, summary)
}

async fn a_transaction_log_with_a_bad_row_imports_the_rest_and_reports_the_row(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    person(&app, "marketing@chai.in", Role::Marketer).await;
    let mut browser = Browser::new();
    let csrf = browser.sign_in(&app, "marketing@chai.in").await;

    let empty = browser.get(&app, &format!("/app/{}/import", app.store.id)).await;
    assert_eq!(empty.status(), 200);
    let html = empty.text().await.unwrap();
    assert!(html.contains("enctype=\"multipart/form-data\""), "{html}");
    assert!(html.contains("No imports yet."));

    let r = upload(
        &browser,
        &app,
        form(
            &csrf,
            "transactions",
            &TRANSACTION_COLUMNS,
            "sales.csv",
            TRANSACTIONS.as_bytes(),
        ),
    )
    .await;
    let page = import_page(&r, &app);
    let html = wait_until_done(&browser, &app, &page).await;

    assert!(html.contains("data-status=\"finished\""), "{html}");
    assert!(html.contains("sales.csv"));
    // The rejected row: its line, the column at fault and why.
    let at = html.find("<tr data-line=\"5\">").expect("line 5 is reported");
    let row = &html[at..at + html[at..].find("</tr>").unwrap()];
    assert!(row.contains(">when<"), "{row}");
    assert!(row.contains("not-a-date"), "{row}");
    assert_eq!(html.matches("<tr data-line=").count(), 1, "one rejected row");
    assert!(html.contains("data-figure=\"created\""));

    // The good rows are stored, and nothing of the bad one.
    assert_eq!(app.count("orders").await, 4);
    assert_eq!(app.count("customers").await, 3);
    let (status, summary) = summary(&app, &page).await;
    assert_eq!(status, ImportStatus::Finished);
    assert_eq!(
        (summary["created"].as_u64(), summary["rejected"].as_u64()),
        (Some(4), Some(1))
    );
    assert_eq!(summary["rejections"][0]["line"], 5);
    assert_eq!(summary["rejections"][0]["field"], "when");

    // The list shows it, finished, with its counts.
    let list = browser
        .get(&app, &format!("/app/{}/import", app.store.id))
        .await
        .text()
        .await
        .unwrap();
    assert!(list.contains(&page), "{list}");
    assert!(list.contains("data-status=\"finished\""));
    assert!(list.contains("Finished"));
}

async fn a_file_larger_than_the_usual_body_limit_streams_through(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    person(&app, "owner@chai.in", Role::Owner).await;
    let mut browser = Browser::new();
    let csrf = browser.sign_in(&app, "owner@chai.in").await;
    // 3,000 purchases with a long note each: about 3 MB, over axum's usual 2 MB and over one
    // batch of the importer.
    let note = "x".repeat(1_000);
    let mut log = String::from("order;customer;when;amount;note\n");
    for i in 0..3_000 {
        log.push_str(&format!(
            "o-{i};c{};2024-01-{:02};{}.50;{note}\n",
            i % 500,
            i % 28 + 1,
            i % 90 + 10
        ));
    }
    assert!(log.len() > 3_000_000);
    let r = upload(
        &browser,
        &app,
        form(
            &csrf,
            "transactions",
            &[
                ("customer_col", "customer"),
                ("date_col", "when"),
                ("amount_col", "amount"),
                ("order_col", "order"),
                ("delimiter", ";"),
            ],
            "big.csv",
            log.as_bytes(),
        ),
    )
    .await;
    let page = import_page(&r, &app);
    let html = wait_until_done(&browser, &app, &page).await;
    assert!(html.contains("Every row was imported."), "{html}");
    let record = app.db.import(app.store.id, import_id(&page)).await.unwrap();
    assert_eq!(record.rows_read, 3_000);
    let (_, summary) = summary(&app, &page).await;
    assert_eq!(counts(&summary), vec![3_000, 0, 0, 0]);
    assert_eq!(app.count("orders").await, 3_000);
    assert_eq!(app.count("customers").await, 500);
}

/// The orders export's header as Shopify writes it (79 columns, from real exports), and rows
/// of two orders, the first over two rows.
fn shopify_orders_export() -> String {
    let headers = String::from_utf8(fixture("shopify_csv/HEADERS.txt")).unwrap();
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
    [
        header.to_string(),
        row(&[
            ("Name", "#1001"),
            ("Email", "asha@example.in"),
            ("Financial Status", "paid"),
            ("Currency", "INR"),
            ("Subtotal", "1300.00"),
            ("Shipping", "50.00"),
            ("Taxes", "0.00"),
            ("Total", "1350.00"),
            ("Created at", "2025-03-20 05:20:57 +0530"),
            ("Lineitem quantity", "1"),
            ("Lineitem name", "Assam tea"),
            ("Lineitem price", "500.00"),
            ("Lineitem sku", "TEA"),
            ("Id", "5550001"),
        ]),
        row(&[
            ("Name", "#1001"),
            ("Lineitem quantity", "2"),
            ("Lineitem name", "Cups"),
            ("Lineitem price", "400.00"),
            ("Lineitem sku", "CUP"),
        ]),
        row(&[
            ("Name", "#1002"),
            ("Email", "ravi@example.in"),
            ("Financial Status", "paid"),
            ("Currency", "INR"),
            ("Subtotal", "500.00"),
            ("Total", "500.00"),
            ("Created at", "2025-04-01 10:00:00 +0530"),
            ("Lineitem quantity", "1"),
            ("Lineitem name", "Assam tea"),
            ("Lineitem price", "500.00"),
            ("Lineitem sku", "TEA"),
            ("Id", "5550002"),
        ]),
    ]
    .join("\n")
}

/// What the command line prints for a file: the same importer, run on another store.
async fn as_the_command_gives(app: &TestApp, kind: regulars_import::Kind, content: &[u8]) -> Value {
    let (other, _) = app.other_store().await;
    let plan =
        regulars_import::Plan::new(kind, &regulars_import::TransactionSettings::default(), &other).unwrap();
    let summary = regulars_import::run(&app.db, &other, &plan, "file.csv", content, &mut ())
        .await
        .unwrap();
    serde_json::to_value(&summary).unwrap()
}

fn counts(summary: &Value) -> Vec<u64> {
    ["created", "updated", "unchanged", "rejected"]
        .iter()
        .map(|k| summary[k].as_u64().unwrap())
        .collect()
}

async fn real_shopify_exports_import_through_the_page_as_through_the_command(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    person(&app, "owner@chai.in", Role::Owner).await;
    let mut browser = Browser::new();
    let csrf = browser.sign_in(&app, "owner@chai.in").await;

    // The real customer export, cut off mid-record as in its source.
    let customers = fixture("shopify_csv/customers_export.real-store.REDACTED.csv");
    let r = upload(
        &browser,
        &app,
        form(
            &csrf,
            "shopify_customers",
            &[],
            "customers_export.csv",
            &customers,
        ),
    )
    .await;
    let page = import_page(&r, &app);
    let html = wait_until_done(&browser, &app, &page).await;
    let (status, through_page) = summary(&app, &page).await;
    assert_eq!(status, ImportStatus::Finished);
    // What `regulars import shopify-customers` prints for this file (crates/regulars/tests/cli.rs).
    assert_eq!(counts(&through_page), vec![3, 0, 0, 1]);
    assert!(html.contains("<tr data-line=\"5\">"), "{html}");
    assert!(html.contains("truncated"), "{html}");
    let command = as_the_command_gives(&app, regulars_import::Kind::ShopifyCustomers, &customers).await;
    assert_eq!(counts(&through_page), counts(&command));
    assert_eq!(through_page["rejections"], command["rejections"]);
    assert_eq!(app.count("customers").await, 6, "three in each store");

    // An orders export: one order over two rows, then another.
    let orders = shopify_orders_export();
    let r = upload(
        &browser,
        &app,
        form(
            &csrf,
            "shopify_orders",
            &[],
            "orders_export.csv",
            orders.as_bytes(),
        ),
    )
    .await;
    let page = import_page(&r, &app);
    let html = wait_until_done(&browser, &app, &page).await;
    assert!(html.contains("Every row was imported."), "{html}");
    let (_, through_page) = summary(&app, &page).await;
    assert_eq!(counts(&through_page), vec![2, 0, 0, 0]);
    let command = as_the_command_gives(&app, regulars_import::Kind::ShopifyOrders, orders.as_bytes()).await;
    assert_eq!(counts(&through_page), counts(&command));

    // Again: nothing changes.
    let r = upload(
        &browser,
        &app,
        form(
            &csrf,
            "shopify_orders",
            &[],
            "orders_export.csv",
            orders.as_bytes(),
        ),
    )
    .await;
    let page = import_page(&r, &app);
    wait_until_done(&browser, &app, &page).await;
    let (_, again) = summary(&app, &page).await;
    assert_eq!(counts(&again), vec![0, 0, 2, 0]);
}

async fn viewers_and_support_agents_cannot_import(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for (email, role) in [
        ("viewer@chai.in", Role::Viewer),
        ("support@chai.in", Role::Support),
    ] {
        person(&app, email, role).await;
        let mut browser = Browser::new();
        let csrf = browser.sign_in(&app, email).await;
        let page = browser.get(&app, &format!("/app/{}/import", app.store.id)).await;
        assert_eq!(page.status(), 403, "{role:?}");
        let nav = browser.get(&app, &format!("/app/{}", app.store.id)).await;
        let nav = nav.text().await.unwrap();
        assert!(
            !nav.contains(&format!("/app/{}/import", app.store.id)),
            "no link for {role:?}"
        );
        let r = upload(
            &browser,
            &app,
            form(
                &csrf,
                "transactions",
                &TRANSACTION_COLUMNS,
                "sales.csv",
                TRANSACTIONS.as_bytes(),
            ),
        )
        .await;
        assert_eq!(r.status(), 403, "{role:?}");
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(app.count("imports").await, 0);
    assert_eq!(app.count("orders").await, 0);
}

async fn another_stores_import_is_not_found(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (other, _) = app.other_store().await;
    person(&app, "owner@chai.in", Role::Owner).await;
    let mut browser = Browser::new();
    let csrf = browser.sign_in(&app, "owner@chai.in").await;
    let theirs = app
        .db
        .start_import(other.id, None, "transactions", "tsiran-secret.csv")
        .await
        .unwrap();

    for path in [
        format!("/app/{}/import/{theirs}", app.store.id),
        format!("/app/{}/import/{theirs}/progress", app.store.id),
        format!("/app/{}/import/{theirs}", other.id),
        format!("/app/{}/import", other.id),
        format!("/app/{}/import/not-an-id", app.store.id),
    ] {
        let r = browser.get(&app, &path).await;
        assert_eq!(r.status(), 404, "{path}");
        let html = r.text().await.unwrap();
        assert!(!html.contains("tsiran-secret"), "{path}: {html}");
    }
    // Nor can anything be imported into it.
    let r = upload_to(
        &browser,
        &app,
        &other.id.to_string(),
        form(&csrf, "shopify_customers", &[], "c.csv", b"Email\na@b.in\n"),
    )
    .await;
    assert_eq!(r.status(), 404);
    assert_eq!(app.count("imports").await, 1);
    assert_eq!(app.count("customers").await, 0);
}

async fn an_upload_without_its_csrf_token_is_refused_and_writes_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    person(&app, "owner@chai.in", Role::Owner).await;
    let mut browser = Browser::new();
    let csrf = browser.sign_in(&app, "owner@chai.in").await;
    let file = Part::bytes(TRANSACTIONS.as_bytes().to_vec()).file_name("sales.csv");

    // No token at all.
    let mut no_token = Form::new().text("kind", "transactions");
    for (name, value) in TRANSACTION_COLUMNS {
        no_token = no_token.text(name, value);
    }
    let r = upload(&browser, &app, no_token.part("file", file)).await;
    assert_eq!(r.status(), 403);
    // A forged one.
    let forged = form(
        &"0".repeat(64),
        "transactions",
        &TRANSACTION_COLUMNS,
        "sales.csv",
        TRANSACTIONS.as_bytes(),
    );
    assert_eq!(upload(&browser, &app, forged).await.status(), 403);
    // The right one, from a page of another site.
    let cross = browser
        .client
        .post(app.url(&format!("/app/{}/import", app.store.id)))
        .header("cookie", browser.cookies.join("; "))
        .header("sec-fetch-site", "cross-site")
        .multipart(form(
            &csrf,
            "transactions",
            &TRANSACTION_COLUMNS,
            "sales.csv",
            TRANSACTIONS.as_bytes(),
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(cross.status(), 403);
    // An ordinary form post instead of an upload.
    let plain = browser
        .post(
            &app,
            &format!("/app/{}/import", app.store.id),
            &[("csrf", csrf.as_str()), ("kind", "transactions")],
        )
        .await;
    assert_eq!(plain.status(), 403);

    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(app.count("imports").await, 0);
    assert_eq!(app.count("orders").await, 0);
    assert_eq!(app.count("customers").await, 0);
}

async fn a_bad_option_is_named_on_the_form_and_nothing_is_written(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    person(&app, "owner@chai.in", Role::Owner).await;
    let mut browser = Browser::new();
    let csrf = browser.sign_in(&app, "owner@chai.in").await;

    // No customer column.
    let r = upload(
        &browser,
        &app,
        form(
            &csrf,
            "transactions",
            &[("date_col", "when"), ("amount_col", "amount")],
            "sales.csv",
            TRANSACTIONS.as_bytes(),
        ),
    )
    .await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    let at = html
        .find("data-field=\"customer_col\"")
        .expect("the field is named");
    let message = &html[at..at + html[at..].find("</p>").unwrap()];
    assert!(message.contains("Customer column"), "{message}");
    // What was entered is kept.
    assert!(html.contains("name=\"date_col\" value=\"when\""), "{html}");

    // A column that is not in the file, in Telugu: the file's columns are listed.
    let mut telugu = Browser::new();
    telugu.cookies = browser.cookies.clone();
    telugu.cookies.push("regulars_lang=te".into());
    let r = upload(
        &telugu,
        &app,
        form(
            &csrf,
            "transactions",
            &[
                ("customer_col", "client"),
                ("date_col", "when"),
                ("amount_col", "amount"),
            ],
            "sales.csv",
            TRANSACTIONS.as_bytes(),
        ),
    )
    .await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    let at = html.find("data-field=\"customer_col\"").unwrap();
    let message = &html[at..at + html[at..].find("</p>").unwrap()];
    assert!(message.contains("కస్టమర్ నిలువు వరుస"), "{message}");
    assert!(
        message.contains("client") && message.contains("customer, when, amount"),
        "{message}"
    );

    // A currency that is not one, and no file.
    let r = upload(
        &browser,
        &app,
        form(
            &csrf,
            "transactions",
            &[
                ("customer_col", "customer"),
                ("date_col", "when"),
                ("amount_col", "amount"),
                ("currency", "RUPEES"),
            ],
            "",
            b"",
        ),
    )
    .await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(html.contains("data-field=\"file\""), "{html}");

    let r = upload(
        &browser,
        &app,
        form(
            &csrf,
            "transactions",
            &[
                ("customer_col", "customer"),
                ("date_col", "when"),
                ("amount_col", "amount"),
                ("currency", "RUPEES"),
            ],
            "sales.csv",
            TRANSACTIONS.as_bytes(),
        ),
    )
    .await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(html.contains("data-field=\"currency\""), "{html}");
    assert!(html.contains("RUPEES"));

    assert_eq!(app.count("imports").await, 0);
    assert_eq!(app.count("orders").await, 0);
}

async fn an_import_a_stopped_server_left_running_shows_as_interrupted(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    person(&app, "owner@chai.in", Role::Owner).await;
    let mut browser = Browser::new();
    browser.sign_in(&app, "owner@chai.in").await;
    let id = app
        .db
        .start_import(app.store.id, None, "shopify_orders", "orders_export.csv")
        .await
        .unwrap();
    let page = format!("/app/{}/import/{id}", app.store.id);
    let running = browser.get(&app, &page).await.text().await.unwrap();
    assert!(running.contains("hx-trigger=\"every 1s\""), "{running}");

    assert_eq!(app.db.interrupt_running_imports().await.unwrap(), 1);
    let record = app.db.import(app.store.id, id).await.unwrap();
    assert_eq!(record.status, ImportStatus::Interrupted);
    assert!(record.finished_at.is_some());
    let html = browser.get(&app, &page).await.text().await.unwrap();
    assert!(html.contains("data-status=\"interrupted\""), "{html}");
    assert!(!html.contains("hx-trigger"));
    assert!(html.contains("import the file again"));
    // Progress and results are no longer recorded over it.
    assert!(!app
        .db
        .record_import_progress(app.store.id, id, 5, &serde_json::json!({}))
        .await
        .unwrap());
}

on_both_backends!(
    a_transaction_log_with_a_bad_row_imports_the_rest_and_reports_the_row,
    a_file_larger_than_the_usual_body_limit_streams_through,
    real_shopify_exports_import_through_the_page_as_through_the_command,
    viewers_and_support_agents_cannot_import,
    another_stores_import_is_not_found,
    an_upload_without_its_csrf_token_is_refused_and_writes_nothing,
    a_bad_option_is_named_on_the_form_and_nothing_is_written,
    an_import_a_stopped_server_left_running_shows_as_interrupted,
);
