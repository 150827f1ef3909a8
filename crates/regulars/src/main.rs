//! `regulars`: one binary for the whole engine.

mod analyze;
mod config;
mod demo;
mod loyalty;
mod referrals;
mod refit;
mod user;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand, ValueEnum};
use regulars_domain::{Currency, Locale, Source, StoreId, TimeZone, Timestamp};
use regulars_import::{Kind, Plan, TransactionSettings};
use regulars_store::Db;

use crate::config::Config;

#[derive(Parser)]
#[command(
    name = "regulars",
    version,
    about = "Turn one-time buyers into regulars: a self-hosted customer-retention engine."
)]
struct Cli {
    /// Database URL: sqlite://FILE (default sqlite://regulars.db) or postgres://USER@HOST/DB.
    #[arg(long, global = true, env = "REGULARS_DATABASE_URL")]
    database: Option<String>,
    /// A TOML configuration file; every key can also be set as REGULARS__SECTION__KEY.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API, webhooks and background work in one process.
    Serve {
        /// Address to listen on (default 127.0.0.1:8080, or [server] listen).
        #[arg(long)]
        listen: Option<String>,
    },
    /// Create or upgrade the database schema (serve and demo do this too).
    Migrate,
    /// Create a demo database with multilingual sample stores, then serve it.
    Demo {
        #[arg(long)]
        listen: Option<String>,
        /// Load the sample data but do not serve.
        #[arg(long)]
        no_serve: bool,
    },
    /// Manage stores (tenants).
    #[command(subcommand)]
    Store(StoreCommand),
    /// Manage API keys.
    #[command(subcommand)]
    Apikey(ApikeyCommand),
    /// Manage the people who use the dashboard.
    #[command(subcommand)]
    User(UserCommand),
    /// Import a file; prints a JSON summary and exits non-zero if any row was rejected.
    Import(ImportArgs),
    /// The stores' predictive analytics (p_alive, CLV, RFM segments, VIPs).
    #[command(subcommand)]
    Analytics(AnalyticsCommand),
    /// Retention analytics on a transaction file (no database): CLV models, RFM, cohorts.
    #[command(subcommand)]
    Analyze(analyze::AnalyzeCommand),
    /// The loyalty program's jobs.
    #[command(subcommand)]
    Loyalty(LoyaltyCommand),
    /// The referral program's jobs.
    #[command(subcommand)]
    Referrals(ReferralsCommand),
    /// Verify the points ledger of every store (or one): recomputes every kept figure from the
    /// entries, prints JSON, exits non-zero on drift.
    Check {
        #[arg(long)]
        store: Option<String>,
    },
}

#[derive(Subcommand)]
enum LoyaltyCommand {
    /// Run the nightly job now: release expired holds, expire points, send expiry reminders,
    /// re-evaluate tiers and give birthday points. Safe to run again.
    Nightly {
        #[arg(long)]
        store: Option<String>,
        /// Run as of this moment (RFC 3339) instead of now.
        #[arg(long)]
        at: Option<String>,
    },
}

#[derive(Subcommand)]
enum ReferralsCommand {
    /// Run the referral job now: reward referrals whose friend's order cleared its return
    /// window, cancel those refunded or cancelled inside it, approve partners' due
    /// commissions. Prints a JSON report per store. Safe to run again.
    Run {
        /// The store; every store when left out.
        #[arg(long)]
        store: Option<String>,
        /// Run as of this moment (RFC 3339) instead of now.
        #[arg(long)]
        at: Option<String>,
    },
}

#[derive(Subcommand)]
enum StoreCommand {
    /// Create a store; prints it as JSON with its `id`.
    Create {
        #[arg(long)]
        name: String,
        /// ISO 4217 code, e.g. INR, AMD, USD.
        #[arg(long)]
        currency: String,
        /// IANA time zone, e.g. Asia/Kolkata.
        #[arg(long)]
        timezone: String,
        /// Default language, e.g. en, hi, te, hy.
        #[arg(long, default_value = "en")]
        locale: String,
    },
    /// Add (or with --remove, remove) a webhook signing secret. Several may be active at once,
    /// so a secret can be rotated without failed deliveries.
    Secret {
        #[arg(long)]
        store: String,
        #[arg(long, value_enum)]
        source: WebhookSource,
        #[arg(long)]
        secret: String,
        #[arg(long)]
        remove: bool,
    },
    /// List stores as JSON.
    List,
}

