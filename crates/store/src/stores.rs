//! Stores (tenants), their API keys and their webhook secrets.

use rand::distributions::Alphanumeric;
use rand::Rng;
use regulars_domain::{Currency, FieldError, Locale, Source, StoreId, TimeZone, Timestamp};
use sea_query::{Expr, Order, Query};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::schema::{ApiKeys, Orders, Stores, WebhookSecrets};
use crate::{Db, StoreError};

#[derive(Debug, Clone, Serialize)]
pub struct StoreRecord {
    pub id: StoreId,
    pub name: String,
    pub currency: Currency,
    pub timezone: TimeZone,
    pub locale: Locale,
    pub created_at: Timestamp,
}

#[derive(sqlx::FromRow)]
struct StoreRow {
    id: String,
    name: String,
    currency: String,
    timezone: String,
    locale: String,
    created_at: i64,
}

impl TryFrom<StoreRow> for StoreRecord {
    type Error = StoreError;
    fn try_from(r: StoreRow) -> Result<Self, StoreError> {
        let corrupt = |e: FieldError| StoreError::Corrupt(format!("store {}: {e}", r.id));
        Ok(StoreRecord {
            id: StoreId::parse(&r.id).map_err(corrupt)?,
            name: r.name.clone(),
            currency: Currency::parse(&r.currency).map_err(corrupt)?,
            timezone: TimeZone::parse(&r.timezone).map_err(corrupt)?,
            locale: Locale::parse(&r.locale).map_err(corrupt)?,
            created_at: Timestamp(r.created_at),
        })
    }
}

/// A new API key. `key` is shown once; only its SHA-256 is stored (keys are 190 random bits,
/// so a fast hash is as safe as a slow one and keeps every request cheap).
#[derive(Debug, Clone, Serialize)]
pub struct ApiKeyCreated {
    pub id: String,
    pub store_id: StoreId,
    pub name: String,
    pub key: String,
    pub prefix: String,
}

pub fn hash_api_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

const STORE_COLUMNS: [Stores; 6] = [
    Stores::Id,
    Stores::Name,
    Stores::Currency,
    Stores::Timezone,
    Stores::Locale,
    Stores::CreatedAt,
];

impl Db {
    pub async fn create_store(
        &self,
        name: &str,
        currency: Currency,
        timezone: TimeZone,
        locale: Locale,
    ) -> Result<StoreRecord, StoreError> {
        let name = name.trim();
        if name.is_empty() || name.len() > 200 {
            return Err(
                FieldError::new("name", "invalid_name", "a store name must be 1 to 200 characters").into(),
            );
        }
        let store = StoreRecord {
            id: StoreId::new(),
            name: name.to_string(),
            currency,
            timezone,
            locale,
            created_at: Timestamp::now(),
        };
        let q = Query::insert()
            .into_table(Stores::Table)
            .columns(STORE_COLUMNS)
            .values_panic([
                store.id.to_string().into(),
                store.name.clone().into(),
                store.currency.code().into(),
                store.timezone.name().into(),
                store.locale.as_str().into(),
                store.created_at.0.into(),
            ])
            .to_owned();
        self.execute(&q).await?;
        Ok(store)
    }

    pub async fn store(&self, id: StoreId) -> Result<StoreRecord, StoreError> {
        let q = Query::select()
            .columns(STORE_COLUMNS)
            .from(Stores::Table)
            .and_where(Expr::col(Stores::Id).eq(id.to_string()))
            .to_owned();
        let row: StoreRow = self
            .fetch_optional(&q)
            .await?
            .ok_or(StoreError::NotFound("store"))?;
        row.try_into()
    }

    pub async fn stores(&self) -> Result<Vec<StoreRecord>, StoreError> {
        let q = Query::select()
            .columns(STORE_COLUMNS)
            .from(Stores::Table)
            .order_by(Stores::CreatedAt, Order::Asc)
            .to_owned();
        let rows: Vec<StoreRow> = self.fetch_all(&q).await?;
        rows.into_iter().map(StoreRecord::try_from).collect()
    }

    pub async fn create_api_key(&self, store: StoreId, name: &str) -> Result<ApiKeyCreated, StoreError> {
        self.store(store).await?;
        let secret: String = rand::thread_rng()
            .sample_iter(&Alphanumeric)
            .take(32)
            .map(char::from)
            .collect();
        let key = format!("rk_{secret}");
        let created = ApiKeyCreated {
            id: regulars_domain::new_id().to_string(),
            store_id: store,
            name: if name.trim().is_empty() {
                "default".into()
            } else {
                name.trim().into()
            },
            prefix: key[..7].to_string(),
            key,
        };
        let q = Query::insert()
            .into_table(ApiKeys::Table)
            .columns([
                ApiKeys::Id,
                ApiKeys::StoreId,
                ApiKeys::Name,
                ApiKeys::Prefix,
                ApiKeys::KeyHash,
                ApiKeys::CreatedAt,
            ])
            .values_panic([
                created.id.clone().into(),
                store.to_string().into(),
                created.name.clone().into(),
                created.prefix.clone().into(),
                hash_api_key(&created.key).into(),
                Timestamp::now().0.into(),
            ])
            .to_owned();
        self.execute(&q).await?;
        Ok(created)
    }

