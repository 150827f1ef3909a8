//! Staff people: argon2id passwords, roles per store, server-side sessions and login throttling
//! (RELIABILITY S2–S5). Session tokens and passwords are never stored, only their hashes.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::Rng;
use regulars_domain::{new_id, Email, FieldError, Role, StoreId, Timestamp, UserId};
use sea_query::{Expr, OnConflict, Order, Query};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::schema::{LoginFailures, Memberships, Sessions, Stores, Users};
use crate::{Db, StoreError, Tx};

/// OWASP's argon2id floor: 19 MiB, two passes, one lane.
fn hasher() -> Argon2<'static> {
    Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        Params::new(19_456, 2, 1, None).expect("valid argon2 parameters"),
    )
}

pub const MIN_PASSWORD_CHARS: usize = 10;
pub const MAX_PASSWORD_BYTES: usize = 1024;

fn check_password(password: &str) -> Result<(), FieldError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(FieldError::new(
            "password",
            "password_too_short",
            format!("a password needs at least {MIN_PASSWORD_CHARS} characters"),
        ));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(FieldError::new(
            "password",
            "password_too_long",
            format!("a password may have at most {MAX_PASSWORD_BYTES} bytes"),
        ));
    }
    Ok(())
}

/// Hashes on a blocking thread: argon2id takes tens of milliseconds of CPU by design.
async fn hash_password(password: String) -> Result<String, StoreError> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        hasher()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| StoreError::Corrupt(format!("hashing a password: {e}")))
    })
    .await
    .map_err(|e| StoreError::Corrupt(format!("hashing thread: {e}")))?
}

async fn verify_password(password: String, stored: String) -> bool {
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&stored)
            .map(|parsed| hasher().verify_password(password.as_bytes(), &parsed).is_ok())
            .unwrap_or(false)
    })
    .await
    .unwrap_or(false)
}

/// A hash of a password nobody has, verified when the account does not exist so that a wrong
/// email takes as long as a wrong password.
fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| {
        let salt = SaltString::generate(&mut OsRng);
        hasher()
            .hash_password(b"no account has this password", &salt)
            .expect("hashing works")
            .to_string()
    })
}

pub(crate) fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

pub(crate) fn random_token() -> String {
    let bytes: [u8; 32] = rand::thread_rng().gen();
    hex::encode(bytes)
}

#[derive(Debug, Clone, Serialize)]
pub struct UserRecord {
    pub id: UserId,
    pub email: Email,
    pub display_name: Option<String>,
    pub locale: Option<String>,
    pub disabled: bool,
}

#[derive(sqlx::FromRow)]
struct UserRow {
    id: String,
    email: String,
    password_hash: String,
    display_name: Option<String>,
    locale: Option<String>,
    disabled: bool,
}

impl UserRow {
    fn record(&self) -> Result<UserRecord, StoreError> {
        Ok(UserRecord {
            id: UserId::parse(&self.id).map_err(|e| StoreError::Corrupt(e.to_string()))?,
            email: Email::parse(&self.email).map_err(|e| StoreError::Corrupt(e.to_string()))?,
            display_name: self.display_name.clone(),
            locale: self.locale.clone(),
            disabled: self.disabled,
        })
    }
}

/// A person's place in one store.
#[derive(Debug, Clone, Serialize)]
pub struct Membership {
    pub store_id: StoreId,
    pub store_name: String,
    pub role: Role,
}

/// A live session: who, their stores, and the token forms must echo (CSRF).
#[derive(Debug, Clone)]
pub struct Session {
    pub user: UserRecord,
    pub memberships: Vec<Membership>,
    pub csrf_token: String,
}

impl Session {
    pub fn role_in(&self, store: StoreId) -> Option<Role> {
        self.memberships
            .iter()
            .find(|m| m.store_id == store)
            .map(|m| m.role)
    }
}

/// How long sessions live: since the last request, and since sign-in whatever happens.
#[derive(Debug, Clone, Copy)]
pub struct SessionLimits {
    pub idle: std::time::Duration,
    pub absolute: std::time::Duration,
}

impl Default for SessionLimits {
    fn default() -> Self {
        SessionLimits {
            idle: std::time::Duration::from_secs(2 * 3600),
            absolute: std::time::Duration::from_secs(12 * 3600),
        }
    }
}

