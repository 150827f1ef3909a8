//! The ledger behind the nightly measurement: one INR store (Asia/Kolkata) whose `members`
//! customers have earned, spent and lost points for two years, written straight into the
//! product's schema and kept under `target/bench-data/loyalty-{members}/`.
//!
//! The file is created by the product itself (`Db::connect` + `migrate`, `create_store`,
//! `set_loyalty_program`); the volume rows are then bulk-inserted with rusqlite, as the product
//! would have written them over two years of nightly runs at 02:00 local time:
//! - an earn entry and its lot for every paid order (pending 14 days, then a year to spend),
//!   and birthday points on each past birthday (spendable at once, a year to spend);
//! - redemptions at checkout taking from the soonest-expiring available lots (entry + moves);
//! - an expire entry (and its move) for every lot that reached its expiry before tonight with
//!   points left, dated by the nightly run that expired it;
//! - a few checkout holds taken since the last run whose 15 minutes are up (still open);
//! - `loyalty_members`: every customer a tier was given to, as the run of a week ago decided
//!   it, so tonight's evaluation promotes and demotes some of them;
//! - the program's `nightly_at` at yesterday's run, so reminders go only to lots that entered
//!   the 14-day window since.
//!
//! Customers carry their identity columns and birthdays only, and the orders behind the earn
//! entries are not in the file: the nightly job reads neither (earn entries name their orders
//! by id, a column without a foreign key). Secondary indexes are dropped for the load and
//! created again from the schema's own statements, so the file ends with the schema the
//! migrations made. Nothing here runs ANALYZE: the job runs with the plans a shop's file has.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use regulars_domain::loyalty::{Program, TierLadder};
use regulars_domain::{Currency, Locale, TimeZone, Timestamp};
use regulars_store::Db;
use rusqlite::{params, Connection};
use serde::{Deserialize, Serialize};

use crate::dataset::{data_dir, Rng};

pub const DAY: i64 = 86_400_000;
/// Asia/Kolkata has no daylight saving: local time is UTC + 5:30 all year.
const IST: i64 = 19_800_000;
/// Tonight's run: 02:00 in Kolkata on 16 June 2025.
pub const NOW_RFC3339: &str = "2025-06-15T20:30:00Z";
const HISTORY_DAYS: i64 = 730;
/// The tiers in `loyalty_members` were decided this long before tonight.
const TIERS_DECIDED_DAYS_AGO: i64 = 7;
const HOLD_MINUTES: i64 = 15;

/// The program of the benchmark's store: a rupee earns a point (shipping and tax excluded),
/// double points on Darjeeling tea and in Diwali week, 200 birthday points, three tiers on
/// points earned over 365 days, 14 days pending, a year to spend.
pub fn program() -> Program {
    Program::from_json(
        r#"{
        "enabled": true,
        "earn": { "points": 1, "per_minor": 100, "rounding": "down", "exclude_shipping": true, "exclude_tax": true },
        "multipliers": [
            { "kind": "sku", "sku": "TEA-DJ-100", "percent": 200 },
            { "kind": "dates", "from": "2024-10-28", "to": "2024-11-03", "percent": 200 }
        ],
        "actions": [ { "action": { "kind": "birthday" }, "points": 200 } ],
        "tiers": {
            "metric": "points_earned",
            "window_days": 365,
            "levels": [
                { "id": "silver", "name": "Silver", "threshold": 2500 },
                { "id": "gold", "name": "Gold", "threshold": 7500, "benefits": { "earn_percent": 110 } },
                { "id": "platinum", "name": "Platinum", "threshold": 20000,
                  "benefits": { "earn_percent": 125, "free_shipping": true } }
            ]
        },
        "pending_days": 14,
        "expiry_days": 365,
        "expiry_warning_days": 14,
        "value_per_100_points_minor": 100
    }"#,
    )
    .expect("the benchmark's program is valid")
}

pub fn now() -> Timestamp {
    Timestamp::parse_rfc3339(NOW_RFC3339).expect("a valid instant")
}

