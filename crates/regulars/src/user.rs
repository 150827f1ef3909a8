//! `regulars user …`: the people who sign in to the dashboard.

use std::io::{IsTerminal, Read};

use anyhow::Context;
use rand::distributions::{Alphanumeric, DistString};
use regulars_domain::{Email, Role};
use regulars_store::Db;
use serde_json::{json, Value};

use crate::{parse_store, UserCommand};

pub async fn run(db: &Db, cmd: UserCommand) -> anyhow::Result<Value> {
    match cmd {
        UserCommand::Create {
            store,
            email,
            role,
            name,
        } => {
            let store = parse_store(&store)?;
            let email = Email::parse(&email).map_err(|e| anyhow::anyhow!("--email: {}", e.message))?;
            let role = Role::parse(&role).map_err(|e| anyhow::anyhow!("--role: {}", e.message))?;
            db.store(store).await.context("--store")?;
            let (user, generated) = match db.user_by_email(&email).await? {
                Some(existing) => (existing, None),
                None => {
                    let (password, generated) = password_from_stdin_or_generated()?;
                    let user = db
                        .create_user(&email, &password, name.as_deref())
                        .await
                        .map_err(|e| anyhow::anyhow!("{e}"))?;
                    (user, generated.then_some(password))
                }
            };
            db.set_membership(store, user.id, role).await?;
            let mut out = json!({
                "user_id": user.id,
                "email": user.email,
                "store_id": store,
                "role": role,
            });
            if let Some(password) = generated {
                out["password"] = json!(password);
                out["note"] = json!("the password is shown once; it is stored only as an argon2id hash");
            }
            Ok(out)
        }
        UserCommand::Disable { email, enable } => {
            let email = Email::parse(&email).map_err(|e| anyhow::anyhow!("--email: {}", e.message))?;
            let user = db
                .user_by_email(&email)
                .await?
                .with_context(|| format!("no person with the email {email}"))?;
            db.set_user_disabled(user.id, !enable).await?;
            Ok(json!({ "user_id": user.id, "disabled": !enable }))
        }
    }
}

/// The first line of standard input when it is piped; otherwise a generated password.
fn password_from_stdin_or_generated() -> anyhow::Result<(String, bool)> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        let mut input = String::new();
        stdin.lock().read_to_string(&mut input)?;
        let line = input.lines().next().unwrap_or("").to_string();
        if !line.is_empty() {
            return Ok((line, false));
        }
    }
    Ok((Alphanumeric.sample_string(&mut rand::thread_rng(), 20), true))
}
