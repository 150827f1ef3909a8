//! Coupons: the store's batches and codes with their status and usage, a form to generate a
//! batch, a CSV import, and a batch's codes as a CSV download.

use askama::Template;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{DefaultBodyLimit, Multipart, Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use regulars_domain::{
    parse_minor, CouponScope, Discount, FieldError, Money, Permission, Role, Timestamp, DEFAULT_CHARSET,
};
use regulars_i18n::{format_date, format_money, format_number, text, text_with, Lang};
use regulars_store::{
    BatchRecord, CouponFilter, CouponImport, CouponRecord, CouponStatus, CouponTerms, ImportRowError,
    NewBatch, StoreError, StoreRecord,
};
use serde::Deserialize;

use super::pages::{render, Chrome};
use super::session::Staff;
use super::unavailable;
use crate::AppState;

/// Who may generate, import and download codes: the people who run the store's marketing.
const MANAGE: Permission = Permission::SetGoals;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/app/{store}/coupons", get(list))
        .route("/app/{store}/coupons/batches", post(generate))
        .route(
            "/app/{store}/coupons/import",
            post(import).layer(DefaultBodyLimit::max(32 * 1024 * 1024)),
        )
        .route("/app/{store}/coupons/batches/{id}/codes.csv", get(download))
}

pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

pub struct BatchLine {
    pub name: String,
    pub kind: String,
    pub codes: String,
    pub used: String,
    pub created: String,
    pub href: String,
    pub download: String,
}

pub struct CouponLine {
    pub code: String,
    pub discount: String,
    pub status: String,
    pub status_key: &'static str,
    pub usage: String,
    pub reserved: String,
    pub expires: String,
    /// Only a customer's first order may use it.
    pub first_order_only: bool,
}

/// What the generate form was sent with, to show again beside its error.
#[derive(Deserialize, Default)]
pub struct BatchForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub count: String,
    #[serde(default)]
    pub prefix: String,
    #[serde(default)]
    pub pattern: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub value: String,
    #[serde(default)]
    pub minimum_spend: String,
    #[serde(default)]
    pub expires: String,
    #[serde(default)]
    pub usage_limit: String,
    #[serde(default)]
    pub stackable: Option<String>,
    #[serde(default)]
    pub first_order_only: Option<String>,
}

#[derive(Template)]
#[template(path = "coupons.html")]
pub struct CouponsPage {
    pub chrome: Chrome,
    pub store_name: String,
    pub base: String,
    pub csrf: String,
    pub can_manage: bool,
    pub form: BatchForm,
    pub kinds: Vec<Choice>,
    pub generate_error: Option<String>,
    pub import_errors: Vec<String>,
    pub notice: Option<String>,
    pub batches: Vec<BatchLine>,
    pub statuses: Vec<Choice>,
    pub batch: String,
    pub rows: Vec<CouponLine>,
    pub next_href: Option<String>,
    pub charset: &'static str,
}

#[derive(Deserialize, Default)]
struct ListParams {
    #[serde(default)]
    status: String,
    #[serde(default)]
    batch: String,
    #[serde(default)]
    after: String,
    #[serde(default)]
    done: String,
}

fn kind_choices(lang: Lang, current: &str) -> Vec<Choice> {
    ["percent", "fixed", "free_shipping"]
        .into_iter()
        .map(|k| Choice {
            value: k.into(),
            label: text(lang, &format!("coupons-kind-{}", k.replace('_', "-"))),
            selected: k == current,
        })
        .collect()
}

/// A discount in the reader's words.
fn discount_text(lang: Lang, store: &StoreRecord, discount: &Discount) -> String {
    match discount {
        Discount::Fixed { amount } => text_with(
            lang,
            "coupons-discount-fixed",
            &[("amount", &format_money(lang, *amount, store.currency))],
        ),
        Discount::Percent { basis_points } => {
            let whole = regulars_domain::format_minor(*basis_points, 2);
            let percent = whole.trim_end_matches('0').trim_end_matches('.');
            text_with(lang, "coupons-discount-percent", &[("percent", percent)])
        }
        Discount::FreeShipping => text(lang, "coupons-kind-free-shipping"),
        Discount::FreeProduct { sku } => text_with(lang, "coupons-discount-product", &[("sku", sku)]),
        Discount::Gift { description } => {
            text_with(lang, "coupons-discount-gift", &[("description", description)])
        }
    }
}

fn status_key(status: CouponStatus) -> &'static str {
    match status {
        CouponStatus::Active => "active",
        CouponStatus::Scheduled => "scheduled",
        CouponStatus::Expired => "expired",
        CouponStatus::UsedUp => "used-up",
    }
}

