//! A real server over a fresh SQLite file, and a real headless Chromium driven by chromedriver.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use regulars_domain::{Email, OrderInput, Role, StoreId, Timestamp};
use regulars_store::{Db, StoreRecord};
use regulars_testkit::fixtures::paid_order;
use regulars_testkit::{Backend, TestDb};
use serde_json::json;

pub struct Site {
    pub base: String,
    pub db: Db,
    pub store_a: StoreRecord,
    pub store_b: StoreRecord,
    _database: TestDb,
}

pub struct Person {
    pub email: String,
    pub password: String,
}

fn order(
    store: &StoreRecord,
    external_id: &str,
    customer: &str,
    total: i64,
    placed_at: Timestamp,
) -> OrderInput {
    paid_order(external_id, customer, store.currency, total, placed_at)
}

impl Site {
    /// Two stores: Annapurna (INR) with ₹12,34,567.00 of orders this month, and Tsiran (AMD).
    pub async fn start() -> Site {
        let database = TestDb::new(Backend::Sqlite).await;
        let db = database.db.clone();
        let store_a = database.store("Annapurna", "INR", "Asia/Kolkata", "te-IN").await;
        let store_b = database.store("Tsiran", "AMD", "Asia/Yerevan", "hy").await;
        let recent = Timestamp(Timestamp::now().0 - 2 * 86_400_000);
        let orders = [
            order(&store_a, "a-1", "lakshmi", 100_000_000, recent),
            order(&store_a, "a-2", "ravi", 23_456_700, recent),
        ];
        db.upsert_orders(&store_a, &orders, "test").await.unwrap();
        db.upsert_orders(
            &store_b,
            &[order(&store_b, "b-1", "ani", 15_000_000, recent)],
            "test",
        )
        .await
        .unwrap();

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let app = regulars_web::router(regulars_web::AppState::new(db.clone()));
        tokio::spawn(async move {
            axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
                .await
                .unwrap()
        });
        Site {
            base,
            db,
            store_a,
            store_b,
            _database: database,
        }
    }

    pub async fn person(&self, email: &str, role: Role, stores: &[StoreId]) -> Person {
        let password = format!("{email} has a long password");
        let user = self
            .db
            .create_user(&Email::parse(email).unwrap(), &password, None)
            .await
            .unwrap();
        for store in stores {
            self.db.set_membership(*store, user.id, role).await.unwrap();
        }
        Person {
            email: email.into(),
            password,
        }
    }
}

/// chromedriver on a free port, killed when the test ends.
struct Driver {
    child: Child,
    port: u16,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn which(candidates: &[&str]) -> Option<PathBuf> {
    candidates
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .or_else(|| {
            let name = candidates.first()?.rsplit('/').next()?;
            std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|dir| dir.join(name))
                    .find(|p| p.exists())
            })
        })
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub struct Browser {
    client: Client,
    _driver: Driver,
}