/// What a generated file holds, kept beside it so a later run can reuse it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Meta {
    pub members: usize,
    pub now: String,
    pub store_id: String,
    pub rows: BTreeMap<String, u64>,
    pub entries_by_kind: BTreeMap<String, u64>,
    /// What tonight's run should find, from the generator's own bookkeeping.
    pub expected: Expected,
    pub foreign_key_violations: u64,
    pub ledger_check_clean: bool,
    pub ledger_check_seconds: f64,
    pub file_bytes: u64,
    pub generated_at: String,
    pub generation_seconds: f64,
    pub phases_seconds: BTreeMap<String, f64>,
    pub migrations: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Expected {
    pub holds_due: u64,
    /// Lots with points left whose expiry falls after yesterday's run and by tonight's.
    pub lots_due: u64,
    pub points_due: i64,
    /// Lots with points left that entered the 14-day window since yesterday's run.
    pub lots_entering_warning_window: u64,
    pub members_with_tier: u64,
    pub promotions: u64,
    pub demotions: u64,
    pub birthdays_tonight: u64,
}

pub struct Dataset {
    pub path: PathBuf,
    pub dir: PathBuf,
    pub meta: Meta,
    pub reused: bool,
}

fn migrations_applied(conn: &Connection) -> anyhow::Result<Vec<String>> {
    let mut stmt =
        conn.prepare("SELECT version, description FROM _sqlx_migrations WHERE success ORDER BY version")?;
    let names = stmt
        .query_map([], |r| {
            let version: i64 = r.get(0)?;
            let description: String = r.get(1)?;
            Ok(format!("{version:04}_{}", description.replace(' ', "_")))
        })?
        .collect::<Result<_, _>>()?;
    Ok(names)
}

/// The cached file for `members`, generated first when absent (or when `fresh`).
pub async fn prepare(members: usize, fresh: bool) -> anyhow::Result<Dataset> {
    let dir = data_dir().join(format!("loyalty-{members}"));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("loyalty.db");
    let meta_path = dir.join("loyalty.json");
    if !fresh && path.exists() && meta_path.exists() {
        let meta: Meta = serde_json::from_str(&std::fs::read_to_string(&meta_path)?)
            .with_context(|| format!("{}", meta_path.display()))?;
        eprintln!(
            "    reusing {} (generated {} in {:.0} s; --fresh rebuilds it)",
            path.display(),
            meta.generated_at,
            meta.generation_seconds
        );
        return Ok(Dataset {
            path,
            dir,
            meta,
            reused: true,
        });
    }
    // Written under a temporary name and renamed when complete.
    let partial = dir.join("loyalty.db.partial");
    for p in [&path, &meta_path, &partial] {
        let _ = std::fs::remove_file(p);
    }
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(dir.join(format!("loyalty.db{suffix}")));
        let _ = std::fs::remove_file(dir.join(format!("loyalty.db.partial{suffix}")));
    }
    let meta = generate(&partial, members).await?;
    std::fs::rename(&partial, &path)?;
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(dir.join(format!("loyalty.db.partial{suffix}")));
    }
    std::fs::write(&meta_path, serde_json::to_string_pretty(&meta)? + "\n")?;
    Ok(Dataset {
        path,
        dir,
        meta,
        reused: false,
    })
}

// ---------------------------------------------------------------------------------------
// The simulation: every customer's two years, in compact rows.

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Order,
    Birthday,
    Redeem,
    Expire,
    Hold,
}

struct Entry {
    id: u128,
    /// The order (earn), the lot (expire) or the hold (hold) the entry names.
    link: u128,
    effective_at: i64,
    created_at: i64,
    customer: u32,
    points: i32,
    /// The year of a birthday earning (its dedupe key).
    year: i16,
    kind: Kind,
}

struct Lot {
    id: u128,
    available_from: i64,
    expires_at: i64,
    customer: u32,
    points: i32,
    remaining: i32,
}

struct Move {
    entry: u128,
    lot: u128,
    points: i32,
}

struct Hold {
    id: u128,
    created_at: i64,
    customer: u32,
    points: i32,
}

struct Member {
    customer: u32,
    tier: usize,
    since: i64,
    measure: i64,
}

struct Customer {
    id: u128,
    created_at: i64,
    birthday: Option<(i32, u32, u32)>,
}

#[derive(Default)]
struct Part {
    customers: Vec<Customer>,
    entries: Vec<Entry>,
    lots: Vec<Lot>,
    moves: Vec<Move>,
    holds: Vec<Hold>,
    members: Vec<Member>,
    expected: Expected,
}

