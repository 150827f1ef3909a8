//! (a) and (c): load through the HTTP API on loopback.

use std::sync::Arc;
use std::time::{Duration, Instant};

use regulars_sample::synthetic_orders;
use serde::Serialize;

use crate::{api_json, serve_fresh, start};

#[derive(Debug, Serialize)]
pub struct Bulk {
    pub orders: usize,
    pub customers: usize,
    pub requests: usize,
    pub orders_per_request: usize,
    pub seconds: f64,
    pub orders_per_sec: f64,
}

pub const PER_REQUEST: usize = 10_000;

/// Posts every order through `/api/v1/orders/bulk` as NDJSON, 10,000 per request, each request
/// with its own Idempotency-Key. Bodies are encoded before the clock starts.
pub async fn bulk(orders: usize, customers: usize) -> anyhow::Result<Bulk> {
    let setup = serve_fresh().await?;
    let mut bodies: Vec<Vec<u8>> = Vec::new();
    let mut current = Vec::with_capacity(PER_REQUEST * 600);
    for (i, o) in synthetic_orders(orders, customers, 7, start()).enumerate() {
        serde_json::to_writer(&mut current, &api_json(&o))?;
        current.push(b'\n');
        if (i + 1) % PER_REQUEST == 0 {
            bodies.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        bodies.push(current);
    }
    let client = reqwest::Client::new();
    let url = format!("{}/api/v1/orders/bulk", setup.base);
    let requests = bodies.len();
    let started = Instant::now();
    for (i, body) in bodies.into_iter().enumerate() {
        let r = client
            .post(&url)
            .bearer_auth(&setup.key)
            .header("content-type", "application/x-ndjson")
            .header("idempotency-key", format!("bench-bulk-{i}"))
            .body(body)
            .send()
            .await?;
        anyhow::ensure!(
            r.status().is_success(),
            "bulk request {i}: {} {}",
            r.status(),
            r.text().await?
        );
    }
    let seconds = started.elapsed().as_secs_f64();
    setup.db.close().await;
    Ok(Bulk {
        orders,
        customers,
        requests,
        orders_per_request: PER_REQUEST,
        seconds,
        orders_per_sec: orders as f64 / seconds,
    })
}

#[derive(Debug, Serialize)]
pub struct Latency {
    pub rate_per_sec: usize,
    pub requests: usize,
    pub errors: usize,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// Open-loop load: request i is due at t0 + i/rate whatever happened before, and its latency is
/// measured from when it was due, so a stall shows up in every request queued behind it.
pub async fn latency(rate: usize, seconds: usize) -> anyhow::Result<Latency> {
    let setup = Arc::new(serve_fresh().await?);
    let total = rate * seconds;
    let bodies: Vec<String> = synthetic_orders(total, total / 3 + 1, 11, start())
        .map(|o| api_json(&o).to_string())
        .collect();
    let client = reqwest::Client::builder().pool_max_idle_per_host(256).build()?;
    let url = format!("{}/api/v1/orders", setup.base);
    // Warm the connection pool and the statement cache outside the measurement.
    for i in 0..20 {
        let body = api_json(&synthetic_orders(1, 1, 1000 + i, start()).next().unwrap()).to_string();
        client
            .post(&url)
            .bearer_auth(&setup.key)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await?;
    }
    let t0 = Instant::now() + Duration::from_millis(50);
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let mut tasks = Vec::with_capacity(total);
    for (i, body) in bodies.into_iter().enumerate() {
        let due = t0 + interval * i as u32;
        tokio::time::sleep_until(due.into()).await;
        let (client, url, key) = (client.clone(), url.clone(), setup.key.clone());
        tasks.push(tokio::spawn(async move {
            let r = client
                .post(&url)
                .bearer_auth(&key)
                .header("content-type", "application/json")
                .header("idempotency-key", format!("lat-{i}"))
                .body(body)
                .send()
                .await;
            let ok = matches!(&r, Ok(resp) if resp.status().is_success());
            (due.elapsed(), ok)
        }));
    }
    let mut latencies = Vec::with_capacity(total);
    let mut errors = 0;
    for t in tasks {
        let (d, ok) = t.await?;
        errors += usize::from(!ok);
        latencies.push(d.as_secs_f64() * 1000.0);
    }
    latencies.sort_by(|a, b| a.total_cmp(b));
    let pct =
        |p: f64| latencies[((latencies.len() as f64 * p).ceil() as usize).clamp(1, latencies.len()) - 1];
    setup.db.close().await;
    Ok(Latency {
        rate_per_sec: rate,
        requests: total,
        errors,
        p50_ms: pct(0.50),
        p90_ms: pct(0.90),
        p99_ms: pct(0.99),
        max_ms: *latencies.last().unwrap_or(&0.0),
    })
}
