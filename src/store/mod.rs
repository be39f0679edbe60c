//! The database: one connection pool for either backend, migrations, and the transaction helper.
//!
//! The SQL itself lives with the module that owns the tables. Queries are written once in the
//! dialect both backends agree on (`$1` placeholders, standard SQL) and run through [`on_db!`] or
//! [`on_tx!`], which expand the same code for the SQLite and the PostgreSQL pool.

pub mod batch;
pub mod column;
pub mod exec;
pub mod idempotency;
pub mod kept;

use std::str::FromStr;
use std::time::Duration;
use uuid::Uuid;

use anyhow::Context;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool};

/// A pool on one of the two backends, picked by the URL scheme.
#[derive(Clone, Debug)]
pub enum Db {
    /// SQLite has one writer at a time. Writers queue on the lock here, in order, instead of in
    /// SQLite's busy handler, which polls with growing sleeps and turns contention into long tails.
    Sqlite(SqlitePool, Writer),
    Postgres(PgPool),
}

pub use batch::{BoxFuture, Writer};
pub use exec::{Arg, Exec};

/// Run `$body` with `$pool` bound to the concrete pool (`&SqlitePool` or `&PgPool`).
#[macro_export]
macro_rules! on_db {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            $crate::store::Db::Sqlite($pool, _) => $body,
            $crate::store::Db::Postgres($pool) => $body,
        }
    };
}

/// Run `$body` with `$conn` bound to the transaction's connection (usable as an executor).
#[macro_export]
macro_rules! on_tx {
    ($tx:expr, $conn:ident => $body:expr) => {
        match $tx {
            $crate::store::Tx::Sqlite(t, _) => {
                let $conn = &mut **t;
                $body
            }
            $crate::store::Tx::Postgres(t) => {
                let $conn = &mut **t;
                $body
            }
        }
    };
}

/// Where a repository's query runs: on the pool, or inside an open transaction (which then sees
/// its own writes and holds its locks). Every repository function takes one, as
/// `impl Into<Ex<'_>>`: pass `&db`, or `&mut *tx` inside [`Db::transaction`]. Statements that
/// [`Db::write`] groups on SQLite's writer thread take an [`Exec`] instead.
pub enum Ex<'a> {
    Db(&'a Db),
    Tx(&'a mut Tx),
}

impl Ex<'_> {
    /// The same executor again, for the next query of a repository function.
    pub fn re(&mut self) -> Ex<'_> {
        match self {
            Ex::Db(db) => Ex::Db(db),
            Ex::Tx(tx) => Ex::Tx(tx),
        }
    }
}

impl<'a> From<&'a Db> for Ex<'a> {
    fn from(db: &'a Db) -> Self {
        Ex::Db(db)
    }
}

impl<'a> From<&'a mut Tx> for Ex<'a> {
    fn from(tx: &'a mut Tx) -> Self {
        Ex::Tx(tx)
    }
}

/// Run `$body` with `$conn` bound to the executor's pool or transaction connection.
#[macro_export]
macro_rules! on_ex {
    ($ex:expr, $conn:ident => $body:expr) => {
        match $ex {
            $crate::store::Ex::Db($crate::store::Db::Sqlite($conn, _)) => $body,
            $crate::store::Ex::Db($crate::store::Db::Postgres($conn)) => $body,
            $crate::store::Ex::Tx($crate::store::Tx::Sqlite(t, _)) => {
                let $conn = &mut **t;
                $body
            }
            $crate::store::Ex::Tx($crate::store::Tx::Postgres(t)) => {
                let $conn = &mut **t;
                $body
            }
        }
    };
}

/// An open transaction: commit it, or drop it to roll back.
pub enum Tx {
    Sqlite(
        sqlx::Transaction<'static, sqlx::Sqlite>,
        tokio::sync::OwnedMutexGuard<()>,
    ),
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
}

impl Tx {
    async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            Tx::Sqlite(t, _guard) => t.commit().await,
            Tx::Postgres(t) => t.commit().await,
        }
    }

    /// Serialize this transaction with every other one that locks the same `key` until it ends
    /// (check-then-insert rules, e.g. a doctor's bookings). PostgreSQL takes a transaction-level
    /// advisory lock; SQLite transactions already run one at a time.
    pub async fn lock_key(&mut self, key: Uuid) -> Result<(), sqlx::Error> {
        match self {
            Tx::Sqlite(..) => Ok(()),
            Tx::Postgres(t) => {
                let (hi, lo) = key.as_u64_pair();
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind((hi ^ lo) as i64)
                    .execute(&mut **t)
                    .await
                    .map(|_| ())
            }
        }
    }
}

