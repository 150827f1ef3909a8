use base64::Engine;
use hmac::{Hmac, Mac};
use regulars_store::{Db, StoreRecord};
use regulars_testkit::{Backend, TestDb};
use serde_json::{json, Value};
use sha2::Sha256;

pub struct TestApp {
    pub base: String,
    pub db: Db,
    pub store: StoreRecord,
    pub key: String,
    pub client: reqwest::Client,
    _database: TestDb,
}

impl TestApp {
    /// A server on a free loopback port over a fresh database of `backend`, with one INR store
    /// and its key.
    pub async fn spawn(backend: Backend) -> TestApp {
        let database = TestDb::new(backend).await;
        let db = database.db.clone();
        let store = database
            .store("Chai Chaupal", "INR", "Asia/Kolkata", "hi-IN")
            .await;
        let key = db.create_api_key(store.id, "test").await.unwrap().key;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let app = regulars_web::router(regulars_web::AppState::new(db.clone()));
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        TestApp {
            base,
            db,
            store,
            key,
            client: reqwest::Client::new(),
            _database: database,
        }
    }

    /// Another tenant in the same database.
    pub async fn other_store(&self) -> (StoreRecord, String) {
        let store = self._database.store("Tsiran", "AMD", "Asia/Yerevan", "hy").await;
        let key = self.db.create_api_key(store.id, "other").await.unwrap().key;
        (store, key)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn post(&self, path: &str, body: &Value) -> reqwest::Response {
        self.post_as(&self.key, path, body).await
    }

    pub async fn post_as(&self, key: &str, path: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .bearer_auth(key)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.get_as(&self.key, path).await
    }

    pub async fn get_as(&self, key: &str, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .bearer_auth(key)
            .send()
            .await
            .unwrap()
    }

    pub async fn count(&self, table: &str) -> i64 {
        match &self.db {
            Db::Sqlite(pool) => sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
                .fetch_one(pool)
                .await
                .unwrap(),
            Db::Pg(pool) => sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
                .fetch_one(pool)
                .await
                .unwrap(),
        }
    }
}

pub fn order_json(external_id: &str, total: &str) -> Value {
    json!({
        "external_id": external_id,
        "customer": { "external_id": "cust-1", "email": "Priya.Sharma@Example.in", "first_name": "प्रिया" },
        "placed_at": "2025-03-20T10:15:00+05:30",
        "currency": "INR",
        "total": total,
        "line_items": [
            { "sku": "TEA-ASSAM-250", "title": "Assam tea 250 g", "quantity": 2, "price": "499.50" },
            { "sku": "SPICE-GARAM", "title": "गरम मसाला", "quantity": 1, "price": "500.00" }
        ]
    })
}

/// A problem+json answer: its status, and its `code` and `field`.
pub async fn problem(response: reqwest::Response) -> (u16, String, Option<String>) {
    let status = response.status().as_u16();
    let ct = response
        .headers()
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(ct, "application/problem+json", "errors are problem+json");
    let body: Value = response.json().await.unwrap();
    (
        status,
        body["code"].as_str().unwrap().to_string(),
        body["field"].as_str().map(str::to_string),
    )
}

pub fn fixture(path: &str) -> Vec<u8> {
    let full = format!("{}/../../../shared/fixtures/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}

/// The inner object of a REST-wrapped fixture (`{"order": {...}}`), re-encoded as a body.
pub fn inner(path: &str, key: &str) -> Vec<u8> {
    let v: Value = serde_json::from_slice(&fixture(path)).unwrap();
    serde_json::to_vec(&v[key]).unwrap()
}

pub fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}