    /// The store a bearer key belongs to, if the key exists and is not revoked.
    pub async fn store_for_api_key(&self, key: &str) -> Result<Option<StoreId>, StoreError> {
        let q = Query::select()
            .column(ApiKeys::StoreId)
            .from(ApiKeys::Table)
            .and_where(Expr::col(ApiKeys::KeyHash).eq(hash_api_key(key)))
            .and_where(Expr::col(ApiKeys::RevokedAt).is_null())
            .to_owned();
        let row: Option<(String,)> = self.fetch_optional(&q).await?;
        row.map(|(id,)| StoreId::parse(&id).map_err(|e| StoreError::Corrupt(e.to_string())))
            .transpose()
    }

    pub async fn revoke_api_key(&self, store: StoreId, key_id: &str) -> Result<bool, StoreError> {
        let q = Query::update()
            .table(ApiKeys::Table)
            .value(ApiKeys::RevokedAt, Timestamp::now().0)
            .and_where(Expr::col(ApiKeys::StoreId).eq(store.to_string()))
            .and_where(Expr::col(ApiKeys::Id).eq(key_id))
            .and_where(Expr::col(ApiKeys::RevokedAt).is_null())
            .to_owned();
        Ok(self.execute(&q).await? == 1)
    }

    /// Adds a webhook signing secret. Several may be active at once, so a shop can rotate its
    /// secret without a window in which deliveries fail.
    pub async fn add_webhook_secret(
        &self,
        store: StoreId,
        source: Source,
        secret: &str,
    ) -> Result<(), StoreError> {
        self.store(store).await?;
        if secret.trim().len() < 8 {
            return Err(FieldError::new(
                "secret",
                "secret_too_short",
                "a webhook secret must be at least 8 characters",
            )
            .into());
        }
        let q = Query::insert()
            .into_table(WebhookSecrets::Table)
            .columns([
                WebhookSecrets::Id,
                WebhookSecrets::StoreId,
                WebhookSecrets::Source,
                WebhookSecrets::Secret,
                WebhookSecrets::CreatedAt,
            ])
            .values_panic([
                regulars_domain::new_id().to_string().into(),
                store.to_string().into(),
                source.as_str().into(),
                secret.trim().into(),
                Timestamp::now().0.into(),
            ])
            .on_conflict(
                sea_query::OnConflict::columns([
                    WebhookSecrets::StoreId,
                    WebhookSecrets::Source,
                    WebhookSecrets::Secret,
                ])
                .do_nothing()
                .to_owned(),
            )
            .to_owned();
        self.execute(&q).await?;
        Ok(())
    }

    pub async fn remove_webhook_secret(
        &self,
        store: StoreId,
        source: Source,
        secret: &str,
    ) -> Result<bool, StoreError> {
        let q = Query::delete()
            .from_table(WebhookSecrets::Table)
            .and_where(Expr::col(WebhookSecrets::StoreId).eq(store.to_string()))
            .and_where(Expr::col(WebhookSecrets::Source).eq(source.as_str()))
            .and_where(Expr::col(WebhookSecrets::Secret).eq(secret.trim()))
            .to_owned();
        Ok(self.execute(&q).await? > 0)
    }

    pub async fn webhook_secrets(&self, store: StoreId, source: Source) -> Result<Vec<String>, StoreError> {
        let q = Query::select()
            .column(WebhookSecrets::Secret)
            .from(WebhookSecrets::Table)
            .and_where(Expr::col(WebhookSecrets::StoreId).eq(store.to_string()))
            .and_where(Expr::col(WebhookSecrets::Source).eq(source.as_str()))
            .order_by(WebhookSecrets::CreatedAt, Order::Desc)
            .to_owned();
        let rows: Vec<(String,)> = self.fetch_all(&q).await?;
        Ok(rows.into_iter().map(|(s,)| s).collect())
    }
}

/// An API key as the settings page lists it: its name and first characters, never the key.
#[derive(Debug, Clone, Serialize)]
pub struct ApiKeyRecord {
    pub id: String,
    pub name: String,
    pub prefix: String,
    pub created_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
}

/// A webhook secret as the settings page shows it: its last characters, never the whole.
#[derive(Debug, Clone, Serialize)]
pub struct WebhookSecretHint {
    pub id: String,
    pub source: Source,
    /// The secret's last four characters.
    pub hint: String,
    pub created_at: Timestamp,
}

