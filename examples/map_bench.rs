//! Benchmark P1: public map and bbox-list queries over many synthetic reports, on SQLite or
//! PostgreSQL. Target: p99 <= 20 ms per query kind. It measures and prints; it asserts nothing.
//!
//! `cargo run --release --example map_bench -- --database-url URL [--reports 1000000] [--queries 500]`
//!
//! The database is migrated and seeded with the default catalog; if `reports` holds fewer than
//! `--reports` rows, synthetic ones are bulk-loaded (deterministic PRNG, points over a Ho Chi Minh
//! City-sized box, half of them around hotspots) and the planner statistics refreshed (ANALYZE).
//! Then each query kind runs `--queries` times, one call at a time, timed with `Instant`:
//!
//! * `clusters_z8`: map at zoom 8 (`h3_r4` clusters) over a ~25 km box (the whole city);
//! * `clusters_z10`: map at zoom 10 (`h3_r6` clusters) over a ~5 km box;
//! * `clusters_z13`: map at zoom 13 (`h3_r8` clusters) over a ~1.5 km box;
//! * `points_z16`: map at zoom 16 (`repo::map_points`, bbox, limit 500) over a ~300 m box;
//! * `feed_1km`: feed page (`repo::list`, default statuses, bbox, limit 50) over a ~1 km box;
//! * `feed_5km`: the same over a ~5 km box.
//!
//! Clusters come from the `report_cells` counters (kept by triggers, so the load pays for them as
//! the API's writes do); lists over a small box go through the H3 cells covering it.
//!
//! Query boxes are centred on points drawn from the same distribution as the data, so they look
//! where reports are. The map handler's per-row `view` work (zoom >= 15) is not included: this
//! times the SQL only.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use h3o::Resolution;
use sqlx::AssertSqlSafe;
use uuid::Uuid;
use wardline::geo::{BBox, Point, cells};
use wardline::reports::repo::{self, Filter};
use wardline::store::Db;
use wardline::{on_db, on_tx};

const MIN_LAT: f64 = 10.70;
const MAX_LAT: f64 = 10.90;
const MIN_LON: f64 = 106.60;
const MAX_LON: f64 = 106.80;
/// Rows per INSERT statement (23 binds each: 11,500 binds, under SQLite's 32,766).
const ROWS_PER_STATEMENT: usize = 500;
/// Rows per transaction.
const ROWS_PER_TX: usize = 50_000;
const TARGET_P99_MS: f64 = 20.0;
const PUBLIC_STATUSES: [&str; 7] = [
    "submitted",
    "received",
    "assigned",
    "in_progress",
    "reopened",
    "resolved",
    "closed",
];

