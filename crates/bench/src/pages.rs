//! `pages`: how fast every dashboard page answers on a large store. The release `regulars serve`
//! binary runs on the generated SQLite file (see `dataset`); an owner made with
//! `regulars user create` signs in through the real form, then each page gets warm-up requests
//! and measured sequential requests. Each page's p95 is reported against the 100 ms target and
//! against the sign-in form (the cheapest page), measured in the same run.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::StatusCode;
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};
use serde::Serialize;
use serde_json::json;

use crate::dataset::{self, Dataset, Sizes};
use crate::import::binary;

pub const TARGET_MS: f64 = 100.0;
/// How many times the deep page follows the list's `rel=next` link.
const DEEP_STEPS: usize = 20;

pub struct Options {
    pub sizes: Sizes,
    pub fresh: bool,
    pub generate_only: bool,
    pub warmup: usize,
    pub requests: usize,
    /// Measuring stops early on a page whose measured requests have taken this long.
    pub budget: Duration,
}

#[derive(Debug, Clone, Serialize)]
pub struct Figures {
    pub requests: usize,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
    /// Rows of the page's tables (header rows excluded), to see how much each page showed.
    pub table_rows: usize,
    pub bytes: usize,
}

enum Measured {
    Figures(Figures),
    NotFound,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Who {
    Owner,
    Manager,
}

impl Who {
    fn label(self) -> &'static str {
        match self {
            Who::Owner => "owner",
            Who::Manager => "account manager",
        }
    }
}

struct Page {
    name: String,
    path: String,
    who: Who,
}

/// Values that exist in the file, read from it before the server starts.
struct Probes {
    store: String,
    name_prefix: String,
    email: String,
    phone: String,
    shopify_id: String,
    typical_customer: String,
    top_customer: String,
    top_orders: i64,
    order_id: String,
    order_number: String,
}

