//! The customer directory, the orders list and what staff add to a customer, on SQLite and on
//! PostgreSQL: search by every identity, filters, sorts, and pages that never skip or repeat.

use regulars_domain::{
    ConsentChange, ConsentChannel, Currency, CustomerId, CustomerInput, Email, Phone, Role, Source, Timestamp,
};
use regulars_store::{
    CustomerListing, CustomerQuery, CustomerSort, Db, OrderQuery, StoreError, StoreRecord, TimelineQuery,
};
use regulars_testkit::fixtures::paid_order;
use regulars_testkit::{on_both_backends, Backend, TestDb};

fn at(rfc3339: &str) -> Timestamp {
    Timestamp::parse_rfc3339(rfc3339).unwrap()
}

struct Person<'a> {
    ext: &'a str,
    first: &'a str,
    last: &'a str,
    phone: Option<&'a str>,
    source: Source,
    tags: &'a [&'a str],
    email_consent: bool,
}

async fn add(db: &Db, store: &StoreRecord, p: &Person<'_>) -> CustomerId {
    let input = CustomerInput {
        external_id: Some(p.ext.into()),
        email: Some(Email::parse(&format!("{}@example.in", p.ext)).unwrap()),
        phone: p.phone.map(|ph| Phone::parse(ph).unwrap()),
        first_name: Some(p.first.into()),
        last_name: Some(p.last.into()),
        tags: Some(p.tags.iter().map(|t| t.to_string()).collect()),
        consents: if p.email_consent {
            vec![ConsentChange {
                channel: ConsentChannel::Email,
                granted: true,
                at: None,
                collected_via: "checkout".into(),
                notice_version: None,
                notice_text: None,
                language: None,
                ip: None,
                user_agent: None,
            }]
        } else {
            vec![]
        },
        ..Default::default()
    };
    db.upsert_customer(store.id, p.source, &input, "test")
        .await
        .unwrap()
        .0
}

/// Orders for a customer known to the API as `ext`: `totals` in minor units, a day apart.
async fn buys(db: &Db, store: &StoreRecord, ext: &str, first_day: u32, totals: &[i64]) {
    let orders: Vec<_> = totals
        .iter()
        .enumerate()
        .map(|(i, total)| {
            let mut o = paid_order(
                &format!("{ext}-o{i}"),
                ext,
                Currency::INR,
                *total,
                at(&format!("2025-03-{:02}T10:00:00Z", first_day + i as u32)),
            );
            o.order_number = Some(format!("#{ext}-{i}"));
            o
        })
        .collect();
    db.upsert_orders(store, &orders, "test").await.unwrap();
}

async fn page(db: &Db, store: &StoreRecord, q: CustomerQuery) -> Vec<String> {
    let page = db.customer_page(store.id, store.currency, &q).await.unwrap();
    page.customers.iter().map(name).collect()
}

fn name(c: &CustomerListing) -> String {
    format!(
        "{} {}",
        c.first_name.as_deref().unwrap_or(""),
        c.last_name.as_deref().unwrap_or("")
    )
}

fn search(text: &str) -> CustomerQuery {
    CustomerQuery {
        search: Some(text.into()),
        limit: 50,
        ..Default::default()
    }
}

fn sorted(mut names: Vec<String>) -> Vec<String> {
    names.sort();
    names
}

async fn a_store_with_people(t: &TestDb) -> (StoreRecord, StoreRecord) {
    let store = t.store("Annapurna", "INR", "Asia/Kolkata", "en-IN").await;
    let other = t.store("Elsewhere", "INR", "Asia/Kolkata", "en-IN").await;
    let db = &t.db;
    let people = [
        Person {
            ext: "api-ravi",
            first: "Ravi",
            last: "Kumar",
            phone: Some("+91 98765 43210"),
            source: Source::Api,
            tags: &["vip"],
            email_consent: true,
        },
        Person {
            ext: "api-ravina",
            first: "Ravina",
            last: "Shah",
            phone: None,
            source: Source::Api,
            tags: &[],
            email_consent: false,
        },
        Person {
            ext: "api-aram",
            first: "Արամ",
            last: "Պետրոսյան",
            phone: Some("+374 91 234567"),
            source: Source::Api,
            tags: &["wholesale"],
            email_consent: true,
        },
        Person {
            ext: "api-kumar",
            first: "Kumar",
            last: "Gupta",
            phone: None,
            source: Source::Api,
            tags: &[],
            email_consent: false,
        },
    ];
    for p in &people {
        add(db, &store, p).await;
    }
    // The same Ravi (same email), known to Shopify as 1001.
    let shopify = CustomerInput {
        external_id: Some("1001".into()),
        email: Some(Email::parse("api-ravi@example.in").unwrap()),
        ..Default::default()
    };
    db.upsert_customer(store.id, Source::Shopify, &shopify, "test")
        .await
        .unwrap();
    add(
        db,
        &store,
        &Person {
            ext: "api-lakshmi",
            first: "లక్ష్మి",
            last: "",
            phone: None,
            source: Source::Woocommerce,
            tags: &[],
            email_consent: false,
        },
    )
    .await;
    buys(db, &store, "api-ravi", 1, &[50_000, 70_000, 30_000]).await;
    buys(db, &store, "api-aram", 5, &[900_000]).await;
    buys(db, &store, "api-kumar", 9, &[10_000, 10_000]).await;
    // A namesake in another store must never show up.
    add(
        db,
        &other,
        &Person {
            ext: "api-ravi",
            first: "Ravi",
            last: "Other",
            phone: None,
            source: Source::Api,
            tags: &["vip"],
            email_consent: true,
        },
    )
    .await;
    (store, other)
}

