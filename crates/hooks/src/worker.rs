//! The delivery worker: claims due messages, signs and posts them, records each attempt and
//! schedules the next. Any number of workers, in any number of processes, share one queue.

use std::future::Future;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::FutureExt;
use regulars_domain::Timestamp;
use regulars_store::{
    delivery_target_key, AttemptReport, ClaimedMessage, Db, DeliveryTarget, NextStep, StoreError,
};
use reqwest::header::{HeaderMap, HeaderValue, CONTENT_TYPE, RETRY_AFTER};
use reqwest::StatusCode;

use crate::backoff::{parse_retry_after, Backoff};
use crate::signing::signature_header;
use crate::ssrf::{check_url_shape, GuardedResolver};

/// What time it is, for the worker: the system clock in production, a settable one in tests.
pub trait Clock: Send + Sync {
    fn now(&self) -> Timestamp;
}

#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// A clock that moves only when told to.
#[derive(Debug)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    pub fn new(at: Timestamp) -> Self {
        ManualClock(AtomicI64::new(at.0))
    }

    pub fn set(&self, at: Timestamp) {
        self.0.store(at.0, Ordering::SeqCst);
    }

    pub fn advance(&self, by: Duration) {
        self.0.fetch_add(by.as_millis() as i64, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.0.load(Ordering::SeqCst))
    }
}

#[derive(Clone)]
pub struct WorkerConfig {
    /// Deliver to loopback, private and other reserved addresses, and over plain http.
    pub allow_private_targets: bool,
    /// How long an idle worker waits before looking for due messages again.
    pub poll_interval: Duration,
    /// How many messages one claim takes (and sends at once).
    pub batch_size: u64,
    /// How long a claim is this worker's; after it, another worker may try the message.
    pub lease: Duration,
    /// The longest a receiver may take to answer.
    pub request_timeout: Duration,
    pub backoff: Backoff,
    pub clock: Arc<dyn Clock>,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            allow_private_targets: false,
            poll_interval: Duration::from_secs(1),
            batch_size: 16,
            lease: Duration::from_secs(60),
            request_timeout: Duration::from_secs(10),
            backoff: Backoff::default(),
            clock: Arc::new(SystemClock),
        }
    }
}

/// What one pass of the worker did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pass {
    pub claimed: usize,
    pub succeeded: usize,
    pub retried: usize,
    pub failed: usize,
    /// Ended unsent: the endpoint was disabled or removed after the message was queued.
    pub cancelled: usize,
}

pub struct Worker {
    db: Db,
    config: WorkerConfig,
    client: reqwest::Client,
}

/// An attempt's result before it is recorded.
struct Attempt {
    status: Option<StatusCode>,
    retry_after: Option<Duration>,
    error: Option<String>,
}

