//! Configuration: defaults, then an optional TOML file (`--config`), then `REGULARS__SECTION__KEY`
//! environment variables, then command-line flags. Later sources win.

use std::path::Path;

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Config {
    pub database: DatabaseConfig,
    pub server: ServerConfig,
    pub dashboard: DashboardSettings,
    pub log: LogConfig,
    pub analytics: AnalyticsConfig,
    pub webhooks: WebhooksConfig,
    pub loyalty: LoyaltyConfig,
    pub referrals: ReferralsConfig,
}

/// The referral job: rewards referrals whose return window ended, cancels those refunded
/// inside it, approves partners' due commissions.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReferralsConfig {
    /// `serve` runs the job for every store this often (0: never; `regulars referrals run`
    /// still does).
    pub run_every_minutes: u64,
    /// …the first time this many seconds after start-up.
    pub first_run_after_secs: u64,
}

/// The loyalty program's nightly job (expiry, reminders, tiers, birthdays) and ledger check.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoyaltyConfig {
    /// `serve` runs the job this often (0: never; `regulars loyalty nightly` still does).
    pub nightly_every_hours: u64,
    /// …the first time this many seconds after start-up.
    pub first_nightly_after_secs: u64,
}

/// Outgoing webhooks: the worker inside `serve` and the rules for endpoint URLs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WebhooksConfig {
    /// Let endpoints point at loopback, private (RFC 1918), link-local and other reserved
    /// addresses, over plain http too. Off: a store's endpoint could otherwise reach this
    /// server's own network (SSRF).
    pub allow_private_targets: bool,
    /// How often an idle worker looks for due messages, in milliseconds.
    pub poll_interval_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AnalyticsConfig {
    /// `serve` refits every store's analytics this often (0: never; `regulars analytics refit`
    /// still does).
    pub refit_every_hours: u64,
    /// …the first time this many seconds after start-up.
    pub first_refit_after_secs: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DashboardSettings {
    /// Mark cookies `Secure`: set it when the dashboard is reached over HTTPS.
    pub secure_cookies: bool,
    /// A session ends after this many minutes without a request…
    pub session_idle_minutes: u64,
    /// …and this many hours after sign-in, whatever happens.
    pub session_absolute_hours: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DatabaseConfig {
    /// `sqlite://regulars.db` (embedded, default) or `postgres://user@host/db`.
    pub url: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServerConfig {
    /// Address `serve` and `demo` listen on.
    pub listen: String,
    /// Seconds a finished Idempotency-Key reply is kept for replay.
    pub idempotency_ttl_secs: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LogConfig {
    /// A tracing filter, e.g. `info` or `regulars=debug,sqlx=warn`.
    pub level: String,
    /// `text` or `json`.
    pub format: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            database: DatabaseConfig {
                url: "sqlite://regulars.db".into(),
            },
            server: ServerConfig {
                listen: "127.0.0.1:8080".into(),
                idempotency_ttl_secs: 24 * 3600,
            },
            dashboard: DashboardSettings {
                secure_cookies: false,
                session_idle_minutes: 120,
                session_absolute_hours: 12,
            },
            log: LogConfig {
                level: "info".into(),
                format: "text".into(),
            },
            analytics: AnalyticsConfig {
                refit_every_hours: 24,
                first_refit_after_secs: 60,
            },
            webhooks: WebhooksConfig {
                allow_private_targets: false,
                poll_interval_ms: 1000,
            },
            loyalty: LoyaltyConfig {
                nightly_every_hours: 24,
                first_nightly_after_secs: 120,
            },
            referrals: ReferralsConfig {
                run_every_minutes: 15,
                first_run_after_secs: 60,
            },
        }
    }
}

impl Config {
    /// Defaults, then the TOML file, then `REGULARS__SECTION__KEY` variables. The error is
    /// boxed: figment's is large and this runs once.
    pub fn load(file: Option<&Path>) -> Result<Config, Box<figment::Error>> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = file {
            if !path.exists() {
                return Err(Box::new(figment::Error::from(format!(
                    "config file {} does not exist",
                    path.display()
                ))));
            }
            figment = figment.merge(Toml::file(path));
        }
        figment
            .merge(Env::prefixed("REGULARS__").split("__").lowercase(true))
            .extract()
            .map_err(Box::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::result_large_err)] // figment::Jail fixes the closure's error type
    fn file_then_env_then_defaults() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "regulars.toml",
                "[server]\nlisten = \"0.0.0.0:9000\"\n[log]\nformat = \"json\"\n[analytics]\nrefit_every_hours = 6\n",
            )?;
            jail.set_env("REGULARS__LOG__FORMAT", "text");
            jail.set_env("REGULARS__DATABASE__URL", "sqlite://other.db");
            let c = Config::load(Some(Path::new("regulars.toml"))).map_err(|e| *e)?;
            assert_eq!(c.server.listen, "0.0.0.0:9000");
            assert_eq!(c.log.format, "text");
            assert_eq!(c.database.url, "sqlite://other.db");
            assert_eq!(c.log.level, "info");
            assert_eq!(c.analytics.refit_every_hours, 6);
            assert_eq!(c.analytics.first_refit_after_secs, 60);
            Ok(())
        });
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment::Jail fixes the closure's error type
    fn webhooks_refuse_private_targets_unless_configured() {
        figment::Jail::expect_with(|jail| {
            let c = Config::load(None).map_err(|e| *e)?;
            assert!(!c.webhooks.allow_private_targets);
            assert_eq!(c.webhooks.poll_interval_ms, 1000);
            jail.create_file(
                "regulars.toml",
                "[webhooks]\nallow_private_targets = true\npoll_interval_ms = 250\n",
            )?;
            let c = Config::load(Some(Path::new("regulars.toml"))).map_err(|e| *e)?;
            assert!(c.webhooks.allow_private_targets);
            assert_eq!(c.webhooks.poll_interval_ms, 250);
            jail.set_env("REGULARS__WEBHOOKS__ALLOW_PRIVATE_TARGETS", "false");
            let c = Config::load(Some(Path::new("regulars.toml"))).map_err(|e| *e)?;
            assert!(!c.webhooks.allow_private_targets);
            Ok(())
        });
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment::Jail fixes the closure's error type
    fn the_referral_job_runs_every_quarter_hour_unless_configured() {
        figment::Jail::expect_with(|jail| {
            let c = Config::load(None).map_err(|e| *e)?;
            assert_eq!(
                (c.referrals.run_every_minutes, c.referrals.first_run_after_secs),
                (15, 60)
            );
            jail.create_file("regulars.toml", "[referrals]\nrun_every_minutes = 5\n")?;
            let c = Config::load(Some(Path::new("regulars.toml"))).map_err(|e| *e)?;
            assert_eq!(
                (c.referrals.run_every_minutes, c.referrals.first_run_after_secs),
                (5, 60)
            );
            jail.set_env("REGULARS__REFERRALS__RUN_EVERY_MINUTES", "0");
            let c = Config::load(Some(Path::new("regulars.toml"))).map_err(|e| *e)?;
            assert_eq!(c.referrals.run_every_minutes, 0);
            Ok(())
        });
    }

    #[test]
    fn missing_file_is_an_error() {
        let err = Config::load(Some(Path::new("/nonexistent/regulars.toml"))).unwrap_err();
        assert!(err.to_string().contains("does not exist"));
    }
}
