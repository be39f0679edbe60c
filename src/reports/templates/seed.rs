//! The reply templates a fresh install starts with.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::repo::{self, TemplateRow};
use crate::error::Result;
use crate::reports::Status;
use crate::store::Db;

/// status, title, Vietnamese body, English body: for every category.
const DEFAULTS: [(Status, &str, &str, &str); 3] = [
    (
        Status::Resolved,
        "Đã xử lý xong",
        "Phường đã xử lý xong phản ánh {id} ({category}). Cảm ơn bạn đã thông báo; nếu vấn đề \
         chưa được khắc phục, bạn có thể mở lại phản ánh trong 7 ngày.",
        "The ward has resolved report {id} ({category}). Thank you for letting us know; if the \
         problem is still there, you can reopen the report within 7 days.",
    ),
    (
        Status::Rejected,
        "Không thuộc thẩm quyền của phường",
        "Phản ánh {id} ({category}) không thuộc thẩm quyền xử lý của phường. Phường đã chuyển \
         thông tin đến cơ quan có thẩm quyền. Cảm ơn bạn.",
        "Report {id} ({category}) is not the ward's to handle. The ward has passed it on to the \
         responsible authority. Thank you.",
    ),
    (
        Status::InProgress,
        "Đang xử lý",
        "Phường đang xử lý phản ánh {id} ({category}), dự kiến hoàn thành trước {deadline}.",
        "The ward is working on report {id} ({category}), expected to be done by {deadline}.",
    ),
];

/// Give a ward without any reply template (archived ones count) the defaults. Runs at start.
pub async fn seed_defaults(db: &Db, now: DateTime<Utc>) -> Result<()> {
    if repo::count(db).await? > 0 {
        return Ok(());
    }
    for (position, (status, title, vi, en)) in DEFAULTS.iter().enumerate() {
        repo::insert(
            db,
            &TemplateRow {
                template_id: Uuid::now_v7(),
                category_code: None,
                status: Some(*status),
                title: (*title).into(),
                body_vi: (*vi).into(),
                body_en: (*en).into(),
                position: position as i32,
                created_at: now,
                updated_at: now,
            },
        )
        .await?;
    }
    Ok(())
}
