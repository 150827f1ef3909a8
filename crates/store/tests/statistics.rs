//! PostgreSQL's planner statistics keep up with a bulk load: once a table has doubled since it
//! was last analyzed, the next bulk batch analyzes it before its lookups are planned, without
//! waiting for autovacuum (which visits a database once a minute).

use std::time::{Duration, Instant};

use regulars_domain::{Currency, OrderInput, Timestamp};
use regulars_store::{Db, StoreRecord};
use regulars_testkit::fixtures::paid_order;
use regulars_testkit::{Backend, TestDb};

fn orders(prefix: &str, n: usize) -> Vec<OrderInput> {
    let at = Timestamp(Timestamp::now().0 - 86_400_000);
    (0..n)
        .map(|i| {
            paid_order(
                &format!("{prefix}-{i}"),
                &format!("{prefix}-c{i}"),
                Currency::INR,
                50_000,
                at,
            )
        })
        .collect()
}

async fn write(db: &Db, store: &StoreRecord, batch: &[OrderInput]) {
    db.upsert_orders(store, batch, "test").await.unwrap();
}

/// (rows changed since the last analyze, analyzes run by hand, by autovacuum) of `orders`.
async fn orders_stats(db: &Db) -> (i64, i64, i64) {
    let Db::Pg(pool) = db else {
        unreachable!("PostgreSQL only")
    };
    sqlx::query_as(
        "SELECT n_mod_since_analyze, analyze_count, autoanalyze_count \
         FROM pg_stat_user_tables WHERE relname = 'orders' AND schemaname = current_schema()",
    )
    .fetch_one(pool)
    .await
    .unwrap()
}

/// Polls until `done` holds: the server publishes its counters within a few seconds.
async fn eventually(db: &Db, done: impl Fn((i64, i64, i64)) -> bool) -> (i64, i64, i64) {
    let started = Instant::now();
    loop {
        let stats = orders_stats(db).await;
        if done(stats) || started.elapsed() > Duration::from_secs(30) {
            return stats;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_batch_analyzes_tables_that_outgrew_their_statistics() {
    let t = TestDb::new(Backend::Postgres).await;
    let store = t.store("Kaveri Silks", "INR", "Asia/Kolkata", "te-IN").await;
    // Autovacuum stays out of it, so every analyze counted here is ours.
    let Db::Pg(pool) = &t.db else { unreachable!() };
    sqlx::query("ALTER TABLE orders SET (autovacuum_enabled = false)")
        .execute(pool)
        .await
        .unwrap();

    // Small batches never analyze, however much they add.
    for i in 0..3 {
        write(&t.db, &store, &orders(&format!("s{i}"), 50)).await;
    }
    // One bulk batch of 1,500 orders: the first bulk batch saw an empty table, so nothing yet.
    write(&t.db, &store, &orders("bulk", 1_500)).await;
    let before = eventually(&t.db, |(changed, ..)| changed >= 1_650).await;
    assert!(before.0 >= 1_650, "the server counted the writes: {before:?}");
    assert_eq!(before.1, 0, "nothing analyzed by hand yet: {before:?}");

    // The next bulk batch finds `orders` grown from nothing to 1,650 rows and analyzes it.
    write(&t.db, &store, &orders("next", 100)).await;
    let after = eventually(&t.db, |(_, by_hand, _)| by_hand >= 1).await;
    assert_eq!(after.1, 1, "one analyze before the batch: {after:?}");
    assert!(after.0 <= 100, "only the batch's own rows since then: {after:?}");

    // Grown by 100 of 1,750 since: far from double, so the next bulk batch leaves it be.
    write(&t.db, &store, &orders("third", 100)).await;
    let later = eventually(&t.db, |(changed, ..)| changed >= 200).await;
    assert_eq!(later.1, 1, "no second analyze: {later:?}");
}

#[tokio::test]
async fn sqlite_needs_no_statistics() {
    let t = TestDb::new(Backend::Sqlite).await;
    let store = t.store("Kaveri Silks", "INR", "Asia/Kolkata", "te-IN").await;
    write(&t.db, &store, &orders("bulk", 1_500)).await;
    write(&t.db, &store, &orders("next", 100)).await;
    let Db::Sqlite(pool) = &t.db else { unreachable!() };
    let analyzed: i64 = sqlx::query_scalar("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(
        analyzed, 0,
        "SQLite plans without statistics; nothing analyzes it"
    );
}
