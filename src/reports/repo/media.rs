//! SQL of a report's photos: attaching them, and reading them per report or comment.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::on_ex;
use crate::store::{Ex, Exec};

/// What a photo is attached to a report as.
#[derive(Debug, Clone, Copy)]
pub enum Attach {
    /// The reporter's own photos of the problem.
    Report,
    /// Staff's "after" photos, with the resolution.
    Evidence,
    /// Photos sent with a comment: this history entry.
    Comment(Uuid),
}

impl Attach {
    fn role(self) -> &'static str {
        match self {
            Attach::Report => "report",
            Attach::Evidence => "evidence",
            Attach::Comment(_) => "comment",
        }
    }
}

/// Attach those of `media` that `owner` uploaded, in order; how many were. The ownership check and
/// the write are one statement per photo, so nobody attaches a photo they do not own.
pub async fn attach_owned_media(
    tx: &mut dyn Exec,
    report_id: Uuid,
    owner: Uuid,
    media: &[Uuid],
    attach: Attach,
    now: DateTime<Utc>,
) -> crate::error::Result<usize> {
    let event = match attach {
        Attach::Comment(e) => Some(e),
        _ => None,
    };
    let mut attached = 0;
    for (i, m) in media.iter().enumerate() {
        attached += tx
            .exec(
                "INSERT INTO report_media (report_id, media_id, role, position, report_event_id, created_at, updated_at)
                 SELECT $1, media_id, $3, $4, $7, $5, $5 FROM media WHERE media_id = $2 AND owner_id = $6
                 ON CONFLICT (report_id, media_id) DO NOTHING",
                &[
                    report_id.into(),
                    (*m).into(),
                    attach.role().into(),
                    (i as i64).into(),
                    now.into(),
                    owner.into(),
                    event.into(),
                ],
            )
            .await? as usize;
    }
    Ok(attached)
}

/// The photos sent with a report's comments, by history entry, in order.
pub async fn comment_photos(
    ex: impl Into<Ex<'_>>,
    report_id: Uuid,
) -> Result<std::collections::HashMap<Uuid, Vec<Uuid>>, sqlx::Error> {
    let rows = on_ex!(ex.into(), pool => sqlx::query_as::<_, (Uuid, Uuid)>(
        "SELECT report_event_id, media_id FROM report_media
         WHERE report_id = $1 AND report_event_id IS NOT NULL ORDER BY position",
    )
    .bind(report_id)
    .fetch_all(pool)
    .await)?;
    let mut by_event: std::collections::HashMap<Uuid, Vec<Uuid>> = Default::default();
    for (event, media) in rows {
        by_event.entry(event).or_default().push(media);
    }
    Ok(by_event)
}

/// (media id, role) of a report's photos, in order.
pub async fn report_media(
    ex: impl Into<Ex<'_>>,
    report_id: Uuid,
) -> Result<Vec<(Uuid, String)>, sqlx::Error> {
    on_ex!(ex.into(), pool => sqlx::query_as::<_, (Uuid, String)>(
        "SELECT media_id, role FROM report_media WHERE report_id = $1 ORDER BY created_at, position",
    )
    .bind(report_id)
    .fetch_all(pool)
    .await)
}

/// (media id, role) of the photos of each of `reports`, in order: one query for a page.
pub async fn media_of_reports(
    ex: impl Into<Ex<'_>>,
    reports: &[Uuid],
) -> Result<std::collections::HashMap<Uuid, Vec<(Uuid, String)>>, sqlx::Error> {
    let mut ex = ex.into();
    let mut out: std::collections::HashMap<Uuid, Vec<(Uuid, String)>> = Default::default();
    for chunk in reports.chunks(500) {
        // Only placeholders are formatted into the text; every value is bound.
        let marks: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT report_id, media_id, role FROM report_media WHERE report_id IN ({})
             ORDER BY report_id, created_at, position",
            marks.join(", ")
        );
        let rows = on_ex!(ex.re(), pool => {
            let mut q = sqlx::query_as::<_, (Uuid, Uuid, String)>(sqlx::AssertSqlSafe(sql.clone()));
            for id in chunk {
                q = q.bind(*id);
            }
            q.fetch_all(pool).await
        })?;
        for (report, media, role) in rows {
            out.entry(report).or_default().push((media, role));
        }
    }
    Ok(out)
}
