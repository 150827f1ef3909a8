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
    fn missing_file_is_an_error() {
        let err = Config::load(Some(Path::new("/nonexistent/regulars.toml"))).unwrap_err();
        assert!(err.to_string().contains("does not exist"));
    }
}
