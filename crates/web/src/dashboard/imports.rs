//! Imports from the dashboard: upload a shop export or a transaction log, follow its progress,
//! read the rejected rows.
//!
//! The upload is streamed to a temporary file (never held in memory), its options are checked
//! against the file's header before anything is written, and the import then runs in the
//! background while its page follows it (htmx polls a fragment every second until the end).

use std::io::{BufReader, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use askama::Template;
use axum::extract::multipart::{Field, MultipartError, MultipartRejection};
use axum::extract::{DefaultBodyLimit, Multipart, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use regulars_domain::{Permission, StoreId};
use regulars_i18n::{format_datetime, format_number, text, text_with, Lang};
use regulars_import::{Kind, OptionError, Plan, Summary, TransactionSettings};
use regulars_store::{Db, ImportId, ImportRecord, ImportStatus, StoreError, StoreRecord};
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;

use super::pages::{render, Chrome, Tr};
use super::session::Staff;
use super::unavailable;
use crate::AppState;

/// The largest file the form accepts.
const UPLOAD_LIMIT: usize = 512 * 1024 * 1024;
/// Rejected rows kept for the report (all are counted).
const SHOWN_REJECTIONS: usize = 1_000;
/// Imports listed under the form.
const RECENT: u64 = 20;
/// The longest value of a text field of the form.
const FIELD_LIMIT: usize = 1024;
/// How often a running import writes its progress at most.
const PROGRESS_EVERY: Duration = Duration::from_millis(500);

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/app/{store}/import",
            get(import_form)
                .post(upload)
                .layer(DefaultBodyLimit::max(UPLOAD_LIMIT)),
        )
        .route("/app/{store}/import/{id}", get(show))
        .route("/app/{store}/import/{id}/progress", get(progress))
}

// ---------------------------------------------------------------------------------------------
// Pages

pub struct Choice {
    pub value: &'static str,
    pub label: String,
    pub checked: bool,
}

/// A message beside the form field it is about.
pub struct FieldProblem {
    pub field: &'static str,
    pub message: String,
}

/// The form as entered (the file aside: browsers never refill a file input).
pub struct FormView {
    pub kinds: Vec<Choice>,
    pub delimiters: Vec<Choice>,
    pub customer_col: String,
    pub date_col: String,
    pub amount_col: String,
    pub order_col: String,
    pub date_format: String,
    pub currency: String,
    pub no_header: bool,
    pub credit_points: bool,
    pub problems: Vec<FieldProblem>,
}

impl FormView {
    /// The problem with one field, if it has one.
    pub fn error(&self, field: &str) -> Option<&str> {
        self.problems
            .iter()
            .find(|p| p.field == field)
            .map(|p| p.message.as_str())
    }
}

/// One import in the list of recent ones.
pub struct ImportLine {
    pub href: String,
    pub started: String,
    pub file_name: String,
    pub kind: String,
    pub status: &'static str,
    pub status_label: String,
    pub created: String,
    pub updated: String,
    pub unchanged: String,
    pub rejected: String,
}

#[derive(Template)]
#[template(path = "import.html")]
pub struct ImportPage {
    pub chrome: Chrome,
    pub store_name: String,
    pub action: String,
    pub csrf: String,
    pub file_help: String,
    pub form: FormView,
    pub recent: Vec<ImportLine>,
}

pub struct Figure {
    pub key: &'static str,
    pub label: String,
    pub value: String,
}

pub struct RejectionLine {
    pub line: u64,
    pub line_text: String,
    pub field: String,
    pub reason: String,
}

/// How far an import has got: the part of its page that follows it while it runs.
pub struct ProgressView {
    pub t: Tr,
    pub poll_url: String,
    pub running: bool,
    pub status: &'static str,
    pub status_label: String,
    /// Bytes read of the upload, and its size, while it runs.
    pub bytes: Option<(u64, u64)>,
    pub figures: Vec<Figure>,
    /// Why it stopped, when it did not finish.
    pub detail: Option<String>,
    pub all_imported: bool,
    pub rejections: Vec<RejectionLine>,
    /// "The first 1,000 of 1,234 rejected rows", when not all are shown.
    pub rejections_note: Option<String>,
}

#[derive(Template)]
#[template(path = "import_show.html")]
pub struct ImportShowPage {
    pub chrome: Chrome,
    pub store_name: String,
    pub list_href: String,
    pub file_name: String,
    pub kind: String,
    pub started: String,
    pub p: ProgressView,
}