impl Browser {
    pub async fn open() -> Browser {
        let chromedriver = std::env::var_os("CHROMEDRIVER")
            .map(PathBuf::from)
            .or_else(|| which(&["/usr/bin/chromedriver", "chromedriver"]))
            .expect(
                "browser tests need Debian's chromium and chromium-driver (apt-get install chromium \
                 chromium-driver fonts-noto-core; .ci/run does) or CHROMEDRIVER set",
            );
        let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
        let port = free_port();
        let child = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let driver = Driver { child, port };
        let profile = tempfile::tempdir().unwrap().keep();
        let capabilities = json!({
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-quic", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--window-size=1280,900",
                    "--lang=en-US", format!("--user-data-dir={}", profile.display()),
                ]
            }
        });
        let capabilities: serde_json::Map<String, serde_json::Value> =
            capabilities.as_object().unwrap().clone();
        let deadline = Instant::now() + Duration::from_secs(30);
        let client = loop {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector)
                .capabilities(capabilities.clone())
                .connect(&format!("http://127.0.0.1:{}", driver.port))
                .await
            {
                Ok(client) => break client,
                Err(e) if Instant::now() > deadline => panic!("chromedriver did not answer: {e}"),
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        };
        Browser {
            client,
            _driver: driver,
        }
    }

    pub async fn goto(&self, site: &Site, path: &str) {
        self.client.goto(&format!("{}{path}", site.base)).await.unwrap();
    }

    pub async fn sign_in(&self, site: &Site, person: &Person) {
        self.goto(site, "/login").await;
        self.fill("input[name=email]", &person.email).await;
        self.fill("input[name=password]", &person.password).await;
        self.client
            .find(Locator::Css("form[action='/login'] button[type=submit]"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        self.wait_for_url_containing("/app/").await;
    }

    pub async fn fill(&self, css: &str, value: &str) {
        let field = self.client.find(Locator::Css(css)).await.unwrap();
        field.clear().await.unwrap();
        field.send_keys(value).await.unwrap();
    }

    /// Clicks and waits until the next page has replaced this one.
    async fn click_and_wait(&self, locator: Locator<'_>, what: &str) {
        let old_page = self.client.find(Locator::Css("html")).await.unwrap();
        self.client
            .find(locator)
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"))
            .click()
            .await
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        // The old document's element goes stale once the new page is loaded.
        while old_page.tag_name().await.is_ok() {
            assert!(Instant::now() < deadline, "{what}: the page did not change");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn click_link(&self, text: &str) {
        self.click_and_wait(Locator::LinkText(text), &format!("link {text:?}"))
            .await;
    }

    pub async fn click_button(&self, text: &str) {
        let xpath = format!("//button[normalize-space()='{text}']");
        self.click_and_wait(Locator::XPath(&xpath), &format!("button {text:?}"))
            .await;
    }

    /// Clicks an element that changes the page in place (a radio button, a checkbox).
    pub async fn click(&self, css: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
            .click()
            .await
            .unwrap();
    }

    /// Chooses a file in an `input[type=file]`, as a person picking it would.
    pub async fn choose_file(&self, css: &str, path: &std::path::Path) {
        let absolute = std::fs::canonicalize(path).unwrap();
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
            .send_keys(absolute.to_str().unwrap())
            .await
            .unwrap();
    }

    /// Whether the element is on the page and shown.
    pub async fn displayed(&self, css: &str) -> bool {
        match self.client.find(Locator::Css(css)).await {
            Ok(element) => element.is_displayed().await.unwrap_or(false),
            Err(_) => false,
        }
    }

    /// Waits until an element matching `css` is on the page (content htmx brings in, say).
    pub async fn wait_for(&self, css: &str, within: Duration) {
        let deadline = Instant::now() + within;
        while self.client.find(Locator::Css(css)).await.is_err() {
            assert!(Instant::now() < deadline, "{css} never appeared");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The size of the browser window, in CSS pixels (a phone is about 390 wide).
    pub async fn resize(&self, width: u32, height: u32) {
        self.client.set_window_size(width, height).await.unwrap();
    }

    /// Runs a script in the page and returns its value.
    pub async fn script(&self, js: &str) -> serde_json::Value {
        self.client.execute(js, vec![]).await.unwrap()
    }

    pub async fn select(&self, css: &str, value: &str) {
        let select = self.client.find(Locator::Css(css)).await.unwrap();
        select.select_by_value(value).await.unwrap();
    }

    /// The element's text. An element htmx replaces between finding and reading it goes
    /// stale: it is found again.
    pub async fn text(&self, css: &str) -> String {
        let mut attempts = 0;
        loop {
            let element = self
                .client
                .find(Locator::Css(css))
                .await
                .unwrap_or_else(|e| panic!("{css}: {e}"));
            match element.text().await {
                Ok(text) => return text,
                Err(fantoccini::error::CmdError::Standard(e))
                    if e.error == fantoccini::error::ErrorStatus::StaleElementReference && attempts < 20 =>
                {
                    attempts += 1;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => panic!("{css}: {e}"),
            }
        }
    }

    pub async fn exists(&self, css: &str) -> bool {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if self.client.find(Locator::Css(css)).await.is_ok() {
                return true;
            }
            if Instant::now() > deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn source(&self) -> String {
        self.client.source().await.unwrap()
    }

    pub async fn url(&self) -> String {
        self.client.current_url().await.unwrap().to_string()
    }

    pub async fn wait_for_url_containing(&self, part: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.url().await.contains(part) {
            assert!(
                Instant::now() < deadline,
                "never reached {part}: at {}",
                self.url().await
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Saves a PNG of the page under `target/screenshots/`.
    pub async fn screenshot(&self, name: &str) {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        let png = self.client.screenshot().await.unwrap();
        assert!(png.starts_with(b"\x89PNG"), "a PNG");
        std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    }

    pub async fn close(self) {
        self.client.close().await.unwrap();
    }
}