async fn customers_are_found_by_name_surname_email_phone_and_source_id(backend: Backend) {
    let t = TestDb::new(backend).await;
    let (store, _) = a_store_with_people(&t).await;
    let db = &t.db;
    assert_eq!(
        sorted(page(db, &store, search("ravi")).await),
        ["Ravi Kumar", "Ravina Shah"]
    );
    assert_eq!(
        sorted(page(db, &store, search("  KUMAR ")).await),
        ["Kumar Gupta", "Ravi Kumar"]
    );
    assert_eq!(page(db, &store, search("ravi k")).await, ["Ravi Kumar"]);
    // Armenian has capitals: folding is Unicode's, not ASCII's.
    assert_eq!(page(db, &store, search("ՊԵՏՐՈՍ")).await, ["Արամ Պետրոսյան"]);
    assert_eq!(page(db, &store, search("లక్ష్")).await, ["లక్ష్మి "]);
    assert_eq!(
        page(db, &store, search("api-ravin")).await,
        ["Ravina Shah"],
        "email prefix"
    );
    assert_eq!(
        page(db, &store, search("API-RAVINA@example.in")).await,
        ["Ravina Shah"]
    );
    // A phone as typed in India, without the country code, and with it.
    assert_eq!(page(db, &store, search("98765 43210")).await, ["Ravi Kumar"]);
    assert_eq!(page(db, &store, search("+91 98765")).await, ["Ravi Kumar"]);
    assert_eq!(
        page(db, &store, search("+374 91 234567")).await,
        ["Արամ Պետրոսյան"]
    );
    // Shopify's customer id.
    assert_eq!(page(db, &store, search("1001")).await, ["Ravi Kumar"]);
    assert!(page(db, &store, search("nobody")).await.is_empty());
}

async fn filters_combine_and_never_cross_stores(backend: Backend) {
    let t = TestDb::new(backend).await;
    let (store, other) = a_store_with_people(&t).await;
    let db = &t.db;
    let all = |q: CustomerQuery| CustomerQuery { limit: 50, ..q };
    assert_eq!(
        page(
            db,
            &store,
            all(CustomerQuery {
                tag: Some("vip".into()),
                ..Default::default()
            })
        )
        .await,
        ["Ravi Kumar"]
    );
    assert_eq!(
        sorted(
            page(
                db,
                &store,
                all(CustomerQuery {
                    consent: Some(ConsentChannel::Email),
                    ..Default::default()
                })
            )
            .await
        ),
        ["Ravi Kumar", "Արամ Պետրոսյան"]
    );
    assert_eq!(
        page(
            db,
            &store,
            all(CustomerQuery {
                spent_min_minor: Some(100_000),
                spent_max_minor: Some(200_000),
                ..Default::default()
            })
        )
        .await,
        ["Ravi Kumar"]
    );
    assert_eq!(
        sorted(
            page(
                db,
                &store,
                all(CustomerQuery {
                    orders_min: Some(2),
                    ..Default::default()
                })
            )
            .await
        ),
        ["Kumar Gupta", "Ravi Kumar"]
    );
    assert_eq!(
        page(
            db,
            &store,
            all(CustomerQuery {
                orders_min: Some(2),
                orders_max: Some(2),
                ..Default::default()
            })
        )
        .await,
        ["Kumar Gupta"]
    );
    assert_eq!(
        page(
            db,
            &store,
            all(CustomerQuery {
                last_order_before: Some(at("2025-03-04T00:00:00Z")),
                ..Default::default()
            })
        )
        .await,
        ["Ravi Kumar"]
    );
    assert_eq!(
        sorted(
            page(
                db,
                &store,
                all(CustomerQuery {
                    last_order_after: Some(at("2025-03-05T00:00:00Z")),
                    ..Default::default()
                })
            )
            .await
        ),
        ["Kumar Gupta", "Արամ Պետրոսյան"]
    );
    assert_eq!(
        page(
            db,
            &store,
            all(CustomerQuery {
                source: Some(Source::Shopify),
                ..Default::default()
            })
        )
        .await,
        ["Ravi Kumar"]
    );
    assert_eq!(
        page(
            db,
            &store,
            all(CustomerQuery {
                source: Some(Source::Woocommerce),
                ..Default::default()
            })
        )
        .await,
        ["లక్ష్మి "]
    );
    // A search and a filter together.
    assert_eq!(
        page(
            db,
            &store,
            CustomerQuery {
                tag: Some("vip".into()),
                ..search("ravi")
            }
        )
        .await,
        ["Ravi Kumar"]
    );
    // The other store sees only its own Ravi.
    assert_eq!(page(db, &other, search("ravi")).await, ["Ravi Other"]);
    assert_eq!(
        page(
            db,
            &other,
            all(CustomerQuery {
                tag: Some("wholesale".into()),
                ..Default::default()
            })
        )
        .await,
        Vec::<String>::new()
    );
}