fn coupon_line(lang: Lang, store: &StoreRecord, c: &CouponRecord) -> CouponLine {
    let key = status_key(c.status);
    let limit = c
        .usage_limit
        .map(|l| format_number(lang, l, None))
        .unwrap_or_else(|| text(lang, "coupons-unlimited"));
    CouponLine {
        code: c.code.clone(),
        discount: discount_text(lang, store, &c.discount),
        status: text(lang, &format!("coupons-status-{key}")),
        status_key: key,
        usage: text_with(
            lang,
            "coupons-usage",
            &[("used", &format_number(lang, c.used, None)), ("limit", &limit)],
        ),
        reserved: format_number(lang, c.reserved, None),
        expires: c
            .expires_at
            .map(|t| format_date(lang, t, store.timezone.0))
            .unwrap_or_else(|| text(lang, "coupons-never")),
        first_order_only: c.first_order_only,
    }
}

fn batch_line(lang: Lang, store: &StoreRecord, b: &BatchRecord) -> BatchLine {
    let base = format!("/app/{}/coupons", store.id);
    BatchLine {
        name: b.name.clone(),
        kind: text(lang, &format!("coupons-batch-{}", b.kind)),
        codes: format_number(lang, b.code_count, None),
        used: format_number(lang, b.codes_used, None),
        created: format_date(lang, b.created_at, store.timezone.0),
        href: format!("{base}?batch={}", b.id),
        download: format!("{base}/batches/{}/codes.csv", b.id),
    }
}

/// An input refusal in the reader's words: known codes have their own sentence, the rest
/// name the field.
fn error_text(lang: Lang, code: &str, field: &str) -> String {
    let id = format!("coupons-error-{}", code.replace('_', "-"));
    let said = text(lang, &id);
    if said != id {
        return said;
    }
    text_with(lang, "coupons-error-invalid", &[("field", field)])
}

fn row_error_text(lang: Lang, e: &ImportRowError) -> String {
    text_with(
        lang,
        "coupons-import-row-error",
        &[
            ("line", &e.line.to_string()),
            ("field", &e.field),
            ("reason", &error_text(lang, e.code, &e.field)),
        ],
    )
}

struct Shown {
    form: BatchForm,
    generate_error: Option<String>,
    import_errors: Vec<String>,
}

async fn page(
    state: &AppState,
    staff: &Staff,
    store: &StoreRecord,
    role: Role,
    p: &ListParams,
    shown: Shown,
) -> Result<CouponsPage, Response> {
    let lang = staff.lang;
    let base = format!("/app/{}/coupons", store.id);
    let status = CouponStatus::parse(&p.status).ok();
    let batch = Some(p.batch.trim().to_string()).filter(|b| !b.is_empty());
    let filter = CouponFilter {
        batch_id: batch.clone(),
        status,
        customer_id: None,
        after: Some(p.after.trim().to_string()).filter(|a| !a.is_empty()),
        limit: 50,
    };
    let (batches, coupons) =
        match tokio::try_join!(state.db.coupon_batches(store), state.db.coupons(store, &filter)) {
            Ok(found) => found,
            Err(e) => return Err(unavailable(e, "listing coupons")),
        };
    let next_href = (coupons.len() == 50).then(|| {
        let last = coupons.last().map(|c| c.id.as_str()).unwrap_or_default();
        format!(
            "{base}?status={}&batch={}&after={last}",
            status.map(CouponStatus::as_str).unwrap_or(""),
            batch.as_deref().unwrap_or("")
        )
    });
    let notice = match p.done.as_str() {
        "generated" => Some(text(lang, "coupons-notice-generated")),
        "imported" => Some(text(lang, "coupons-notice-imported")),
        _ => None,
    };
    let kind = if shown.form.kind.is_empty() {
        "percent".to_string()
    } else {
        shown.form.kind.clone()
    };
    Ok(CouponsPage {
        chrome: Chrome::signed_in(lang, &staff.session, Some(store.id), "/coupons"),
        store_name: store.name.clone(),
        base,
        csrf: staff.session.csrf_token.clone(),
        can_manage: role.can(MANAGE),
        kinds: kind_choices(lang, &kind),
        form: shown.form,
        generate_error: shown.generate_error,
        import_errors: shown.import_errors,
        notice,
        batches: batches.iter().map(|b| batch_line(lang, store, b)).collect(),
        statuses: std::iter::once(Choice {
            value: String::new(),
            label: text(lang, "coupons-status-any"),
            selected: status.is_none(),
        })
        .chain(CouponStatus::ALL.into_iter().map(|s| Choice {
            value: s.as_str().into(),
            label: text(lang, &format!("coupons-status-{}", status_key(s))),
            selected: Some(s) == status,
        }))
        .collect(),
        batch: batch.unwrap_or_default(),
        rows: coupons.iter().map(|c| coupon_line(lang, store, c)).collect(),
        next_href,
        charset: DEFAULT_CHARSET,
    })
}

