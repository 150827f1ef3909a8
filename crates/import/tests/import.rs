//! The importer as a library: options refused before a row is read, progress heard as it goes,
//! rejections counted beyond the ones kept, from any reader.

use regulars_import::{run, Kind, OptionField, Plan, Progress, Summary, TransactionSettings};
use regulars_testkit::{on_both_backends, Backend, TestDb};

fn settings(customer: &str, date: &str, amount: &str) -> TransactionSettings {
    TransactionSettings {
        customer_col: Some(customer.into()),
        date_col: Some(date.into()),
        amount_col: Some(amount.into()),
        ..Default::default()
    }
}

/// Every report it hears: rows read and rows counted.
#[derive(Default)]
struct Heard(Vec<(u64, u64)>);

impl Progress for Heard {
    async fn report(&mut self, so_far: &Summary) {
        let counted = so_far.created + so_far.updated + so_far.unchanged + so_far.rejected;
        self.0.push((so_far.rows_read, counted));
    }
}

async fn options_are_refused_before_a_row_is_read(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = db.store("Chai", "INR", "Asia/Kolkata", "hi").await;

    let missing = Plan::new(
        Kind::Transactions,
        &TransactionSettings {
            customer_col: Some("  ".into()),
            ..settings("", "when", "amount")
        },
        &store,
    )
    .unwrap_err();
    assert_eq!(missing.field, OptionField::CustomerCol);
    assert_eq!(missing.code, "missing_column");
    assert_eq!(
        missing.to_string(),
        "transactions need --customer-col (a header name or a 0-based column number)"
    );

    let delimiter = TransactionSettings {
        delimiter: Some("::".into()),
        ..settings("c", "d", "a")
    };
    let e = Plan::new(Kind::Transactions, &delimiter, &store).unwrap_err();
    assert_eq!((e.field, e.code), (OptionField::Delimiter, "invalid_delimiter"));

    let currency = TransactionSettings {
        currency: Some("RUPEES".into()),
        ..settings("c", "d", "a")
    };
    let e = Plan::new(Kind::Transactions, &currency, &store).unwrap_err();
    assert_eq!(
        (e.field, e.value.as_deref()),
        (OptionField::Currency, Some("RUPEES"))
    );
    assert!(e.to_string().starts_with("--currency: "), "{e}");

    // A column the header does not have: named, with the columns there are.
    let file = "customer;when;amount\nc1;2024-01-05;10.00\n";
    let plan = Plan::new(
        Kind::Transactions,
        &TransactionSettings {
            delimiter: Some(";".into()),
            ..settings("customer", "date", "amount")
        },
        &store,
    )
    .unwrap();
    let e = plan.check(file.as_bytes()).unwrap_err();
    assert_eq!((e.field, e.code), (OptionField::DateCol, "unknown_column"));
    assert_eq!(e.value.as_deref(), Some("date"));
    assert_eq!(plan.header_names(file.as_bytes()), ["customer", "when", "amount"]);
    // Run anyway, it refuses the same way and writes nothing.
    let refused = run(&db.db, &store, &plan, "f.csv", file.as_bytes(), &mut ())
        .await
        .unwrap_err();
    assert!(matches!(refused, regulars_import::ImportError::Option(_)));
    // Said once, as `regulars import` prints the chain of causes.
    assert_eq!(
        refused.to_string(),
        "date-col: no column \"date\"; the header has: customer, when, amount"
    );
    assert!(std::error::Error::source(&refused).is_none());

    // A name where the file has no header.
    let plan = Plan::new(
        Kind::Transactions,
        &TransactionSettings {
            no_header: true,
            ..settings("customer", "1", "2")
        },
        &store,
    )
    .unwrap();
    let e = plan.check("c1,2024-01-05,10.00\n".as_bytes()).unwrap_err();
    assert_eq!(
        (e.field, e.code),
        (OptionField::CustomerCol, "named_without_header")
    );

    // The other kinds take no options.
    let plan = Plan::new(Kind::ShopifyOrders, &TransactionSettings::default(), &store).unwrap();
    assert_eq!(plan.kind(), Kind::ShopifyOrders);
    assert!(plan.check("anything".as_bytes()).is_ok());
}

async fn progress_is_heard_and_rejections_beyond_those_kept_are_counted(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = db.store("Chai", "INR", "Asia/Kolkata", "hi").await;
    // 5,000 different purchases, every tenth with an amount that is not one.
    let mut file = String::from("customer\twhen\tamount\n");
    for i in 0..5_000 {
        let amount = if i % 10 == 9 {
            "ten".to_string()
        } else {
            format!("{}.{:02}", i / 100 + 1, i % 100)
        };
        file.push_str(&format!("c{}\t2024-03-{:02}\t{amount}\n", i % 300, i % 28 + 1));
    }
    let plan = Plan::new(
        Kind::Transactions,
        &TransactionSettings {
            delimiter: Some("tab".into()),
            ..settings("customer", "when", "amount")
        },
        &store,
    )
    .unwrap()
    .keep_rejections(10);
    let mut heard = Heard::default();
    let summary = run(&db.db, &store, &plan, "log.tsv", file.as_bytes(), &mut heard)
        .await
        .unwrap();
    assert_eq!((summary.created, summary.rejected), (4_500, 500));
    assert_eq!(summary.rows_read, 5_000);
    assert_eq!(summary.rejections.len(), 10, "only the first ten are kept");
    assert_eq!(summary.rejections[0].line, 11);
    assert_eq!(summary.rejections[0].field.as_deref(), Some("amount"));
    assert_eq!(summary.kind, "transactions");

    // Reports come during the import, in order, and the last one is the whole file.
    assert!(heard.0.len() >= 3, "{:?}", heard.0);
    assert!(heard.0.windows(2).all(|w| w[0].0 <= w[1].0 && w[0].1 <= w[1].1));
    assert!(
        heard.0.iter().any(|(read, _)| *read < 5_000),
        "heard before the end"
    );
    assert_eq!(heard.0.last(), Some(&(5_000, 5_000)));

    // Again: everything is unchanged; the summary serialises as `regulars import` prints it.
    let again = run(&db.db, &store, &plan, "log.tsv", file.as_bytes(), &mut ())
        .await
        .unwrap();
    assert_eq!((again.created, again.unchanged), (0, 4_500));
    let json = serde_json::to_value(&again).unwrap();
    assert_eq!(json["file"], "log.tsv");
    assert!(json.get("rows_read").is_none());
    assert_eq!(json["rejections"][0]["line"], 11);
}

on_both_backends!(
    options_are_refused_before_a_row_is_read,
    progress_is_heard_and_rejections_beyond_those_kept_are_counted,
);