/// A UUIDv7 for a record written at `ms`, as `new_id()` stamps it.
fn uuid7(ms: i64, r: &mut Rng) -> u128 {
    let rand = ((r.next() as u128) << 64) | r.next() as u128;
    ((ms as u128 & 0xFFFF_FFFF_FFFF) << 80)
        | (0x7 << 76)
        | (rand & 0x0FFF_0000_0000_0000_0000)
        | (0b10 << 62)
        | (rand & 0x3FFF_FFFF_FFFF_FFFF)
}

fn uuid_text(id: u128) -> String {
    let h = format!("{id:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
fn days_from_civil(y: i32, m: u32, d: u32) -> i64 {
    let y = i64::from(if m <= 2 { y - 1 } else { y });
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i32, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y as i32, m, d)
}

fn local_day(ms: i64) -> i64 {
    (ms + IST).div_euclid(DAY)
}

/// The nightly run that expired a lot expiring at `expires_at` (runs are daily at tonight's
/// hour), or `None` when that is tonight's run or later.
fn expired_by_run(now: i64, expires_at: i64) -> Option<i64> {
    (expires_at <= now - DAY).then(|| now - (now - expires_at) / DAY * DAY)
}

/// Soonest expiry first, then the oldest: the product's spending order.
fn spend(lots: &mut [Lot], first: usize, at: i64, points: i32, entry: u128, moves: &mut Vec<Move>) -> i32 {
    let mut open: Vec<usize> = (first..lots.len())
        .filter(|&i| lots[i].remaining > 0 && lots[i].available_from <= at && lots[i].expires_at > at)
        .collect();
    open.sort_by_key(|&i| (lots[i].expires_at, lots[i].available_from, lots[i].id));
    let mut left = points;
    for i in open {
        if left == 0 {
            break;
        }
        let take = lots[i].remaining.min(left);
        lots[i].remaining -= take;
        left -= take;
        moves.push(Move {
            entry,
            lot: lots[i].id,
            points: take,
        });
    }
    points - left
}

fn available(lots: &[Lot], first: usize, at: i64) -> i32 {
    lots[first..]
        .iter()
        .filter(|l| l.remaining > 0 && l.available_from <= at && l.expires_at > at)
        .map(|l| l.remaining)
        .sum()
}

/// Expires, as the nightly runs up to `until` did, every lot of this customer with points left.
fn expire_until(part: &mut Part, first: usize, customer: u32, now: i64, until: i64, r: &mut Rng) {
    for i in first..part.lots.len() {
        let lot = &part.lots[i];
        if lot.remaining == 0 {
            continue;
        }
        let Some(run) = expired_by_run(now, lot.expires_at) else {
            continue;
        };
        if run > until {
            continue;
        }
        let id = uuid7(run + 1_000 + r.below(60_000) as i64, r);
        let (lot_id, points) = (lot.id, lot.remaining);
        part.entries.push(Entry {
            id,
            link: lot_id,
            effective_at: run,
            created_at: run,
            customer,
            points,
            year: 0,
            kind: Kind::Expire,
        });
        part.moves.push(Move {
            entry: id,
            lot: lot_id,
            points,
        });
        part.lots[i].remaining = 0;
    }
}

enum Happening {
    Order(i32),
    Birthday(i16),
    Redeem(u32),
}

fn simulate(part: &mut Part, c: u32, now: i64, ladder: &TierLadder) {
    let mut r = Rng::new(31, u64::from(c));
    let today = local_day(now);
    let horizon = now - HISTORY_DAYS * DAY;
    // Two customers in three joined before the two years of history, the rest during them.
    let joined = horizon - 365 * DAY + r.range(0, (HISTORY_DAYS + 345) * DAY);
    let first_order = joined.max(horizon) + r.range(0, 5 * DAY);
    let last = now - 2 * 3_600_000;
    let birthday = r.chance(0.55).then(|| {
        let m = 1 + r.below(12) as u32;
        let d = 1 + r.below(if m == 2 { 28 } else { 30 }) as u32;
        (1965 + r.below(40) as i32, m, d)
    });
    part.customers.push(Customer {
        id: uuid7(joined, &mut r),
        created_at: joined,
        birthday,
    });

    let mut happenings: Vec<(i64, Happening)> = Vec::new();
    // Orders: most customers buy a few times, a long tail many times.
    let u = r.unit().max(1e-12);
    let orders = (1.0 + (-u.ln()) * 5.2).min(400.0) as usize;
    let span = (last - first_order).max(1);
    for _ in 0..orders {
        let at = first_order + r.range(0, span);
        let rupees = 200 + (r.unit() * r.unit() * 2_800.0) as i32;
        let points = if r.chance(0.08) { rupees * 2 } else { rupees };
        happenings.push((at, Happening::Order(points)));
    }
    // Birthday points on every birthday since joining, given by that night's run.
    if let Some((_, m, d)) = birthday {
        let (year, _, _) = civil_from_days(today);
        for y in year - 2..=year {
            let ago = today - days_from_civil(y, m, d);
            let run = now - ago * DAY;
            if (1..=HISTORY_DAYS).contains(&ago) && run >= joined {
                happenings.push((run, Happening::Birthday(y as i16)));
            }
        }
        if (m, d) == (civil_from_days(today).1, civil_from_days(today).2) {
            part.expected.birthdays_tonight += 1;
        }
    }
    // Two customers in five spend points at checkout now and then.
    if r.chance(0.4) {
        let from = first_order + 20 * DAY;
        let to = now - DAY - 3_600_000;
        if to > from {
            for _ in 0..1 + r.below(3) {
                happenings.push((r.range(from, to), Happening::Redeem(30 + r.below(70) as u32)));
            }
        }
    }
    happenings.sort_by_key(|h| h.0);

    let first_lot = part.lots.len();
    for (at, what) in happenings {
        expire_until(part, first_lot, c, now, at, &mut r);
        match what {
            Happening::Order(points) => {
                let created = at + r.range(500, 3_000);
                let id = uuid7(created, &mut r);
                let order = uuid7(at + r.range(0, 400), &mut r);
                part.entries.push(Entry {
                    id,
                    link: order,
                    effective_at: at,
                    created_at: created,
                    customer: c,
                    points,
                    year: 0,
                    kind: Kind::Order,
                });
                let available_from = at + 14 * DAY;
                part.lots.push(Lot {
                    id,
                    available_from,
                    expires_at: available_from + 365 * DAY,
                    customer: c,
                    points,
                    remaining: points,
                });
            }
            Happening::Birthday(year) => {
                let created = at + r.range(1_000, 120_000);
                let id = uuid7(created, &mut r);
                part.entries.push(Entry {
                    id,
                    link: 0,
                    effective_at: created,
                    created_at: created,
                    customer: c,
                    points: 200,
                    year,
                    kind: Kind::Birthday,
                });
                part.lots.push(Lot {
                    id,
                    available_from: created,
                    expires_at: created + 365 * DAY,
                    customer: c,
                    points: 200,
                    remaining: 200,
                });
            }
            Happening::Redeem(percent) => {
                let have = available(&part.lots, first_lot, at);
                if have < 300 {
                    continue;
                }
                let points = (have * percent as i32 / 100 / 100 * 100).max(100);
                let id = uuid7(at, &mut r);
                let taken = spend(&mut part.lots, first_lot, at, points, id, &mut part.moves);
                debug_assert_eq!(taken, points);
                part.entries.push(Entry {
                    id,
                    link: 0,
                    effective_at: at,
                    created_at: at,
                    customer: c,
                    points,
                    year: 0,
                    kind: Kind::Redeem,
                });
            }
        }
    }
    expire_until(part, first_lot, c, now, now - DAY, &mut r);

    // One customer in a thousand left a checkout since yesterday's run: their 15-minute hold is
    // over and still open.
    if r.chance(0.001) {
        let at = now - DAY + 3_600_000 + r.range(0, DAY - 2 * 3_600_000);
        let have = available(&part.lots, first_lot, at);
        if have >= 100 {
            let points = (have / 2 / 100 * 100).clamp(100, 1_000);
            let hold = uuid7(at, &mut r);
            let id = uuid7(at, &mut r);
            spend(&mut part.lots, first_lot, at, points, id, &mut part.moves);
            part.entries.push(Entry {
                id,
                link: hold,
                effective_at: at,
                created_at: at,
                customer: c,
                points,
                year: 0,
                kind: Kind::Hold,
            });
            part.holds.push(Hold {
                id: hold,
                created_at: at,
                customer: c,
                points,
            });
            part.expected.holds_due += 1;
        }
    }

    for lot in &part.lots[first_lot..] {
        if lot.remaining > 0 && lot.expires_at > now - DAY && lot.expires_at <= now {
            part.expected.lots_due += 1;
            part.expected.points_due += i64::from(lot.remaining);
        }
        if lot.remaining > 0 && lot.expires_at > now + 13 * DAY && lot.expires_at <= now + 14 * DAY {
            part.expected.lots_entering_warning_window += 1;
        }
    }

    // The tier the run of a week ago gave, and what tonight's measure says.
    let decided = now - TIERS_DECIDED_DAYS_AGO * DAY;
    let earned = |since: i64, until: i64| -> i64 {
        part.entries
            .iter()
            .rev()
            .take_while(|e| e.customer == c)
            .filter(|e| matches!(e.kind, Kind::Order | Kind::Birthday))
            .filter(|e| e.effective_at >= since && e.created_at <= until)
            .map(|e| i64::from(e.points))
            .sum()
    };
    let then = earned(decided - 365 * DAY, decided);
    let tonight = earned(now - 365 * DAY, now);
    let position = |m: i64| ladder.levels.iter().rposition(|t| m >= t.threshold);
    let (was, is) = (position(then), position(tonight));
    if let Some(tier) = was {
        part.members.push(Member {
            customer: c,
            tier,
            since: decided - r.range(0, 300) * DAY,
            measure: then,
        });
        part.expected.members_with_tier += 1;
    }
    match (was, is) {
        (a, b) if a == b => {}
        (None, Some(_)) => part.expected.promotions += 1,
        (Some(a), Some(b)) if b > a => part.expected.promotions += 1,
        _ => part.expected.demotions += 1,
    }
}

fn simulate_range(from: u32, to: u32, now: i64, ladder: &TierLadder) -> Part {
    let mut part = Part::default();
    for c in from..to {
        simulate(&mut part, c, now, ladder);
    }
    part
}

// ---------------------------------------------------------------------------------------
// Writing.

const TABLES: [&str; 6] = [
    "customers",
    "loyalty_entries",
    "loyalty_lots",
    "loyalty_lot_moves",
    "loyalty_holds",
    "loyalty_members",
];

async fn generate(path: &Path, members: usize) -> anyhow::Result<Meta> {
    let started = Instant::now();
    let mut phases = BTreeMap::new();
    let now = now().0;
    eprintln!(
        "    generating {members} members' ledger into {} …",
        path.display()
    );

    let url = format!("sqlite://{}", path.display());
    let db = Db::connect(&url).await?;
    db.migrate().await?;
    let store = db
        .create_store(
            "Loyalty bench",
            Currency::INR,
            TimeZone::parse("Asia/Kolkata").unwrap(),
            Locale::parse("en").unwrap(),
        )
        .await?;
    let program = program();
    db.set_loyalty_program(store.id, &program, "bench").await?;
    db.close().await;
    let store_id = store.id.to_string();

    let t = Instant::now();
    let ladder = program.tiers.clone();
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .max(1) as u32;
    let n = members as u32;
    let parts: Vec<Part> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|k| {
                let ladder = &ladder;
                s.spawn(move || simulate_range(n * k / threads, n * (k + 1) / threads, now, ladder))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("the simulation panicked"))
            .collect()
    });
    let mut all = Part::default();
    for p in parts {
        all.customers.extend(p.customers);
        all.entries.extend(p.entries);
        all.lots.extend(p.lots);
        all.moves.extend(p.moves);
        all.holds.extend(p.holds);
        all.members.extend(p.members);
        let (e, x) = (&mut all.expected, p.expected);
        e.holds_due += x.holds_due;
        e.lots_due += x.lots_due;
        e.points_due += x.points_due;
        e.lots_entering_warning_window += x.lots_entering_warning_window;
        e.members_with_tier += x.members_with_tier;
        e.promotions += x.promotions;
        e.demotions += x.demotions;
        e.birthdays_tonight += x.birthdays_tonight;
    }
    let customer_ids: Vec<u128> = all.customers.iter().map(|c| c.id).collect();
    // Rows in the order the product would have written them: by id, which follows time.
    all.customers.sort_unstable_by_key(|c| c.id);
    all.entries.sort_unstable_by_key(|e| e.id);
    all.lots.sort_unstable_by_key(|l| l.id);
    all.moves.sort_unstable_by_key(|m| (m.entry, m.lot));
    all.holds.sort_unstable_by_key(|h| h.id);
    all.members
        .sort_unstable_by_key(|m| customer_ids[m.customer as usize]);
    phases.insert("simulate".to_string(), t.elapsed().as_secs_f64());
    eprintln!(
        "    simulated {} entries, {} lots, {} moves in {:.1} s",
        all.entries.len(),
        all.lots.len(),
        all.moves.len(),
        t.elapsed().as_secs_f64()
    );

    let mut entries_by_kind: BTreeMap<String, u64> = BTreeMap::new();
    for e in &all.entries {
        let k = match e.kind {
            Kind::Order | Kind::Birthday => "earn",
            Kind::Redeem => "redeem",
            Kind::Expire => "expire",
            Kind::Hold => "hold",
        };
        *entries_by_kind.entry(k.to_string()).or_default() += 1;
    }

    let expected = all.expected.clone();
    let path_owned = path.to_path_buf();
    let (rows, write_phases, fk) = tokio::task::spawn_blocking(move || {
        write(&path_owned, &store_id, &all, &customer_ids, now, &program)
    })
    .await??;
    phases.extend(write_phases);

    let t = Instant::now();
    let db = Db::connect(&url).await?;
    let check = db.check_loyalty(store.id).await?;
    db.close().await;
    let check_seconds = t.elapsed().as_secs_f64();
    eprintln!(
        "    ledger check of the generated file: {} drift in {check_seconds:.1} s",
        check.drift.len()
    );
    anyhow::ensure!(
        check.is_clean(),
        "the generated ledger drifts: {:?}",
        &check.drift[..check.drift.len().min(5)]
    );
    anyhow::ensure!(fk == 0, "the generated file breaks {fk} foreign keys");
    let conn = Connection::open(path)?;
    let migrations = migrations_applied(&conn)?;
    drop(conn);

    Ok(Meta {
        members,
        now: NOW_RFC3339.to_string(),
        store_id: store.id.to_string(),
        rows,
        entries_by_kind,
        expected,
        foreign_key_violations: fk,
        ledger_check_clean: check.is_clean(),
        ledger_check_seconds: check_seconds,
        file_bytes: std::fs::metadata(path)?.len(),
        generated_at: Timestamp::now().to_rfc3339(),
        generation_seconds: started.elapsed().as_secs_f64(),
        phases_seconds: phases,
        migrations,
    })
}