/// Failed attempts allowed in [`THROTTLE_WINDOW_MS`]: per account from one address (so an
/// attacker elsewhere cannot lock the real owner out), and per address over all accounts.
pub const MAX_FAILURES_PER_ACCOUNT_AND_ADDRESS: i64 = 5;
pub const MAX_FAILURES_PER_ADDRESS: i64 = 50;
pub const THROTTLE_WINDOW_MS: i64 = 15 * 60 * 1000;

#[derive(Debug)]
pub enum LoginOutcome {
    /// Signed in: the cookie token (shown once) and the session behind it.
    Ok { token: String, session: Box<Session> },
    /// Unknown email, wrong password or disabled account: one answer for all three.
    Refused,
    /// Too many failures from here; try again after this many seconds.
    Throttled { retry_after_secs: i64 },
}

fn millis(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl Db {
    /// Creates a person with an argon2id password hash. Emails are unique across stores: one
    /// person, one login, several stores.
    pub async fn create_user(
        &self,
        email: &Email,
        password: &str,
        display_name: Option<&str>,
    ) -> Result<UserRecord, StoreError> {
        check_password(password)?;
        if self.user_row_by_email(email).await?.is_some() {
            return Err(
                FieldError::new("email", "email_taken", "a person with this email exists already").into(),
            );
        }
        let hash = hash_password(password.to_string()).await?;
        let now = Timestamp::now().0;
        let id = UserId(new_id());
        let q = Query::insert()
            .into_table(Users::Table)
            .columns([
                Users::Id,
                Users::Email,
                Users::PasswordHash,
                Users::DisplayName,
                Users::Disabled,
                Users::CreatedAt,
                Users::UpdatedAt,
            ])
            .values_panic([
                id.to_string().into(),
                email.as_str().into(),
                hash.into(),
                display_name.map(str::to_string).into(),
                false.into(),
                now.into(),
                now.into(),
            ])
            .to_owned();
        self.execute(&q).await?;
        Ok(UserRecord {
            id,
            email: email.clone(),
            display_name: display_name.map(str::to_string),
            locale: None,
            disabled: false,
        })
    }

    async fn user_row_by_email(&self, email: &Email) -> Result<Option<UserRow>, StoreError> {
        let q = user_select()
            .and_where(Expr::col(Users::Email).eq(email.as_str()))
            .to_owned();
        self.fetch_optional(&q).await
    }

    pub async fn user_by_email(&self, email: &Email) -> Result<Option<UserRecord>, StoreError> {
        self.user_row_by_email(email)
            .await?
            .map(|r| r.record())
            .transpose()
    }

    pub async fn user(&self, id: UserId) -> Result<UserRecord, StoreError> {
        let q = user_select()
            .and_where(Expr::col(Users::Id).eq(id.to_string()))
            .to_owned();
        let row: UserRow = self
            .fetch_optional(&q)
            .await?
            .ok_or(StoreError::NotFound("user"))?;
        row.record()
    }

    /// Gives a person a role in a store, or changes it.
    pub async fn set_membership(&self, store: StoreId, user: UserId, role: Role) -> Result<(), StoreError> {
        self.store(store).await?;
        let q = Query::insert()
            .into_table(Memberships::Table)
            .columns([
                Memberships::StoreId,
                Memberships::UserId,
                Memberships::Role,
                Memberships::CreatedAt,
            ])
            .values_panic([
                store.to_string().into(),
                user.to_string().into(),
                role.as_str().into(),
                Timestamp::now().0.into(),
            ])
            .on_conflict(
                OnConflict::columns([Memberships::StoreId, Memberships::UserId])
                    .update_column(Memberships::Role)
                    .to_owned(),
            )
            .to_owned();
        self.execute(&q).await?;
        Ok(())
    }

    /// Every store a person works for, by store name.
    pub async fn memberships(&self, user: UserId) -> Result<Vec<Membership>, StoreError> {
        let q = Query::select()
            .column((Memberships::Table, Memberships::StoreId))
            .column((Stores::Table, Stores::Name))
            .column((Memberships::Table, Memberships::Role))
            .from(Memberships::Table)
            .inner_join(
                Stores::Table,
                Expr::col((Stores::Table, Stores::Id)).equals((Memberships::Table, Memberships::StoreId)),
            )
            .and_where(Expr::col((Memberships::Table, Memberships::UserId)).eq(user.to_string()))
            .order_by((Stores::Table, Stores::Name), Order::Asc)
            .to_owned();
        let rows: Vec<(String, String, String)> = self.fetch_all(&q).await?;
        rows.into_iter()
            .map(|(store, name, role)| {
                Ok(Membership {
                    store_id: StoreId::parse(&store).map_err(|e| StoreError::Corrupt(e.to_string()))?,
                    store_name: name,
                    role: Role::parse(&role).map_err(|e| StoreError::Corrupt(e.to_string()))?,
                })
            })
            .collect()
    }

    /// The people of one store with their roles, by email.
    pub async fn store_people(&self, store: StoreId) -> Result<Vec<(UserRecord, Role)>, StoreError> {
        let q = user_select()
            .column((Memberships::Table, Memberships::Role))
            .inner_join(
                Memberships::Table,
                Expr::col((Memberships::Table, Memberships::UserId)).equals((Users::Table, Users::Id)),
            )
            .and_where(Expr::col((Memberships::Table, Memberships::StoreId)).eq(store.to_string()))
            .order_by((Users::Table, Users::Email), Order::Asc)
            .to_owned();
        #[derive(sqlx::FromRow)]
        struct Row {
            #[sqlx(flatten)]
            user: UserRow,
            role: String,
        }
        let rows: Vec<Row> = self.fetch_all(&q).await?;
        rows.into_iter()
            .map(|r| {
                let role = Role::parse(&r.role).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                Ok((r.user.record()?, role))
            })
            .collect()
    }

    pub async fn set_password(&self, user: UserId, password: &str) -> Result<(), StoreError> {
        check_password(password)?;
        let hash = hash_password(password.to_string()).await?;
        let q = Query::update()
            .table(Users::Table)
            .value(Users::PasswordHash, hash)
            .value(Users::UpdatedAt, Timestamp::now().0)
            .and_where(Expr::col(Users::Id).eq(user.to_string()))
            .to_owned();
        self.execute(&q).await?;
        // A new password ends every session opened with the old one.
        self.end_sessions_of(user).await
    }

    /// A person changes their own password, proving the current one. Every session opened with
    /// the old password ends; the answer carries a new session for the person changing it, or
    /// `None` when the current password was wrong (nothing changes then).
    pub async fn change_password(
        &self,
        user: UserId,
        current: &str,
        new: &str,
    ) -> Result<Option<LoginOutcome>, StoreError> {
        check_password(new)?;
        let q = Query::select()
            .column(Users::PasswordHash)
            .from(Users::Table)
            .and_where(Expr::col(Users::Id).eq(user.to_string()))
            .to_owned();
        let (stored,): (String,) = self
            .fetch_optional(&q)
            .await?
            .ok_or(StoreError::NotFound("user"))?;
        if current.len() > 1024 || !verify_password(current.to_string(), stored).await {
            return Ok(None);
        }
        self.set_password(user, new).await?;
        let record = self.user(user).await?;
        self.start_session(record, Timestamp::now().0).await.map(Some)
    }

    /// Disables (or re-enables) a person; disabling ends all their sessions at once (S3).
    pub async fn set_user_disabled(&self, user: UserId, disabled: bool) -> Result<(), StoreError> {
        let q = Query::update()
            .table(Users::Table)
            .value(Users::Disabled, disabled)
            .value(Users::UpdatedAt, Timestamp::now().0)
            .and_where(Expr::col(Users::Id).eq(user.to_string()))
            .to_owned();
        if self.execute(&q).await? == 0 {
            return Err(StoreError::NotFound("user"));
        }
        if disabled {
            self.end_sessions_of(user).await?;
        }
        Ok(())
    }

    async fn end_sessions_of(&self, user: UserId) -> Result<(), StoreError> {
        let q = Query::delete()
            .from_table(Sessions::Table)
            .and_where(Expr::col(Sessions::UserId).eq(user.to_string()))
            .to_owned();
        self.execute(&q).await?;
        Ok(())
    }

    /// Checks a password and opens a session, or says why not. `address` is the client's IP.
    pub async fn log_in(
        &self,
        email: &str,
        password: &str,
        address: &str,
    ) -> Result<LoginOutcome, StoreError> {
        let account = email.trim().to_lowercase();
        let now = Timestamp::now().0;
        if let Some(retry_after_secs) = self.throttled(&account, address, now).await? {
            return Ok(LoginOutcome::Throttled { retry_after_secs });
        }
        let row = match Email::parse(email) {
            Ok(e) => self.user_row_by_email(&e).await?,
            Err(_) => None,
        };
        // Over-long passwords are refused without hashing them, but only after the same work.
        let too_long = password.len() > MAX_PASSWORD_BYTES;
        let candidate = if too_long {
            String::new()
        } else {
            password.to_string()
        };
        let stored = row
            .as_ref()
            .map_or_else(|| decoy_hash().to_string(), |r| r.password_hash.clone());
        let matches = verify_password(candidate, stored).await && !too_long;
        let row = match row {
            Some(r) if matches && !r.disabled => r,
            _ => {
                self.record_failure(&account, address, now).await?;
                return Ok(LoginOutcome::Refused);
            }
        };
        // A success forgives this address's failures on this account.
        let forgive = Query::delete()
            .from_table(LoginFailures::Table)
            .and_where(Expr::col(LoginFailures::Account).eq(account.as_str()))
            .and_where(Expr::col(LoginFailures::Address).eq(address))
            .to_owned();
        self.execute(&forgive).await?;

        let user = row.record()?;
        self.start_session(user, now).await
    }

    /// A new server-side session for someone already proven to be `user`.
    pub(crate) async fn start_session(&self, user: UserRecord, now: i64) -> Result<LoginOutcome, StoreError> {
        let token = random_token();
        let csrf_token = random_token();
        let q = Query::insert()
            .into_table(Sessions::Table)
            .columns([
                Sessions::TokenHash,
                Sessions::UserId,
                Sessions::CsrfToken,
                Sessions::CreatedAt,
                Sessions::LastSeenAt,
            ])
            .values_panic([
                token_hash(&token).into(),
                user.id.to_string().into(),
                csrf_token.clone().into(),
                now.into(),
                now.into(),
            ])
            .to_owned();
        self.execute(&q).await?;
        let memberships = self.memberships(user.id).await?;
        Ok(LoginOutcome::Ok {
            token,
            session: Box::new(Session {
                user,
                memberships,
                csrf_token,
            }),
        })
    }

    async fn throttled(&self, account: &str, address: &str, now: i64) -> Result<Option<i64>, StoreError> {
        let since = now - THROTTLE_WINDOW_MS;
        let pair = Query::select()
            .expr(Expr::col(LoginFailures::At).count())
            .expr(Expr::col(LoginFailures::At).min())
            .from(LoginFailures::Table)
            .and_where(Expr::col(LoginFailures::Account).eq(account))
            .and_where(Expr::col(LoginFailures::Address).eq(address))
            .and_where(Expr::col(LoginFailures::At).gt(since))
            .to_owned();
        let by_address = Query::select()
            .expr(Expr::col(LoginFailures::At).count())
            .expr(Expr::col(LoginFailures::At).min())
            .from(LoginFailures::Table)
            .and_where(Expr::col(LoginFailures::Address).eq(address))
            .and_where(Expr::col(LoginFailures::At).gt(since))
            .to_owned();
        for (q, limit) in [
            (pair, MAX_FAILURES_PER_ACCOUNT_AND_ADDRESS),
            (by_address, MAX_FAILURES_PER_ADDRESS),
        ] {
            let (count, oldest): (i64, Option<i64>) = self.fetch_optional(&q).await?.unwrap_or((0, None));
            if count >= limit {
                let free_at = oldest.unwrap_or(now) + THROTTLE_WINDOW_MS;
                return Ok(Some(((free_at - now) / 1000).max(1)));
            }
        }
        Ok(None)
    }

    async fn record_failure(&self, account: &str, address: &str, now: i64) -> Result<(), StoreError> {
        let q = Query::insert()
            .into_table(LoginFailures::Table)
            .columns([
                LoginFailures::Id,
                LoginFailures::Account,
                LoginFailures::Address,
                LoginFailures::At,
            ])
            .values_panic([
                new_id().to_string().into(),
                account.into(),
                address.into(),
                now.into(),
            ])
            .to_owned();
        self.execute(&q).await?;
        Ok(())
    }

    /// The session behind a cookie token, if it is still alive; refreshes its idle clock.
    pub async fn session(&self, token: &str, limits: SessionLimits) -> Result<Option<Session>, StoreError> {
        let now = Timestamp::now().0;
        let hash = token_hash(token);
        let q = Query::select()
            .columns([
                Sessions::UserId,
                Sessions::CsrfToken,
                Sessions::CreatedAt,
                Sessions::LastSeenAt,
            ])
            .from(Sessions::Table)
            .and_where(Expr::col(Sessions::TokenHash).eq(hash.as_str()))
            .to_owned();
        let Some((user, csrf_token, created_at, last_seen_at)) =
            self.fetch_optional::<(String, String, i64, i64)>(&q).await?
        else {
            return Ok(None);
        };
        if now - last_seen_at > millis(limits.idle) || now - created_at > millis(limits.absolute) {
            self.log_out(token).await?;
            return Ok(None);
        }
        let user = self
            .user(UserId::parse(&user).map_err(|e| StoreError::Corrupt(e.to_string()))?)
            .await?;
        if user.disabled {
            self.log_out(token).await?;
            return Ok(None);
        }
        // Touch at most once a minute: most requests then read without writing.
        if now - last_seen_at > 60_000 {
            let touch = Query::update()
                .table(Sessions::Table)
                .value(Sessions::LastSeenAt, now)
                .and_where(Expr::col(Sessions::TokenHash).eq(hash.as_str()))
                .to_owned();
            self.execute(&touch).await?;
        }
        let memberships = self.memberships(user.id).await?;
        Ok(Some(Session {
            user,
            memberships,
            csrf_token,
        }))
    }

    /// Ends one session on the server: the cookie is worthless afterwards (S3).
    pub async fn log_out(&self, token: &str) -> Result<(), StoreError> {
        let q = Query::delete()
            .from_table(Sessions::Table)
            .and_where(Expr::col(Sessions::TokenHash).eq(token_hash(token)))
            .to_owned();
        self.execute(&q).await?;
        Ok(())
    }
}

fn user_select() -> sea_query::SelectStatement {
    Query::select()
        .column((Users::Table, Users::Id))
        .column((Users::Table, Users::Email))
        .column((Users::Table, Users::PasswordHash))
        .column((Users::Table, Users::DisplayName))
        .column((Users::Table, Users::Locale))
        .column((Users::Table, Users::Disabled))
        .from(Users::Table)
        .to_owned()
}

/// A person given a place in a store from the dashboard. `password` is set when a new login was
/// created for them: generated, shown once, stored only as its argon2id hash.
#[derive(Debug, Clone)]
pub struct PersonAdded {
    pub user: UserRecord,
    pub password: Option<String>,
}

/// Characters of a generated password: letters and digits, about 119 bits.
const GENERATED_PASSWORD_CHARS: usize = 20;

fn not_grantable(field: &str) -> StoreError {
    FieldError::new(
        field,
        "role_not_grantable",
        "nobody may give or take a role above their own",
    )
    .into()
}

fn last_owner(field: &str) -> StoreError {
    FieldError::new(field, "last_owner", "a store keeps at least one owner").into()
}

impl Db {
    /// Gives `email` the role `role` in a store on behalf of someone whose role is `by`: an
    /// existing login is added to the store, otherwise a login with a generated password is
    /// created. Refused when `by` may not grant `role`, or when the person works there already.
    pub async fn add_person(
        &self,
        store: StoreId,
        by: Role,
        email: &Email,
        role: Role,
    ) -> Result<PersonAdded, StoreError> {
        if !by.may_grant(role) {
            return Err(not_grantable("role"));
        }
        self.store(store).await?;
        // argon2id takes tens of milliseconds: hash before the transaction, and only for a
        // person who has no login yet.
        let new_login = match self.user_row_by_email(email).await? {
            Some(_) => None,
            None => {
                let password = rand::distributions::DistString::sample_string(
                    &rand::distributions::Alphanumeric,
                    &mut rand::thread_rng(),
                    GENERATED_PASSWORD_CHARS,
                );
                let hash = hash_password(password.clone()).await?;
                Some((password, hash))
            }
        };
        let mut tx = self.begin().await?;
        tx.lock_store(store).await?;
        let by_email = user_select()
            .and_where(Expr::col(Users::Email).eq(email.as_str()))
            .to_owned();
        let (user, password) = match (tx.fetch_optional::<UserRow>(&by_email).await?, new_login) {
            (Some(row), _) => (row.record()?, None),
            (None, Some((password, hash))) => {
                let now = Timestamp::now().0;
                let id = UserId(new_id());
                let insert = Query::insert()
                    .into_table(Users::Table)
                    .columns([
                        Users::Id,
                        Users::Email,
                        Users::PasswordHash,
                        Users::Disabled,
                        Users::CreatedAt,
                        Users::UpdatedAt,
                    ])
                    .values_panic([
                        id.to_string().into(),
                        email.as_str().into(),
                        hash.into(),
                        false.into(),
                        now.into(),
                        now.into(),
                    ])
                    .to_owned();
                tx.execute(&insert).await?;
                let user = UserRecord {
                    id,
                    email: email.clone(),
                    display_name: None,
                    locale: None,
                    disabled: false,
                };
                (user, Some(password))
            }
            // Logins are never deleted; a row seen a moment ago is still there.
            (None, None) => return Err(StoreError::NotFound("user")),
        };
        if member_role(&mut tx, store, user.id).await?.is_some() {
            return Err(FieldError::new(
                "email",
                "already_member",
                "this person works in the store already",
            )
            .into());
        }
        let insert = Query::insert()
            .into_table(Memberships::Table)
            .columns([
                Memberships::StoreId,
                Memberships::UserId,
                Memberships::Role,
                Memberships::CreatedAt,
            ])
            .values_panic([
                store.to_string().into(),
                user.id.to_string().into(),
                role.as_str().into(),
                Timestamp::now().0.into(),
            ])
            .to_owned();
        tx.execute(&insert).await?;
        tx.commit().await?;
        Ok(PersonAdded { user, password })
    }

    /// Changes a person's role in a store on behalf of someone whose role is `by`, who must be
    /// allowed to grant both the person's present role and the new one. The last owner keeps
    /// the role.
    pub async fn change_role(
        &self,
        store: StoreId,
        by: Role,
        user: UserId,
        role: Role,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        tx.lock_store(store).await?;
        let current = member_role(&mut tx, store, user)
            .await?
            .ok_or(StoreError::NotFound("person"))?;
        if !by.may_grant(current) || !by.may_grant(role) {
            return Err(not_grantable("role"));
        }
        if current == Role::Owner && role != Role::Owner && owners(&mut tx, store).await? <= 1 {
            return Err(last_owner("role"));
        }
        let q = Query::update()
            .table(Memberships::Table)
            .value(Memberships::Role, role.as_str())
            .and_where(Expr::col(Memberships::StoreId).eq(store.to_string()))
            .and_where(Expr::col(Memberships::UserId).eq(user.to_string()))
            .to_owned();
        tx.execute(&q).await?;
        tx.commit().await
    }

    /// Takes a person out of a store on behalf of someone whose role is `by` (who must be
    /// allowed to grant the person's role). Their login stays, with their other stores; pages
    /// of this store are closed to them from their next request. Never the last owner.
    pub async fn remove_person(&self, store: StoreId, by: Role, user: UserId) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        tx.lock_store(store).await?;
        let current = member_role(&mut tx, store, user)
            .await?
            .ok_or(StoreError::NotFound("person"))?;
        if !by.may_grant(current) {
            return Err(not_grantable("person"));
        }
        if current == Role::Owner && owners(&mut tx, store).await? <= 1 {
            return Err(last_owner("person"));
        }
        let q = Query::delete()
            .from_table(Memberships::Table)
            .and_where(Expr::col(Memberships::StoreId).eq(store.to_string()))
            .and_where(Expr::col(Memberships::UserId).eq(user.to_string()))
            .to_owned();
        tx.execute(&q).await?;
        tx.commit().await
    }
}

async fn member_role(tx: &mut Tx, store: StoreId, user: UserId) -> Result<Option<Role>, StoreError> {
    let q = Query::select()
        .column(Memberships::Role)
        .from(Memberships::Table)
        .and_where(Expr::col(Memberships::StoreId).eq(store.to_string()))
        .and_where(Expr::col(Memberships::UserId).eq(user.to_string()))
        .to_owned();
    tx.fetch_optional::<(String,)>(&q)
        .await?
        .map(|(role,)| Role::parse(&role).map_err(|e| StoreError::Corrupt(e.to_string())))
        .transpose()
}

async fn owners(tx: &mut Tx, store: StoreId) -> Result<i64, StoreError> {
    let q = Query::select()
        .expr(Expr::col(Memberships::UserId).count())
        .from(Memberships::Table)
        .and_where(Expr::col(Memberships::StoreId).eq(store.to_string()))
        .and_where(Expr::col(Memberships::Role).eq(Role::Owner.as_str()))
        .to_owned();
    let (count,): (i64,) = tx.fetch_optional(&q).await?.unwrap_or((0,));
    Ok(count)
}
