//! SQL of who follows a report (subscribers, me too, rating) and their notifications.

use crate::reports::push::NotificationKind;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::on_ex;
use crate::store::{Ex, Exec, Tx};

pub async fn subscribe(
    tx: &mut dyn Exec,
    report_id: Uuid,
    account: Uuid,
    kind: &str,
    now: DateTime<Utc>,
) -> crate::error::Result<bool> {
    let n = tx
        .exec(
            "INSERT INTO report_subscribers (report_id, account_id, kind, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)
             ON CONFLICT (report_id, account_id) DO NOTHING",
            &[report_id.into(), account.into(), kind.into(), now.into()],
        )
        .await?;
    Ok(n == 1)
}

pub async fn subscribers_tx(
    ex: impl Into<Ex<'_>>,
    report_id: Uuid,
) -> Result<Vec<Uuid>, sqlx::Error> {
    on_ex!(ex.into(), conn => sqlx::query_scalar::<_, Uuid>("SELECT account_id FROM report_subscribers WHERE report_id = $1 ORDER BY created_at")
        .bind(report_id).fetch_all(conn).await)
}

pub async fn is_subscriber(
    ex: impl Into<Ex<'_>>,
    report_id: Uuid,
    account: Uuid,
) -> Result<bool, sqlx::Error> {
    let n = on_ex!(ex.into(), pool => sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM report_subscribers WHERE report_id = $1 AND account_id = $2")
        .bind(report_id).bind(account).fetch_one(pool).await)?;
    Ok(n > 0)
}

/// Move the children's subscribers to the parent (a duplicate's followers follow the original).
pub async fn move_subscribers(
    tx: &mut Tx,
    from: Uuid,
    to: Uuid,
    now: DateTime<Utc>,
) -> crate::error::Result<u64> {
    let subs = subscribers_tx(&mut *tx, from).await?;
    let mut moved = 0;
    for s in subs {
        if subscribe(tx, to, s, "follower", now).await? {
            moved += 1;
        }
    }
    Ok(moved)
}

/// Count `by` more people with the same problem. `updated_at` is left alone: it dates the report's
/// public life (a resolved report that absorbs a duplicate is not news again).
pub async fn bump_me_too(
    ex: impl Into<Ex<'_>>,
    report_id: Uuid,
    by: i64,
) -> Result<(), sqlx::Error> {
    on_ex!(ex.into(), conn => sqlx::query("UPDATE reports SET me_too_count = me_too_count + $2 WHERE report_id = $1")
        .bind(report_id).bind(by as i32).execute(conn).await.map(|_| ()))
}

pub async fn set_rating(
    ex: impl Into<Ex<'_>>,
    report_id: Uuid,
    stars: i32,
    comment: &str,
    now: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let n = on_ex!(ex.into(), pool => sqlx::query(
        // `updated_at` is left alone: it dates the report's public life (the feed and the map
        // show resolved reports for six months after it), which a late rating must not restart.
        "UPDATE reports SET rating = $2, rating_comment = $3, rated_at = $4 WHERE report_id = $1 AND rating IS NULL",
    )
    .bind(report_id)
    .bind(stars)
    .bind(comment)
    .bind(now)
    .execute(pool)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

pub async fn notify(
    ex: impl Into<Ex<'_>>,
    account: Uuid,
    report_id: Uuid,
    kind: NotificationKind,
    vi: &str,
    en: &str,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    on_ex!(ex.into(), conn => sqlx::query(
        "INSERT INTO notifications (notification_id, account_id, report_id, kind, body_vi, body_en, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
    )
    .bind(Uuid::now_v7())
    .bind(account)
    .bind(report_id)
    .bind(kind.as_str())
    .bind(vi)
    .bind(en)
    .bind(now)
    .execute(conn)
    .await
    .map(|_| ()))
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct NotificationRow {
    pub notification_id: Uuid,
    pub report_id: Option<Uuid>,
    pub appointment_id: Option<Uuid>,
    pub consultation_id: Option<Uuid>,
    pub kind: NotificationKind,
    pub body_vi: String,
    pub body_en: String,
    pub read_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

pub async fn notifications(
    ex: impl Into<Ex<'_>>,
    account: Uuid,
    unread_only: bool,
    before: Option<Uuid>,
    limit: i64,
) -> Result<Vec<NotificationRow>, sqlx::Error> {
    on_ex!(ex.into(), pool => sqlx::query_as::<_, NotificationRow>(
        "SELECT notification_id, report_id, appointment_id, consultation_id, kind, body_vi, body_en, read_at, created_at FROM notifications
         WHERE account_id = $1 AND (NOT $2 OR read_at IS NULL) AND ($3 IS NULL OR notification_id < $3)
         ORDER BY notification_id DESC LIMIT $4",
    )
    .bind(account)
    .bind(unread_only)
    .bind(before)
    .bind(limit)
    .fetch_all(pool)
    .await)
}

/// Mark read; only the owner's own notifications are touched.
pub async fn mark_read(
    ex: impl Into<Ex<'_>>,
    account: Uuid,
    ids: &[Uuid],
    now: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    let mut ex = ex.into();
    let mut n = 0;
    for id in ids {
        n += on_ex!(ex.re(), pool => sqlx::query("UPDATE notifications SET read_at = $3, updated_at = $3 WHERE notification_id = $1 AND account_id = $2 AND read_at IS NULL")
            .bind(id).bind(account).bind(now).execute(pool).await.map(|r| r.rows_affected()))?;
    }
    Ok(n)
}