/// Every customer once, in the order of `sort`, however small the pages.
async fn pages_walk_every_customer_once_in_order(backend: Backend) {
    let t = TestDb::new(backend).await;
    let store = t.store("Annapurna", "INR", "Asia/Kolkata", "en-IN").await;
    let db = &t.db;
    // 23 buyers with ties in spend and order count, and 6 who never ordered (no last order).
    for i in 0..29u32 {
        let ext = format!("c{i:02}");
        let first = ["Asha", "Bala", "Chitra", "Dev"][i as usize % 4];
        add(
            db,
            &store,
            &Person {
                ext: &ext,
                first,
                last: &format!("N{i}"),
                phone: None,
                source: Source::Api,
                tags: if i % 3 == 0 { &["vip"] } else { &[] },
                email_consent: false,
            },
        )
        .await;
        if i < 23 {
            let totals: Vec<i64> = (0..=(i % 3))
                .map(|k| 1_000 * (1 + (i as i64 % 5)) + k as i64)
                .collect();
            buys(db, &store, &ext, 1 + i % 7, &totals).await;
        }
    }
    // Predicted values to sort by (the six who never ordered have none).
    db.refit_store(store.id).await.unwrap();
    let everyone = db
        .customer_page(
            store.id,
            store.currency,
            &CustomerQuery {
                limit: 1000,
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .customers;
    assert_eq!(everyone.len(), 29);
    assert_eq!(everyone.iter().filter(|c| c.segment.is_some()).count(), 23);
    for sort in CustomerSort::ALL {
        for ascending in [true, false] {
            for tag in [None, Some("vip".to_string())] {
                let mut expected: Vec<&CustomerListing> = everyone
                    .iter()
                    .filter(|c| tag.as_ref().is_none_or(|t| c.tags.contains(t)))
                    .collect();
                let key = |c: &CustomerListing| -> Option<String> {
                    match sort {
                        CustomerSort::LastOrder => c.last_order_at.map(|t| format!("{:020}", t.0)),
                        CustomerSort::Spent => Some(format!("{:020}", c.total_spent_minor)),
                        CustomerSort::Orders => Some(format!("{:020}", c.orders_count)),
                        CustomerSort::Created => Some(format!("{:020}", c.created_at.0)),
                        CustomerSort::Name => Some(name(c).trim().to_lowercase()),
                        CustomerSort::Clv => c.clv_12m_minor.map(|v| format!("{v:020}")),
                        // Bits of a non-negative float order like the float.
                        CustomerSort::PAlive => c.p_alive.map(|v| format!("{:020}", v.to_bits())),
                    }
                };
                expected.sort_by(|a, b| {
                    let (ka, kb) = (key(a), key(b));
                    match (ka.is_some(), kb.is_some()) {
                        (true, false) => std::cmp::Ordering::Less,
                        (false, true) => std::cmp::Ordering::Greater,
                        _ => {
                            let o = (ka, a.id.to_string()).cmp(&(kb, b.id.to_string()));
                            if ascending {
                                o
                            } else {
                                o.reverse()
                            }
                        }
                    }
                });
                let mut walked = Vec::new();
                let mut after = None;
                loop {
                    let q = CustomerQuery {
                        sort,
                        ascending,
                        after: after.clone(),
                        tag: tag.clone(),
                        limit: 4,
                        ..Default::default()
                    };
                    let page = db.customer_page(store.id, store.currency, &q).await.unwrap();
                    assert!(page.customers.len() <= 4);
                    walked.extend(page.customers.into_iter().map(|c| c.id));
                    match page.next {
                        Some(next) => after = Some(next),
                        None => break,
                    }
                }
                let expected: Vec<CustomerId> = expected.into_iter().map(|c| c.id).collect();
                assert_eq!(walked, expected, "{sort:?} ascending={ascending} tag={tag:?}");
            }
        }
    }
    // A cursor from one sort is refused by another, naming the field.
    let first = db
        .customer_page(
            store.id,
            store.currency,
            &CustomerQuery {
                sort: CustomerSort::Spent,
                limit: 2,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let err = db
        .customer_page(
            store.id,
            store.currency,
            &CustomerQuery {
                sort: CustomerSort::Name,
                after: first.next,
                limit: 2,
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Invalid(ref e) if e.field == "after"),
        "{err:?}"
    );
}

async fn staff_tag_note_and_assign_an_account_manager(backend: Backend) {
    let t = TestDb::new(backend).await;
    let (store, other) = a_store_with_people(&t).await;
    let db = &t.db;
    let ravi = db
        .customer_page(store.id, store.currency, &search("ravi k"))
        .await
        .unwrap()
        .customers[0]
        .id;

    db.set_customer_tags(
        store.id,
        ravi,
        &[" vip ".into(), "दिवाली-2025".into(), "vip".into()],
        "user:test",
    )
    .await
    .unwrap();
    assert_eq!(
        db.customer(store.id, ravi).await.unwrap().tags,
        ["vip", "दिवाली-2025"]
    );
    let tagged = |tag: &str| CustomerQuery {
        tag: Some(tag.into()),
        limit: 50,
        ..Default::default()
    };
    assert_eq!(page(db, &store, tagged("दिवाली-2025")).await, ["Ravi Kumar"]);
    db.set_customer_tags(store.id, ravi, &["gold".into()], "user:test")
        .await
        .unwrap();
    assert!(
        page(db, &store, tagged("vip")).await.is_empty(),
        "old tags leave the index"
    );
    assert_eq!(page(db, &store, tagged("gold")).await, ["Ravi Kumar"]);
    let too_long = "x".repeat(65);
    let err = db
        .set_customer_tags(store.id, ravi, &[too_long], "user:test")
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Invalid(ref e) if e.field == "tags"),
        "{err:?}"
    );
    // A later import that names tags again keeps the index in step.
    add(
        db,
        &store,
        &Person {
            ext: "api-ravi",
            first: "Ravi",
            last: "Kumar",
            phone: None,
            source: Source::Api,
            tags: &["reseller"],
            email_consent: true,
        },
    )
    .await;
    assert!(page(db, &store, tagged("gold")).await.is_empty());
    assert_eq!(page(db, &store, tagged("reseller")).await, ["Ravi Kumar"]);

    let manager = db
        .create_user(
            &Email::parse("meera@annapurna.in").unwrap(),
            "a long and honest passphrase",
            None,
        )
        .await
        .unwrap();
    let outsider = db
        .create_user(
            &Email::parse("x@elsewhere.in").unwrap(),
            "a long and honest passphrase",
            None,
        )
        .await
        .unwrap();
    db.set_membership(store.id, manager.id, Role::AccountManager)
        .await
        .unwrap();
    db.set_membership(other.id, outsider.id, Role::Owner)
        .await
        .unwrap();
    let err = db
        .assign_account_manager(store.id, ravi, Some(outsider.id), "user:test")
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Invalid(ref e) if e.field == "account_manager"),
        "{err:?}"
    );
    db.assign_account_manager(store.id, ravi, Some(manager.id), "user:test")
        .await
        .unwrap();
    assert_eq!(
        db.account_manager(store.id, ravi).await.unwrap(),
        Some(manager.id)
    );
    let mine = CustomerQuery {
        account_manager: Some(manager.id),
        limit: 50,
        ..Default::default()
    };
    assert_eq!(page(db, &store, mine.clone()).await, ["Ravi Kumar"]);

    db.add_customer_note(store.id, ravi, manager.id, "Prefers calls after 6 pm")
        .await
        .unwrap();
    db.add_customer_note(store.id, ravi, manager.id, "Asked about Diwali hampers")
        .await
        .unwrap();
    let notes = db.customer_notes(store.id, ravi).await.unwrap();
    assert_eq!(
        notes.iter().map(|n| n.body.as_str()).collect::<Vec<_>>(),
        ["Asked about Diwali hampers", "Prefers calls after 6 pm"]
    );
    assert_eq!(notes[0].author_email.as_deref(), Some("meera@annapurna.in"));
    let err = db
        .add_customer_note(store.id, ravi, manager.id, "   ")
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Invalid(ref e) if e.field == "body"),
        "{err:?}"
    );

    // Every change is on the timeline, newest first.
    let timeline = db
        .timeline(
            store.id,
            ravi,
            &TimelineQuery {
                limit: 20,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let kinds: Vec<&str> = timeline.iter().map(|e| e.kind.as_str()).take(4).collect();
    assert_eq!(
        kinds,
        [
            "note_added",
            "note_added",
            "account_manager_changed",
            "tags_changed"
        ]
    );

    // Nothing of this reaches a customer of another store.
    let theirs = db
        .customer_page(other.id, other.currency, &search("ravi"))
        .await
        .unwrap()
        .customers[0]
        .id;
    assert!(matches!(
        db.add_customer_note(store.id, theirs, manager.id, "x").await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        db.set_customer_tags(store.id, theirs, &["x".into()], "t").await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        db.assign_account_manager(store.id, theirs, None, "t").await,
        Err(StoreError::NotFound(_))
    ));
    assert!(db.customer_notes(other.id, ravi).await.unwrap().is_empty());

    db.assign_account_manager(store.id, ravi, None, "user:test")
        .await
        .unwrap();
    assert!(page(db, &store, mine).await.is_empty());
}

async fn orders_are_listed_newest_first_and_found_by_number(backend: Backend) {
    let t = TestDb::new(backend).await;
    let (store, other) = a_store_with_people(&t).await;
    let db = &t.db;
    let id = store.id;
    let list = |q: OrderQuery| async move { db.order_page(id, &q).await.unwrap() };
    let all = list(OrderQuery {
        limit: 100,
        ..Default::default()
    })
    .await;
    let numbers: Vec<&str> = all
        .orders
        .iter()
        .map(|o| o.order_number.as_deref().unwrap())
        .collect();
    assert_eq!(
        numbers,
        [
            "#api-kumar-1",
            "#api-kumar-0",
            "#api-aram-0",
            "#api-ravi-2",
            "#api-ravi-1",
            "#api-ravi-0"
        ]
    );
    assert_eq!(all.orders[2].customer_name.as_deref(), Some("Արամ Պետրոսյան"));
    // Pages of two walk the same list.
    let mut walked = Vec::new();
    let mut after = None;
    loop {
        let page = list(OrderQuery {
            limit: 2,
            after: after.clone(),
            ..Default::default()
        })
        .await;
        walked.extend(page.orders.into_iter().map(|o| o.id));
        match page.next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    assert_eq!(
        walked,
        all.orders.iter().map(|o| o.id.clone()).collect::<Vec<_>>()
    );
    for text in ["#api-aram-0", "api-aram-0", " api-aram-o0 "] {
        let found = list(OrderQuery {
            search: Some(text.into()),
            limit: 10,
            ..Default::default()
        })
        .await;
        assert_eq!(found.orders.len(), 1, "{text}");
        assert_eq!(found.orders[0].total, 900_000);
    }
    let ravi = db
        .customer_page(store.id, store.currency, &search("ravi k"))
        .await
        .unwrap()
        .customers[0]
        .id;
    let theirs = list(OrderQuery {
        customer: Some(ravi),
        limit: 2,
        ..Default::default()
    })
    .await;
    assert_eq!(theirs.orders.len(), 2);
    assert!(theirs.next.is_some());
    let recent = db.customer_orders(store.id, ravi, 10).await.unwrap();
    assert_eq!(
        recent.iter().map(|o| o.total).collect::<Vec<_>>(),
        [30_000, 70_000, 50_000]
    );
    assert_eq!(recent[0].line_items.len(), 1);
    assert!(db
        .order_page(
            other.id,
            &OrderQuery {
                limit: 10,
                ..Default::default()
            }
        )
        .await
        .unwrap()
        .orders
        .is_empty());
    let refunded = list(OrderQuery {
        financial_status: Some("refunded".into()),
        limit: 10,
        ..Default::default()
    })
    .await;
    assert!(refunded.orders.is_empty());
}

on_both_backends!(
    customers_are_found_by_name_surname_email_phone_and_source_id,
    filters_combine_and_never_cross_stores,
    pages_walk_every_customer_once_in_order,
    staff_tag_note_and_assign_an_account_manager,
    orders_are_listed_newest_first_and_found_by_number,
);
