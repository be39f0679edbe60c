//! Group commit for SQLite. A commit in WAL mode with `synchronous = FULL` costs one `fsync`
//! (about 1.4 ms on this class of disk), so one transaction per request caps every writer at a few
//! hundred commits a second. And each statement sent through sqlx's SQLite driver is a round trip
//! to its connection thread: two thread wake-ups, which on a small virtual machine cost more than
//! the statement.
//!
//! So [`Db::write`](super::Db::write) on SQLite hands its unit of work to one writer thread, which
//! owns its own connection to the database file. The thread takes everything queued, runs each
//! unit inside one transaction under its own savepoint (a failing unit is rolled back alone),
//! commits once, and only then answers each caller. An answer still means "on disk": nobody hears
//! success before the commit that holds their write. The thread takes the same write lock as every
//! other SQLite transaction ([`super::Db::begin`]), so it never fights them for the file.
//!
//! PostgreSQL needs none of this (its WAL groups concurrent commits itself); there, and on an
//! in-memory SQLite database, `write` is a plain transaction.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};

use tokio::sync::{Mutex, mpsc, oneshot};

use super::exec::{Arg, Exec, bind_sqlite};
use crate::error::{Error, Result};

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// At most this many units share a commit; more wait for the next one.
const MAX_BATCH: usize = 256;
/// Units queued beyond this make callers wait to queue (backpressure, not unbounded memory).
const QUEUE: usize = 4096;

/// SQLite's single writer: the lock every write transaction takes, and the group-commit thread.
#[derive(Clone, Default)]
pub struct Writer {
    pub(super) lock: Arc<Mutex<()>>,
    /// The database file; `None` for an in-memory database (no second connection can see it).
    pub(super) path: Option<Arc<std::path::Path>>,
    queue: Arc<OnceLock<mpsc::Sender<Box<dyn Unit>>>>,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// One caller's work, type-erased so units of every result type share a queue.
trait Unit: Send {
    /// Run the work; `true` if it succeeded (and should be kept).
    fn run(&mut self, conn: &mut Conn<'_>) -> bool;
    /// Answer the caller once the batch's fate is known.
    fn finish(self: Box<Self>, committed: std::result::Result<(), &rusqlite::Error>);
}

type Work<T> = Box<dyn for<'t> FnOnce(&'t mut dyn Exec) -> BoxFuture<'t, Result<T>> + Send>;

struct Pending<T> {
    work: Option<Work<T>>,
    outcome: Option<Result<T>>,
    reply: oneshot::Sender<Result<T>>,
}

impl<T: Send + 'static> Unit for Pending<T> {
    fn run(&mut self, conn: &mut Conn<'_>) -> bool {
        let Some(work) = self.work.take() else {
            return false;
        };
        // Statements on this connection complete at once, so the future is ready when first
        // polled. One that is not awaits something else (a timer, the pool): refuse it rather
        // than wait here holding the write lock.
        let outcome = futures::FutureExt::now_or_never(work(conn)).unwrap_or_else(|| {
            Err(Error::Internal(anyhow::anyhow!(
                "a write unit awaited something other than its statements"
            )))
        });
        let ok = outcome.is_ok();
        self.outcome = Some(outcome);
        ok
    }

    fn finish(self: Box<Self>, committed: std::result::Result<(), &rusqlite::Error>) {
        let answer = match (self.outcome, committed) {
            // The unit's own failure was rolled back to its savepoint; say why it failed.
            (Some(Err(e)), _) => Err(e),
            (Some(Ok(v)), Ok(())) => Ok(v),
            (_, Err(e)) => Err(sqlite_error(e)),
            (None, Ok(())) => Err(Error::Internal(anyhow::anyhow!(
                "a write unit did not finish"
            ))),
        };
        // The caller may have gone (client hung up): the write stands all the same.
        let _ = self.reply.send(answer);
    }
}

fn sqlite_error(e: &rusqlite::Error) -> Error {
    use rusqlite::ErrorCode::{CannotOpen, DatabaseBusy, DatabaseLocked};
    match e.sqlite_error_code() {
        Some(DatabaseBusy | DatabaseLocked | CannotOpen) => {
            tracing::warn!(error = %e, "database unavailable");
            Error::Unavailable("database_unavailable")
        }
        _ => Error::Internal(anyhow::anyhow!("database: {e}")),
    }
}

/// A rusqlite connection as an [`Exec`]: the writer thread runs its units on one, and the
/// create benchmark runs the same statements on one with no writer in between (SQLite's floor).
pub struct Conn<'c>(pub &'c mut rusqlite::Connection);

impl Exec for Conn<'_> {
    fn exec<'a>(
        &'a mut self,
        sql: &'static str,
        args: &'a [Arg<'a>],
    ) -> BoxFuture<'a, Result<u64>> {
        let done = (|| {
            let mut st = self.0.prepare_cached(sql)?;
            bind_sqlite(&mut st, args)?;
            st.raw_execute()
        })();
        Box::pin(std::future::ready(
            done.map(|n| n as u64).map_err(|e| sqlite_error(&e)),
        ))
    }
}