#[derive(Clone, Copy, ValueEnum)]
enum WebhookSource {
    Shopify,
    Woocommerce,
}

#[derive(Subcommand)]
enum AnalyticsCommand {
    /// Refit a store's models now and rewrite every customer's predictions (`serve` does this
    /// on start-up and then every [analytics] refit_every_hours); prints a JSON report per store.
    Refit {
        /// The store; every store when left out.
        #[arg(long)]
        store: Option<String>,
    },
}

#[derive(Subcommand)]
enum ApikeyCommand {
    /// Create an API key; prints JSON with the `key` (shown once, stored hashed).
    Create {
        #[arg(long)]
        store: String,
        #[arg(long, default_value = "default")]
        name: String,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Give a person a role in a store, creating their login if they are new. The password is
    /// read from standard input when it is not a terminal; otherwise one is generated and
    /// printed once. Prints JSON.
    Create {
        #[arg(long)]
        store: String,
        #[arg(long)]
        email: String,
        /// owner, admin, marketer, support, account_manager or viewer.
        #[arg(long)]
        role: String,
        /// The name colleagues see.
        #[arg(long)]
        name: Option<String>,
    },
    /// Disable (or with --enable, enable again) a person's login; disabling ends their sessions.
    Disable {
        #[arg(long)]
        email: String,
        #[arg(long)]
        enable: bool,
    },
}

#[derive(Args)]
struct ImportArgs {
    #[arg(value_enum)]
    kind: ImportKind,
    /// The CSV file.
    file: PathBuf,
    #[arg(long)]
    store: String,
    /// Exit 0 even if rows were rejected (they are still listed).
    #[arg(long)]
    allow_errors: bool,
    /// Credit loyalty points for orders placed before the program began (orders placed since
    /// always earn; without this flag past orders are history only).
    #[arg(long)]
    credit_points: bool,
    /// Transactions: the customer column (a header name, or a 0-based number).
    #[arg(long)]
    customer_col: Option<String>,
    /// Transactions: the date column.
    #[arg(long)]
    date_col: Option<String>,
    /// Transactions: the amount column (decimal, major units).
    #[arg(long)]
    amount_col: Option<String>,
    /// Transactions: the order id column; without it rows are orders of their own.
    #[arg(long)]
    order_col: Option<String>,
    /// Transactions: currency of the amounts (default: the store's).
    #[arg(long)]
    currency: Option<String>,
    /// Transactions: strftime format of the dates, e.g. %Y%m%d (default: ISO dates and times).
    #[arg(long)]
    date_format: Option<String>,
    /// Transactions: field delimiter, one character or `whitespace` (default ,).
    #[arg(long, default_value = ",")]
    delimiter: String,
    /// Transactions: the file has no header row (columns by number).
    #[arg(long)]
    no_header: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum ImportKind {
    ShopifyCustomers,
    ShopifyOrders,
    Transactions,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<std::process::ExitCode> {
    let mut config = Config::load(cli.config.as_deref()).context("reading configuration")?;
    let explicit_database = cli.database.is_some() || std::env::var_os("REGULARS__DATABASE__URL").is_some();
    if let Some(url) = cli.database {
        config.database.url = url;
    }
    init_tracing(&config);
    let ok = std::process::ExitCode::SUCCESS;
    match cli.command {
        Command::Analyze(command) => return analyze::run(command),
        Command::Migrate => {
            let db = connect(&config.database.url).await?;
            println!(
                "{}",
                serde_json::json!({ "migrated": true, "backend": format!("{:?}", db.backend()) })
            );
        }
        Command::Serve { listen } => {
            let db = connect_server(&config.database.url).await?;
            serve(db, listen.as_deref().unwrap_or(&config.server.listen), &config).await?;
        }
        Command::Demo { listen, no_serve } => {
            if !explicit_database {
                config.database.url = "sqlite://regulars-demo.db".into();
            }
            let db = connect_server(&config.database.url).await?;
            let listen = listen.unwrap_or_else(|| config.server.listen.clone());
            let welcome = demo::prepare(&db, &listen).await?;
            println!("{welcome}");
            if !no_serve {
                serve(db, &listen, &config).await?;
            }
        }
        Command::Store(cmd) => {
            let db = connect(&config.database.url).await?;
            store_command(&db, cmd).await?;
        }
        Command::Apikey(ApikeyCommand::Create { store, name }) => {
            let db = connect(&config.database.url).await?;
            let created = db.create_api_key(parse_store(&store)?, &name).await?;
            println!("{}", serde_json::to_string_pretty(&created)?);
        }
        Command::User(cmd) => {
            let db = connect(&config.database.url).await?;
            let out = user::run(&db, cmd).await?;
            println!("{}", serde_json::to_string_pretty(&out)?);
        }
        Command::Analytics(AnalyticsCommand::Refit { store }) => {
            let db = connect(&config.database.url).await?;
            let stores = match store {
                Some(s) => vec![parse_store(&s)?],
                None => db.stores().await?.into_iter().map(|s| s.id).collect(),
            };
            let mut reports = Vec::new();
            for id in stores {
                let report = db
                    .refit_store(id)
                    .await
                    .with_context(|| format!("refitting store {id}"))?;
                reports.push(report);
            }
            println!("{}", serde_json::to_string_pretty(&reports)?);
        }
        Command::Loyalty(LoyaltyCommand::Nightly { store, at }) => {
            let db = connect(&config.database.url).await?;
            let now = match at {
                Some(at) => Timestamp::parse_rfc3339(&at).map_err(|e| anyhow::anyhow!("--at: {e}"))?,
                None => Timestamp::now(),
            };
            let mut reports = Vec::new();
            for s in selected_stores(&db, store).await? {
                let report = db
                    .run_loyalty_nightly(&s, now)
                    .await
                    .with_context(|| format!("loyalty nightly job of store {}", s.id))?;
                reports.push(serde_json::json!({ "store_id": s.id.to_string(), "report": report }));
            }
            println!("{}", serde_json::to_string_pretty(&reports)?);
        }
        Command::Referrals(ReferralsCommand::Run { store, at }) => {
            let db = connect(&config.database.url).await?;
            let now = match at {
                Some(at) => Timestamp::parse_rfc3339(&at).map_err(|e| anyhow::anyhow!("--at: {e}"))?,
                None => Timestamp::now(),
            };
            let mut reports = Vec::new();
            for s in selected_stores(&db, store).await? {
                let report = db
                    .run_referrals(&s, now)
                    .await
                    .with_context(|| format!("referral job of store {}", s.id))?;
                reports.push(serde_json::json!({ "store_id": s.id.to_string(), "report": report }));
            }
            println!("{}", serde_json::to_string_pretty(&reports)?);
        }
        Command::Check { store } => {
            let db = connect(&config.database.url).await?;
            let mut checks = Vec::new();
            for s in selected_stores(&db, store).await? {
                let check = db
                    .check_loyalty(s.id)
                    .await
                    .with_context(|| format!("checking store {}", s.id))?;
                checks.push(loyalty::StoreCheck {
                    store_id: s.id.to_string(),
                    clean: check.is_clean(),
                    check,
                });
            }
            println!("{}", serde_json::to_string_pretty(&checks)?);
            let integrity = db.integrity_check().await?;
            if integrity != "ok" {
                eprintln!("database integrity check: {integrity}");
                return Ok(std::process::ExitCode::from(2));
            }
            if checks.iter().any(|c| !c.clean) {
                eprintln!("the points ledger has drift: see the `drift` lists above");
                return Ok(std::process::ExitCode::from(1));
            }
        }
        Command::Import(args) => {
            let db = connect(&config.database.url).await?;
            let summary = import_command(&db, &args).await?;
            println!("{}", serde_json::to_string_pretty(&summary)?);
            if summary.rejected > 0 && !args.allow_errors {
                eprintln!(
                    "{} row(s) rejected; nothing else was affected. Fix them and import again, or pass --allow-errors.",
                    summary.rejected
                );
                return Ok(std::process::ExitCode::from(1));
            }
        }
    }
    Ok(ok)
}

fn init_tracing(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&config.log.level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if config.log.format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// The database for a one-shot command: a small pool (one writer and one reader).
async fn connect(url: &str) -> anyhow::Result<Db> {
    open(url, 2).await
}

/// The database for a server.
async fn connect_server(url: &str) -> anyhow::Result<Db> {
    open(url, 8).await
}

async fn open(url: &str, connections: u32) -> anyhow::Result<Db> {
    let db = Db::connect_with_pool(url, connections)
        .await
        .with_context(|| format!("opening {}", redact(url)))?;
    db.migrate().await.context("migrating the schema")?;
    Ok(db)
}

/// The URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &url[scheme + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// One store (by id) or all of them.
async fn selected_stores(db: &Db, store: Option<String>) -> anyhow::Result<Vec<regulars_store::StoreRecord>> {
    Ok(match store {
        Some(s) => vec![db.store(parse_store(&s)?).await?],
        None => db.stores().await?,
    })
}

fn parse_store(s: &str) -> anyhow::Result<StoreId> {
    StoreId::parse(s)
        .map_err(|_| anyhow::anyhow!("--store {s:?} is not a store id (see `regulars store list`)"))
}

async fn serve(db: Db, listen: &str, config: &Config) -> anyhow::Result<()> {
    let addr: SocketAddr = listen
        .parse()
        .with_context(|| format!("--listen {listen:?} is not an address like 127.0.0.1:8080"))?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    tracing::info!(%addr, "serving");
    // Imports run inside the server that started them: any still `running` belonged to a
    // process that has stopped.
    match db.interrupt_running_imports().await {
        Ok(0) => {}
        Ok(n) => tracing::warn!(
            imports = n,
            "imports left running by a stopped server marked interrupted"
        ),
        Err(e) => tracing::warn!(error = %e, "marking interrupted imports"),
    }
    let background = tokio::spawn(housekeeping(
        db.clone(),
        Duration::from_secs(config.server.idempotency_ttl_secs),
    ));
    let refits = (config.analytics.refit_every_hours > 0).then(|| {
        tokio::spawn(refit::schedule(
            db.clone(),
            Duration::from_secs(config.analytics.first_refit_after_secs),
            Duration::from_secs(config.analytics.refit_every_hours * 3600),
        ))
    });
    let loyalty_jobs = (config.loyalty.nightly_every_hours > 0).then(|| {
        tokio::spawn(loyalty::schedule(
            db.clone(),
            Duration::from_secs(config.loyalty.first_nightly_after_secs),
            Duration::from_secs(config.loyalty.nightly_every_hours * 3600),
        ))
    });
    let referral_jobs = (config.referrals.run_every_minutes > 0).then(|| {
        tokio::spawn(referrals::schedule(
            db.clone(),
            Duration::from_secs(config.referrals.first_run_after_secs),
            Duration::from_secs(config.referrals.run_every_minutes * 60),
        ))
    });
    // Outgoing webhooks: delivered by this process beside any others sharing the database.
    let (stop_webhooks, webhooks_stopped) = tokio::sync::oneshot::channel::<()>();
    let webhooks = tokio::spawn(regulars_hooks::run_worker(
        db.clone(),
        regulars_hooks::WorkerConfig {
            allow_private_targets: config.webhooks.allow_private_targets,
            poll_interval: Duration::from_millis(config.webhooks.poll_interval_ms.max(10)),
            ..Default::default()
        },
        async {
            webhooks_stopped.await.ok();
        },
    ));
    let dashboard = regulars_web::DashboardConfig {
        secure_cookies: config.dashboard.secure_cookies,
        session_limits: regulars_store::SessionLimits {
            idle: Duration::from_secs(config.dashboard.session_idle_minutes * 60),
            absolute: Duration::from_secs(config.dashboard.session_absolute_hours * 3600),
        },
    };
    let app = regulars_web::router(
        regulars_web::AppState::new(db.clone())
            .with_dashboard(dashboard)
            .with_private_webhook_targets(config.webhooks.allow_private_targets),
    );
    // The peer address feeds login throttling.
    axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    background.abort();
    if let Some(refits) = refits {
        refits.abort();
    }
    if let Some(jobs) = loyalty_jobs {
        jobs.abort();
    }
    if let Some(jobs) = referral_jobs {
        jobs.abort();
    }
    // The batch in flight finishes (each request times out within seconds); an unfinished
    // one is retried by the next worker once its lease lapses.
    stop_webhooks.send(()).ok();
    let stopped = tokio::time::timeout(Duration::from_secs(15), webhooks).await;
    if stopped.is_err() {
        tracing::warn!("webhook deliveries still in flight at shutdown are retried later");
    }
    db.close().await;
    Ok(())
}

/// Background work: forget idempotency replies and webhook delivery ids past their window.
async fn housekeeping(db: Db, ttl: Duration) {
    let mut tick = tokio::time::interval(Duration::from_secs(3600));
    loop {
        tick.tick().await;
        match db.prune_replay_records(ttl).await {
            Ok(n) if n > 0 => tracing::info!(removed = n, "pruned expired idempotency keys and deliveries"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "housekeeping failed"),
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        tokio::signal::ctrl_c().await.ok();
    };
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = terminate => {} }
}

async fn store_command(db: &Db, cmd: StoreCommand) -> anyhow::Result<()> {
    match cmd {
        StoreCommand::Create {
            name,
            currency,
            timezone,
            locale,
        } => {
            let store = db
                .create_store(
                    &name,
                    Currency::parse(&currency).map_err(|e| anyhow::anyhow!("--currency: {}", e.message))?,
                    TimeZone::parse(&timezone).map_err(|e| anyhow::anyhow!("--timezone: {}", e.message))?,
                    Locale::parse(&locale).map_err(|e| anyhow::anyhow!("--locale: {}", e.message))?,
                )
                .await?;
            println!("{}", serde_json::to_string_pretty(&store)?);
        }
        StoreCommand::Secret {
            store,
            source,
            secret,
            remove,
        } => {
            let store = parse_store(&store)?;
            let source = match source {
                WebhookSource::Shopify => Source::Shopify,
                WebhookSource::Woocommerce => Source::Woocommerce,
            };
            if remove {
                if !db.remove_webhook_secret(store, source, &secret).await? {
                    bail!("no such {source} secret for this store");
                }
                println!("{}", serde_json::json!({ "removed": true, "source": source }));
            } else {
                db.add_webhook_secret(store, source, &secret).await?;
                let active = db.webhook_secrets(store, source).await?.len();
                println!(
                    "{}",
                    serde_json::json!({
                        "added": true,
                        "source": source,
                        "active_secrets": active,
                        "webhook_path": format!("/webhooks/{source}/{store}"),
                    })
                );
            }
        }
        StoreCommand::List => {
            println!("{}", serde_json::to_string_pretty(&db.stores().await?)?);
        }
    }
    Ok(())
}

impl ImportArgs {
    fn kind(&self) -> Kind {
        match self.kind {
            ImportKind::ShopifyCustomers => Kind::ShopifyCustomers,
            ImportKind::ShopifyOrders => Kind::ShopifyOrders,
            ImportKind::Transactions => Kind::Transactions,
        }
    }

    fn transaction_settings(&self) -> TransactionSettings {
        TransactionSettings {
            customer_col: self.customer_col.clone(),
            date_col: self.date_col.clone(),
            amount_col: self.amount_col.clone(),
            order_col: self.order_col.clone(),
            currency: self.currency.clone(),
            date_format: self.date_format.clone(),
            delimiter: Some(self.delimiter.clone()),
            no_header: self.no_header,
        }
    }
}

async fn import_command(db: &Db, args: &ImportArgs) -> anyhow::Result<regulars_import::Summary> {
    let store = db.store(parse_store(&args.store)?).await.context("--store")?;
    let file = args.file.as_path();
    let reader = regulars_import::open(file)?;
    let plan =
        Plan::new(args.kind(), &args.transaction_settings(), &store)?.credit_points(args.credit_points);
    let name = file.display().to_string();
    Ok(regulars_import::run(db, &store, &plan, &name, reader, &mut ()).await?)
}
