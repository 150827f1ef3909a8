//! The loyalty pages of the dashboard at the HTTP level: program settings saved, refused and
//! previewed; who may change the program and who may adjust points; the profile's panel and
//! its adjustment form; the rewards catalog; the reports over a known dataset; and other
//! stores' members and rewards out of reach.

use regulars_domain::loyalty::{Action, Audience, Period};
use regulars_domain::{CustomerId, Discount, OrderInput, Role, Timestamp};
use regulars_store::{RewardInput, StoreRecord};
use regulars_testkit::fixtures::paid_order;
use regulars_testkit::{on_both_backends, Backend};

use crate::helpers::TestApp;
use crate::staff::{person, Browser};

const DAY: i64 = 86_400_000;

/// A whole program as the settings form posts it: 1 point per ₹10, a Gold tier at 1,000 points
/// earning double, review points capped at 3 a month, a returning-customer offer; the product
/// and day multiplier rows left empty.
fn program_form(csrf: &str) -> Vec<(String, String)> {
    [
        ("csrf", csrf),
        ("enabled", "1"),
        ("earn.points", "1"),
        ("earn.per_minor", "10"),
        ("earn.rounding", "down"),
        ("earn.exclude_shipping", "1"),
        ("earn.exclude_tax", "1"),
        ("pending_days", "0"),
        ("expiry_days", "365"),
        ("expiry_warning_days", "14"),
        ("value_per_100_points_minor", "1"),
        ("tiers.metric", "points_earned"),
        ("tiers.window_days", "365"),
        ("tiers.levels[0].id", "gold"),
        ("tiers.levels[0].name", "Gold"),
        ("tiers.levels[0].threshold", "1000"),
        ("tiers.levels[0].benefits.earn_percent", "200"),
        ("tiers.levels[0].benefits.free_shipping", "1"),
        ("tiers.levels[0].benefits.birthday_discount_bp", "15"),
        ("tiers.levels[1].id", ""),
        ("tiers.levels[1].name", ""),
        ("tiers.levels[1].threshold", ""),
        ("actions[0].action.kind", "review"),
        ("actions[0].points", "20"),
        ("actions[0].cap.count", "3"),
        ("actions[0].cap.period", "month"),
        ("actions[1].action.kind", "survey"),
        ("actions[1].points", ""),
        ("actions[1].cap.period", "day"),
        ("products[0].kind", "sku"),
        ("products[0].value", ""),
        ("products[0].percent", ""),
        ("days[0].from", ""),
        ("days[0].to", ""),
        ("days[0].percent", ""),
        ("shipping.free_over_minor", "999"),
        ("shipping.flat_rate_minor", ""),
        ("birthday.discount_bp", "10"),
        ("birthday.window_days", "7"),
        ("offers[0].id", ""),
        ("offers[0].name", "Welcome back"),
        ("offers[0].discount.kind", "fixed"),
        ("offers[0].discount.value", "100"),
        ("offers[0].audience.kind", "returning"),
        ("offers[0].audience.value", "2"),
        ("offers[0].minimum_spend_minor", "1500"),
        ("offers[0].from", ""),
        ("offers[0].to", ""),
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

async fn save_program(app: &TestApp, browser: &Browser, form: &[(String, String)]) -> reqwest::Response {
    browser
        .post(app, &format!("/app/{}/loyalty", app.store.id), &pairs(form))
        .await
}

fn order(store: &StoreRecord, id: &str, customer: &str, total: i64, placed_at: Timestamp) -> OrderInput {
    paid_order(id, customer, store.currency, total, placed_at)
}

/// Writes orders, crediting their points, and returns their customers.
async fn orders(app: &TestApp, store: &StoreRecord, orders: &[OrderInput]) -> Vec<CustomerId> {
    let mut tx = app.db.begin().await.unwrap();
    let written = tx
        .upsert_orders_crediting(store, orders, "test", true)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    written.into_iter().filter_map(|w| w.customer_id).collect()
}

fn reward(name: &str, cost: i64) -> RewardInput {
    RewardInput {
        name: name.into(),
        description: None,
        discount: Discount::Fixed { amount: 10_000 },
        points_cost: cost,
        min_tier: None,
        per_customer_limit: None,
        stock: None,
        coupon_valid_days: Some(30),
        minimum_spend_minor: 0,
        active: true,
    }
}

async fn settings_are_saved_and_shown(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (browser, csrf) = signed_in(&app, "owner@chai.in", Role::Owner).await;
    let r = save_program(&app, &browser, &program_form(&csrf)).await;
    assert_eq!(r.status(), 303);
    assert_eq!(
        r.headers()["location"],
        format!("/app/{}/loyalty?done=saved", app.store.id)
    );

    let record = app.db.loyalty_program(app.store.id).await.unwrap();
    let p = &record.program;
    assert!(p.enabled);
    assert_eq!(
        (p.earn.points, p.earn.per_minor),
        (1, 1_000),
        "₹10 is 1,000 paise"
    );
    assert_eq!(p.pending_days, 0);
    assert_eq!(p.expiry_days, Some(365));
    assert_eq!(p.tiers.window_days, Some(365));
    let gold = &p.tiers.levels[0];
    assert_eq!((gold.id.as_str(), gold.threshold), ("gold", 1_000));
    assert_eq!(gold.benefits.earn_percent, 200);
    assert!(gold.benefits.free_shipping);
    assert_eq!(gold.benefits.birthday_discount_bp, Some(1_500));
    assert_eq!(p.tiers.levels.len(), 1, "the empty row adds nothing");
    assert_eq!(p.actions.len(), 1, "an action without points has no rule");
    assert_eq!(p.actions[0].action, Action::Review);
    let cap = p.actions[0].cap.unwrap();
    assert_eq!((cap.count, cap.period), (3, Period::Month));
    assert!(p.multipliers.is_empty());
    assert_eq!(p.shipping.free_over_minor, Some(99_900));
    assert_eq!(p.birthday.discount_bp, 1_000);
    assert_eq!(p.offers.len(), 1);
    assert_eq!(p.offers[0].discount, Discount::Fixed { amount: 10_000 });
    assert_eq!(p.offers[0].audience, Audience::Returning { min_orders: 2 });
    assert_eq!(p.offers[0].minimum_spend_minor, 150_000);
    assert!(!p.offers[0].id.is_empty(), "a new offer gets an id");
    assert!(record.updated_by.unwrap().starts_with("user:"));

    let page = browser
        .get(&app, &format!("/app/{}/loyalty?done=saved", app.store.id))
        .await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("Program saved."), "{html}");
    assert!(html.contains(r#"name="earn.per_minor" value="10""#), "{html}");
    assert!(html.contains(r#"name="tiers.levels[0].name" value="Gold""#));
    assert!(html.contains(r#"name="tiers.levels[0].benefits.birthday_discount_bp" value="15""#));
    assert!(html.contains(r#"name="offers[0].name" value="Welcome back""#));
    // The navigation leads here, marked as the current section.
    assert!(html.contains(&format!(
        r#"<a href="/app/{}/loyalty" aria-current="page">Loyalty</a>"#,
        app.store.id
    )));
    // Saving the same program again keeps the offer's id.
    let id = p.offers[0].id.clone();
    let again = with(program_form(&csrf), &[("offers[0].id", &id)]);
    assert_eq!(save_program(&app, &browser, &again).await.status(), 303);
    let now = app.db.loyalty_program(app.store.id).await.unwrap().program;
    assert_eq!(now.offers[0].id, id);
}

async fn a_refused_setting_names_its_field_and_changes_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (browser, csrf) = signed_in(&app, "owner@chai.in", Role::Owner).await;
    assert_eq!(
        save_program(&app, &browser, &program_form(&csrf)).await.status(),
        303
    );
    let before = app.db.loyalty_program(app.store.id).await.unwrap();

    // A second tier below the first: the program's own check names row 1's threshold.
    let bad = with(
        program_form(&csrf),
        &[
            ("tiers.levels[1].id", "silver"),
            ("tiers.levels[1].name", "Silver"),
            ("tiers.levels[1].threshold", "500"),
            ("earn.per_minor", "5"),
        ],
    );
    let r = save_program(&app, &browser, &bad).await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(html.contains("Nothing was saved"), "{html}");
    assert!(
        html.contains(r#"data-error-for="tiers.levels[1].threshold">Each tier&#x27;s threshold must be above the one before it."#)
            || html.contains(r#"data-error-for="tiers.levels[1].threshold">Each tier&#39;s threshold must be above the one before it."#),
        "{html}"
    );
    // What was typed is shown again.
    assert!(html.contains(r#"name="tiers.levels[1].name" value="Silver""#));
    assert!(html.contains(r#"name="earn.per_minor" value="5""#));

    // An amount of nothing, and one that is not a number.
    let zero = with(program_form(&csrf), &[("earn.per_minor", "0")]);
    let html = save_program(&app, &browser, &zero).await.text().await.unwrap();
    assert!(
        html.contains(r#"data-error-for="earn.per_minor">The amount must be more than 0."#),
        "{html}"
    );
    let words = with(program_form(&csrf), &[("expiry_days", "soon")]);
    let r = save_program(&app, &browser, &words).await;
    assert_eq!(r.status(), 422);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains(r#"data-error-for="expiry_days">Enter a whole number, 0 or more."#));

    let after = app.db.loyalty_program(app.store.id).await.unwrap();
    assert_eq!(after.program, before.program, "a refused form changes nothing");
    assert_eq!(after.updated_at, before.updated_at);
}

async fn the_preview_shows_the_points_for_an_amount(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (browser, csrf) = signed_in(&app, "owner@chai.in", Role::Owner).await;
    let path = format!("/app/{}/loyalty/preview", app.store.id);
    // ₹2,499 at 1 point per ₹10: 249 points; Gold earns double, 499.8 rounded down.
    let form = with(program_form(&csrf), &[("preview_amount", "2,499")]);
    let r = browser.post(&app, &path, &pairs(&form)).await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("An order of ₹2,499.00 earns 249 points."), "{html}");
    assert!(html.contains("Gold members earn 499."), "{html}");
    // The saree's line triples.
    let saree = with(
        form.clone(),
        &[
            ("preview_sku", "SAREE"),
            ("products[0].value", "SAREE"),
            ("products[0].percent", "300"),
        ],
    );
    let html = browser
        .post(&app, &path, &pairs(&saree))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("earns 749 points"), "{html}");
    // Rounding up and a new rate, as typed, before anything is saved.
    let up = with(
        form.clone(),
        &[("earn.rounding", "up"), ("earn.per_minor", "100")],
    );
    let html = browser.post(&app, &path, &pairs(&up)).await.text().await.unwrap();
    assert!(html.contains("earns 25 points"), "{html}");
    // A form that cannot be read says what to fix.
    let broken = with(form, &[("earn.per_minor", "0")]);
    let html = browser
        .post(&app, &path, &pairs(&broken))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("Correct the form to see the preview: The amount must be more than 0."),
        "{html}"
    );
    assert_eq!(
        app.db.loyalty_program(app.store.id).await.unwrap().updated_at,
        None,
        "previews save nothing"
    );

    // A viewer's form sends no program: the stored one (off, 1 point per ₹1) is previewed.
    let (viewer, viewer_csrf) = signed_in(&app, "viewer@chai.in", Role::Viewer).await;
    let html = viewer
        .post(
            &app,
            &path,
            &[("csrf", viewer_csrf.as_str()), ("preview_amount", "100")],
        )
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("An order of ₹100.00 earns 100 points."), "{html}");
    assert!(html.contains("The program is off"), "{html}");
    // Without the session's token, no preview.
    let forged = viewer.post(&app, &path, &[("preview_amount", "100")]).await;
    assert_eq!(forged.status(), 403);
}

async fn roles_decide_who_edits_the_program_and_who_adjusts_points(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let customer = orders(
        &app,
        &app.store,
        &[order(&app.store, "r-1", "meera", 10_000, Timestamp::now())],
    )
    .await[0];
    let adjust_path = format!("/app/{}/customers/{customer}/loyalty/adjust", app.store.id);
    let settings = format!("/app/{}/loyalty", app.store.id);

    let (marketer, csrf) = signed_in(&app, "marketer@chai.in", Role::Marketer).await;
    assert_eq!(
        save_program(&app, &marketer, &program_form(&csrf)).await.status(),
        303
    );
    let r = marketer
        .post(
            &app,
            &adjust_path,
            &[("csrf", &csrf), ("points", "10"), ("reason", "goodwill")],
        )
        .await;
    assert_eq!(r.status(), 403, "marketers do not adjust points");
    let profile = marketer
        .get(&app, &format!("/app/{}/customers/{customer}", app.store.id))
        .await
        .text()
        .await
        .unwrap();
    assert!(profile.contains(r#"id="loyalty""#), "the panel is shown");
    assert!(
        !profile.contains("/loyalty/adjust"),
        "without the adjustment form"
    );

    let (support, csrf) = signed_in(&app, "support@chai.in", Role::Support).await;
    let before = app.db.loyalty_program(app.store.id).await.unwrap();
    let other = with(program_form(&csrf), &[("earn.per_minor", "1")]);
    assert_eq!(save_program(&app, &support, &other).await.status(), 403);
    assert_eq!(
        app.db.loyalty_program(app.store.id).await.unwrap().program,
        before.program
    );
    let page = support.get(&app, &settings).await.text().await.unwrap();
    assert!(page.contains("changing it is for owners, admins and marketers"));
    assert!(page.contains("<fieldset disabled>"), "the form is read-only");
    let r = support
        .post(
            &app,
            &adjust_path,
            &[("csrf", &csrf), ("points", "10"), ("reason", "goodwill")],
        )
        .await;
    assert_eq!(r.status(), 303, "support adjusts points");

    let (viewer, csrf) = signed_in(&app, "viewer@chai.in", Role::Viewer).await;
    assert_eq!(viewer.get(&app, &settings).await.status(), 200, "viewers read");
    assert_eq!(
        save_program(&app, &viewer, &program_form(&csrf)).await.status(),
        403
    );
    let r = viewer
        .post(
            &app,
            &adjust_path,
            &[("csrf", &csrf), ("points", "10"), ("reason", "goodwill")],
        )
        .await;
    assert_eq!(r.status(), 403);
    let r = viewer
        .post(
            &app,
            &format!("/app/{}/loyalty/rewards", app.store.id),
            &[
                ("csrf", &csrf),
                ("name", "Tote"),
                ("discount.kind", "gift"),
                ("discount.value", "A tote"),
                ("points_cost", "10"),
            ],
        )
        .await;
    assert_eq!(r.status(), 403);
    assert!(app.db.rewards(app.store.id, false).await.unwrap().is_empty());
    let history = app
        .db
        .points_history(app.store.id, customer, None, 10)
        .await
        .unwrap();
    assert_eq!(
        history.iter().filter(|e| e.kind == "adjust").count(),
        1,
        "only support's adjustment was written"
    );
}

async fn an_adjustment_needs_a_reason_and_shows_in_the_profile(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (owner, csrf) = signed_in(&app, "owner@chai.in", Role::Owner).await;
    assert_eq!(
        save_program(&app, &owner, &program_form(&csrf)).await.status(),
        303
    );
    let placed = Timestamp(Timestamp::now().0 - DAY);
    let customer = orders(
        &app,
        &app.store,
        &[order(&app.store, "a-1", "lakshmi", 249_900, placed)],
    )
    .await[0];
    let (support, csrf) = signed_in(&app, "support@chai.in", Role::Support).await;
    let path = format!("/app/{}/customers/{customer}/loyalty/adjust", app.store.id);

    let r = support
        .post(
            &app,
            &path,
            &[("csrf", &csrf), ("points", "50"), ("reason", "  ")],
        )
        .await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(
        html.contains(r#"data-error-for="reason">Say why, in 1 to 500 characters."#),
        "{html}"
    );
    assert!(html.contains(r#"value="50""#), "the points typed are kept");
    let r = support
        .post(
            &app,
            &path,
            &[("csrf", &csrf), ("points", "-1000"), ("reason", "Typo")],
        )
        .await;
    assert_eq!(r.status(), 422);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("The customer does not have that many points to take."));
    let r = support
        .post(
            &app,
            &path,
            &[("csrf", &csrf), ("points", "lots"), ("reason", "Typo")],
        )
        .await;
    assert_eq!(r.status(), 422);
    let history = app
        .db
        .points_history(app.store.id, customer, None, 10)
        .await
        .unwrap();
    assert!(
        history.iter().all(|e| e.kind != "adjust"),
        "nothing written: {history:?}"
    );

    let r = support
        .post(
            &app,
            &path,
            &[
                ("csrf", &csrf),
                ("points", "50"),
                ("reason", "Goodwill for a late parcel"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(
        r.headers()["location"],
        format!("/app/{}/customers/{customer}#loyalty", app.store.id)
    );
    let profile = support
        .get(&app, &format!("/app/{}/customers/{customer}", app.store.id))
        .await
        .text()
        .await
        .unwrap();
    let panel = &profile[profile.find(r#"id="loyalty""#).expect("the loyalty panel")..];
    // ₹2,499 at 1 point per ₹10 is 249 points, and 50 more by hand.
    assert!(
        panel.contains(r#"<dd data-balance="available">299 points</dd>"#),
        "{panel}"
    );
    let ledger = &panel[panel.find(r#"class="ledger""#).unwrap()..];
    let row = &ledger[ledger.find("Adjusted by hand").expect("the adjustment")..];
    let row = &row[..row.find("</tr>").unwrap()];
    assert!(row.contains("+50"), "{row}");
    assert!(row.contains("Goodwill for a late parcel"), "{row}");
    assert!(
        row.contains("support@chai.in"),
        "the staff member who made it: {row}"
    );
    let entry = app
        .db
        .points_history(app.store.id, customer, None, 10)
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.kind == "adjust")
        .unwrap();
    assert!(entry.actor.starts_with("user:"), "{}", entry.actor);
}

async fn a_reward_is_created_edited_and_deactivated(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (owner, csrf) = signed_in(&app, "owner@chai.in", Role::Owner).await;
    assert_eq!(
        save_program(&app, &owner, &program_form(&csrf)).await.status(),
        303
    );
    let path = format!("/app/{}/loyalty/rewards", app.store.id);

    let r = owner
        .post(
            &app,
            &path,
            &[
                ("csrf", &csrf),
                ("name", "Half off"),
                ("discount.kind", "percent"),
                ("discount.value", "0"),
                ("points_cost", "100"),
            ],
        )
        .await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(
        html.contains(r#"data-error-for="discount.value">A percent discount runs from 0.01 to 100."#),
        "{html}"
    );
    assert!(app.db.rewards(app.store.id, false).await.unwrap().is_empty());

    let r = owner
        .post(
            &app,
            &path,
            &[
                ("csrf", &csrf),
                ("name", "₹100 off"),
                ("description", "On any order"),
                ("discount.kind", "fixed"),
                ("discount.value", "100"),
                ("points_cost", "500"),
                ("min_tier", "gold"),
                ("per_customer_limit", "2"),
                ("stock", ""),
                ("coupon_valid_days", "30"),
                ("minimum_spend_minor", "999"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    let rewards = app.db.rewards(app.store.id, false).await.unwrap();
    assert_eq!(rewards.len(), 1);
    let created = &rewards[0];
    assert_eq!(created.input.discount, Discount::Fixed { amount: 10_000 });
    assert_eq!(created.input.min_tier.as_deref(), Some("gold"));
    assert_eq!(created.input.minimum_spend_minor, 99_900);
    assert_eq!(created.input.stock, None);
    assert!(created.input.active);
    let list = owner
        .get(&app, &format!("{path}?done=created"))
        .await
        .text()
        .await
        .unwrap();
    assert!(list.contains("Reward created."));
    assert!(list.contains("₹100.00 off") && list.contains("Gold"), "{list}");

    let edit = format!("{path}/{}", created.id);
    let form = owner.get(&app, &edit).await.text().await.unwrap();
    assert!(form.contains(r#"name="points_cost" value="500""#), "{form}");
    let r = owner
        .post(
            &app,
            &edit,
            &[
                ("csrf", &csrf),
                ("name", "₹150 off"),
                ("discount.kind", "fixed"),
                ("discount.value", "150"),
                ("points_cost", "400"),
                ("min_tier", ""),
                ("active", "1"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    let edited = app.db.reward(app.store.id, &created.id).await.unwrap();
    assert_eq!(edited.input.name, "₹150 off");
    assert_eq!(edited.input.points_cost, 400);
    assert_eq!(edited.input.discount, Discount::Fixed { amount: 15_000 });
    assert_eq!(edited.input.min_tier, None);

    let r = owner
        .post(
            &app,
            &format!("{edit}/active"),
            &[("csrf", &csrf), ("active", "0")],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert!(
        !app.db
            .reward(app.store.id, &created.id)
            .await
            .unwrap()
            .input
            .active
    );
    let list = owner.get(&app, &path).await.text().await.unwrap();
    assert!(
        list.contains("Not offered") && list.contains("Offer again"),
        "{list}"
    );
}

async fn the_reports_add_up_a_known_dataset(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (owner, csrf) = signed_in(&app, "owner@chai.in", Role::Owner).await;
    // 1 point per rupee, available at once, expiring after 50 days; 100 points are worth ₹0.50.
    let form = with(
        program_form(&csrf),
        &[
            ("earn.per_minor", "1"),
            ("expiry_days", "50"),
            ("value_per_100_points_minor", "0.50"),
            ("tiers.levels[0].id", ""),
            ("tiers.levels[0].name", ""),
            ("tiers.levels[0].threshold", ""),
        ],
    );
    assert_eq!(save_program(&app, &owner, &form).await.status(), 303);
    let placed = Timestamp(Timestamp::now().0 - DAY);
    let customers = orders(
        &app,
        &app.store,
        &[
            order(&app.store, "k-1", "asha", 100_000, placed),
            order(&app.store, "k-2", "ravi", 50_000, placed),
        ],
    )
    .await;
    let mut tx = app.db.begin().await.unwrap();
    let tote = tx
        .create_reward(app.store.id, &reward("₹100 off", 300))
        .await
        .unwrap();
    tx.redeem_reward(&app.store, customers[0], &tote.id, "test", Timestamp::now())
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let html = owner
        .get(&app, &format!("/app/{}/loyalty/reports", app.store.id))
        .await
        .text()
        .await
        .unwrap();
    let card = |key: &str| {
        let at = html
            .find(&format!(r#"data-figure="{key}""#))
            .unwrap_or_else(|| panic!("{key}: {html}"));
        let figure = &html[at..];
        let start = figure.find(r#"class="figure">"#).unwrap() + r#"class="figure">"#.len();
        figure[start..start + figure[start..].find('<').unwrap()].to_string()
    };
    // 1,000 + 500 earned, 300 spent: 1,200 left, worth ₹6.00.
    assert_eq!(card("available"), "1,200 points");
    assert_eq!(card("pending"), "0 points");
    assert_eq!(card("value"), "₹6.00");
    assert_eq!(card("members"), "2");
    assert_eq!(card("expiring"), "0 points");
    // They expire 49 days from now: in the second 30-day period ahead.
    let expiry = &html[html.find(r#"id="expiry""#).unwrap()..html.find(r#"id="redemptions""#).unwrap()];
    let rows: Vec<&str> = expiry.split("<tr").skip(2).collect();
    assert_eq!(rows.len(), 12, "six periods back, six ahead");
    assert!(rows[7].contains(r#"<td class="num">1,200</td>"#), "{}", rows[7]);
    assert!(rows
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 7)
        .all(|(_, r)| r.contains(r#"<td class="num">0</td>"#)));
    assert!(html.contains("1 redemptions, 300 points"), "{html}");
    assert!(html.contains("<td>₹100 off</td>"), "{html}");
    assert!(html.contains(r#"data-check="clean""#), "{html}");
    assert!(html.contains("1,200 points outstanding"), "{html}");

    // A period before the redemption shows none; a period backwards is refused.
    let old = owner
        .get(
            &app,
            &format!(
                "/app/{}/loyalty/reports?from=2020-01-01&to=2020-01-31",
                app.store.id
            ),
        )
        .await
        .text()
        .await
        .unwrap();
    assert!(old.contains("No redemptions in this period."), "{old}");
    let backwards = owner
        .get(
            &app,
            &format!(
                "/app/{}/loyalty/reports?from=2020-02-01&to=2020-01-01",
                app.store.id
            ),
        )
        .await
        .text()
        .await
        .unwrap();
    assert!(backwards.contains("The last day comes before the first."));

    // The members list: both, most points first, each linking to their profile.
    let members = owner
        .get(&app, &format!("/app/{}/loyalty/members", app.store.id))
        .await
        .text()
        .await
        .unwrap();
    assert!(members.contains("2 members"), "{members}");
    let ravi = members.find("ravi@example.in").unwrap();
    let asha = members.find("asha@example.in").unwrap();
    assert!(asha < ravi, "700 points before 500");
    assert!(members.contains(&format!(
        r#"href="/app/{}/customers/{}#loyalty""#,
        app.store.id, customers[0]
    )));
}

async fn other_stores_members_and_rewards_are_not_found(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (other, _) = app.other_store().await;
    let (owner, csrf) = signed_in(&app, "owner@chai.in", Role::Owner).await;
    let theirs = orders(
        &app,
        &other,
        &[order(&other, "t-1", "ani", 10_000, Timestamp::now())],
    )
    .await[0];
    let mut tx = app.db.begin().await.unwrap();
    let their_reward = tx
        .create_reward(other.id, &reward("Their tote", 100))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let ours = format!("/app/{}", app.store.id);

    let r = owner
        .get(&app, &format!("{ours}/customers/{theirs}/loyalty"))
        .await;
    assert_eq!(r.status(), 404);
    let r = owner
        .post(
            &app,
            &format!("{ours}/customers/{theirs}/loyalty/adjust"),
            &[("csrf", &csrf), ("points", "10"), ("reason", "probe")],
        )
        .await;
    assert_eq!(r.status(), 404);
    assert!(app
        .db
        .points_history(other.id, theirs, None, 10)
        .await
        .unwrap()
        .is_empty());
    let r = owner
        .get(&app, &format!("{ours}/loyalty/rewards/{}", their_reward.id))
        .await;
    assert_eq!(r.status(), 404);
    let r = owner
        .post(
            &app,
            &format!("{ours}/loyalty/rewards/{}", their_reward.id),
            &[
                ("csrf", &csrf),
                ("name", "Mine now"),
                ("discount.kind", "fixed"),
                ("discount.value", "1"),
                ("points_cost", "1"),
                ("active", "1"),
            ],
        )
        .await;
    assert_eq!(r.status(), 404);
    let r = owner
        .post(
            &app,
            &format!("{ours}/loyalty/rewards/{}/active", their_reward.id),
            &[("csrf", &csrf), ("active", "0")],
        )
        .await;
    assert_eq!(r.status(), 404);
    let kept = app.db.reward(other.id, &their_reward.id).await.unwrap();
    assert_eq!(
        (kept.input.name.as_str(), kept.input.active),
        ("Their tote", true)
    );
    for page in ["loyalty", "loyalty/members", "loyalty/rewards", "loyalty/reports"] {
        let r = owner.get(&app, &format!("/app/{}/{page}", other.id)).await;
        assert_eq!(r.status(), 404, "{page}");
    }
}

/// A multiplier is saved and read back, or refused with nothing stored: never a program the
/// store cannot read.
async fn a_multiplier_is_saved_or_refused_but_never_breaks_the_program(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (owner, csrf) = signed_in(&app, "owner@chai.in", Role::Owner).await;
    assert_eq!(
        save_program(&app, &owner, &program_form(&csrf)).await.status(),
        303
    );
    let before = app.db.loyalty_program(app.store.id).await.unwrap();
    let form = with(
        program_form(&csrf),
        &[
            ("products[0].value", "SAREE"),
            ("products[0].percent", "300"),
            ("days[0].from", "2026-03-10"),
            ("days[0].percent", "200"),
        ],
    );
    let r = save_program(&app, &owner, &form).await;
    let status = r.status().as_u16();
    let html = r.text().await.unwrap();
    let after = app
        .db
        .loyalty_program(app.store.id)
        .await
        .expect("the program still reads");
    match status {
        303 => {
            let m = &after.program.multipliers;
            assert_eq!(m.len(), 2, "{m:?}");
            assert_eq!((m[0].percent, m[1].percent), (300, 200));
        }
        422 => {
            assert!(html.contains("cannot be stored yet"), "{html}");
            assert_eq!(after.program, before.program);
        }
        other => panic!("unexpected {other}: {html}"),
    }
    let page = owner.get(&app, &format!("/app/{}/loyalty", app.store.id)).await;
    assert_eq!(page.status(), 200);
}

on_both_backends!(
    a_multiplier_is_saved_or_refused_but_never_breaks_the_program,
    settings_are_saved_and_shown,
    a_refused_setting_names_its_field_and_changes_nothing,
    the_preview_shows_the_points_for_an_amount,
    roles_decide_who_edits_the_program_and_who_adjusts_points,
    an_adjustment_needs_a_reason_and_shows_in_the_profile,
    a_reward_is_created_edited_and_deactivated,
    the_reports_add_up_a_known_dataset,
    other_stores_members_and_rewards_are_not_found,
);