impl Writer {
    pub(super) fn new(path: Option<PathBuf>) -> Writer {
        Writer {
            path: path.map(Arc::from),
            ..Writer::default()
        }
    }

    /// Queue `work` for the next group commit and wait for its answer.
    pub(super) async fn write<T: Send + 'static>(
        &self,
        path: &std::path::Path,
        work: Work<T>,
    ) -> Result<T> {
        let queue = self.queue.get_or_init(|| {
            let (tx, rx) = mpsc::channel(QUEUE);
            let (path, lock) = (path.to_path_buf(), self.lock.clone());
            if let Err(e) = std::thread::Builder::new()
                .name("sqlite-writer".into())
                .spawn(move || run(&path, &lock, rx))
            {
                tracing::error!(error = %e, "could not start the SQLite writer thread");
            }
            tx
        });
        let (reply, answer) = oneshot::channel();
        let unit = Box::new(Pending {
            work: Some(work),
            outcome: None,
            reply,
        });
        if queue.send(unit).await.is_err() {
            return Err(Error::Unavailable("database_unavailable"));
        }
        answer.await.map_err(|_| {
            tracing::error!("the SQLite writer stopped");
            Error::Unavailable("database_unavailable")
        })?
    }
}

/// A connection to the database file set up as the writer's own.
pub fn open(path: &std::path::Path) -> rusqlite::Result<rusqlite::Connection> {
    let conn = rusqlite::Connection::open(path)?;
    // The same settings as the pool's connections (see `Db::connect`): WAL is the file's, the rest
    // belong to each connection. Savepoints copy every page a unit first touches into a
    // sub-journal, which SQLite keeps in a temporary file unless told otherwise: in memory it is
    // one copy, not a write (measured: 28 % of this thread's time before, 11 % after).
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA temp_store = MEMORY;",
    )?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

fn run(path: &std::path::Path, lock: &Mutex<()>, mut rx: mpsc::Receiver<Box<dyn Unit>>) {
    let mut conn = None;
    let mut units: Vec<Box<dyn Unit>> = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = rx.blocking_recv() {
        units.push(first);
        while units.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(u) => units.push(u),
                Err(_) => break,
            }
        }
        // (Re)open on demand: a database that cannot be opened now (too many open files, a
        // locked file) fails this batch with 503, and the next batch tries again.
        if conn.is_none() {
            match open(path) {
                Ok(c) => conn = Some(c),
                Err(e) => {
                    tracing::error!(error = %e, path = %path.display(), "the SQLite writer cannot open the database");
                    for u in units.drain(..) {
                        u.finish(Err(&e));
                    }
                    continue;
                }
            }
        }
        if let Some(c) = conn.as_mut() {
            let _guard = lock.blocking_lock();
            commit_batch(c, &mut units);
        }
    }
}

/// Run every unit under its own savepoint in one transaction, commit once, answer all.
fn commit_batch(conn: &mut rusqlite::Connection, units: &mut Vec<Box<dyn Unit>>) {
    if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
        return fail_all(conn, units, &e);
    }
    for i in 0..units.len() {
        if let Err(e) = step(conn, "SAVEPOINT unit") {
            return fail_all(conn, units, &e);
        }
        let mut exec = Conn(&mut *conn);
        let ok = std::panic::catch_unwind(AssertUnwindSafe(|| units[i].run(&mut exec)))
            .unwrap_or_else(|_| {
                tracing::error!("a write unit panicked; it is rolled back");
                false
            });
        let end = if ok {
            step(conn, "RELEASE unit")
        } else {
            step(conn, "ROLLBACK TO unit").and_then(|()| step(conn, "RELEASE unit"))
        };
        if let Err(e) = end {
            // The transaction is in an unknown state (SQLite may have rolled it back itself).
            return fail_all(conn, units, &e);
        }
    }
    let committed = conn.execute_batch("COMMIT");
    if committed.is_err() {
        let _ = conn.execute_batch("ROLLBACK");
    }
    for u in units.drain(..) {
        u.finish(committed.as_ref().map(|_| ()));
    }
}

/// One of the batch's own statements, prepared once per connection: parsing it for every unit
/// cost more than running it.
fn step(conn: &rusqlite::Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(|_| ())
}

fn fail_all(conn: &rusqlite::Connection, units: &mut Vec<Box<dyn Unit>>, e: &rusqlite::Error) {
    tracing::error!(error = %e, "write batch abandoned");
    if !conn.is_autocommit() {
        let _ = conn.execute_batch("ROLLBACK");
    }
    for u in units.drain(..) {
        u.finish(Err(e));
    }
}
