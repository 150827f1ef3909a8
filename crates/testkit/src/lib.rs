//! A fresh, migrated database per test, on either backend, so one suite proves both.
//!
//! SQLite: a file in a temporary directory. PostgreSQL: a new database on the server named by
//! `REGULARS_TEST_POSTGRES` (default: the one `scripts/test-env` starts), dropped when the
//! [`TestDb`] is dropped, even after a failed assertion.
//!
//! Write a test once as `async fn name(backend: Backend)` and list it in [`on_both_backends!`].

pub mod fixtures;

pub use regulars_store::Backend;
use regulars_store::Db;

/// The admin URL of the test PostgreSQL server.
pub fn postgres_admin_url() -> String {
    std::env::var("REGULARS_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:55432/postgres".to_string())
}

pub struct TestDb {
    pub url: String,
    pub db: Db,
    /// The directory that holds the SQLite file (and any files a test writes beside it).
    pub dir: tempfile::TempDir,
    pg_database: Option<String>,
}

impl TestDb {
    pub async fn new(backend: Backend) -> TestDb {
        let dir = tempfile::tempdir().expect("temporary directory");
        let (url, pg_database) = match backend {
            Backend::Sqlite => (format!("sqlite://{}", dir.path().join("test.db").display()), None),
            Backend::Postgres => {
                let name = format!("regulars_test_{}", uuid::Uuid::now_v7().simple());
                let admin = postgres_admin_url();
                let mut conn = connect_admin(&admin).await;
                sqlx::Executor::execute(&mut conn, format!("CREATE DATABASE {name}").as_str())
                    .await
                    .unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {e}"));
                let base = admin.rsplit_once('/').map(|(base, _)| base).unwrap_or(&admin);
                (format!("{base}/{name}"), Some(name))
            }
        };
        let db = Db::connect(&url).await.unwrap_or_else(|e| panic!("{url}: {e}"));
        db.migrate().await.expect("migrations apply");
        TestDb {
            url,
            db,
            dir,
            pg_database,
        }
    }
}

impl TestDb {
    /// A store (tenant) in this database, from plain names: `store("Tsiran", "AMD",
    /// "Asia/Yerevan", "hy")`.
    pub async fn store(
        &self,
        name: &str,
        currency: &str,
        zone: &str,
        locale: &str,
    ) -> regulars_store::StoreRecord {
        self.db
            .create_store(
                name,
                regulars_domain::Currency::parse(currency).expect("an ISO 4217 code"),
                regulars_domain::TimeZone::parse(zone).expect("an IANA zone"),
                regulars_domain::Locale::parse(locale).expect("a locale tag"),
            )
            .await
            .expect("the store is created")
    }
}

async fn connect_admin(url: &str) -> sqlx::PgConnection {
    use sqlx::Connection;
    sqlx::PgConnection::connect(url).await.unwrap_or_else(|e| {
        panic!(
            "the PostgreSQL half of the suite needs a server at {url} ({e}); \
             start one with `scripts/test-env` (or `scripts/postgres start`), or point REGULARS_TEST_POSTGRES at one"
        )
    })
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some(name) = self.pg_database.take() else {
            return;
        };
        // Drop runs inside the test's runtime, which cannot be blocked on: use a thread with
        // a runtime of its own. FORCE ends the pool's connections that are still open.
        let admin = postgres_admin_url();
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async {
                let mut conn = connect_admin(&admin).await;
                let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                sqlx::Executor::execute(&mut conn, sql.as_str()).await.ok()
            })
        })
        .join();
    }
}

/// Declares `sqlite::NAME` and `postgres::NAME` tests for each `async fn NAME(backend: Backend)`
/// in scope, on a multi-threaded runtime so concurrency tests really run concurrently.
#[macro_export]
macro_rules! on_both_backends {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $test() {
                    super::$test($crate::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $test() {
                    super::$test($crate::Backend::Postgres).await
                }
            )*
        }
    };
}