impl Worker {
    pub fn new(db: Db, config: WorkerConfig) -> Result<Worker, reqwest::Error> {
        let client = reqwest::Client::builder()
            .dns_resolver(Arc::new(GuardedResolver {
                allow_private_targets: config.allow_private_targets,
            }))
            // A redirect is a failed attempt: following it could lead anywhere.
            .redirect(reqwest::redirect::Policy::none())
            // A proxy would connect on our behalf, past the resolver's check.
            .no_proxy()
            .timeout(config.request_timeout)
            .connect_timeout(config.request_timeout)
            .user_agent(concat!("Regulars-Webhooks/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Worker { db, config, client })
    }

    /// Claims one batch of due messages and delivers it.
    pub async fn run_once(&self) -> Result<Pass, StoreError> {
        let now = self.config.clock.now();
        let claimed = self
            .db
            .claim_webhook_messages(now, self.config.lease, self.config.batch_size)
            .await?;
        if claimed.is_empty() {
            return Ok(Pass::default());
        }
        let targets = self.db.delivery_targets(&claimed, now).await?;
        let outcomes = futures::future::join_all(
            claimed
                .iter()
                .map(|m| self.deliver(m, targets.get(&delivery_target_key(m)))),
        )
        .await;
        let mut pass = Pass {
            claimed: claimed.len(),
            ..Pass::default()
        };
        for outcome in outcomes {
            match outcome? {
                None => pass.cancelled += 1,
                Some(NextStep::Succeeded) => pass.succeeded += 1,
                Some(NextStep::RetryAt(_)) => pass.retried += 1,
                Some(NextStep::Failed | NextStep::Gone) => pass.failed += 1,
            }
        }
        Ok(pass)
    }

    async fn deliver(
        &self,
        message: &ClaimedMessage,
        target: Option<&DeliveryTarget>,
    ) -> Result<Option<NextStep>, StoreError> {
        let Some(target) = target.filter(|t| t.enabled) else {
            self.db
                .cancel_webhook_message(message, self.config.clock.now())
                .await?;
            return Ok(None);
        };
        let attempted_at = self.config.clock.now();
        let started = Instant::now();
        let attempt = self.send(message, target, attempted_at).await;
        let duration_ms = started.elapsed().as_millis() as i64;
        let next = self.next_step(message, &attempt, attempted_at);
        let report = AttemptReport {
            attempted_at,
            response_status: attempt.status.map(|s| s.as_u16()),
            duration_ms,
            error: attempt.error.clone(),
        };
        let recorded = self.db.record_webhook_attempt(message, &report, next).await?;
        // Ids and codes only: the URL may carry a token and the body customer data.
        tracing::info!(
            store = %message.store_id,
            endpoint = %message.endpoint_id,
            message_id = %message.id,
            event_type = %message.event_type,
            attempt = message.attempt,
            status = attempt.status.map(|s| s.as_u16()).unwrap_or(0),
            outcome = ?next,
            recorded,
            duration_ms,
            "webhook attempt"
        );
        Ok(Some(next))
    }

    async fn send(&self, message: &ClaimedMessage, target: &DeliveryTarget, at: Timestamp) -> Attempt {
        let failed = |error: String| Attempt {
            status: None,
            retry_after: None,
            error: Some(error),
        };
        // IP-literal hosts are connected to without the resolver: checked here. The
        // configuration may also have changed since the endpoint was registered.
        let url = match check_url_shape(&target.url, self.config.allow_private_targets) {
            Ok(url) => url,
            Err(e) => return failed(format!("refused: {}", e.message)),
        };
        let timestamp = at.0.div_euclid(1000);
        let signature = match signature_header(
            &target.secrets,
            &message.id,
            timestamp,
            message.payload.as_bytes(),
        ) {
            Ok(s) => s,
            Err(e) => return failed(e.to_string()),
        };
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        for (name, value) in [
            ("webhook-id", message.id.as_str()),
            ("webhook-timestamp", &timestamp.to_string()),
            ("webhook-signature", &signature),
        ] {
            match HeaderValue::from_str(value) {
                Ok(v) => {
                    headers.insert(name, v);
                }
                Err(_) => return failed(format!("{name} is not a valid header value")),
            }
        }
        let response = self
            .client
            .post(url)
            .headers(headers)
            .body(message.payload.clone())
            .send()
            .await;
        match response {
            Ok(response) => {
                let status = response.status();
                let retry_after = response
                    .headers()
                    .get(RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| parse_retry_after(v, self.config.clock.now()));
                let error = if status.is_redirection() {
                    Some("redirects are not followed".to_string())
                } else if status.is_success() {
                    None
                } else {
                    Some(format!("HTTP {}", status.as_u16()))
                };
                Attempt {
                    status: Some(status),
                    retry_after,
                    error,
                }
            }
            Err(e) => failed(describe(e)),
        }
    }

    fn next_step(&self, message: &ClaimedMessage, attempt: &Attempt, at: Timestamp) -> NextStep {
        match attempt.status {
            Some(s) if s.is_success() => return NextStep::Succeeded,
            Some(StatusCode::GONE) => return NextStep::Gone,
            _ => {}
        }
        let honoured = match attempt.status {
            Some(StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE) => attempt.retry_after,
            _ => None,
        };
        match self.config.backoff.delay(message.attempt) {
            // The schedule decides how many attempts there are; the receiver may say when.
            Some(wait) => NextStep::RetryAt(Timestamp(at.0 + honoured.unwrap_or(wait).as_millis() as i64)),
            None => NextStep::Failed,
        }
    }
}

/// A transport error as one line, without the URL.
fn describe(error: reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    let mut text = kind.to_string();
    let error = error.without_url();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text.chars().take(500).collect()
}

/// How long a finished message and its attempts stay in the delivery log.
pub const KEEP_FINISHED: Duration = Duration::from_secs(30 * 24 * 3600);

/// Delivers messages until `shutdown` completes; the batch in flight then finishes first.
/// Once an hour it also forgets messages finished more than [`KEEP_FINISHED`] ago.
pub async fn run_worker(db: Db, config: WorkerConfig, shutdown: impl Future<Output = ()> + Send) {
    let poll = config.poll_interval;
    let batch = config.batch_size as usize;
    let clock = config.clock.clone();
    let mut next_prune = clock.now();
    let worker = match Worker::new(db.clone(), config) {
        Ok(w) => w,
        Err(e) => {
            tracing::error!(error = %e, "the webhook worker could not start");
            return;
        }
    };
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let now = clock.now();
        if now >= next_prune {
            let before = Timestamp(now.0 - KEEP_FINISHED.as_millis() as i64);
            match db.prune_webhook_messages(before).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(removed = n, "forgot finished webhook messages"),
                Err(e) => tracing::warn!(error = %e, "pruning webhook messages"),
            }
            next_prune = Timestamp(now.0 + 3_600_000);
        }
        let busy = match worker.run_once().await {
            Ok(pass) => pass.claimed >= batch,
            Err(e) => {
                tracing::warn!(error = %e, "webhook delivery pass failed");
                false
            }
        };
        if busy {
            if (&mut shutdown).now_or_never().is_some() {
                break;
            }
            continue;
        }
        tokio::select! {
            _ = &mut shutdown => break,
            _ = tokio::time::sleep(poll) => {}
        }
    }
    tracing::info!("webhook worker stopped");
}