impl Db {
    /// Changes a store's currency, time zone and default language. Money is kept in minor units
    /// of the store's currency and the figures count that currency only, so the currency may
    /// change only while the store has no orders; the check and the change share one
    /// transaction, serialised with order writes.
    pub async fn update_store_settings(
        &self,
        store: StoreId,
        currency: Currency,
        timezone: TimeZone,
        locale: Locale,
    ) -> Result<StoreRecord, StoreError> {
        let mut tx = self.begin().await?;
        tx.lock_store(store).await?;
        let q = Query::select()
            .columns(STORE_COLUMNS)
            .from(Stores::Table)
            .and_where(Expr::col(Stores::Id).eq(store.to_string()))
            .to_owned();
        let current: StoreRecord = tx
            .fetch_optional::<StoreRow>(&q)
            .await?
            .ok_or(StoreError::NotFound("store"))?
            .try_into()?;
        if currency != current.currency {
            let any_order = Query::select()
                .column(Orders::Id)
                .from(Orders::Table)
                .and_where(Expr::col(Orders::StoreId).eq(store.to_string()))
                .limit(1)
                .to_owned();
            if tx.fetch_optional::<(String,)>(&any_order).await?.is_some() {
                return Err(FieldError::new(
                    "currency",
                    "currency_locked",
                    "the currency can change only while the store has no orders",
                )
                .into());
            }
        }
        let update = Query::update()
            .table(Stores::Table)
            .value(Stores::Currency, currency.code())
            .value(Stores::Timezone, timezone.name())
            .value(Stores::Locale, locale.as_str())
            .and_where(Expr::col(Stores::Id).eq(store.to_string()))
            .to_owned();
        tx.execute(&update).await?;
        tx.commit().await?;
        Ok(StoreRecord {
            currency,
            timezone,
            locale,
            ..current
        })
    }

    /// Whether the store has any order (its currency is fixed from the first one on).
    pub async fn has_orders(&self, store: StoreId) -> Result<bool, StoreError> {
        let q = Query::select()
            .column(Orders::Id)
            .from(Orders::Table)
            .and_where(Expr::col(Orders::StoreId).eq(store.to_string()))
            .limit(1)
            .to_owned();
        Ok(self.fetch_optional::<(String,)>(&q).await?.is_some())
    }

    /// The store's API keys, newest first, revoked ones included.
    pub async fn api_keys(&self, store: StoreId) -> Result<Vec<ApiKeyRecord>, StoreError> {
        let q = Query::select()
            .columns([
                ApiKeys::Id,
                ApiKeys::Name,
                ApiKeys::Prefix,
                ApiKeys::CreatedAt,
                ApiKeys::RevokedAt,
            ])
            .from(ApiKeys::Table)
            .and_where(Expr::col(ApiKeys::StoreId).eq(store.to_string()))
            .order_by(ApiKeys::CreatedAt, Order::Desc)
            .order_by(ApiKeys::Id, Order::Desc)
            .to_owned();
        let rows: Vec<(String, String, String, i64, Option<i64>)> = self.fetch_all(&q).await?;
        Ok(rows
            .into_iter()
            .map(|(id, name, prefix, created_at, revoked_at)| ApiKeyRecord {
                id,
                name,
                prefix,
                created_at: Timestamp(created_at),
                revoked_at: revoked_at.map(Timestamp),
            })
            .collect())
    }

    /// The store's webhook secrets for one source, newest first, each shown only by its last
    /// four characters.
    pub async fn webhook_secret_hints(
        &self,
        store: StoreId,
        source: Source,
    ) -> Result<Vec<WebhookSecretHint>, StoreError> {
        let q = Query::select()
            .columns([
                WebhookSecrets::Id,
                WebhookSecrets::Secret,
                WebhookSecrets::CreatedAt,
            ])
            .from(WebhookSecrets::Table)
            .and_where(Expr::col(WebhookSecrets::StoreId).eq(store.to_string()))
            .and_where(Expr::col(WebhookSecrets::Source).eq(source.as_str()))
            .order_by(WebhookSecrets::CreatedAt, Order::Desc)
            .order_by(WebhookSecrets::Id, Order::Desc)
            .to_owned();
        let rows: Vec<(String, String, i64)> = self.fetch_all(&q).await?;
        Ok(rows
            .into_iter()
            .map(|(id, secret, created_at)| {
                let chars: Vec<char> = secret.chars().collect();
                WebhookSecretHint {
                    id,
                    source,
                    hint: chars[chars.len().saturating_sub(4)..].iter().collect(),
                    created_at: Timestamp(created_at),
                }
            })
            .collect())
    }

    /// Removes one webhook secret by its id; false when the store has no such secret.
    pub async fn remove_webhook_secret_by_id(&self, store: StoreId, id: &str) -> Result<bool, StoreError> {
        let q = Query::delete()
            .from_table(WebhookSecrets::Table)
            .and_where(Expr::col(WebhookSecrets::StoreId).eq(store.to_string()))
            .and_where(Expr::col(WebhookSecrets::Id).eq(id))
            .to_owned();
        Ok(self.execute(&q).await? > 0)
    }
}