type Written = (BTreeMap<String, u64>, BTreeMap<String, f64>, u64);

fn write(
    path: &Path,
    store: &str,
    all: &Part,
    customer_ids: &[u128],
    now: i64,
    program: &Program,
) -> anyhow::Result<Written> {
    let mut rows = BTreeMap::new();
    let mut phases = BTreeMap::new();
    let mut conn = Connection::open(path)?;
    // The product's pool has just been closed; give its last connection time to let go.
    conn.busy_timeout(std::time::Duration::from_secs(60))?;
    conn.execute_batch(
        "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-4000000; \
         PRAGMA temp_store=memory; PRAGMA foreign_keys=OFF;",
    )?;

    // The secondary indexes of the tables written here, to be made again after the load.
    let indexes: Vec<(String, String)> = {
        let list = TABLES.map(|t| format!("'{t}'")).join(",");
        let mut stmt = conn.prepare(&format!(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL \
             AND tbl_name IN ({list}) ORDER BY name"
        ))?;
        let found = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        found
    };
    for (name, _) in &indexes {
        conn.execute_batch(&format!("DROP INDEX {name}"))?;
    }

    let cid = |c: u32| uuid_text(customer_ids[c as usize]);
    let t = Instant::now();
    let tx = conn.transaction()?;
    {
        let mut ins = tx.prepare(
            "INSERT INTO customers (id, store_id, email, first_name, birthday, has_account, \
             created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, 1, ?6, ?6)",
        )?;
        for (i, c) in all.customers.iter().enumerate() {
            let birthday = c.birthday.map(|(y, m, d)| format!("{y:04}-{m:02}-{d:02}"));
            ins.execute(params![
                uuid_text(c.id),
                store,
                format!("member{i}@example.in"),
                "Member",
                birthday,
                c.created_at
            ])?;
        }
    }
    tx.commit()?;
    rows.insert("customers".to_string(), all.customers.len() as u64);
    phases.insert("customers".to_string(), t.elapsed().as_secs_f64());

    let t = Instant::now();
    let tx = conn.transaction()?;
    {
        let mut ins = tx.prepare(
            "INSERT INTO loyalty_entries (id, store_id, customer_id, kind, debit, credit, points, \
             reverses, order_id, hold_id, action, basis, written_off, effective_at, available_from, \
             expires_at, reason, actor, dedupe_key, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, 0, ?13, ?14, ?15, ?16, ?17, ?18, ?19)",
        )?;
        for e in &all.entries {
            let id = uuid_text(e.id);
            let customer = cid(e.customer);
            let link = (e.link != 0).then(|| uuid_text(e.link));
            let p = i64::from(e.points);
            match e.kind {
                Kind::Order => {
                    let order = link.expect("an earning names its order");
                    let available_from = e.effective_at + 14 * DAY;
                    ins.execute(params![
                        id,
                        store,
                        customer,
                        "earn",
                        "program",
                        "customer",
                        p,
                        None::<String>,
                        order,
                        None::<String>,
                        None::<String>,
                        p * 105,
                        e.effective_at,
                        available_from,
                        available_from + 365 * DAY,
                        "order",
                        "system",
                        format!("earn:order:{order}"),
                        e.created_at
                    ])?;
                }
                Kind::Birthday => {
                    ins.execute(params![
                        id,
                        store,
                        customer,
                        "earn",
                        "program",
                        "customer",
                        p,
                        None::<String>,
                        None::<String>,
                        None::<String>,
                        "birthday",
                        None::<i64>,
                        e.effective_at,
                        e.effective_at,
                        e.effective_at + 365 * DAY,
                        "action:birthday",
                        "system",
                        format!("action:birthday:{customer}:{}", e.year),
                        e.created_at
                    ])?;
                }
                Kind::Redeem => {
                    ins.execute(params![
                        id,
                        store,
                        customer,
                        "redeem",
                        "customer",
                        "redeemed",
                        p,
                        None::<String>,
                        None::<String>,
                        None::<String>,
                        None::<String>,
                        None::<i64>,
                        e.effective_at,
                        None::<i64>,
                        None::<i64>,
                        "checkout",
                        "api",
                        None::<String>,
                        e.created_at
                    ])?;
                }
                Kind::Expire => {
                    let lot = link.expect("an expiry names its lot");
                    ins.execute(params![
                        id,
                        store,
                        customer,
                        "expire",
                        "customer",
                        "expired",
                        p,
                        lot.clone(),
                        None::<String>,
                        None::<String>,
                        None::<String>,
                        None::<i64>,
                        e.effective_at,
                        None::<i64>,
                        None::<i64>,
                        "expired",
                        "system",
                        format!("expire:{lot}"),
                        e.created_at
                    ])?;
                }
                Kind::Hold => {
                    ins.execute(params![
                        id,
                        store,
                        customer,
                        "hold",
                        "customer",
                        "held",
                        p,
                        None::<String>,
                        None::<String>,
                        link,
                        None::<String>,
                        None::<i64>,
                        e.effective_at,
                        None::<i64>,
                        None::<i64>,
                        "checkout",
                        "api",
                        None::<String>,
                        e.created_at
                    ])?;
                }
            }
        }
    }
    tx.commit()?;
    rows.insert("loyalty_entries".to_string(), all.entries.len() as u64);
    phases.insert("loyalty_entries".to_string(), t.elapsed().as_secs_f64());
    eprintln!("    entries written in {:.1} s", t.elapsed().as_secs_f64());

    let t = Instant::now();
    let tx = conn.transaction()?;
    {
        let mut ins = tx.prepare(
            "INSERT INTO loyalty_lots (id, store_id, customer_id, points, remaining, available_from, \
             expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?;
        for l in &all.lots {
            ins.execute(params![
                uuid_text(l.id),
                store,
                cid(l.customer),
                l.points,
                l.remaining,
                l.available_from,
                l.expires_at
            ])?;
        }
        let mut ins =
            tx.prepare("INSERT INTO loyalty_lot_moves (entry_id, lot_id, points) VALUES (?1, ?2, ?3)")?;
        for m in &all.moves {
            ins.execute(params![uuid_text(m.entry), uuid_text(m.lot), m.points])?;
        }
        let mut ins = tx.prepare(
            "INSERT INTO loyalty_holds (id, store_id, customer_id, points, state, reason, expires_at, \
             created_at) VALUES (?1, ?2, ?3, ?4, 'open', 'checkout', ?5, ?6)",
        )?;
        for h in &all.holds {
            ins.execute(params![
                uuid_text(h.id),
                store,
                cid(h.customer),
                h.points,
                h.created_at + HOLD_MINUTES * 60_000,
                h.created_at
            ])?;
        }
        let mut ins = tx.prepare(
            "INSERT INTO loyalty_members (store_id, customer_id, tier_id, tier_since, measure, updated_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        let decided = now - TIERS_DECIDED_DAYS_AGO * DAY;
        for m in &all.members {
            ins.execute(params![
                store,
                cid(m.customer),
                program.tiers.levels[m.tier].id,
                m.since,
                m.measure,
                decided
            ])?;
        }
        // The program has run for three years; its last nightly run was yesterday's.
        tx.execute(
            "UPDATE loyalty_programs SET earning_since = ?1, updated_at = ?1, nightly_at = ?2 WHERE store_id = ?3",
            params![now - 3 * 365 * DAY, now - DAY, store],
        )?;
        tx.execute(
            "UPDATE loyalty_program_changes SET changed_at = ?1 WHERE store_id = ?2",
            params![now - 3 * 365 * DAY, store],
        )?;
    }
    tx.commit()?;
    rows.insert("loyalty_lots".to_string(), all.lots.len() as u64);
    rows.insert("loyalty_lot_moves".to_string(), all.moves.len() as u64);
    rows.insert("loyalty_holds".to_string(), all.holds.len() as u64);
    rows.insert("loyalty_members".to_string(), all.members.len() as u64);
    phases.insert("lots_moves_holds_members".to_string(), t.elapsed().as_secs_f64());
    eprintln!(
        "    lots, moves, holds and members written in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    let t = Instant::now();
    for (name, sql) in &indexes {
        let ti = Instant::now();
        conn.execute_batch(sql)?;
        eprintln!("    index {name} in {:.1} s", ti.elapsed().as_secs_f64());
    }
    phases.insert("indexes".to_string(), t.elapsed().as_secs_f64());

    let t = Instant::now();
    let mut fk = 0u64;
    for table in [
        "customers",
        "loyalty_entries",
        "loyalty_lots",
        "loyalty_lot_moves",
        "loyalty_holds",
        "loyalty_members",
    ] {
        let mut stmt = conn.prepare(&format!("PRAGMA foreign_key_check({table})"))?;
        let mut found = stmt.query([])?;
        while found.next()?.is_some() {
            fk += 1;
        }
    }
    phases.insert("foreign_key_check".to_string(), t.elapsed().as_secs_f64());
    eprintln!(
        "    foreign keys checked in {:.1} s: {fk} violations",
        t.elapsed().as_secs_f64()
    );

    let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
    anyhow::ensure!(mode == "wal", "journal mode {mode}");
    conn.execute_batch("PRAGMA synchronous=FULL;")?;
    drop(conn);
    Ok((rows, phases, fk))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates_round_trip() {
        for (y, m, d) in [(1970, 1, 1), (2000, 2, 29), (2025, 6, 16), (2024, 12, 31)] {
            assert_eq!(civil_from_days(days_from_civil(y, m, d)), (y, m, d));
        }
        assert_eq!(days_from_civil(1970, 1, 2), 1);
        assert_eq!(civil_from_days(local_day(now().0)), (2025, 6, 16));
    }

    #[test]
    fn ids_are_version_7_and_ordered_by_time() {
        let mut r = Rng::new(1, 1);
        let a = uuid7(1_000, &mut r);
        let b = uuid7(2_000, &mut r);
        assert!(a < b);
        let text = uuid_text(a);
        assert_eq!(text.len(), 36);
        assert_eq!(&text[14..15], "7");
        assert!(regulars_domain::CustomerId::parse(&text).is_ok());
    }

    #[test]
    fn expiry_runs() {
        let now = 100 * DAY;
        assert_eq!(expired_by_run(now, now), None);
        assert_eq!(expired_by_run(now, now - DAY), Some(now - DAY));
        assert_eq!(expired_by_run(now, now - DAY - 1), Some(now - DAY));
        assert_eq!(expired_by_run(now, now - 2 * DAY + 1), Some(now - DAY));
        assert_eq!(expired_by_run(now, now - 2 * DAY), Some(now - 2 * DAY));
    }
}
