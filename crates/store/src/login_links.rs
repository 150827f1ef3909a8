//! One-time sign-in links: a token that opens one session, once, before it expires. The demo
//! prints one so the tour continues in the browser without typing a password.

use std::time::Duration;

use regulars_domain::{Timestamp, UserId};
use sea_query::{Expr, Query};

use crate::people::{random_token, token_hash};
use crate::schema::LoginLinks;
use crate::{Db, LoginOutcome, StoreError};

impl Db {
    /// A new link token for `user`, valid for `ttl`. Only its hash is stored.
    pub async fn create_login_link(&self, user: UserId, ttl: Duration) -> Result<String, StoreError> {
        let token = random_token();
        let now = Timestamp::now().0;
        let q = Query::insert()
            .into_table(LoginLinks::Table)
            .columns([
                LoginLinks::TokenHash,
                LoginLinks::UserId,
                LoginLinks::CreatedAt,
                LoginLinks::ExpiresAt,
            ])
            .values_panic([
                token_hash(&token).into(),
                user.to_string().into(),
                now.into(),
                (now + ttl.as_millis() as i64).into(),
            ])
            .to_owned();
        self.execute(&q).await?;
        Ok(token)
    }

    /// Spends a link: a session for its person if the link is unused, unexpired and the
    /// person not disabled; `None` otherwise. Two tabs racing for one link get one session.
    pub async fn use_login_link(&self, token: &str) -> Result<Option<LoginOutcome>, StoreError> {
        let now = Timestamp::now().0;
        let hash = token_hash(token);
        let claim = Query::update()
            .table(LoginLinks::Table)
            .value(LoginLinks::UsedAt, now)
            .and_where(Expr::col(LoginLinks::TokenHash).eq(hash.as_str()))
            .and_where(Expr::col(LoginLinks::UsedAt).is_null())
            .and_where(Expr::col(LoginLinks::ExpiresAt).gt(now))
            .to_owned();
        if self.execute(&claim).await? != 1 {
            return Ok(None);
        }
        let q = Query::select()
            .column(LoginLinks::UserId)
            .from(LoginLinks::Table)
            .and_where(Expr::col(LoginLinks::TokenHash).eq(hash.as_str()))
            .to_owned();
        let Some((user,)) = self.fetch_optional::<(String,)>(&q).await? else {
            return Ok(None);
        };
        let user = UserId::parse(&user).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let user = self.user(user).await?;
        if user.disabled {
            return Ok(None);
        }
        self.start_session(user, now).await.map(Some)
    }
}
