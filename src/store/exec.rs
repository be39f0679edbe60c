//! Statements written once for every way a write can run: a sqlx transaction on either backend
//! ([`Tx`]) or SQLite's group-commit writer thread ([`super::batch`]). A statement is SQL in the
//! dialect both backends share (`$1` placeholders) and its arguments as [`Arg`]s; each runner binds
//! them the way its driver stores them, so rows written by one are read back by the other unchanged.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{BoxFuture, Tx};
use crate::error::Result;

/// One bound value. `None`s keep their type: PostgreSQL must know what a NULL parameter is.
#[derive(Debug, Clone, Copy)]
pub enum Arg<'a> {
    Uuid(Option<Uuid>),
    Text(Option<&'a str>),
    I64(Option<i64>),
    F64(Option<f64>),
    Time(Option<DateTime<Utc>>),
}

macro_rules! arg_from {
    ($($t:ty => $v:ident),* $(,)?) => {$(
        impl<'a> From<$t> for Arg<'a> {
            fn from(v: $t) -> Self {
                Arg::$v(Some(v.into()))
            }
        }
        impl<'a> From<Option<$t>> for Arg<'a> {
            fn from(v: Option<$t>) -> Self {
                Arg::$v(v.map(Into::into))
            }
        }
    )*};
}
arg_from!(Uuid => Uuid, &'a str => Text, i64 => I64, i32 => I64, f64 => F64, DateTime<Utc> => Time);

impl<'a> From<&'a String> for Arg<'a> {
    fn from(v: &'a String) -> Self {
        Arg::Text(Some(v))
    }
}

/// Runs statements inside a write.
pub trait Exec: Send {
    /// Run one statement; how many rows it changed.
    fn exec<'a>(&'a mut self, sql: &'static str, args: &'a [Arg<'a>])
    -> BoxFuture<'a, Result<u64>>;
}

/// Bind `args` onto a sqlx query, in order (the statement numbers them `$1`, `$2`, …).
macro_rules! bind_args {
    ($query:expr, $args:expr) => {{
        let mut q = $query;
        for a in $args {
            q = match *a {
                Arg::Uuid(v) => q.bind(v),
                Arg::Text(v) => q.bind(v),
                Arg::I64(v) => q.bind(v),
                Arg::F64(v) => q.bind(v),
                Arg::Time(v) => q.bind(v),
            };
        }
        q
    }};
}

impl Exec for Tx {
    fn exec<'a>(
        &'a mut self,
        sql: &'static str,
        args: &'a [Arg<'a>],
    ) -> BoxFuture<'a, Result<u64>> {
        Box::pin(async move {
            let done = match self {
                Tx::Sqlite(t, _) => bind_args!(sqlx::query(sql), args)
                    .execute(&mut **t)
                    .await?
                    .rows_affected(),
                Tx::Postgres(t) => bind_args!(sqlx::query(sql), args)
                    .execute(&mut **t)
                    .await?
                    .rows_affected(),
            };
            Ok(done)
        })
    }
}