fn respond(status: StatusCode, page: &CouponsPage) -> Response {
    let mut response = render(page);
    if response.status() == StatusCode::OK {
        *response.status_mut() = status;
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

async fn list(
    State(state): State<AppState>,
    staff: Staff,
    Path(store): Path<String>,
    Query(p): Query<ListParams>,
) -> Response {
    let (store, role) = match staff.store(&state, &store, Permission::Read).await {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    let shown = Shown {
        form: BatchForm {
            count: "100".into(),
            usage_limit: "1".into(),
            ..Default::default()
        },
        generate_error: None,
        import_errors: vec![],
    };
    match page(&state, &staff, &store, role, &p, shown).await {
        Ok(page) => respond(StatusCode::OK, &page),
        Err(response) => response,
    }
}

/// The form's fields as a batch; a refusal names the field it is about.
fn batch_from_form(form: &BatchForm, store: &StoreRecord) -> Result<NewBatch, FieldError> {
    let opt = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
    let count = form
        .count
        .trim()
        .parse::<usize>()
        .map_err(|_| FieldError::new("count", "invalid_count", "a whole number of codes"))?;
    let discount = match form.kind.as_str() {
        "fixed" => Discount::Fixed {
            amount: Money::parse_major(&form.value, store.currency)
                .map_err(|e| e.at("value"))?
                .minor,
        },
        "free_shipping" => Discount::FreeShipping,
        _ => Discount::Percent {
            basis_points: parse_minor(form.value.trim().trim_end_matches('%'), 2)
                .map_err(|e| e.at("value"))?,
        },
    };
    let minimum_spend = match opt(&form.minimum_spend) {
        Some(s) => {
            Money::parse_major(&s, store.currency)
                .map_err(|e| e.at("minimum_spend"))?
                .minor
        }
        None => 0,
    };
    // A date means "valid through that day" in the store's time zone.
    let expires_at = opt(&form.expires)
        .map(|d| Timestamp::parse_flexible(&d, store.timezone.0).map_err(|e| e.at("expires")))
        .transpose()?
        .map(|t| Timestamp(t.0 + 86_400_000));
    let usage_limit = opt(&form.usage_limit)
        .map(|s| {
            s.parse::<i64>()
                .map_err(|_| FieldError::new("usage_limit", "invalid_limit", "a whole number"))
        })
        .transpose()?;
    Ok(NewBatch {
        name: form.name.clone(),
        count,
        prefix: opt(&form.prefix),
        pattern: opt(&form.pattern),
        length: None,
        charset: None,
        terms: CouponTerms {
            discount,
            starts_at: None,
            expires_at,
            minimum_spend,
            scope: CouponScope::default(),
            customer_id: None,
            usage_limit,
            per_customer_limit: None,
            stackable: form.stackable.is_some(),
            first_order_only: form.first_order_only.is_some(),
        },
    })
}

async fn generate(
    State(state): State<AppState>,
    staff: Staff,
    Path(store): Path<String>,
    headers: HeaderMap,
    Form(form): Form<BatchForm>,
) -> Response {
    let (store, role) = match staff
        .store_form(&state, &store, MANAGE, &headers, &form.csrf)
        .await
    {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    let lang = staff.lang;
    let outcome = match batch_from_form(&form, &store) {
        Ok(batch) => {
            let created: Result<BatchRecord, StoreError> = async {
                let mut tx = state.db.begin().await?;
                let made = tx.create_coupon_batch(&store, &batch).await?;
                tx.commit().await?;
                Ok(made)
            }
            .await;
            created
        }
        Err(e) => Err(e.into()),
    };
    match outcome {
        Ok(made) => {
            tracing::info!(store = %store.id, batch = %made.id, user = %staff.session.user.id, "coupon batch generated");
            Redirect::to(&format!(
                "/app/{}/coupons?batch={}&done=generated",
                store.id, made.id
            ))
            .into_response()
        }
        Err(StoreError::Invalid(e)) => {
            let label = text(
                lang,
                &format!("coupons-field-{}", e.field.replace(['_', '.'], "-")),
            );
            let shown = Shown {
                generate_error: Some(error_text(lang, e.code, &label)),
                form,
                import_errors: vec![],
            };
            match page(&state, &staff, &store, role, &ListParams::default(), shown).await {
                Ok(page) => respond(StatusCode::UNPROCESSABLE_ENTITY, &page),
                Err(response) => response,
            }
        }
        Err(e) => unavailable(e, "generating coupons"),
    }
}

async fn import(
    State(state): State<AppState>,
    staff: Staff,
    Path(store): Path<String>,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> Response {
    let Ok(mut multipart) = multipart else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let (mut csrf, mut name, mut file) = (String::new(), String::new(), Vec::new());
    loop {
        match multipart.next_field().await {
            Ok(Some(field)) => {
                let which = field.name().unwrap_or_default().to_string();
                let Ok(bytes) = field.bytes().await else {
                    return StatusCode::BAD_REQUEST.into_response();
                };
                match which.as_str() {
                    "csrf" => csrf = String::from_utf8_lossy(&bytes).into_owned(),
                    "name" => name = String::from_utf8_lossy(&bytes).into_owned(),
                    "file" => file = bytes.to_vec(),
                    _ => {}
                }
            }
            Ok(None) => break,
            Err(e) => return e.status().into_response(),
        }
    }
    let (store, role) = match staff.store_form(&state, &store, MANAGE, &headers, &csrf).await {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    let lang = staff.lang;
    if name.trim().is_empty() {
        name = text_with(
            lang,
            "coupons-import-default-name",
            &[("date", &format_date(lang, Timestamp::now(), store.timezone.0))],
        );
    }
    let outcome = async {
        let mut tx = state.db.begin().await?;
        let out = tx.import_coupons(&store, &name, &file).await?;
        if matches!(out, CouponImport::Imported(_)) {
            tx.commit().await?;
        } else {
            tx.rollback().await?;
        }
        Ok::<_, StoreError>(out)
    }
    .await;
    let errors: Vec<String> = match outcome {
        Ok(CouponImport::Imported(batch)) => {
            tracing::info!(store = %store.id, batch = %batch.id, codes = batch.code_count, user = %staff.session.user.id, "coupons imported");
            return Redirect::to(&format!(
                "/app/{}/coupons?batch={}&done=imported",
                store.id, batch.id
            ))
            .into_response();
        }
        // Long reports are cut: the first hundred rows say what is wrong with the file.
        Ok(CouponImport::Rejected(rows)) => {
            let mut shown: Vec<String> = rows.iter().take(100).map(|e| row_error_text(lang, e)).collect();
            if rows.len() > 100 {
                shown.push(text_with(
                    lang,
                    "coupons-import-more-errors",
                    &[("count", &format_number(lang, (rows.len() - 100) as i64, None))],
                ));
            }
            shown
        }
        Err(StoreError::Invalid(e)) => vec![error_text(lang, e.code, &e.field)],
        Err(e) => return unavailable(e, "importing coupons"),
    };
    let shown = Shown {
        form: BatchForm {
            count: "100".into(),
            usage_limit: "1".into(),
            ..Default::default()
        },
        generate_error: None,
        import_errors: errors,
    };
    match page(&state, &staff, &store, role, &ListParams::default(), shown).await {
        Ok(page) => respond(StatusCode::UNPROCESSABLE_ENTITY, &page),
        Err(response) => response,
    }
}

/// A batch's codes as CSV, one code a line with its status and usage.
async fn download(
    State(state): State<AppState>,
    staff: Staff,
    Path((store, id)): Path<(String, String)>,
) -> Response {
    let (store, _) = match staff.store(&state, &store, MANAGE).await {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    let batch = match state.db.coupon_batch(&store, &id).await {
        Ok(Some(b)) => b,
        Ok(None) => return staff.refuse(StatusCode::NOT_FOUND, "error-not-found"),
        Err(e) => return unavailable(e, "reading a coupon batch"),
    };
    let mut out = csv::Writer::from_writer(Vec::new());
    let header = ["code", "status", "used", "usage_limit", "expires_at"];
    if out.write_record(header).is_err() {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    let mut after = None;
    loop {
        let filter = CouponFilter {
            batch_id: Some(batch.id.clone()),
            after: after.clone(),
            limit: 5_000,
            ..Default::default()
        };
        let page = match state.db.coupons(&store, &filter).await {
            Ok(p) => p,
            Err(e) => return unavailable(e, "downloading coupons"),
        };
        let Some(last) = page.last() else { break };
        after = Some(last.id.clone());
        for c in &page {
            let record = [
                c.code.clone(),
                c.status.as_str().to_string(),
                c.used.to_string(),
                c.usage_limit.map(|l| l.to_string()).unwrap_or_default(),
                c.expires_at.map(Timestamp::to_rfc3339).unwrap_or_default(),
            ];
            if out.write_record(&record).is_err() {
                return StatusCode::INTERNAL_SERVER_ERROR.into_response();
            }
        }
    }
    let bytes = out.into_inner().unwrap_or_default();
    let safe: String = batch
        .name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"coupons-{safe}.csv\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        bytes,
    )
        .into_response()
}
