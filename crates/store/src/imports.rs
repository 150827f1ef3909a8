//! Imports run in the background: who started them, how far they got, how they ended. The
//! summary is the importer's JSON, stored as given.

use std::fmt;

use regulars_domain::{StoreId, Timestamp, UserId};
use sea_query::{Expr, Order, Query};
use serde::Serialize;
use uuid::Uuid;

use crate::schema::Imports;
use crate::{json_text, Db, StoreError};

/// An import's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct ImportId(pub Uuid);

impl ImportId {
    pub fn parse(s: &str) -> Option<ImportId> {
        Uuid::parse_str(s.trim()).ok().map(ImportId)
    }
}

impl fmt::Display for ImportId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ImportStatus {
    Running,
    Finished,
    /// Stopped by an error, recorded in `error`.
    Failed,
    /// The process stopped while it ran; the batches committed before stay.
    Interrupted,
}

impl ImportStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ImportStatus::Running => "running",
            ImportStatus::Finished => "finished",
            ImportStatus::Failed => "failed",
            ImportStatus::Interrupted => "interrupted",
        }
    }

    fn parse(s: &str) -> Result<ImportStatus, StoreError> {
        [
            ImportStatus::Running,
            ImportStatus::Finished,
            ImportStatus::Failed,
            ImportStatus::Interrupted,
        ]
        .into_iter()
        .find(|status| status.as_str() == s)
        .ok_or_else(|| StoreError::Corrupt(format!("import status {s:?}")))
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ImportRecord {
    pub id: ImportId,
    pub store_id: StoreId,
    /// Who started it from the dashboard (none for the command line).
    pub user_id: Option<UserId>,
    pub kind: String,
    pub file_name: String,
    pub status: ImportStatus,
    pub rows_read: u64,
    /// The importer's summary as JSON: the latest progress while it runs, the result after.
    pub summary: Option<String>,
    pub error: Option<String>,
    pub started_at: Timestamp,
    pub finished_at: Option<Timestamp>,
}

#[derive(sqlx::FromRow)]
struct ImportRow {
    id: String,
    store_id: String,
    user_id: Option<String>,
    kind: String,
    file_name: String,
    status: String,
    rows_read: i64,
    summary: Option<String>,
    error: Option<String>,
    started_at: i64,
    finished_at: Option<i64>,
}

impl TryFrom<ImportRow> for ImportRecord {
    type Error = StoreError;

    fn try_from(r: ImportRow) -> Result<ImportRecord, StoreError> {
        let corrupt = |what: &str| StoreError::Corrupt(format!("import {}: {what}", r.id));
        Ok(ImportRecord {
            id: ImportId::parse(&r.id).ok_or_else(|| corrupt("id"))?,
            store_id: StoreId::parse(&r.store_id).map_err(|_| corrupt("store id"))?,
            user_id: r
                .user_id
                .as_deref()
                .map(UserId::parse)
                .transpose()
                .map_err(|_| corrupt("user id"))?,
            status: ImportStatus::parse(&r.status)?,
            rows_read: u64::try_from(r.rows_read).unwrap_or(0),
            started_at: Timestamp(r.started_at),
            finished_at: r.finished_at.map(Timestamp),
            kind: r.kind,
            file_name: r.file_name,
            summary: r.summary,
            error: r.error,
        })
    }
}

const COLUMNS: [Imports; 11] = [
    Imports::Id,
    Imports::StoreId,
    Imports::UserId,
    Imports::Kind,
    Imports::FileName,
    Imports::Status,
    Imports::RowsRead,
    Imports::Summary,
    Imports::Error,
    Imports::StartedAt,
    Imports::FinishedAt,
];

/// The longest file name kept (longer ones are cut at a character boundary).
const MAX_FILE_NAME: usize = 255;

fn rows(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl Db {
    /// Records an import as `running`.
    pub async fn start_import(
        &self,
        store: StoreId,
        user: Option<UserId>,
        kind: &str,
        file_name: &str,
    ) -> Result<ImportId, StoreError> {
        let id = ImportId(regulars_domain::new_id());
        let mut name = file_name.trim();
        if name.len() > MAX_FILE_NAME {
            let mut end = MAX_FILE_NAME;
            while !name.is_char_boundary(end) {
                end -= 1;
            }
            name = &name[..end];
        }
        let q = Query::insert()
            .into_table(Imports::Table)
            .columns([
                Imports::Id,
                Imports::StoreId,
                Imports::UserId,
                Imports::Kind,
                Imports::FileName,
                Imports::Status,
                Imports::RowsRead,
                Imports::StartedAt,
            ])
            .values_panic([
                id.to_string().into(),
                store.to_string().into(),
                user.map(|u| u.to_string()).into(),
                kind.into(),
                name.into(),
                ImportStatus::Running.as_str().into(),
                0i64.into(),
                Timestamp::now().0.into(),
            ])
            .to_owned();
        self.execute(&q).await?;
        Ok(id)
    }

    /// Records how far a running import has got. Returns false when it is no longer running.
    pub async fn record_import_progress(
        &self,
        store: StoreId,
        id: ImportId,
        rows_read: u64,
        summary: &impl Serialize,
    ) -> Result<bool, StoreError> {
        let q = Query::update()
            .table(Imports::Table)
            .value(Imports::RowsRead, rows(rows_read))
            .value(Imports::Summary, json_text(summary))
            .and_where(Expr::col(Imports::StoreId).eq(store.to_string()))
            .and_where(Expr::col(Imports::Id).eq(id.to_string()))
            .and_where(Expr::col(Imports::Status).eq(ImportStatus::Running.as_str()))
            .to_owned();
        Ok(self.execute(&q).await? == 1)
    }

    /// A running import reached the end of its file. Returns false when it was not running.
    pub async fn finish_import(
        &self,
        store: StoreId,
        id: ImportId,
        rows_read: u64,
        summary: &impl Serialize,
    ) -> Result<bool, StoreError> {
        let q = Query::update()
            .table(Imports::Table)
            .value(Imports::Status, ImportStatus::Finished.as_str())
            .value(Imports::RowsRead, rows(rows_read))
            .value(Imports::Summary, json_text(summary))
            .value(Imports::FinishedAt, Timestamp::now().0)
            .and_where(Expr::col(Imports::StoreId).eq(store.to_string()))
            .and_where(Expr::col(Imports::Id).eq(id.to_string()))
            .and_where(Expr::col(Imports::Status).eq(ImportStatus::Running.as_str()))
            .to_owned();
        Ok(self.execute(&q).await? == 1)
    }

    /// A running import stopped on an error; its last progress stays. Returns false when it
    /// was not running.
    pub async fn fail_import(&self, store: StoreId, id: ImportId, error: &str) -> Result<bool, StoreError> {
        let q = Query::update()
            .table(Imports::Table)
            .value(Imports::Status, ImportStatus::Failed.as_str())
            .value(Imports::Error, error)
            .value(Imports::FinishedAt, Timestamp::now().0)
            .and_where(Expr::col(Imports::StoreId).eq(store.to_string()))
            .and_where(Expr::col(Imports::Id).eq(id.to_string()))
            .and_where(Expr::col(Imports::Status).eq(ImportStatus::Running.as_str()))
            .to_owned();
        Ok(self.execute(&q).await? == 1)
    }

    /// A store's most recent imports, newest first.
    pub async fn imports(&self, store: StoreId, limit: u64) -> Result<Vec<ImportRecord>, StoreError> {
        let q = Query::select()
            .columns(COLUMNS)
            .from(Imports::Table)
            .and_where(Expr::col(Imports::StoreId).eq(store.to_string()))
            .order_by(Imports::StartedAt, Order::Desc)
            .order_by(Imports::Id, Order::Desc)
            .limit(limit)
            .to_owned();
        let rows: Vec<ImportRow> = self.fetch_all(&q).await?;
        rows.into_iter().map(ImportRecord::try_from).collect()
    }

    /// One import of this store; another store's import is not found.
    pub async fn import(&self, store: StoreId, id: ImportId) -> Result<ImportRecord, StoreError> {
        let q = Query::select()
            .columns(COLUMNS)
            .from(Imports::Table)
            .and_where(Expr::col(Imports::StoreId).eq(store.to_string()))
            .and_where(Expr::col(Imports::Id).eq(id.to_string()))
            .to_owned();
        let row: ImportRow = self
            .fetch_optional(&q)
            .await?
            .ok_or(StoreError::NotFound("import"))?;
        row.try_into()
    }

    /// Marks every import still `running` as `interrupted`: called when a server starts, since
    /// imports run inside the server process that started them. Returns how many there were.
    pub async fn interrupt_running_imports(&self) -> Result<u64, StoreError> {
        let q = Query::update()
            .table(Imports::Table)
            .value(Imports::Status, ImportStatus::Interrupted.as_str())
            .value(Imports::FinishedAt, Timestamp::now().0)
            .and_where(Expr::col(Imports::Status).eq(ImportStatus::Running.as_str()))
            .to_owned();
        self.execute(&q).await
    }
}