impl Db {
    /// Open (creating the SQLite file and its folder if needed) and return the pool. No migrations.
    pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<Db> {
        if url.starts_with("sqlite:") {
            let opts = SqliteConnectOptions::from_str(url)
                .with_context(|| format!("bad SQLite URL {url}"))?
                .create_if_missing(true)
                // WAL lets readers run beside the writer; FULL sync makes every acknowledged
                // commit survive a crash or power loss, which the ward's deadlines depend on.
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(5));
            if let Some(parent) = opts.get_filename().parent()
                && !parent.as_os_str().is_empty()
            {
                std::fs::create_dir_all(parent)
                    .with_context(|| format!("creating {}", parent.display()))?;
            }
            let file = opts.get_filename();
            // sqlx names an in-memory database `file:sqlx-in-memory-N`: a second connection opening
            // that name would get an empty file instead.
            let in_memory = url.contains("mode=memory")
                || url.contains(":memory:")
                || file.as_os_str().is_empty()
                || file.to_string_lossy().starts_with("file:");
            let writer = Writer::new((!in_memory).then(|| file.to_path_buf()));
            let pool = SqlitePoolOptions::new()
                .max_connections(max_connections.max(1))
                .acquire_timeout(Duration::from_secs(5))
                .connect_with(opts)
                .await
                .with_context(|| format!("opening {url}"))?;
            Ok(Db::Sqlite(pool, writer))
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let opts = PgConnectOptions::from_str(url).context("bad PostgreSQL URL")?;
            let pool = PgPoolOptions::new()
                .max_connections(max_connections.max(1))
                // Short acquire timeout: during an outage requests fail fast with 503, not hang.
                .acquire_timeout(Duration::from_secs(3))
                .connect_with(opts)
                .await
                .with_context(|| format!("connecting to {}", crate::config::redact_url(url)))?;
            Ok(Db::Postgres(pool))
        } else {
            anyhow::bail!(
                "unsupported database URL (use sqlite:// or postgres://): {}",
                crate::config::redact_url(url)
            )
        }
    }

    /// Apply the backend's pending migrations.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        match self {
            Db::Sqlite(pool, _) => sqlx::migrate!("migrations/sqlite").run(pool).await?,
            Db::Postgres(pool) => sqlx::migrate!("migrations/postgres").run(pool).await?,
        }
        Ok(())
    }

    pub fn backend(&self) -> &'static str {
        match self {
            Db::Sqlite(..) => "sqlite",
            Db::Postgres(_) => "postgres",
        }
    }

    /// Begin a transaction. On SQLite it takes the write lock at once (`BEGIN IMMEDIATE`) so two
    /// writers queue on the busy timeout instead of failing when they both try to upgrade.
    /// Private: outside `store` a transaction is a closure ([`Db::transaction`], [`Db::write`]),
    /// so none is left open by an early return or committed half-way.
    async fn begin(&self) -> Result<Tx, sqlx::Error> {
        Ok(match self {
            Db::Sqlite(pool, writer) => {
                let guard = writer.lock.clone().lock_owned().await;
                Tx::Sqlite(pool.begin_with("BEGIN IMMEDIATE").await?, guard)
            }
            Db::Postgres(pool) => Tx::Postgres(pool.begin().await?),
        })
    }

    /// Run `work` in one transaction that reads what it writes (check-then-insert rules, a row
    /// locked with [`Tx::lock_key`], counters) and commit it when `work` returns `Ok`. An `Err`, a
    /// panic or a dropped future rolls everything back. Writes that only run statements use
    /// [`Db::write`], which SQLite group-commits; this one holds SQLite's write lock (queued in
    /// order behind the others) from the first statement to the commit.
    pub async fn transaction<T, E>(
        &self,
        work: impl AsyncFnOnce(&mut Tx) -> Result<T, E>,
    ) -> Result<T, E>
    where
        E: From<sqlx::Error>,
    {
        let mut tx = self.begin().await?;
        let v = work(&mut tx).await?;
        tx.commit().await?;
        Ok(v)
    }

    /// Run `work` in a write transaction and commit. On SQLite the work joins the next group commit
    /// of the writer thread ([`batch`]): it shares one transaction (under its own savepoint) and one
    /// `fsync` with the other writes queued meanwhile. Either way the answer comes after the
    /// commit, and a failing `work` leaves nothing behind. `work` must only run statements through
    /// the [`Exec`] it is given: the batch waits on it, and on SQLite it runs outside the runtime.
    pub async fn write<T, F>(&self, work: F) -> crate::error::Result<T>
    where
        T: Send + 'static,
        F: for<'t> FnOnce(&'t mut dyn Exec) -> BoxFuture<'t, crate::error::Result<T>>
            + Send
            + 'static,
    {
        if let Db::Sqlite(_, writer) = self
            && let Some(path) = &writer.path
        {
            return writer.write(path, Box::new(work)).await;
        }
        let mut tx = self.begin().await?;
        let v = work(&mut tx).await?;
        tx.commit().await?;
        Ok(v)
    }

    /// A trivial round trip, for `/readyz`.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        on_db!(self, pool => sqlx::query("SELECT 1").execute(pool).await.map(|_| ()))
    }

    pub async fn close(&self) {
        on_db!(self, pool => pool.close().await)
    }
}

pub use crate::error::is_unavailable;

/// Whether the error is a violation of the named unique constraint (or, on SQLite, which does not
/// name constraints, of a unique index over `column`).
pub fn is_unique_violation(err: &sqlx::Error, pg_constraint: &str, sqlite_column: &str) -> bool {
    let sqlx::Error::Database(db) = err else {
        return false;
    };
    if !db.is_unique_violation() {
        return false;
    }
    match db.constraint() {
        Some(name) => name == pg_constraint,
        None => db.message().contains(sqlite_column),
    }
}