/// Bind `args` onto a prepared SQLite statement exactly as sqlx-sqlite encodes them (UUIDs as
/// 16-byte blobs, times as RFC 3339 text with automatic fractional digits), by parameter name.
pub(super) fn bind_sqlite(
    st: &mut rusqlite::Statement<'_>,
    args: &[Arg<'_>],
) -> rusqlite::Result<()> {
    use chrono::SecondsFormat;
    use rusqlite::types::Null;
    for (i, a) in args.iter().enumerate() {
        let name = match PARAMS.get(i) {
            Some(n) => std::borrow::Cow::Borrowed(*n),
            None => std::borrow::Cow::Owned(format!("${}", i + 1)),
        };
        let Some(at) = st.parameter_index(&name)? else {
            // A statement need not use every argument (sqlx binds the ones it names too).
            continue;
        };
        match *a {
            Arg::Uuid(Some(v)) => st.raw_bind_parameter(at, v.as_bytes().as_slice())?,
            Arg::Text(Some(v)) => st.raw_bind_parameter(at, v)?,
            Arg::I64(Some(v)) => st.raw_bind_parameter(at, v)?,
            Arg::F64(Some(v)) => st.raw_bind_parameter(at, v)?,
            Arg::Time(Some(v)) => {
                st.raw_bind_parameter(at, v.to_rfc3339_opts(SecondsFormat::AutoSi, false))?
            }
            Arg::Uuid(None)
            | Arg::Text(None)
            | Arg::I64(None)
            | Arg::F64(None)
            | Arg::Time(None) => st.raw_bind_parameter(at, Null)?,
        }
    }
    Ok(())
}

const PARAMS: [&str; 32] = [
    "$1", "$2", "$3", "$4", "$5", "$6", "$7", "$8", "$9", "$10", "$11", "$12", "$13", "$14", "$15",
    "$16", "$17", "$18", "$19", "$20", "$21", "$22", "$23", "$24", "$25", "$26", "$27", "$28",
    "$29", "$30", "$31", "$32",
];

#[cfg(test)]
mod tests {
    use super::*;

    /// An in-memory database has no file a second connection could open: writes there are
    /// plain transactions on the pool, and what they write is what the pool reads.
    #[tokio::test]
    async fn in_memory_writes_land_in_the_pools_database() {
        let db = super::super::Db::connect("sqlite::memory:", 1)
            .await
            .unwrap();
        db.write(|tx| {
            Box::pin(async move {
                tx.exec("CREATE TABLE t (v TEXT)", &[]).await?;
                tx.exec("INSERT INTO t VALUES ($1)", &["kept".into()]).await
            })
        })
        .await
        .unwrap();
        let v: String =
            crate::on_db!(&db, pool => sqlx::query_scalar("SELECT v FROM t").fetch_one(pool).await)
                .unwrap();
        assert_eq!(v, "kept");
        let cwd_files: Vec<_> = std::fs::read_dir(".")
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().contains("sqlx-in-memory"))
            .collect();
        assert!(cwd_files.is_empty(), "{cwd_files:?}");
    }

    /// The writer thread stores values byte for byte as sqlx does, so either can read the other's.
    #[tokio::test]
    async fn sqlite_binding_matches_sqlx() {
        let dir = std::env::temp_dir().join(format!("wl-exec-{}", Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.db");
        let url = format!("sqlite://{}", path.display());
        let db = super::super::Db::connect(&url, 1).await.unwrap();
        let mut tx = db.begin().await.unwrap();
        tx.exec(
            "CREATE TABLE t (src TEXT, u BLOB, s TEXT, i INTEGER, f REAL, at TEXT, n TEXT)",
            &[],
        )
        .await
        .unwrap();
        let id = Uuid::now_v7();
        let at: DateTime<Utc> = "2026-11-25T07:08:09.123456Z".parse().unwrap();
        let whole: DateTime<Utc> = "2026-11-25T07:08:09Z".parse().unwrap();
        let sql = "INSERT INTO t VALUES ($1, $2, $3, $4, $5, $6, $7)";
        // One row of every kind of value, tagged with who wrote it.
        let row = |src: &'static str, at: DateTime<Utc>| -> [Arg<'static>; 7] {
            [
                src.into(),
                id.into(),
                "phở".into(),
                7i64.into(),
                1.5f64.into(),
                at.into(),
                Arg::Text(None),
            ]
        };
        for at in [at, whole] {
            tx.exec(sql, &row("sqlx", at)).await.unwrap();
        }
        tx.commit().await.unwrap();
        let conn = rusqlite::Connection::open(&path).unwrap();
        for at in [at, whole] {
            let mut st = conn.prepare(sql).unwrap();
            bind_sqlite(&mut st, &row("rusqlite", at)).unwrap();
            st.raw_execute().unwrap();
        }
        // Every column, compared as stored (type and bytes).
        let rows: Vec<(String, i64)> = {
            let mut st = conn
                .prepare(
                    "SELECT quote(u) || quote(s) || quote(i) || quote(f) || quote(at) || quote(n), COUNT(DISTINCT src)
                     FROM t GROUP BY 1 ORDER BY 1",
                )
                .unwrap();
            st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap()
        };
        assert_eq!(rows.len(), 2, "{rows:?}");
        assert!(rows.iter().all(|(_, n)| *n == 2), "{rows:?}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