#[derive(Template)]
#[template(path = "import_progress.html")]
pub struct ProgressFragment {
    pub p: ProgressView,
}

// ---------------------------------------------------------------------------------------------
// What the importer's progress is stored as

/// The summary as stored while an import runs and after: the importer's own, with how much of
/// the upload has been read.
#[derive(Serialize)]
struct Stored<'a> {
    #[serde(flatten)]
    summary: &'a Summary,
    bytes_read: u64,
    bytes_total: u64,
}

/// The stored summary read back (every field optional: an older or partial one still shows).
#[derive(Deserialize, Default)]
#[serde(default)]
struct Report {
    created: u64,
    updated: u64,
    unchanged: u64,
    rejected: u64,
    bytes_read: u64,
    bytes_total: u64,
    rejections: Vec<regulars_import::Rejection>,
}

/// The counts alone, for the list (the rejections are skipped, not collected).
#[derive(Deserialize, Default)]
#[serde(default)]
struct Counts {
    created: u64,
    updated: u64,
    unchanged: u64,
    rejected: u64,
}

fn read_json<T: for<'de> Deserialize<'de> + Default>(record: &ImportRecord) -> T {
    record
        .summary
        .as_deref()
        .and_then(|s| serde_json::from_str(s).ok())
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// The form and the list

fn kind_label(lang: Lang, kind: &str) -> String {
    text(lang, &format!("import-kind-{kind}"))
}

fn status_label(lang: Lang, status: ImportStatus) -> String {
    text(lang, &format!("import-status-{}", status.as_str()))
}

/// The Fluent id of a form field's label.
fn field_label(lang: Lang, field: &str) -> String {
    text(lang, &format!("import-{}", field.replace('_', "-")))
}

const DELIMITERS: [(&str, &str); 5] = [
    (",", "comma"),
    (";", "semicolon"),
    ("tab", "tab"),
    ("|", "pipe"),
    ("whitespace", "whitespace"),
];

/// What was entered, as the form shows it again.
#[derive(Default)]
struct Entered {
    kind: String,
    settings: TransactionSettings,
    credit_points: bool,
}

fn form_view(lang: Lang, store: &StoreRecord, entered: &Entered, problems: Vec<FieldProblem>) -> FormView {
    let kind = Kind::parse(&entered.kind).unwrap_or(Kind::ShopifyCustomers);
    let s = &entered.settings;
    let value = |v: &Option<String>| v.clone().unwrap_or_default();
    let delimiter = s.delimiter.as_deref().unwrap_or(",");
    FormView {
        kinds: Kind::ALL
            .into_iter()
            .map(|k| Choice {
                value: k.as_str(),
                label: kind_label(lang, k.as_str()),
                checked: k == kind,
            })
            .collect(),
        delimiters: DELIMITERS
            .into_iter()
            .map(|(value, name)| Choice {
                value,
                label: text(lang, &format!("import-delimiter-{name}")),
                checked: value == delimiter,
            })
            .collect(),
        customer_col: value(&s.customer_col),
        date_col: value(&s.date_col),
        amount_col: value(&s.amount_col),
        order_col: value(&s.order_col),
        date_format: value(&s.date_format),
        currency: s
            .currency
            .clone()
            .unwrap_or_else(|| store.currency.code().to_string()),
        no_header: s.no_header,
        credit_points: entered.credit_points,
        problems,
    }
}

async fn form_page(
    state: &AppState,
    staff: &Staff,
    store: &StoreRecord,
    entered: &Entered,
    problems: Vec<FieldProblem>,
) -> Response {
    let records = match state.db.imports(store.id, RECENT).await {
        Ok(r) => r,
        Err(e) => return unavailable(e, "listing imports"),
    };
    let lang = staff.lang;
    let n = |v: u64| format_number(lang, i64::try_from(v).unwrap_or(i64::MAX), Some(store.currency));
    let recent = records
        .iter()
        .map(|r| {
            let counts: Counts = read_json(r);
            ImportLine {
                href: format!("/app/{}/import/{}", store.id, r.id),
                started: format_datetime(lang, r.started_at, store.timezone.0),
                file_name: r.file_name.clone(),
                kind: kind_label(lang, &r.kind),
                status: r.status.as_str(),
                status_label: status_label(lang, r.status),
                created: n(counts.created),
                updated: n(counts.updated),
                unchanged: n(counts.unchanged),
                rejected: n(counts.rejected),
            }
        })
        .collect();
    let status = if problems.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let page = ImportPage {
        chrome: Chrome::signed_in(lang, &staff.session, Some(store.id), "/import"),
        store_name: store.name.clone(),
        action: format!("/app/{}/import", store.id),
        csrf: staff.session.csrf_token.clone(),
        file_help: text_with(
            lang,
            "import-file-help",
            &[("size", &format_number(lang, (UPLOAD_LIMIT >> 20) as i64, None))],
        ),
        form: form_view(lang, store, entered, problems),
        recent,
    };
    (status, render(&page)).into_response()
}

async fn import_form(State(state): State<AppState>, staff: Staff, Path(store): Path<String>) -> Response {
    let (store, _) = match staff.store(&state, &store, Permission::Import).await {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    form_page(&state, &staff, &store, &Entered::default(), Vec::new()).await
}

// ---------------------------------------------------------------------------------------------
// The upload

/// The file as received: its name, where it is, its size.
struct Upload {
    name: String,
    file: tempfile::NamedTempFile,
    size: u64,
}

/// What reading the form gave.
struct Received {
    entered: Entered,
    upload: Option<Upload>,
    problems: Vec<FieldProblem>,
}

/// Why a form was not read.
enum Refusal {
    /// No valid CSRF token before the file (or none at all).
    Forged,
    /// The body is not a readable form; the status says why.
    Unreadable(StatusCode),
}

fn problem(lang: Lang, field: &'static str, code: &str, args: &[(&str, &str)]) -> FieldProblem {
    let label = field_label(lang, field);
    let mut all = vec![("field", label.as_str())];
    all.extend_from_slice(args);
    FieldProblem {
        field,
        message: text_with(lang, &format!("import-error-{code}"), &all),
    }
}

fn multipart_status(e: &MultipartError) -> StatusCode {
    match e.status() {
        StatusCode::PAYLOAD_TOO_LARGE => StatusCode::PAYLOAD_TOO_LARGE,
        _ => StatusCode::BAD_REQUEST,
    }
}

/// A short text field, at most [`FIELD_LIMIT`] bytes; `None` when longer.
async fn small_text(field: &mut Field<'_>) -> Result<Option<String>, MultipartError> {
    let mut bytes = Vec::new();
    let mut too_long = false;
    while let Some(chunk) = field.chunk().await? {
        if bytes.len() + chunk.len() > FIELD_LIMIT {
            too_long = true;
        } else {
            bytes.extend_from_slice(&chunk);
        }
    }
    Ok((!too_long).then(|| String::from_utf8_lossy(&bytes).trim().to_string()))
}

/// The last part of a path a browser sent as the file's name.
fn clean_file_name(raw: &str) -> String {
    let name = raw.rsplit(['/', '\\']).next().unwrap_or_default().trim();
    name.chars().filter(|c| !c.is_control()).take(200).collect()
}

/// Why an upload was not saved.
enum SaveError {
    /// Reading the request failed (or it is over the limit).
    Upload(MultipartError),
    /// Writing the temporary file failed.
    Disk(std::io::Error),
}

/// Streams the file to a temporary file, chunk by chunk.
async fn save(field: &mut Field<'_>) -> Result<(tempfile::NamedTempFile, u64), SaveError> {
    let temp = tempfile::NamedTempFile::new().map_err(SaveError::Disk)?;
    let file = temp.reopen().map_err(SaveError::Disk)?;
    let mut out = tokio::io::BufWriter::with_capacity(1 << 20, tokio::fs::File::from_std(file));
    let mut size = 0u64;
    while let Some(chunk) = field.chunk().await.map_err(SaveError::Upload)? {
        size += chunk.len() as u64;
        out.write_all(&chunk).await.map_err(SaveError::Disk)?;
    }
    out.flush().await.map_err(SaveError::Disk)?;
    Ok((temp, size))
}

async fn receive(mut multipart: Multipart, staff: &Staff, headers: &HeaderMap) -> Result<Received, Refusal> {
    let lang = staff.lang;
    let mut csrf_ok = false;
    let mut entered = Entered::default();
    let mut upload = None;
    let mut problems = Vec::new();
    loop {
        let mut field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(e) => return Err(Refusal::Unreadable(multipart_status(&e))),
        };
        let name = field.name().unwrap_or_default().to_string();
        if name == "file" {
            // The token comes first in our form: a file without one is not read at all.
            if !csrf_ok {
                return Err(Refusal::Forged);
            }
            let file_name = clean_file_name(field.file_name().unwrap_or_default());
            match save(&mut field).await {
                Ok((file, size)) => {
                    upload = Some(Upload {
                        name: file_name,
                        file,
                        size,
                    })
                }
                Err(SaveError::Upload(e)) if multipart_status(&e) == StatusCode::PAYLOAD_TOO_LARGE => {
                    let size = format_number(lang, (UPLOAD_LIMIT >> 20) as i64, None);
                    problems.push(problem(lang, "file", "too_large", &[("size", &size)]));
                    return Ok(Received {
                        entered,
                        upload: None,
                        problems,
                    });
                }
                Err(SaveError::Upload(e)) => return Err(Refusal::Unreadable(multipart_status(&e))),
                Err(SaveError::Disk(e)) => {
                    tracing::error!(error = %e, "saving an upload");
                    return Err(Refusal::Unreadable(StatusCode::SERVICE_UNAVAILABLE));
                }
            }
            continue;
        }
        let value = match small_text(&mut field).await {
            Ok(Some(v)) => v,
            Ok(None) => {
                if let Some(known) = FIELDS.iter().find(|f| **f == name) {
                    problems.push(problem(lang, known, "too_long", &[]));
                }
                continue;
            }
            Err(e) => return Err(Refusal::Unreadable(multipart_status(&e))),
        };
        let s = &mut entered.settings;
        let some = |v: String| (!v.is_empty()).then_some(v);
        match name.as_str() {
            "csrf" => csrf_ok = staff.csrf_ok(headers, &value),
            "kind" => entered.kind = value,
            "customer_col" => s.customer_col = some(value),
            "date_col" => s.date_col = some(value),
            "amount_col" => s.amount_col = some(value),
            "order_col" => s.order_col = some(value),
            "date_format" => s.date_format = some(value),
            "delimiter" => s.delimiter = some(value),
            "currency" => s.currency = some(value),
            "no_header" => s.no_header = !value.is_empty(),
            "credit_points" => entered.credit_points = !value.is_empty(),
            _ => {}
        }
    }
    if !csrf_ok {
        return Err(Refusal::Forged);
    }
    Ok(Received {
        entered,
        upload,
        problems,
    })
}

/// The form's text fields that can be too long.
const FIELDS: [&str; 8] = [
    "kind",
    "customer_col",
    "date_col",
    "amount_col",
    "order_col",
    "date_format",
    "delimiter",
    "currency",
];

fn option_problem(lang: Lang, e: &OptionError, columns: &[String]) -> FieldProblem {
    let value = e.value.clone().unwrap_or_default();
    let columns = columns.join(", ");
    problem(
        lang,
        e.field.name(),
        e.code,
        &[("value", value.as_str()), ("columns", columns.as_str())],
    )
}

/// Reads the upload's header to check that the named columns exist, before anything is
/// written; when one does not, also the columns there are.
async fn check_header(
    plan: &Plan,
    path: &std::path::Path,
) -> std::io::Result<Result<(), (OptionError, Vec<String>)>> {
    let (plan, path) = (plan.clone(), path.to_path_buf());
    tokio::task::spawn_blocking(move || {
        let open = || std::fs::File::open(&path).map(BufReader::new);
        Ok(match plan.check(open()?) {
            Ok(()) => Ok(()),
            Err(e) => Err((e, plan.header_names(open()?))),
        })
    })
    .await
    .map_err(std::io::Error::other)?
}

async fn upload(
    State(state): State<AppState>,
    staff: Staff,
    Path(store): Path<String>,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> Response {
    let (store, _) = match staff.store(&state, &store, Permission::Import).await {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    let Ok(multipart) = multipart else {
        return staff.refuse(StatusCode::FORBIDDEN, "error-csrf");
    };
    let lang = staff.lang;
    let (entered, upload, mut problems) = match receive(multipart, &staff, &headers).await {
        Ok(Received {
            entered,
            upload,
            problems,
        }) => (entered, upload, problems),
        Err(Refusal::Forged) => return staff.refuse(StatusCode::FORBIDDEN, "error-csrf"),
        Err(Refusal::Unreadable(status)) => {
            return (status, text(lang, "import-error-unreadable")).into_response();
        }
    };
    if !problems.is_empty() {
        return form_page(&state, &staff, &store, &entered, problems).await;
    }
    let kind = Kind::parse(&entered.kind);
    if kind.is_none() {
        problems.push(problem(lang, "kind", "invalid_kind", &[]));
    }
    let upload = upload.filter(|u| u.size > 0);
    if upload.is_none() {
        problems.push(problem(lang, "file", "no_file", &[]));
    }
    let plan = kind.map(|k| Plan::new(k, &entered.settings, &store)).transpose();
    let plan = match plan {
        Ok(plan) => plan,
        Err(e) => {
            problems.push(option_problem(lang, &e, &[]));
            None
        }
    };
    let (Some(plan), Some(upload)) = (plan, upload) else {
        return form_page(&state, &staff, &store, &entered, problems).await;
    };
    match check_header(&plan, upload.file.path()).await {
        Ok(Ok(())) => {}
        Ok(Err((e, columns))) => {
            let problems = vec![option_problem(lang, &e, &columns)];
            return form_page(&state, &staff, &store, &entered, problems).await;
        }
        Err(e) => return unavailable(e, "reading an upload"),
    }
    let plan = plan
        .keep_rejections(SHOWN_REJECTIONS)
        .credit_points(entered.credit_points);
    let id = match state
        .db
        .start_import(
            store.id,
            Some(staff.session.user.id),
            plan.kind().as_str(),
            &upload.name,
        )
        .await
    {
        Ok(id) => id,
        Err(e) => return unavailable(e, "starting an import"),
    };
    let kind = plan.kind().as_str();
    tracing::info!(import = %id, store = %store.id, kind, bytes = upload.size, "import started");
    spawn_import(state.db.clone(), store.clone(), id, plan, upload);
    Redirect::to(&format!("/app/{}/import/{id}", store.id)).into_response()
}

// ---------------------------------------------------------------------------------------------
// Running in the background

/// Counts the bytes read from the upload, for the progress bar.
struct Counting<R> {
    inner: R,
    read: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Writes an import's progress to the database, at most every [`PROGRESS_EVERY`].
struct Recorder {
    db: Db,
    store: StoreId,
    id: ImportId,
    read: Arc<AtomicU64>,
    size: u64,
    last: Option<Instant>,
}

impl regulars_import::Progress for Recorder {
    async fn report(&mut self, so_far: &Summary) {
        if self.last.is_some_and(|t| t.elapsed() < PROGRESS_EVERY) {
            return;
        }
        self.last = Some(Instant::now());
        let stored = Stored {
            summary: so_far,
            bytes_read: self.read.load(Ordering::Relaxed).min(self.size),
            bytes_total: self.size,
        };
        if let Err(e) = self
            .db
            .record_import_progress(self.store, self.id, so_far.rows_read, &stored)
            .await
        {
            tracing::warn!(import = %self.id, error = %e, "recording an import's progress");
        }
    }
}

/// Runs the import on a blocking thread (the CSV readers are not `Send`, so the import is
/// driven there with the server's runtime) and records how it ended, even if it panics.
fn spawn_import(db: Db, store: StoreRecord, id: ImportId, plan: Plan, upload: Upload) {
    let runtime = tokio::runtime::Handle::current();
    let job = tokio::task::spawn_blocking({
        let db = db.clone();
        let store = store.clone();
        move || runtime.block_on(run_import(db, store, id, plan, upload))
    });
    tokio::spawn(async move {
        let ended = match job.await {
            Ok(ended) => ended,
            Err(e) => {
                tracing::error!(import = %id, error = %e, "an import stopped unexpectedly");
                db.fail_import(store.id, id, &e.to_string()).await.map(|_| ())
            }
        };
        if let Err(e) = ended {
            tracing::error!(import = %id, error = %e, "recording how an import ended");
        }
    });
}

async fn run_import(
    db: Db,
    store: StoreRecord,
    id: ImportId,
    plan: Plan,
    upload: Upload,
) -> Result<(), StoreError> {
    let read = Arc::new(AtomicU64::new(0));
    let file = match upload.file.reopen() {
        Ok(file) => file,
        Err(e) => {
            db.fail_import(store.id, id, &format!("the upload cannot be read: {e}"))
                .await?;
            return Ok(());
        }
    };
    let input = BufReader::with_capacity(
        1 << 20,
        Counting {
            inner: file,
            read: read.clone(),
        },
    );
    let mut recorder = Recorder {
        db: db.clone(),
        store: store.id,
        id,
        read,
        size: upload.size,
        last: None,
    };
    let outcome = regulars_import::run(&db, &store, &plan, &upload.name, input, &mut recorder).await;
    // The temporary file goes as soon as it has been read.
    drop(upload);
    match outcome {
        Ok(summary) => {
            let stored = Stored {
                summary: &summary,
                bytes_read: recorder.size,
                bytes_total: recorder.size,
            };
            db.finish_import(store.id, id, summary.rows_read, &stored).await?;
            tracing::info!(import = %id, created = summary.created, updated = summary.updated,
                unchanged = summary.unchanged, rejected = summary.rejected, "import finished");
        }
        Err(e) => {
            tracing::warn!(import = %id, error = %e, "import failed");
            db.fail_import(store.id, id, &e.to_string()).await?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Following an import

fn progress_view(lang: Lang, store: &StoreRecord, record: &ImportRecord) -> ProgressView {
    let report: Report = read_json(record);
    let n = |v: u64| format_number(lang, i64::try_from(v).unwrap_or(i64::MAX), Some(store.currency));
    let running = record.status == ImportStatus::Running;
    let finished = !running;
    let figures = [
        ("rows_read", "import-rows-read", record.rows_read),
        ("created", "import-created", report.created),
        ("updated", "import-updated", report.updated),
        ("unchanged", "import-unchanged", report.unchanged),
        ("rejected", "import-rejected", report.rejected),
    ]
    .into_iter()
    .map(|(key, label, value)| Figure {
        key,
        label: text(lang, label),
        value: n(value),
    })
    .collect();
    let detail = match record.status {
        ImportStatus::Failed => Some(text_with(
            lang,
            "import-failed-help",
            &[("error", record.error.as_deref().unwrap_or_default())],
        )),
        ImportStatus::Interrupted => Some(text(lang, "import-interrupted-help")),
        ImportStatus::Running | ImportStatus::Finished => None,
    };
    let shown = report.rejections.len() as u64;
    ProgressView {
        t: Tr(lang),
        poll_url: format!("/app/{}/import/{}/progress", store.id, record.id),
        running,
        status: record.status.as_str(),
        status_label: status_label(lang, record.status),
        bytes: (running && report.bytes_total > 0).then_some((report.bytes_read, report.bytes_total)),
        figures,
        detail,
        all_imported: record.status == ImportStatus::Finished && report.rejected == 0,
        rejections: if finished {
            report
                .rejections
                .into_iter()
                .map(|r| RejectionLine {
                    line: r.line,
                    line_text: n(r.line),
                    field: r.field.unwrap_or_default(),
                    reason: r.reason,
                })
                .collect()
        } else {
            Vec::new()
        },
        rejections_note: (finished && report.rejected > shown).then(|| {
            text_with(
                lang,
                "import-rejections-shown",
                &[("shown", &n(shown)), ("total", &n(report.rejected))],
            )
        }),
    }
}

/// The store and one of its imports, or the answer that refuses them.
async fn find(
    state: &AppState,
    staff: &Staff,
    store: &str,
    id: &str,
) -> Result<(StoreRecord, ImportRecord), Response> {
    let (store, _) = staff.store(state, store, Permission::Import).await?;
    let not_found = || staff.refuse(StatusCode::NOT_FOUND, "error-not-found");
    let id = ImportId::parse(id).ok_or_else(not_found)?;
    match state.db.import(store.id, id).await {
        Ok(record) => Ok((store, record)),
        Err(StoreError::NotFound(_)) => Err(not_found()),
        Err(e) => Err(unavailable(e, "reading an import")),
    }
}

async fn show(
    State(state): State<AppState>,
    staff: Staff,
    Path((store, id)): Path<(String, String)>,
) -> Response {
    let (store, record) = match find(&state, &staff, &store, &id).await {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    let lang = staff.lang;
    render(&ImportShowPage {
        chrome: Chrome::signed_in(lang, &staff.session, Some(store.id), "/import"),
        store_name: store.name.clone(),
        list_href: format!("/app/{}/import", store.id),
        file_name: record.file_name.clone(),
        kind: kind_label(lang, &record.kind),
        started: format_datetime(lang, record.started_at, store.timezone.0),
        p: progress_view(lang, &store, &record),
    })
}

/// The progress part alone, which the page polls while the import runs.
async fn progress(
    State(state): State<AppState>,
    staff: Staff,
    Path((store, id)): Path<(String, String)>,
) -> Response {
    match find(&state, &staff, &store, &id).await {
        Ok((store, record)) => render(&ProgressFragment {
            p: progress_view(staff.lang, &store, &record),
        }),
        Err(refused) => refused,
    }
}
