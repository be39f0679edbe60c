//! Reading reports: pages filtered after the query, and open reports nearby.

use uuid::Uuid;

use super::Ctx;
use crate::error::{Error, Result};
use crate::geo::{self, Point};
use crate::reports::catalog::Category;
use crate::reports::repo::{self, ReportRow};

/// Pages of a newest-first list a public answer reads before it has enough.
const KEPT_PAGE_ROUNDS: usize = 20;

/// A page of a newest-first list whose rows are chosen after reading (on the rounded points the
/// public sees). Reads `batch` rows at a time (`read(before)`) until more than `want` pass `keep`
/// or none are left. Returns at most `want` kept rows and the next page's cursor: the last kept
/// row when more were kept, so neither the page nor its cursor tells anything about rows read and
/// not kept (an exact point just inside a box). Only after [`KEPT_PAGE_ROUNDS`] pages with too few
/// kept rows is the cursor the last row read (so that a next page makes progress).
pub(crate) async fn kept_page<R, Fut>(
    mut read: impl FnMut(Option<Uuid>) -> Fut,
    keep: impl Fn(&R) -> bool,
    id: impl Fn(&R) -> Uuid,
    start: Option<Uuid>,
    batch: usize,
    want: usize,
) -> Result<(Vec<R>, Option<Uuid>)>
where
    Fut: std::future::Future<Output = Result<Vec<R>>>,
{
    let mut kept = Vec::new();
    let mut cursor = start;
    for _ in 0..KEPT_PAGE_ROUNDS {
        let rows = read(cursor).await?;
        let read_all = rows.len() < batch;
        if let Some(last) = rows.last() {
            cursor = Some(id(last));
        }
        kept.extend(rows.into_iter().filter(|r| keep(r)));
        if kept.len() > want {
            kept.truncate(want);
            let next = kept.last().map(&id);
            return Ok((kept, next));
        }
        if read_all {
            return Ok((kept, None));
        }
    }
    Ok((kept, cursor))
}

/// Open reports of the same category near a point, nearest first (to offer "me too" instead).
///
/// For the public (`public`), a category that rounds its public coordinates is searched and
/// measured on the rounded points the public sees: neither which reports come back nor how far
/// they are may tell more about where the reporter stood than the map does.
pub async fn nearby(
    state: &Ctx,
    lat: f64,
    lon: f64,
    category_code: &str,
    public: bool,
) -> Result<Vec<(ReportRow, f64)>> {
    let p = Point::parse(lat, lon)?;
    let category: Category = state
        .categories
        .by_code(&state.db, category_code)
        .await?
        .ok_or(Error::NotFound("category_not_found"))?;
    let radius = f64::from(category.duplicate_radius_m);
    let decimals = category.public_decimals.filter(|_| public);
    let shown_distance = |r: &ReportRow| {
        p.distance_m(
            Point {
                lat: r.lat,
                lon: r.lon,
            }
            .rounded(decimals),
        )
    };
    // Every candidate is read (pages of 200), so which ones come back depends only on the
    // points the caller sees.
    let area = geo::BBox::around(p, radius).grown(Point::rounding_margin(decimals));
    let (rows, _) = kept_page(
        |before| {
            let db = state.db.clone();
            async move {
                Ok(repo::open_in_box(&db, category.category_id, area, before, 200).await?)
            }
        },
        |r| shown_distance(r) <= radius,
        |r| r.report_id,
        None,
        200,
        usize::MAX,
    )
    .await?;
    let mut near: Vec<(ReportRow, f64)> = rows
        .into_iter()
        .map(|r| {
            let d = shown_distance(&r);
            (r, d)
        })
        .collect();
    near.sort_by(|a, b| a.1.total_cmp(&b.1));
    near.truncate(10);
    Ok(near)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows 99 down to 0 (newest first), read `batch` at a time below a cursor.
    fn reader(batch: usize) -> impl FnMut(Option<Uuid>) -> std::future::Ready<Result<Vec<u128>>> {
        move |before| {
            let below = before.map_or(100, |b| b.as_u128());
            std::future::ready(Ok((0..below).rev().take(batch).collect()))
        }
    }

    fn id(r: &u128) -> Uuid {
        Uuid::from_u128(*r)
    }

    #[tokio::test]
    async fn a_kept_page_and_its_cursor_depend_only_on_the_rows_kept() {
        // Every third row is kept: a page of 5 ends at the fifth kept row, whatever was read after.
        let third = |r: &u128| r.is_multiple_of(3);
        let (page, next) = kept_page(reader(6), third, id, None, 6, 5).await.unwrap();
        assert_eq!(page, [99, 96, 93, 90, 87]);
        assert_eq!(next, Some(Uuid::from_u128(87)));
        // The same page whatever the batch size (how much was read and dropped).
        for batch in [1, 2, 7, 50, 200] {
            let got = kept_page(reader(batch), third, id, None, batch, 5)
                .await
                .unwrap();
            assert_eq!(got, (page.clone(), next), "batch {batch}");
        }
        // The last page: no cursor once everything has been read.
        let (page, next) = kept_page(reader(6), third, id, Some(Uuid::from_u128(10)), 6, 5)
            .await
            .unwrap();
        assert_eq!(page, [9, 6, 3, 0]);
        assert_eq!(next, None);
    }

    #[tokio::test]
    async fn a_kept_page_gives_up_after_its_rounds_with_the_last_row_read() {
        // Nothing kept: after KEPT_PAGE_ROUNDS reads the cursor moves on, so a next page progresses.
        let (page, next) = kept_page(reader(2), |_| false, id, None, 2, 5)
            .await
            .unwrap();
        assert!(page.is_empty());
        assert_eq!(
            next,
            Some(Uuid::from_u128(100 - 2 * KEPT_PAGE_ROUNDS as u128))
        );
    }
}
