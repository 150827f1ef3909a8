//! The referral pages of the dashboard at the HTTP level: the program's settings saved and
//! refused; who may change them; the review queue deciding a held referral; the advocates
//! report over a dataset small enough to add up by hand; partners invited and paid through
//! their forms, with the payout CSV; the pages in Hindi, Telugu and Armenian; the panel on a
//! customer's profile; and another store's referrals and partners out of reach.

use regulars_domain::loyalty::Period;
use regulars_domain::referral::{ReferralProgram, ReferralReward, RuleAction};
use regulars_domain::{CustomerId, Discount, Email, OrderInput, Role, StoreId, Timestamp};
use regulars_store::{PartnerScope, ReferralFilter, ReferralRecord, ReferralStatus, StoreRecord};
use regulars_testkit::fixtures::paid_order;
use regulars_testkit::{on_both_backends, Backend};

use crate::helpers::TestApp;
use crate::staff::{hidden_csrf, person, Browser, PASSWORD};

const DAY: i64 = 86_400_000;

/// The whole program as the settings form posts it: on, 15 % off the friend's first order of
/// ₹500 or more, a ₹200 coupon for the advocate, a milestone at 5 friends, at most 3 rewards
/// a month, shared addresses rejected, bursts over 5, and ₹500 as the cost of a customer won
/// otherwise.
fn program_form(csrf: &str) -> Vec<(String, String)> {
    [
        ("csrf", csrf),
        ("enabled", "1"),
        ("eligibility.min_orders", "1"),
        ("friend_discount.kind", "percent"),
        ("friend_discount.value", "15"),
        ("friend_minimum_spend", "500"),
        ("friend_points", "25"),
        ("advocate_reward.kind", "coupon"),
        ("advocate_reward.points", "500"),
        ("advocate_reward.discount.kind", "fixed"),
        ("advocate_reward.discount.value", "200"),
        ("advocate_reward.minimum_spend", ""),
        ("advocate_reward.valid_days", "60"),
        ("advocate_reward.reward_id", ""),
        ("min_order_value", "300"),
        ("return_window_days", "30"),
        ("milestones[0].friends", "5"),
        ("milestones[0].reward.points", "1000"),
        ("milestones[1].friends", ""),
        ("milestones[1].reward.points", ""),
        ("advocate_cap.count", "3"),
        ("advocate_cap.period", "month"),
        ("fraud.same_email", "reject"),
        ("fraud.similar_email", "review"),
        ("fraud.same_phone", "reject"),
        ("fraud.same_address", "reject"),
        ("fraud.same_payment", "reject"),
        ("fraud.existing_customer", "review"),
        ("fraud.burst", "review"),
        ("fraud.burst_max", "5"),
        ("fraud.burst_hours", "12"),
        ("fraud.velocity", "allow"),
        ("fraud.velocity_max", "20"),
        ("fraud.velocity_period", "week"),
        ("acquisition_cost", "500"),
        ("shop_url", "https://chai.example.in"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fn with(mut form: Vec<(String, String)>, changes: &[(&str, &str)]) -> Vec<(String, String)> {
    for (name, value) in changes {
        match form.iter_mut().find(|(k, _)| k == name) {
            Some(slot) => slot.1 = value.to_string(),
            None => form.push((name.to_string(), value.to_string())),
        }
    }
    form
}

fn pairs(form: &[(String, String)]) -> Vec<(&str, &str)> {
    form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

async fn signed_in(app: &TestApp, email: &str, role: Role) -> (Browser, String) {
    person(app, email, role).await;
    let mut browser = Browser::new();
    let csrf = browser.sign_in(app, email).await;
    (browser, csrf)
}

/// Someone who works only at `store`, signed in through the login form.
async fn signed_in_at(app: &TestApp, store: StoreId, email: &str) -> (Browser, String) {
    let user = app
        .db
        .create_user(&Email::parse(email).unwrap(), PASSWORD, None)
        .await
        .unwrap();
    app.db.set_membership(store, user.id, Role::Owner).await.unwrap();
    let mut browser = Browser::new();
    let form = browser.get(app, "/login").await;
    browser.remember(&form, "regulars_login_csrf");
    let csrf = hidden_csrf(&form.text().await.unwrap());
    let r = browser
        .post(
            app,
            "/login",
            &[("email", email), ("password", PASSWORD), ("csrf", &csrf)],
        )
        .await;
    assert_eq!(r.status(), 303);
    browser.remember(&r, "regulars_session");
    let page = browser.get(app, &format!("/app/{store}")).await;
    assert_eq!(page.status(), 200);
    let csrf = hidden_csrf(&page.text().await.unwrap());
    (browser, csrf)
}

async fn html(browser: &Browser, app: &TestApp, path: &str) -> String {
    let r = browser.get(app, path).await;
    assert_eq!(r.status(), 200, "{path}");
    r.text().await.unwrap()
}

/// A paid order placed `days_ago`, naming `code` as its discount code when given.
fn order(
    store: &StoreRecord,
    id: &str,
    customer: &str,
    total: i64,
    days_ago: i64,
    code: Option<&str>,
) -> OrderInput {
    let placed = Timestamp(Timestamp::now().0 - days_ago * DAY);
    let mut o = paid_order(id, customer, store.currency, total, placed);
    o.discount_codes = code.map(|c| vec![c.to_string()]).unwrap_or_default();
    o
}

/// Writes orders (attribution runs inside) and returns their customers.
async fn write(app: &TestApp, store: &StoreRecord, orders: &[OrderInput]) -> Vec<CustomerId> {
    app.db
        .upsert_orders_crediting(store, orders, "test", true)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|w| w.customer_id)
        .collect()
}

/// The program on, with `change` applied to the defaults.
async fn program_on(app: &TestApp, store: &StoreRecord, change: impl FnOnce(&mut ReferralProgram)) {
    let mut program = ReferralProgram {
        enabled: true,
        ..ReferralProgram::default()
    };
    change(&mut program);
    app.db
        .set_referral_program(store, &program, "test")
        .await
        .unwrap();
}

/// An advocate with an order 60 days ago, and their code.
async fn advocate(app: &TestApp, store: &StoreRecord, name: &str) -> (CustomerId, String) {
    let id = write(
        app,
        store,
        &[order(store, &format!("{name}-1"), name, 100_000, 60, None)],
    )
    .await[0];
    let code = app.db.referral_code(store, id).await.unwrap().code;
    (id, code)
}

async fn referral_of(app: &TestApp, store: &StoreRecord, friend: CustomerId) -> ReferralRecord {
    app.db
        .customer_referrals(store.id, friend)
        .await
        .unwrap()
        .referred_by
        .expect("the friend was referred")
}

/// The text of the figure card `key` of a page.
fn card(html: &str, key: &str) -> String {
    let at = html
        .find(&format!(r#"data-figure="{key}""#))
        .unwrap_or_else(|| panic!("{key}: {html}"));
    let figure = &html[at..];
    let start = figure.find(r#"class="figure">"#).unwrap() + r#"class="figure">"#.len();
    figure[start..start + figure[start..].find('<').unwrap()].to_string()
}

/// The text of the first element marked `attr` of a page.
fn marked(html: &str, attr: &str) -> String {
    let at = html.find(attr).unwrap_or_else(|| panic!("{attr}: {html}"));
    let rest = &html[at..];
    let start = rest.find('>').unwrap() + 1;
    rest[start..start + rest[start..].find('<').unwrap()].to_string()
}

async fn settings_are_saved_from_the_form(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (owner, csrf) = signed_in(&app, "owner@chai.in", Role::Owner).await;
    let path = format!("/app/{}/referrals", app.store.id);
    let page = html(&owner, &app, &path).await;
    // The navigation leads here; the form shows the default program, off.
    assert!(page.contains(&format!(
        r#"<a href="/app/{}/referrals" aria-current="page">Referrals</a>"#,
        app.store.id
    )));
    assert!(
        page.contains(r#"name="friend_discount.value" value="10""#),
        "{page}"
    );
    assert!(page.contains(r#"name="advocate_reward.points" value="500""#));
    assert!(!page.contains(r#"name="enabled" value="1" checked"#));

    let r = owner.post(&app, &path, &pairs(&program_form(&csrf))).await;
    assert_eq!(r.status(), 303);
    assert_eq!(
        r.headers()["location"],
        format!("/app/{}/referrals?done=saved", app.store.id)
    );
    let record = app.db.referral_program(app.store.id).await.unwrap();
    let p = &record.program;
    assert!(p.enabled);
    assert_eq!(p.eligibility.min_orders, 1);
    assert!(p.eligibility.tiers.is_empty());
    assert_eq!(p.friend_discount, Discount::Percent { basis_points: 1_500 });
    assert_eq!(p.friend_minimum_spend, 50_000, "₹500 is 50,000 paise");
    assert_eq!(p.friend_points, 25);
    assert_eq!(
        p.advocate_reward,
        ReferralReward::Coupon {
            discount: Discount::Fixed { amount: 20_000 },
            minimum_spend: 0,
            valid_days: Some(60),
        }
    );
    assert_eq!(p.min_order_value, 30_000);
    assert_eq!(p.return_window_days, 30);
    assert_eq!(p.milestones.len(), 1, "the empty row adds nothing");
    assert_eq!(p.milestones[0].friends, 5);
    assert_eq!(p.milestones[0].reward, ReferralReward::Points { points: 1_000 });
    let cap = p.advocate_cap.unwrap();
    assert_eq!((cap.count, cap.period), (3, Period::Month));
    assert_eq!(p.fraud.same_address, RuleAction::Reject);
    assert_eq!(p.fraud.existing_customer, RuleAction::Review);
    assert_eq!(p.fraud.velocity, RuleAction::Allow);
    assert_eq!((p.fraud.burst_max, p.fraud.burst_hours), (5, 12));
    assert_eq!(
        (p.fraud.velocity_max, p.fraud.velocity_period),
        (20, Period::Week)
    );
    assert_eq!(p.acquisition_cost, 50_000);
    assert_eq!(p.shop_url.as_deref(), Some("https://chai.example.in"));
    assert!(record.updated_by.unwrap().starts_with("user:"));

    let page = html(&owner, &app, &format!("{path}?done=saved")).await;
    assert!(page.contains("Referral program saved."), "{page}");
    assert!(page.contains(r#"name="friend_discount.value" value="15""#));
    assert!(page.contains(r#"name="advocate_reward.discount.value" value="200""#));
    assert!(page.contains(r#"name="milestones[0].friends" value="5""#));
    assert!(
        page.contains(r#"name="milestones[1].friends" value="""#),
        "a row to add"
    );
    assert!(page.contains("Last changed by owner@chai.in"), "{page}");

    // A gift names a reward of the catalog; a tier of the loyalty program limits who refers.
    let mut tx = app.db.begin().await.unwrap();
    let tote = tx
        .create_reward(
            app.store.id,
            &regulars_store::RewardInput {
                name: "Tea tote".into(),
                description: None,
                discount: Discount::Gift {
                    description: "A tote bag".into(),
                },
                points_cost: 100,
                min_tier: None,
                per_customer_limit: None,
                stock: None,
                coupon_valid_days: None,
                minimum_spend_minor: 0,
                active: true,
            },
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let page = html(&owner, &app, &path).await;
    assert!(
        page.contains(&format!(r#"<option value="{}">Tea tote</option>"#, tote.id)),
        "{page}"
    );
    let gift = with(
        program_form(&csrf),
        &[
            ("advocate_reward.kind", "gift"),
            ("advocate_reward.reward_id", &tote.id),
            ("eligibility.tiers.gold", "1"),
        ],
    );
    assert_eq!(owner.post(&app, &path, &pairs(&gift)).await.status(), 303);
    let p = app.db.referral_program(app.store.id).await.unwrap().program;
    assert_eq!(p.advocate_reward, ReferralReward::Gift { reward_id: tote.id });
    assert_eq!(p.eligibility.tiers, vec!["gold".to_string()]);
}

async fn a_bad_value_names_its_field_and_stores_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (owner, csrf) = signed_in(&app, "owner@chai.in", Role::Owner).await;
    let path = format!("/app/{}/referrals", app.store.id);

    let long = with(program_form(&csrf), &[("return_window_days", "400")]);
    let r = owner.post(&app, &path, &pairs(&long)).await;
    assert_eq!(r.status(), 422);
    let page = r.text().await.unwrap();
    assert!(page.contains("Nothing was saved"), "{page}");
    assert!(
        page.contains(r#"data-error-for="return_window_days">The return window runs from 0 to 365 days."#),
        "{page}"
    );
    // What was typed is shown again.
    assert!(page.contains(r#"name="return_window_days" value="400""#));
    assert!(page.contains(r#"name="friend_discount.value" value="15""#));

    // The same milestone twice: the second row is named.
    let twice = with(
        program_form(&csrf),
        &[
            ("milestones[1].friends", "5"),
            ("milestones[1].reward.points", "50"),
        ],
    );
    let page = owner
        .post(&app, &path, &pairs(&twice))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(r#"data-error-for="milestones[1].friends">Each milestone is a different number of friends, at least 1."#),
        "{page}"
    );
    let words = with(program_form(&csrf), &[("friend_discount.value", "lots")]);
    let r = owner.post(&app, &path, &pairs(&words)).await;
    assert_eq!(r.status(), 422);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains(r#"data-error-for="friend_discount.value">Enter a percentage, like 10 or 12.5."#));
    let none = with(program_form(&csrf), &[("friend_discount.value", "0")]);
    let page = owner.post(&app, &path, &pairs(&none)).await.text().await.unwrap();
    assert!(
        page.contains(r#"data-error-for="friend_discount.value">A percent discount runs from 0.01 to 100."#),
        "{page}"
    );
    let url = with(program_form(&csrf), &[("shop_url", "chai.example.in")]);
    let page = owner.post(&app, &path, &pairs(&url)).await.text().await.unwrap();
    assert!(
        page.contains(r#"data-error-for="shop_url">Enter the shop&#x27;s address"#)
            || page.contains(r#"data-error-for="shop_url">Enter the shop&#39;s address"#),
        "{page}"
    );

    // In the reader's language.
    let mut hindi = Browser::new();
    hindi.cookies = owner.cookies.clone();
    hindi.cookies.push("regulars_lang=hi".into());
    let r = hindi.post(&app, &path, &pairs(&long)).await;
    assert_eq!(r.status(), 422);
    let page = r.text().await.unwrap();
    assert!(
        page.contains(r#"data-error-for="return_window_days">रिटर्न अवधि 0 से 365 दिन की होती है।"#),
        "{page}"
    );

    let after = app.db.referral_program(app.store.id).await.unwrap();
    assert_eq!(
        after.program,
        ReferralProgram::default(),
        "a refused form changes nothing"
    );
    assert_eq!(after.updated_at, None);
}

async fn a_reader_sees_the_pages_but_changes_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    program_on(&app, &app.store, |_| {}).await;
    let (_, code) = advocate(&app, &app.store, "anjali1").await;
    let friend = write(
        &app,
        &app.store,
        &[order(&app.store, "f-1", "anjali2", 50_000, 20, Some(&code))],
    )
    .await[0];
    let held = referral_of(&app, &app.store, friend).await;
    assert_eq!(held.status, ReferralStatus::Review, "{held:?}");
    let partner = write(
        &app,
        &app.store,
        &[order(&app.store, "p-1", "priya", 10_000, 5, None)],
    )
    .await[0];
    let before = app.db.referral_program(app.store.id).await.unwrap();

    for role in [Role::Viewer, Role::Support] {
        let email = format!("{role:?}@chai.in").to_lowercase();
        let (reader, csrf) = signed_in(&app, &email, role).await;
        let base = format!("/app/{}/referrals", app.store.id);
        let page = html(&reader, &app, &base).await;
        assert!(page.contains("changing it is for owners, admins and marketers"));
        assert!(page.contains("<fieldset disabled>"), "the form is read-only");
        assert!(!page.contains(r#"<button type="submit">Save</button>"#));
        let r = reader.post(&app, &base, &pairs(&program_form(&csrf))).await;
        assert_eq!(r.status(), 403, "{role:?}");

        let queue = html(&reader, &app, &format!("{base}/review")).await;
        assert!(queue.contains("anjali2@example.in"), "they see the queue");
        assert!(!queue.contains("/decide"), "without the decision forms");
        let r = reader
            .post(
                &app,
                &format!("{base}/review/{}/decide", held.id),
                &[("csrf", &csrf), ("decision", "approve"), ("note", "")],
            )
            .await;
        assert_eq!(r.status(), 403);

        let partners = html(&reader, &app, &format!("{base}/partners")).await;
        assert!(!partners.contains("payouts.csv") && !partners.contains(r#"id="invite""#));
        let r = reader
            .post(
                &app,
                &format!("{base}/partners"),
                &[
                    ("csrf", &csrf),
                    ("customer", "priya@example.in"),
                    ("percent", "10"),
                    ("scope", "first_order"),
                ],
            )
            .await;
        assert_eq!(r.status(), 403);
        assert_eq!(
            reader.get(&app, &format!("{base}/payouts.csv")).await.status(),
            403
        );
        html(&reader, &app, &format!("{base}/advocates")).await;
    }
    let after = app.db.referral_program(app.store.id).await.unwrap();
    assert_eq!(
        (after.program, after.updated_at),
        (before.program, before.updated_at)
    );
    assert_eq!(
        referral_of(&app, &app.store, friend).await.status,
        ReferralStatus::Review
    );
    assert!(
        app.db.partner(app.store.id, partner).await.is_err(),
        "nobody was invited"
    );
}

async fn a_held_referral_is_approved_from_the_queue(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    // A coupon for the advocate (points would wait for the loyalty program to be on).
    program_on(&app, &app.store, |p| {
        p.advocate_reward = ReferralReward::Coupon {
            discount: Discount::Percent { basis_points: 1_000 },
            minimum_spend: 0,
            valid_days: Some(30),
        };
    })
    .await;
    let (anjali, code) = advocate(&app, &app.store, "anjali1").await;
    // Two friends whose emails differ from hers by one character: held for review.
    let friends = write(
        &app,
        &app.store,
        &[
            order(&app.store, "f-1", "anjali2", 50_000, 20, Some(&code)),
            order(&app.store, "f-2", "anjali3", 70_000, 19, Some(&code)),
        ],
    )
    .await;
    let first = referral_of(&app, &app.store, friends[0]).await;
    let second = referral_of(&app, &app.store, friends[1]).await;
    assert_eq!(
        (first.status, second.status),
        (ReferralStatus::Review, ReferralStatus::Review)
    );

    let (marketer, csrf) = signed_in(&app, "marketer@chai.in", Role::Marketer).await;
    let queue_path = format!("/app/{}/referrals/review", app.store.id);
    let queue = html(&marketer, &app, &queue_path).await;
    let row = &queue[queue
        .find(&format!(r#"data-referral="{}""#, first.id))
        .expect("the row")..];
    let row = &row[..row.find("</tr>").unwrap()];
    assert!(
        row.contains("anjali1@example.in") && row.contains("anjali2@example.in"),
        "{row}"
    );
    assert!(row.contains(&format!("/app/{}/customers/{anjali}", app.store.id)));
    assert!(row.contains(&code), "{row}");
    assert!(row.contains("₹500.00"), "the order's value: {row}");
    assert!(
        row.contains("Similar email") && row.contains("Hold for review"),
        "{row}"
    );
    assert!(row.contains("the emails differ by one character"), "{row}");

    let r = marketer
        .post(
            &app,
            &format!("{queue_path}/{}/decide", first.id),
            &[
                ("csrf", csrf.as_str()),
                ("decision", "approve"),
                ("note", "Sisters, checked by phone"),
                ("from", "review"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    let back = r.headers()["location"].to_str().unwrap().to_string();
    assert_eq!(back, format!("{queue_path}?status=review&done=approved"));
    let approved = app.db.referral(app.store.id, &first.id).await.unwrap();
    assert_eq!(approved.status, ReferralStatus::Pending);
    assert_eq!(approved.reason.as_deref(), Some("Sisters, checked by phone"));
    assert!(approved.decided_by.unwrap().starts_with("user:"));
    let queue = html(&marketer, &app, &back).await;
    assert!(queue.contains("Referral approved."), "{queue}");
    assert!(!queue.contains(&first.id), "no longer in the queue");
    assert!(queue.contains(&second.id));

    // Decided once only; a rejection from the referral's own page.
    let r = marketer
        .post(
            &app,
            &format!("{queue_path}/{}/decide", first.id),
            &[
                ("csrf", csrf.as_str()),
                ("decision", "reject"),
                ("from", "review"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    let again = html(&marketer, &app, r.headers()["location"].to_str().unwrap()).await;
    assert!(again.contains("no longer in review"), "{again}");
    assert_eq!(
        app.db.referral(app.store.id, &first.id).await.unwrap().status,
        ReferralStatus::Pending
    );
    let r = marketer
        .post(
            &app,
            &format!("{queue_path}/{}/decide", second.id),
            &[
                ("csrf", csrf.as_str()),
                ("decision", "reject"),
                ("from", "detail"),
            ],
        )
        .await;
    assert_eq!(
        r.headers()["location"],
        format!("{queue_path}/{}?done=rejected", second.id)
    );
    let page = html(&marketer, &app, r.headers()["location"].to_str().unwrap()).await;
    assert!(
        page.contains("Referral rejected.") && page.contains("Rejected by staff"),
        "{page}"
    );
    assert_eq!(
        app.db.referral(app.store.id, &second.id).await.unwrap().status,
        ReferralStatus::Rejected
    );
    // Without the session's token, nothing is decided.
    let forged = marketer
        .post(
            &app,
            &format!("{queue_path}/{}/decide", first.id),
            &[("decision", "reject")],
        )
        .await;
    assert_eq!(forged.status(), 403);

    // The window of the approved one has passed: the job rewards it.
    app.db.run_referrals(&app.store, Timestamp::now()).await.unwrap();
    let all = html(&marketer, &app, &format!("{queue_path}?status=all")).await;
    assert!(all.contains(r#"data-status="rewarded">Rewarded"#), "{all}");
    assert!(all.contains(r#"data-status="rejected">Rejected"#), "{all}");
    let rewarded = html(&marketer, &app, &format!("{queue_path}?status=rewarded")).await;
    assert!(rewarded.contains(&first.id) && !rewarded.contains(&second.id));
    let page = html(&marketer, &app, &format!("{queue_path}/{}", first.id)).await;
    let got = marked(&page, r#"data-fact="advocate_reward""#);
    assert!(
        got.starts_with("Coupon: 10% off · THANKS-"),
        "what the advocate got: {got}"
    );

    // The customers' profiles show both sides.
    let profile = html(
        &marketer,
        &app,
        &format!("/app/{}/customers/{anjali}", app.store.id),
    )
    .await;
    let panel = &profile[profile.find(r#"id="referrals""#).expect("the referral panel")..];
    assert!(panel.contains(&format!("<code>{code}</code>")), "{panel}");
    assert!(panel.contains("anjali2@example.in") && panel.contains("anjali3@example.in"));
    assert!(panel.contains(r#"data-status="rewarded">Rewarded"#), "{panel}");
    let profile = html(
        &marketer,
        &app,
        &format!("/app/{}/customers/{}", app.store.id, friends[0]),
    )
    .await;
    let panel = &profile[profile.find(r#"id="referrals""#).unwrap()..];
    let by = &panel[panel.find("data-referred-by").unwrap()..];
    assert!(
        by.contains("anjali1@example.in") && by.contains("Rewarded"),
        "{by}"
    );
}

async fn the_advocates_report_adds_up_by_hand(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    // A ₹200 coupon per friend; a customer won otherwise costs ₹500.
    program_on(&app, &app.store, |p| {
        p.advocate_reward = ReferralReward::Coupon {
            discount: Discount::Fixed { amount: 20_000 },
            minimum_spend: 0,
            valid_days: None,
        };
        p.acquisition_cost = 50_000;
    })
    .await;
    let (asha, code) = advocate(&app, &app.store, "asha").await;
    let friends = write(
        &app,
        &app.store,
        &[
            order(&app.store, "r-1", "ravi", 200_000, 30, Some(&code)),
            order(&app.store, "m-1", "meena", 150_000, 20, Some(&code)),
            order(&app.store, "g-1", "gopal", 50_000, 10, None),
        ],
    )
    .await;
    let report = app.db.run_referrals(&app.store, Timestamp::now()).await.unwrap();
    assert_eq!(report.rewarded, 2, "{report:?}");
    for friend in &friends[..2] {
        assert_eq!(
            referral_of(&app, &app.store, *friend).await.status,
            ReferralStatus::Rewarded
        );
    }

    let (owner, _) = signed_in(&app, "owner@chai.in", Role::Owner).await;
    let page = html(
        &owner,
        &app,
        &format!("/app/{}/referrals/advocates", app.store.id),
    )
    .await;
    // Asha, Ravi, Meena and Gopal bought first in the last twelve months; two were referred.
    assert_eq!(card(&page, "new_customers"), "4");
    assert_eq!(card(&page, "referred_new_customers"), "2");
    assert_eq!(card(&page, "referral_share"), "50.0%");
    // Two ₹200 coupons; 2 × ₹500 − ₹400 saved.
    assert_eq!(card(&page, "program_cost"), "₹400.00");
    assert_eq!(card(&page, "acquisition_cost_saved"), "₹600.00");
    assert_eq!(marked(&page, r#"data-count="rewarded""#), "2");
    assert_eq!(marked(&page, r#"data-count="review""#), "0");
    let row = &page[page
        .find(&format!("/app/{}/customers/{asha}", app.store.id))
        .expect("asha's row")..];
    let row = &row[..row.find("</tr>").unwrap()];
    assert!(row.contains("asha@example.in") && row.contains(&code), "{row}");
    assert_eq!(marked(row, r#"data-col="friends""#), "2");
    assert_eq!(marked(row, r#"data-col="qualified""#), "2");
    assert_eq!(marked(row, r#"data-col="rejected""#), "0");
    assert_eq!(marked(row, r#"data-col="friends_revenue""#), "₹3,500.00");
    assert_eq!(marked(row, r#"data-col="cost""#), "₹400.00");
    assert!(!row.contains("data-partner"));

    // A range before any of it: nobody new, the advocates (all time) still listed.
    let old = html(
        &owner,
        &app,
        &format!(
            "/app/{}/referrals/advocates?from=2020-01&to=2020-12",
            app.store.id
        ),
    )
    .await;
    assert_eq!(card(&old, "new_customers"), "0");
    assert_eq!(card(&old, "referral_share"), "0.0%");
    assert!(old.contains(r#"name="from" value="2020-01""#));
    let backwards = html(
        &owner,
        &app,
        &format!(
            "/app/{}/referrals/advocates?from=2020-12&to=2020-01",
            app.store.id
        ),
    )
    .await;
    assert!(backwards.contains("The last day comes before the first."));
}

async fn partners_are_invited_and_paid_through_the_forms(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    program_on(&app, &app.store, |_| {}).await;
    let priya = write(
        &app,
        &app.store,
        &[order(&app.store, "p-1", "priya", 100_000, 60, None)],
    )
    .await[0];
    let (owner, csrf) = signed_in(&app, "owner@chai.in", Role::Owner).await;
    let list = format!("/app/{}/referrals/partners", app.store.id);

    // Nobody by that email; a commission over 50 %.
    let r = owner
        .post(
            &app,
            &list,
            &[
                ("csrf", csrf.as_str()),
                ("customer", "nobody@example.in"),
                ("percent", "60"),
                ("scope", "first_order"),
                ("period_days", ""),
                ("note", ""),
            ],
        )
        .await;
    assert_eq!(r.status(), 422);
    let page = r.text().await.unwrap();
    assert!(
        page.contains(r#"data-error-for="customer">No customer with this email or id."#),
        "{page}"
    );
    assert!(
        page.contains(r#"data-error-for="percent">A commission runs from 0.01 to 50 %."#),
        "{page}"
    );
    assert!(
        page.contains(r#"value="nobody@example.in""#),
        "what was typed stays"
    );
    assert!(app.db.partners(&app.store).await.unwrap().is_empty());

    let r = owner
        .post(
            &app,
            &list,
            &[
                ("csrf", csrf.as_str()),
                ("customer", "Priya@Example.in"),
                ("percent", "10"),
                ("scope", "first_order"),
                ("period_days", ""),
                ("note", "Tea blogger"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    let page_path = format!("{list}/{priya}");
    assert_eq!(r.headers()["location"], format!("{page_path}?done=invited"));
    let partner = app.db.partner(app.store.id, priya).await.unwrap();
    assert_eq!(
        (partner.basis_points, partner.scope, partner.status.as_str()),
        (1_000, PartnerScope::FirstOrder, "active")
    );
    assert_eq!(partner.note.as_deref(), Some("Tea blogger"));
    let code = app.db.referral_code(&app.store, priya).await.unwrap().code;

    // A friend buys ₹1,500 with her code 20 days ago: 10 % is earned, then approved once the
    // window has passed.
    write(
        &app,
        &app.store,
        &[order(&app.store, "k-1", "kiran", 150_000, 20, Some(&code))],
    )
    .await;
    app.db.run_referrals(&app.store, Timestamp::now()).await.unwrap();
    let listing = html(&owner, &app, &list).await;
    let row = &listing[listing.find(&page_path).expect("her row")..];
    let row = &row[..row.find("</tr>").unwrap()];
    assert_eq!(marked(row, r#"data-col="commission""#), "10%");
    assert_eq!(marked(row, r#"data-col="friends""#), "1");
    assert_eq!(marked(row, r#"data-col="owed""#), "₹150.00");
    assert_eq!(marked(row, r#"data-col="paid""#), "₹0.00");
    assert!(listing.contains(&format!(r#"href="/app/{}/referrals/payouts.csv""#, app.store.id)));

    let page = html(&owner, &app, &format!("{page_path}?done=invited")).await;
    assert!(page.contains("Partner invited."));
    assert_eq!(marked(&page, "data-owed"), "₹150.00");
    let ledger = &page[page.find(r#"class="ledger""#).expect("the ledger")..];
    assert!(
        ledger.contains("Earned") && ledger.contains("₹150.00") && ledger.contains("Approved"),
        "{ledger}"
    );

    let r = owner
        .post(
            &app,
            &format!("{page_path}/payout"),
            &[("csrf", csrf.as_str()), ("reference", "UPI-2026-0042")],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], format!("{page_path}?done=paid"));
    let payouts = app.db.payouts(&app.store, Some(priya)).await.unwrap();
    assert_eq!(payouts.len(), 1);
    assert_eq!(payouts[0].amount, 15_000);
    assert_eq!(payouts[0].reference.as_deref(), Some("UPI-2026-0042"));
    let page = html(&owner, &app, &format!("{page_path}?done=paid")).await;
    assert!(
        page.contains("Payout recorded.") && page.contains("UPI-2026-0042"),
        "{page}"
    );
    assert_eq!(marked(&page, "data-owed"), "₹0.00");
    // Nothing more is owed.
    let r = owner
        .post(
            &app,
            &format!("{page_path}/payout"),
            &[("csrf", csrf.as_str()), ("reference", "")],
        )
        .await;
    let again = html(&owner, &app, r.headers()["location"].to_str().unwrap()).await;
    assert!(again.contains("Nothing is owed to this partner now."), "{again}");
    assert_eq!(app.db.payouts(&app.store, Some(priya)).await.unwrap().len(), 1);

    // The payout report as a spreadsheet.
    let r = owner
        .get(&app, &format!("/app/{}/referrals/payouts.csv", app.store.id))
        .await;
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let disposition = r.headers()["content-disposition"].to_str().unwrap().to_string();
    assert!(
        disposition.starts_with("attachment; filename=\"partner-payouts-") && disposition.ends_with(".csv\""),
        "{disposition}"
    );
    let csv = r.text().await.unwrap();
    assert_eq!(csv, app.db.payout_report_csv(&app.store).await.unwrap());
    assert!(
        csv.contains("priya@example.in") && csv.contains("150.00"),
        "{csv}"
    );

    // New terms; then the partnership ends, its history kept.
    let r = owner
        .post(
            &app,
            &format!("{page_path}/terms"),
            &[
                ("csrf", csrf.as_str()),
                ("percent", "12.5"),
                ("scope", "all_orders"),
                ("period_days", "90"),
                ("note", ""),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    let partner = app.db.partner(app.store.id, priya).await.unwrap();
    assert_eq!(
        (partner.basis_points, partner.scope, partner.period_days),
        (1_250, PartnerScope::AllOrders, Some(90))
    );
    let r = owner
        .post(
            &app,
            &format!("{page_path}/terms"),
            &[
                ("csrf", csrf.as_str()),
                ("percent", "12.5"),
                ("scope", "all_orders"),
                ("period_days", "0"),
            ],
        )
        .await;
    assert_eq!(r.status(), 422);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains(r#"data-error-for="period_days">A period runs from 1 to 3,650 days, or leave it empty."#));
    let r = owner
        .post(&app, &format!("{page_path}/end"), &[("csrf", csrf.as_str())])
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(app.db.partner(app.store.id, priya).await.unwrap().status, "ended");
    let listing = html(&owner, &app, &format!("{list}?done=ended")).await;
    assert!(
        listing.contains("Partnership ended.") && listing.contains("Ended"),
        "{listing}"
    );
}

async fn the_pages_speak_hindi_telugu_and_armenian(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    program_on(&app, &app.store, |_| {}).await;
    let (_, code) = advocate(&app, &app.store, "anjali1").await;
    write(
        &app,
        &app.store,
        &[order(&app.store, "f-1", "anjali2", 50_000, 20, Some(&code))],
    )
    .await;
    let (owner, _) = signed_in(&app, "owner@chai.in", Role::Owner).await;
    let base = format!("/app/{}/referrals", app.store.id);
    let expected = [
        (
            "hi",
            [
                "धोखाधड़ी के नियम",
                "समीक्षा के लिए रेफ़रल",
                "नए ग्राहक",
                "पार्टनर को आमंत्रित करें",
            ],
            "मिलता-जुलता ईमेल",
        ),
        (
            "te",
            ["మోసం నియమాలు", "సమీక్షించాల్సిన రిఫరల్స్", "కొత్త కస్టమర్లు", "భాగస్వామిని ఆహ్వానించండి"],
            "దాదాపు ఒకే ఈమెయిల్",
        ),
        (
            "hy",
            [
                "Խարդախության կանոններ",
                "Ստուգման սպասող հղումներ",
                "Նոր հաճախորդներ",
                "Հրավիրել գործընկեր",
            ],
            "Նման էլ. փոստ",
        ),
    ];
    for (lang, headings, rule) in expected {
        let mut reader = Browser::new();
        reader.cookies = owner.cookies.clone();
        reader.cookies.push(format!("regulars_lang={lang}"));
        for (page, heading) in ["", "/review", "/advocates", "/partners"].iter().zip(headings) {
            let body = html(&reader, &app, &format!("{base}{page}")).await;
            assert!(body.contains(&format!(r#"<html lang="{lang}">"#)), "{lang}{page}");
            assert!(body.contains(heading), "{lang}{page} lacks {heading}: {body}");
        }
        let queue = html(&reader, &app, &format!("{base}/review")).await;
        assert!(queue.contains(rule), "{lang}: the rule's name: {queue}");
    }
}

async fn another_stores_referrals_and_partners_are_not_found(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    program_on(&app, &app.store, |_| {}).await;
    let (_, code) = advocate(&app, &app.store, "anjali1").await;
    let friend = write(
        &app,
        &app.store,
        &[order(&app.store, "f-1", "anjali2", 50_000, 20, Some(&code))],
    )
    .await[0];
    let held = referral_of(&app, &app.store, friend).await;
    let priya = write(
        &app,
        &app.store,
        &[order(&app.store, "p-1", "priya", 10_000, 5, None)],
    )
    .await[0];
    app.db
        .upsert_partner(
            &app.store,
            priya,
            &regulars_store::PartnerInput {
                basis_points: 1_000,
                scope: PartnerScope::FirstOrder,
                period_days: None,
                note: None,
            },
            "test",
        )
        .await
        .unwrap();

    let (other, _) = app.other_store().await;
    let (theirs, csrf) = signed_in_at(&app, other.id, "owner@tsiran.am").await;
    let a = format!("/app/{}/referrals", app.store.id);
    let b = format!("/app/{}/referrals", other.id);
    for path in [
        format!("{b}/review/{}", held.id),
        format!("{a}/review/{}", held.id),
        format!("{b}/partners/{priya}"),
        format!("{a}/partners/{priya}"),
        a.clone(),
    ] {
        assert_eq!(theirs.get(&app, &path).await.status(), 404, "{path}");
    }
    for (path, form) in [
        (
            format!("{b}/review/{}/decide", held.id),
            vec![("csrf", csrf.as_str()), ("decision", "approve")],
        ),
        (
            format!("{b}/partners/{priya}/payout"),
            vec![("csrf", csrf.as_str()), ("reference", "x")],
        ),
        (format!("{b}/partners/{priya}/end"), vec![("csrf", csrf.as_str())]),
        (
            format!("{b}/partners/{priya}/terms"),
            vec![
                ("csrf", csrf.as_str()),
                ("percent", "50"),
                ("scope", "all_orders"),
            ],
        ),
    ] {
        assert_eq!(theirs.post(&app, &path, &form).await.status(), 404, "{path}");
    }
    // Inviting store A's customer into store B finds nobody.
    let r = theirs
        .post(
            &app,
            &format!("{b}/partners"),
            &[
                ("csrf", csrf.as_str()),
                ("customer", &priya.to_string()),
                ("percent", "10"),
                ("scope", "first_order"),
            ],
        )
        .await;
    assert_eq!(r.status(), 422);
    // Store B's own pages know nothing of store A's.
    let queue = html(&theirs, &app, &format!("{b}/review?status=all")).await;
    assert!(!queue.contains(&held.id) && !queue.contains("anjali"));
    let partners = html(&theirs, &app, &format!("{b}/partners")).await;
    assert!(!partners.contains("priya"));
    let csv = theirs
        .get(&app, &format!("{b}/payouts.csv"))
        .await
        .text()
        .await
        .unwrap();
    assert!(!csv.contains("priya"), "{csv}");

    assert_eq!(
        app.db.referral(app.store.id, &held.id).await.unwrap().status,
        ReferralStatus::Review
    );
    let kept = app.db.partner(app.store.id, priya).await.unwrap();
    assert_eq!((kept.status.as_str(), kept.basis_points), ("active", 1_000));
    assert!(app.db.payouts(&app.store, None).await.unwrap().is_empty());
    assert!(app
        .db
        .referrals(other.id, &ReferralFilter::default())
        .await
        .unwrap()
        .is_empty());
}

on_both_backends!(
    settings_are_saved_from_the_form,
    a_bad_value_names_its_field_and_stores_nothing,
    a_reader_sees_the_pages_but_changes_nothing,
    a_held_referral_is_approved_from_the_queue,
    the_advocates_report_adds_up_by_hand,
    partners_are_invited_and_paid_through_the_forms,
    the_pages_speak_hindi_telugu_and_armenian,
    another_stores_referrals_and_partners_are_not_found,
);