/// xorshift64*: tiny, deterministic, good enough for synthetic data.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }
    fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in [0, 1).
    fn f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.f64()
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
    /// Standard normal (Box-Muller).
    fn normal(&mut self) -> f64 {
        let u1 = self.f64().max(1e-12);
        let u2 = self.f64();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

/// Where reports are: half uniform over the box, half around a few dozen hotspots (markets, main
/// roads) with a ~800 m spread.
struct Places {
    hotspots: Vec<(f64, f64)>,
}

impl Places {
    fn new(rng: &mut Rng) -> Places {
        let hotspots = (0..40)
            .map(|_| {
                (
                    rng.range(MIN_LAT + 0.01, MAX_LAT - 0.01),
                    rng.range(MIN_LON + 0.01, MAX_LON - 0.01),
                )
            })
            .collect();
        Places { hotspots }
    }

    fn point(&self, rng: &mut Rng) -> Point {
        let (lat, lon) = if rng.f64() < 0.5 {
            (rng.range(MIN_LAT, MAX_LAT), rng.range(MIN_LON, MAX_LON))
        } else {
            let (clat, clon) = self.hotspots[rng.below(self.hotspots.len())];
            let sigma = 800.0 / 111_320.0;
            (clat + rng.normal() * sigma, clon + rng.normal() * sigma)
        };
        Point {
            lat: lat.clamp(MIN_LAT, MAX_LAT),
            lon: lon.clamp(MIN_LON, MAX_LON),
        }
    }
}

struct Args {
    database_url: String,
    reports: usize,
    queries: usize,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut args = Args {
        database_url: String::new(),
        reports: 1_000_000,
        queries: 500,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = || it.next().with_context(|| format!("{a} needs a value"));
        match a.as_str() {
            "--database-url" => args.database_url = value()?,
            "--reports" => args.reports = value()?.parse()?,
            "--queries" => args.queries = value()?.parse()?,
            other => bail!(
                "unknown argument {other}; usage: map_bench --database-url URL [--reports N] [--queries N]"
            ),
        }
    }
    if args.database_url.is_empty() {
        bail!("--database-url is required");
    }
    Ok(args)
}

/// One synthetic report, as inserted.
struct Row {
    id: Uuid,
    category_id: Uuid,
    channel: &'static str,
    description: String,
    lat: f64,
    lon: f64,
    accuracy_m: f64,
    cells: wardline::geo::Cells,
    status: &'static str,
    severity: &'static str,
    ack_by: DateTime<Utc>,
    resolve_by: DateTime<Utc>,
    acknowledged_at: Option<DateTime<Utc>>,
    resolved_at: Option<DateTime<Utc>>,
    closed_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "report_id, category_id, reporter_id, channel, description, lat, lon, accuracy_m, \
     h3_r10, h3_r8, h3_r6, h3_r4, status, severity, ack_by, resolve_by, acknowledged_at, resolved_at, \
     closed_at, created_at, updated_at, address, answers";
/// Bound per row: all of COLUMNS but address and answers, which are literals.
const BINDS_PER_ROW: usize = 21;

fn insert_sql(rows: usize) -> Arc<str> {
    let mut sql = format!("INSERT INTO reports ({COLUMNS}) VALUES ");
    let mut n = 0;
    for r in 0..rows {
        if r > 0 {
            sql.push(',');
        }
        sql.push('(');
        for c in 0..BINDS_PER_ROW {
            n += 1;
            if c > 0 {
                sql.push(',');
            }
            sql.push_str(&format!("${n}"));
        }
        sql.push_str(",'','{}')");
    }
    sql.into()
}

fn make_row(
    rng: &mut Rng,
    places: &Places,
    categories: &[Uuid],
    now: DateTime<Utc>,
    i: usize,
) -> Row {
    let p = places.point(rng);
    let age_s = (rng.f64() * 365.0 * 86_400.0) as i64;
    let created_at = now - chrono::Duration::seconds(age_s);
    let hours = |h: f64| chrono::Duration::seconds((h * 3600.0) as i64);
    // Mostly open or resolved; a few rejected, duplicates and reopened ones.
    let status = match rng.below(100) {
        0..=7 => "submitted",
        8..=14 => "received",
        15..=22 => "assigned",
        23..=34 => "in_progress",
        35..=69 => "resolved",
        70..=89 => "closed",
        90..=93 => "rejected",
        94..=96 => "duplicate",
        _ => "reopened",
    };
    let severity = match rng.below(20) {
        0..=1 => "low",
        2..=15 => "normal",
        16..=18 => "high",
        _ => "urgent",
    };
    let channel = match rng.below(10) {
        0 => "counter",
        1 => "phone",
        _ => "app",
    };
    let ack_by = created_at + hours(8.0);
    let resolve_by = created_at + hours(72.0);
    let cap = |t: DateTime<Utc>| t.min(now);
    let acknowledged_at =
        (status != "submitted").then(|| cap(created_at + hours(rng.range(0.5, 12.0))));
    let resolved_at = matches!(status, "resolved" | "closed" | "reopened")
        .then(|| cap(created_at + hours(rng.range(4.0, 120.0))));
    let closed_at = match (status, resolved_at) {
        ("closed", Some(r)) => Some(cap(r + hours(24.0 * 7.0))),
        ("rejected" | "duplicate", _) => acknowledged_at,
        _ => None,
    };
    let updated_at = [acknowledged_at, resolved_at, closed_at]
        .into_iter()
        .flatten()
        .fold(created_at, DateTime::max);
    let mut random = [0u8; 10];
    random[..8].copy_from_slice(&rng.next_u64().to_le_bytes());
    random[8..].copy_from_slice(&(i as u16).to_le_bytes());
    let id =
        uuid::Builder::from_unix_timestamp_millis(created_at.timestamp_millis() as u64, &random)
            .into_uuid();
    Row {
        id,
        category_id: categories[rng.below(categories.len())],
        channel,
        description: format!("Báo cáo thử nghiệm số {i}: ổ gà, rác, đèn đường hỏng"),
        lat: p.lat,
        lon: p.lon,
        accuracy_m: rng.range(3.0, 30.0).round(),
        cells: cells(p),
        status,
        severity,
        ack_by,
        resolve_by,
        acknowledged_at,
        resolved_at,
        closed_at,
        created_at,
        updated_at,
    }
}

async fn insert_rows(
    tx: &mut wardline::store::Tx,
    sql: &Arc<str>,
    reporter: Uuid,
    rows: &[Row],
) -> anyhow::Result<()> {
    on_tx!(tx, conn => {
        let mut q = sqlx::query(AssertSqlSafe(sql.clone()));
        for r in rows {
            q = q
                .bind(r.id)
                .bind(r.category_id)
                .bind(reporter)
                .bind(r.channel)
                .bind(r.description.as_str())
                .bind(r.lat)
                .bind(r.lon)
                .bind(r.accuracy_m)
                .bind(r.cells.r10)
                .bind(r.cells.r8)
                .bind(r.cells.r6)
                .bind(r.cells.r4)
                .bind(r.status)
                .bind(r.severity)
                .bind(r.ack_by)
                .bind(r.resolve_by)
                .bind(r.acknowledged_at)
                .bind(r.resolved_at)
                .bind(r.closed_at)
                .bind(r.created_at)
                .bind(r.updated_at);
        }
        q.execute(conn).await.map(|_| ())
    })?;
    Ok(())
}

async fn reporter(db: &Db, now: DateTime<Utc>) -> anyhow::Result<Uuid> {
    let phone = "+84900000001";
    on_db!(db, pool => sqlx::query(
        "INSERT INTO accounts (account_id, phone, display_name, role, created_at, updated_at)
         VALUES ($1, $2, 'Bench resident', 'resident', $3, $3) ON CONFLICT (phone) DO NOTHING",
    )
    .bind(Uuid::now_v7())
    .bind(phone)
    .bind(now)
    .execute(pool)
    .await
    .map(|_| ()))?;
    let id = on_db!(db, pool => sqlx::query_scalar::<_, Uuid>("SELECT account_id FROM accounts WHERE phone = $1")
        .bind(phone).fetch_one(pool).await)?;
    Ok(id)
}

async fn load(db: &Db, wanted: usize, now: DateTime<Utc>) -> anyhow::Result<()> {
    let have = on_db!(db, pool => sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM reports").fetch_one(pool).await)?
        as usize;
    println!("reports present: {have}");
    if have >= wanted {
        return Ok(());
    }
    let categories = on_db!(db, pool => sqlx::query_scalar::<_, Uuid>("SELECT category_id FROM categories ORDER BY code")
        .fetch_all(pool).await)?;
    if categories.is_empty() {
        bail!("no categories seeded");
    }
    let reporter = reporter(db, now).await?;
    // Seeded by how many rows exist, so a top-up does not repeat the same ids.
    let mut rng = Rng::new(0x9E37_79B9_7F4A_7C15 ^ have as u64);
    let places = Places::new(&mut Rng::new(42));
    let full_sql = insert_sql(ROWS_PER_STATEMENT);
    let to_load = wanted - have;
    println!(
        "loading {to_load} reports ({ROWS_PER_STATEMENT} rows per INSERT, {ROWS_PER_TX} per transaction)…"
    );
    let started = Instant::now();
    let mut done = 0;
    let mut last_print = Instant::now();
    while done < to_load {
        let tx_rows = ROWS_PER_TX.min(to_load - done);
        db.transaction(async |tx| {
            let mut in_tx = 0;
            while in_tx < tx_rows {
                let n = ROWS_PER_STATEMENT.min(tx_rows - in_tx);
                let rows: Vec<Row> = (0..n)
                    .map(|k| make_row(&mut rng, &places, &categories, now, have + done + in_tx + k))
                    .collect();
                let sql = if n == ROWS_PER_STATEMENT {
                    full_sql.clone()
                } else {
                    insert_sql(n)
                };
                insert_rows(tx, &sql, reporter, &rows).await?;
                in_tx += n;
            }
            anyhow::Ok(())
        })
        .await?;
        done += tx_rows;
        if last_print.elapsed() > Duration::from_secs(10) || done == to_load {
            let s = started.elapsed().as_secs_f64();
            println!(
                "  {done}/{to_load} rows, {s:.1} s ({:.0} rows/s)",
                done as f64 / s
            );
            last_print = Instant::now();
        }
    }
    let load_s = started.elapsed().as_secs_f64();
    let analyze = Instant::now();
    // As a table that has lived a while: statistics, and (PostgreSQL) the visibility map that
    // index-only scans rely on.
    match db {
        Db::Sqlite(..) => {
            on_db!(db, pool => sqlx::query("ANALYZE").execute(pool).await.map(|_| ()))?
        }
        Db::Postgres(..) => {
            on_db!(db, pool => sqlx::query("VACUUM ANALYZE").execute(pool).await.map(|_| ()))?
        }
    }
    println!(
        "load: {to_load} rows in {load_s:.1} s ({:.0} rows/s); ANALYZE {:.1} s",
        to_load as f64 / load_s,
        analyze.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Nearest-rank percentile of sorted milliseconds.
fn pct(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

#[derive(Clone, Copy)]
enum Kind {
    ClustersZ8,
    ClustersZ10,
    ClustersZ13,
    PointsZ16,
    Feed,
    Feed5km,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::ClustersZ8 => "clusters_z8 (h3_r4, ~25 km)",
            Kind::ClustersZ10 => "clusters_z10 (h3_r6, ~5 km)",
            Kind::ClustersZ13 => "clusters_z13 (h3_r8, ~1.5 km)",
            Kind::PointsZ16 => "points_z16 (list 500, ~300 m)",
            Kind::Feed => "feed_1km (list 50, ~1 km)",
            Kind::Feed5km => "feed_5km (list 50, ~5 km)",
        }
    }
    /// Half the box side, in metres.
    fn radius_m(self) -> f64 {
        match self {
            Kind::ClustersZ8 => 12_500.0,
            Kind::ClustersZ10 => 2_500.0,
            Kind::ClustersZ13 => 750.0,
            Kind::PointsZ16 => 150.0,
            Kind::Feed => 500.0,
            Kind::Feed5km => 2_500.0,
        }
    }
}

fn since_day(since: DateTime<Utc>) -> i64 {
    since.timestamp().div_euclid(86_400)
}

/// Run one query; returns how many rows (cells or reports) it gave.
async fn run(db: &Db, kind: Kind, b: BBox, since: DateTime<Utc>) -> anyhow::Result<usize> {
    let statuses = || PUBLIC_STATUSES.map(String::from).to_vec();
    Ok(match kind {
        Kind::ClustersZ8 => repo::clusters(db, Resolution::Four, b, since_day(since))
            .await?
            .len(),
        Kind::ClustersZ10 => repo::clusters(db, Resolution::Six, b, since_day(since))
            .await?
            .len(),
        Kind::ClustersZ13 => repo::clusters(db, Resolution::Eight, b, since_day(since))
            .await?
            .len(),
        Kind::PointsZ16 | Kind::Feed | Kind::Feed5km => {
            let f = Filter {
                statuses: statuses(),
                open_or_updated_since: Some(since),
                bbox: Some(b),
                limit: if matches!(kind, Kind::PointsZ16) {
                    500
                } else {
                    50
                },
                ..Filter::default()
            };
            if matches!(kind, Kind::PointsZ16) {
                repo::map_points(db, &f).await?.len()
            } else {
                repo::list(db, &f).await?.len()
            }
        }
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let args = parse_args()?;
    let db = Db::connect(&args.database_url, 4).await?;
    println!(
        "backend: {}; reports wanted: {}; queries per kind: {}",
        db.backend(),
        args.reports,
        args.queries
    );
    db.migrate().await?;
    let now = Utc::now();
    wardline::reports::catalog::seed_defaults(&db, now).await?;
    load(&db, args.reports, now).await?;
    let total = on_db!(&db, pool => sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM reports").fetch_one(pool).await)?;

    let since = wardline::reports::api::public_since(now);
    let places = Places::new(&mut Rng::new(42));
    let mut rng = Rng::new(7);
    println!();
    println!(
        "{} on {total} reports, {} queries per kind (after 20 warm-up), target p99 <= {TARGET_P99_MS} ms",
        db.backend(),
        args.queries
    );
    println!(
        "{:<32} {:>8} {:>8} {:>8} {:>8} {:>8} {:>9}  p99<=20ms",
        "query", "p50 ms", "p95 ms", "p99 ms", "max ms", "mean ms", "avg rows"
    );
    let mut all_met = true;
    for kind in [
        Kind::ClustersZ8,
        Kind::ClustersZ10,
        Kind::ClustersZ13,
        Kind::PointsZ16,
        Kind::Feed,
        Kind::Feed5km,
    ] {
        for _ in 0..20 {
            let b = BBox::around(places.point(&mut rng), kind.radius_m());
            run(&db, kind, b, since).await?;
        }
        let mut ms = Vec::with_capacity(args.queries);
        let mut rows = 0usize;
        // The slowest boxes, for EXPLAIN on a kept database.
        let mut slow: Vec<(f64, BBox)> = vec![];
        for _ in 0..args.queries {
            let b = BBox::around(places.point(&mut rng), kind.radius_m());
            let t = Instant::now();
            rows += run(&db, kind, b, since).await?;
            let took = t.elapsed().as_secs_f64() * 1e3;
            ms.push(took);
            if took > TARGET_P99_MS {
                slow.push((took, b));
            }
        }
        slow.sort_by(|a, b| b.0.total_cmp(&a.0));
        ms.sort_by(f64::total_cmp);
        let mean = ms.iter().sum::<f64>() / ms.len().max(1) as f64;
        let p99 = pct(&ms, 0.99);
        let met = p99 <= TARGET_P99_MS;
        all_met &= met;
        println!(
            "{:<32} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>9.1}  {}",
            kind.name(),
            pct(&ms, 0.50),
            pct(&ms, 0.95),
            p99,
            ms.last().copied().unwrap_or(f64::NAN),
            mean,
            rows as f64 / args.queries.max(1) as f64,
            if met { "met" } else { "MISSED" }
        );
        for (took, b) in slow.iter().take(3) {
            println!(
                "    {took:.1} ms: bbox={},{},{},{}",
                b.min_lon, b.min_lat, b.max_lon, b.max_lat
            );
        }
    }
    println!(
        "P1 ({}): {}",
        db.backend(),
        if all_met { "all kinds met" } else { "MISSED" }
    );
    db.close().await;
    Ok(())
}