fn probes(path: &Path, store: &str) -> anyhow::Result<Probes> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let customers: i64 = conn.query_row("SELECT max(rowid) FROM customers", [], |r| r.get(0))?;
    let orders: i64 = conn.query_row("SELECT max(rowid) FROM orders", [], |r| r.get(0))?;
    // The most common first name in Latin letters, as staff type it into the search box.
    let mut stmt = conn.prepare(
        "SELECT first_name FROM customers WHERE store_id = ?1 AND first_name IS NOT NULL \
         GROUP BY first_name ORDER BY count(*) DESC",
    )?;
    let names: Vec<String> = stmt.query_map([store], |r| r.get(0))?.collect::<Result<_, _>>()?;
    let first = names
        .iter()
        .find(|n| n.chars().all(|c| c.is_ascii_alphabetic()) && n.len() >= 3)
        .or(names.first())
        .context("no customer has a first name")?;
    let name_prefix: String = first.chars().take(3).collect();
    // A customer from the middle of the file with an email, a phone and a Shopify id.
    let (email, phone, shopify_id): (String, String, String) = conn
        .query_row(
            "SELECT c.email, c.phone, i.external_id FROM customers c \
             JOIN customer_identities i ON i.store_id = c.store_id AND i.customer_id = c.id \
             AND i.source = 'shopify' WHERE c.rowid >= ?1 AND c.email IS NOT NULL AND c.phone IS NOT NULL \
             LIMIT 1",
            [customers / 2],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .context("no customer with an email, a phone and a Shopify id")?;
    let typical_customer: String = conn
        .query_row(
            "SELECT id FROM customers WHERE rowid >= ?1 AND orders_count = 2 LIMIT 1",
            [customers / 2],
            |r| r.get(0),
        )
        .optional()?
        .or(conn
            .query_row(
                "SELECT id FROM customers WHERE orders_count = 2 LIMIT 1",
                [],
                |r| r.get(0),
            )
            .optional()?)
        .context("no customer with two orders")?;
    let (top_customer, top_orders): (String, i64) = conn.query_row(
        "SELECT id, orders_count FROM customers WHERE store_id = ?1 ORDER BY orders_count DESC, id LIMIT 1",
        [store],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let (order_id, order_number): (String, String) = conn.query_row(
        "SELECT id, order_number FROM orders WHERE rowid >= ?1 AND order_number IS NOT NULL LIMIT 1",
        params![orders / 2],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    Ok(Probes {
        store: store.to_string(),
        name_prefix,
        email,
        phone,
        shopify_id,
        typical_customer,
        top_customer,
        top_orders,
        order_id,
        order_number,
    })
}

/// Percent-encodes a query value.
fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn pages(p: &Probes) -> Vec<Page> {
    let s = &p.store;
    let customers = format!("/app/{s}/customers");
    let page = |name: &str, path: String| Page {
        name: name.to_string(),
        path,
        who: Who::Owner,
    };
    let list = |name: &str, query: &str| page(name, format!("{customers}?{query}"));
    vec![
        page("overview, 30 days", format!("/app/{s}?days=30")),
        page("overview, 365 days", format!("/app/{s}?days=365")),
        page("customers", customers.clone()),
        list("customers by spend", "sort=spent&dir=desc"),
        list("customers by orders", "sort=orders&dir=desc"),
        list("customers by name", "sort=name&dir=asc"),
        list(
            &format!("customers, q=name prefix {:?}", p.name_prefix),
            &format!("q={}", enc(&p.name_prefix)),
        ),
        list("customers, q=email", &format!("q={}", enc(&p.email))),
        list("customers, q=phone", &format!("q={}", enc(&p.phone))),
        list("customers, q=Shopify id", &format!("q={}", enc(&p.shopify_id))),
        list("customers, tag=vip", "tag=vip"),
        list("customers, consent=email", "consent=email"),
        list("customers, spent 5,000–20,000", "spent_min=5000&spent_max=20000"),
        list("customers, orders_min=5", "orders_min=5"),
        list("customers, last_before=2024-06-01", "last_before=2024-06-01"),
        list("customers, source=woocommerce", "source=woocommerce"),
        Page {
            name: "customers, manager=me".to_string(),
            path: format!("{customers}?manager=me"),
            who: Who::Manager,
        },
        page(
            &format!("customers, deep page ({DEEP_STEPS} × next)"),
            String::new(),
        ),
        page(
            "customer with 2 orders",
            format!("{customers}/{}", p.typical_customer),
        ),
        page(
            &format!("customer with the most orders ({})", p.top_orders),
            format!("{customers}/{}", p.top_customer),
        ),
        page("orders", format!("/app/{s}/orders")),
        page(
            "orders, q=order number",
            format!("/app/{s}/orders?q={}", enc(&p.order_number)),
        ),
        page("order", format!("/app/{s}/orders/{}", p.order_id)),
        page("import", format!("/app/{s}/import")),
        page("settings", format!("/app/{s}/settings")),
    ]
}

/// The release binary serving one database file on a free loopback port; stopped on drop.
struct Server {
    child: Child,
    base: String,
}

impl Server {
    async fn start(bin: &Path, db: &Path, log: &Path) -> anyhow::Result<Server> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let child = Command::new(bin)
            .arg("--database")
            .arg(format!("sqlite://{}", db.display()))
            .arg("serve")
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(log)?)
            .stderr(std::fs::File::options().append(true).open(log)?)
            .spawn()?;
        let mut server = Server {
            child,
            base: format!("http://127.0.0.1:{port}"),
        };
        // Migrations run before it listens: a file made by an older build may take a while.
        let client = reqwest::Client::new();
        let started = Instant::now();
        loop {
            if let Some(status) = server.child.try_wait()? {
                anyhow::bail!(
                    "regulars serve exited with {status}: {}",
                    std::fs::read_to_string(log).unwrap_or_default()
                );
            }
            if let Ok(r) = client.get(format!("{}/healthz", server.base)).send().await {
                if r.status().is_success() {
                    break;
                }
            }
            anyhow::ensure!(
                started.elapsed() < Duration::from_secs(1800),
                "regulars serve did not answer /healthz"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Ok(server)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // SIGTERM first, so the server closes the database cleanly (checkpointing the WAL).
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        for _ in 0..100 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `regulars user create` for a new owner; returns the password it printed.
fn create_owner(bin: &Path, db: &Path, store: &str, email: &str) -> anyhow::Result<String> {
    let out = Command::new(bin)
        .arg("--database")
        .arg(format!("sqlite://{}", db.display()))
        .args(["user", "create", "--store", store, "--email", email])
        .args(["--role", "owner", "--name", "Bench Owner"])
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "regulars user create: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    printed["password"]
        .as_str()
        .map(str::to_string)
        .with_context(|| format!("regulars user create printed no password: {printed}"))
}

/// The value a response sets for one cookie.
fn set_cookie(headers: &reqwest::header::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next()?.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// The attributes of every start tag `<name …>` in a page.
fn tags<'a>(html: &'a str, name: &str) -> Vec<&'a str> {
    let open = format!("<{name}");
    html.match_indices(open.as_str())
        .filter_map(|(at, _)| {
            let rest = &html[at + open.len()..];
            if !rest.starts_with(|c: char| c.is_ascii_whitespace()) {
                return None;
            }
            rest.find('>').map(|end| &rest[..end])
        })
        .collect()
}

/// One attribute's value (quoted with " or ', or bare), entities decoded.
fn attr(tag: &str, name: &str) -> Option<String> {
    let mut rest = tag;
    while let Some(at) = rest.find(name) {
        let before = rest[..at].chars().last();
        let after = rest[at + name.len()..].trim_start();
        rest = &rest[at + name.len()..];
        if !matches!(before, Some(c) if c.is_ascii_whitespace()) || !after.starts_with('=') {
            continue;
        }
        let value = after[1..].trim_start();
        let raw = match value.chars().next()? {
            q @ ('"' | '\'') => &value[1..1 + value[1..].find(q)?],
            _ => value
                .split(|c: char| c.is_ascii_whitespace() || c == '>')
                .next()?,
        };
        return Some(
            raw.replace("&amp;", "&")
                .replace("&#38;", "&")
                .replace("&quot;", "\"")
                .replace("&#34;", "\"")
                .replace("&#39;", "'")
                .replace("&#x27;", "'")
                .replace("&#x2F;", "/")
                .replace("&lt;", "<")
                .replace("&gt;", ">"),
        );
    }
    None
}

/// The `href` of the page's `a[rel=next]`, resolved against the page's own path.
fn next_link(html: &str, current: &str) -> Option<String> {
    let href = tags(html, "a")
        .into_iter()
        .filter(|t| attr(t, "rel").is_some_and(|rel| rel.split_whitespace().any(|r| r == "next")))
        .find_map(|t| attr(t, "href"))?;
    let path = current.split('?').next().unwrap_or(current);
    Some(if href.starts_with('/') {
        href
    } else if let Some(q) = href.strip_prefix('?') {
        format!("{path}?{q}")
    } else if let Some(i) = href.find("://") {
        let after = &href[i + 3..];
        after[after.find('/').unwrap_or(after.len())..].to_string()
    } else {
        let dir = &path[..path.rfind('/').map_or(0, |i| i + 1)];
        format!("{dir}{href}")
    })
}

async fn sign_in(
    client: &reqwest::Client,
    base: &str,
    email: &str,
    password: &str,
) -> anyhow::Result<String> {
    let form = client.get(format!("{base}/login")).send().await?;
    anyhow::ensure!(form.status() == StatusCode::OK, "GET /login: {}", form.status());
    let cookie = set_cookie(form.headers(), "regulars_login_csrf").context("no login CSRF cookie")?;
    let html = form.text().await?;
    let field = tags(&html, "input")
        .into_iter()
        .find(|t| attr(t, "name").as_deref() == Some("csrf"))
        .and_then(|t| attr(t, "value"))
        .context("the sign-in form has no csrf field")?;
    let r = client
        .post(format!("{base}/login"))
        .header(COOKIE, format!("regulars_login_csrf={cookie}"))
        .form(&[("email", email), ("password", password), ("csrf", field.as_str())])
        .send()
        .await?;
    anyhow::ensure!(
        r.status().is_redirection(),
        "signing in as {email}: {} {}",
        r.status(),
        r.text().await.unwrap_or_default()
    );
    let session = set_cookie(r.headers(), "regulars_session").context("no session cookie")?;
    Ok(format!("regulars_session={session}"))
}

async fn get(
    client: &reqwest::Client,
    url: &str,
    cookie: Option<&str>,
) -> anyhow::Result<(StatusCode, String)> {
    let mut req = client.get(url);
    if let Some(c) = cookie {
        req = req.header(COOKIE, c);
    }
    let r = req.send().await?;
    let status = r.status();
    let location = r
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = r.text().await?;
    Ok((status, location.map(|l| format!("→ {l}")).unwrap_or(body)))
}

fn check(status: StatusCode, body: &str, url: &str) -> anyhow::Result<()> {
    let snippet: String = body.chars().take(300).collect();
    anyhow::ensure!(!status.is_server_error(), "GET {url}: {status} {snippet}");
    anyhow::ensure!(status == StatusCode::OK, "GET {url}: {status} {snippet}");
    Ok(())
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

async fn measure(
    client: &reqwest::Client,
    url: &str,
    cookie: Option<&str>,
    opts: &Options,
) -> anyhow::Result<Measured> {
    let (status, body) = get(client, url, cookie).await?;
    if status == StatusCode::NOT_FOUND {
        return Ok(Measured::NotFound);
    }
    check(status, &body, url)?;
    // A page that names a bad field measured nothing but its error message.
    if let Some(at) = body.find("role=\"alert\"") {
        let shown: String = body[at..].chars().take(200).collect();
        anyhow::bail!("GET {url} shows an error: {shown}");
    }
    let table_rows = (body.matches("<tr>").count() + body.matches("<tr ").count())
        .saturating_sub(body.matches("<thead").count());
    let bytes = body.len();
    for _ in 1..opts.warmup {
        let (status, body) = get(client, url, cookie).await?;
        check(status, &body, url)?;
    }
    let mut times = Vec::with_capacity(opts.requests);
    let started = Instant::now();
    for _ in 0..opts.requests {
        let mut req = client.get(url);
        if let Some(c) = cookie {
            req = req.header(COOKIE, c);
        }
        let t = Instant::now();
        let r = req.send().await?;
        let status = r.status();
        let body = r.bytes().await?;
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        check(status, &String::from_utf8_lossy(&body), url)?;
        if started.elapsed() > opts.budget {
            break;
        }
    }
    times.sort_by(|a, b| a.total_cmp(b));
    Ok(Measured::Figures(Figures {
        requests: times.len(),
        p50_ms: percentile(&times, 0.50),
        p95_ms: percentile(&times, 0.95),
        p99_ms: percentile(&times, 0.99),
        max_ms: *times.last().unwrap_or(&0.0),
        mean_ms: times.iter().sum::<f64>() / times.len().max(1) as f64,
        table_rows,
        bytes,
    }))
}

fn file_bytes(path: &Path) -> u64 {
    let mut total = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    for suffix in ["-wal", "-shm"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        total += std::fs::metadata(PathBuf::from(p)).map(|m| m.len()).unwrap_or(0);
    }
    total
}

pub async fn run(opts: Options) -> anyhow::Result<()> {
    let started = Instant::now();
    let bin = binary();
    anyhow::ensure!(
        opts.generate_only || bin.exists(),
        "{} not found: run `cargo build --release -p regulars` first",
        bin.display()
    );
    eprintln!(
        "data set: {} customers, {} orders",
        opts.sizes.customers, opts.sizes.orders
    );
    let Dataset { path, meta, reused } = dataset::prepare(opts.sizes, opts.fresh).await?;
    let bytes = file_bytes(&path);
    eprintln!(
        "  {} — {:.2} GB, generated in {:.0} s{}",
        path.display(),
        bytes as f64 / 1e9,
        meta.generation_seconds,
        if reused { " (earlier run)" } else { "" }
    );
    if opts.generate_only {
        return Ok(());
    }

    let p = probes(&path, &meta.store_id)?;
    let owner_email = format!("owner-{}@bench.example", regulars_domain::Timestamp::now().0);
    let owner_password = create_owner(&bin, &path, &meta.store_id, &owner_email)?;
    let log = dataset::data_dir().join("pages-serve.log");
    let server = Server::start(&bin, &path, &log).await?;
    let base = server.base.clone();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let owner = sign_in(&client, &base, &owner_email, &owner_password).await?;
    let manager = sign_in(&client, &base, &meta.manager_email, &meta.manager_password).await?;
    let cookie_for = |who: Who| match who {
        Who::Owner => Some(owner.as_str()),
        Who::Manager => Some(manager.as_str()),
    };

    eprintln!(
        "reference: GET /login ({} warm-up, {} measured)…",
        opts.warmup, opts.requests
    );
    let reference = match measure(&client, &format!("{base}/login"), None, &opts).await? {
        Measured::Figures(f) => f,
        Measured::NotFound => anyhow::bail!("GET /login answered 404"),
    };

    let mut results = Vec::new();
    let mut not_found = Vec::new();
    for mut page in pages(&p) {
        if page.path.is_empty() {
            // The deep page: follow the default list's next link.
            let mut current = format!("/app/{}/customers", p.store);
            let mut reached = true;
            for step in 0..DEEP_STEPS {
                let (status, body) = get(&client, &format!("{base}{current}"), cookie_for(page.who)).await?;
                if status == StatusCode::NOT_FOUND {
                    reached = false;
                    break;
                }
                check(status, &body, &current)?;
                match next_link(&body, &current) {
                    Some(next) => current = next,
                    None => anyhow::bail!("{current} (after {step} × next) has no a[rel=next] link"),
                }
            }
            if !reached {
                eprintln!("warning: {} skipped: the customer list answers 404", page.name);
                not_found.push(json!({ "name": page.name, "path": format!("/app/{}/customers", p.store) }));
                continue;
            }
            page.path = current;
        }
        eprintln!("{} ({}): {}", page.name, page.who.label(), page.path);
        match measure(
            &client,
            &format!("{base}{}", page.path),
            cookie_for(page.who),
            &opts,
        )
        .await?
        {
            Measured::NotFound => {
                eprintln!("warning: {} skipped: 404 (not built yet?)", page.name);
                not_found.push(json!({ "name": page.name, "path": page.path }));
            }
            Measured::Figures(f) => {
                eprintln!(
                    "    p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms ({} requests; {} table rows, {} bytes)",
                    f.p50_ms, f.p95_ms, f.p99_ms, f.requests, f.table_rows, f.bytes
                );
                results.push((page, f));
            }
        }
    }
    drop(server);

    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let rows: Vec<_> = results
        .iter()
        .map(|(page, f)| {
            json!({
                "name": page.name,
                "path": page.path,
                "signed_in_as": page.who.label(),
                "figures": f,
                "p95_over_target": f.p95_ms / TARGET_MS,
                "p95_over_reference": f.p95_ms / reference.p95_ms,
                "meets_target": f.p95_ms < TARGET_MS,
            })
        })
        .collect();
    let report = json!({
        "benchmark": "pages",
        "machine": { "cores": cores, "os": std::env::consts::OS },
        "sizes": meta.sizes,
        "database": {
            "file": path.file_name().map(|n| n.to_string_lossy().into_owned()),
            "bytes": bytes,
            "generated_at": meta.generated_at,
            "generation_seconds": meta.generation_seconds,
            "generation_phases_seconds": meta.phases_seconds,
            "reused_from_earlier_run": reused,
            "rows": meta.rows,
        },
        "method": {
            "server": "release `regulars serve` on the SQLite file, loopback",
            "warmup_requests": opts.warmup,
            "measured_requests": opts.requests,
            "budget_seconds_per_page": opts.budget.as_secs_f64(),
            "timing": "client-side, sequential: from sending the request to the last byte of the body",
        },
        "target_ms": TARGET_MS,
        "reference": { "name": "sign-in form", "path": "/login", "figures": reference },
        "pages": rows,
        "not_found": not_found,
        "all_meet_target": results.iter().all(|(_, f)| f.p95_ms < TARGET_MS),
        "total_seconds": started.elapsed().as_secs_f64(),
    });
    let out = if opts.sizes
        == (Sizes {
            customers: 1_000_000,
            orders: 10_000_000,
        }) {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../bench/results/pages.json")
    } else {
        dataset::data_dir().join(format!(
            "pages-{}c-{}o-results.json",
            opts.sizes.customers, opts.sizes.orders
        ))
    };
    std::fs::create_dir_all(out.parent().unwrap())?;
    std::fs::write(&out, serde_json::to_string_pretty(&report)? + "\n")
        .with_context(|| format!("{}", out.display()))?;

    println!(
        "\n{} customers, {} orders; database {:.2} GB; generated in {:.0} s{}; {} cores",
        meta.sizes.customers,
        meta.sizes.orders,
        bytes as f64 / 1e9,
        meta.generation_seconds,
        if reused { " (earlier run)" } else { "" },
        cores
    );
    println!(
        "{:<44} {:>5} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}  target",
        "page", "n", "p50 ms", "p95 ms", "p99 ms", "max ms", "/100ms", "/ref"
    );
    let line = |name: &str, f: &Figures, meets: &str| {
        println!(
            "{:<44} {:>5} {:>8.1} {:>8.1} {:>8.1} {:>8.1} {:>8.2} {:>8.1}  {}",
            name,
            f.requests,
            f.p50_ms,
            f.p95_ms,
            f.p99_ms,
            f.max_ms,
            f.p95_ms / TARGET_MS,
            f.p95_ms / reference.p95_ms,
            meets
        )
    };
    line("reference: GET /login", &reference, "");
    for (page, f) in &results {
        line(&page.name, f, if f.p95_ms < TARGET_MS { "yes" } else { "NO" });
    }
    for nf in &not_found {
        println!(
            "{:<44} not found (404): {}",
            nf["name"].as_str().unwrap_or(""),
            nf["path"]
        );
    }
    println!("written to {}", out.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_next_link_and_the_csrf_field() {
        let html = r#"<nav><a href="/app/s/customers?after=1&amp;sort=name" rel="prev">‹</a>
            <a class="x" rel="next" href="?after=abc&amp;dir=asc">›</a></nav>
            <input type="hidden" name="csrf" value="tok">"#;
        assert_eq!(
            next_link(html, "/app/s/customers?q=1").as_deref(),
            Some("/app/s/customers?after=abc&dir=asc")
        );
        let field = tags(html, "input").into_iter().find_map(|t| attr(t, "value"));
        assert_eq!(field.as_deref(), Some("tok"));
        assert_eq!(enc("+91 98@x"), "%2B91%2098%40x");
    }
}
