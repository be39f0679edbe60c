//! A person's notifications.

use chrono::{DateTime, Utc};
use poem_openapi::param::Query;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use uuid::Uuid;

use super::Done;
use crate::auth::api::BearerAuth;
use crate::error::{BODY, Problems, SIGNED_IN};
use crate::reports::Ctx;
use crate::reports::push::NotificationKind;
use crate::reports::repo::{self};
use crate::store::column::Spelled;
use crate::tags::ApiTags;

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct NotificationView {
    id: Uuid,
    /// What the item is about: a field report, a telehealth appointment or a consultation.
    report_id: Option<Uuid>,
    appointment_id: Option<Uuid>,
    consultation_id: Option<Uuid>,
    kind: Spelled<NotificationKind>,
    /// In the account's language.
    text: String,
    read: bool,
    created_at: DateTime<Utc>,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct NotificationPage {
    items: Vec<NotificationView>,
    next_before: Option<Uuid>,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct MarkRead {
    #[oai(validator(max_items = 200))]
    ids: Vec<Uuid>,
}

pub struct NotificationsApi {
    pub state: Ctx,
}

#[OpenApi(tag = "ApiTags::Reports")]
impl NotificationsApi {
    /// My notifications, newest first
    #[oai(
        path = "/v1/notifications",
        method = "get",
        operation_id = "notifications_list"
    )]
    async fn notifications(
        &self,
        auth: BearerAuth,
        #[oai(default)] unread: Query<bool>,
        before: Query<Option<Uuid>>,
        #[oai(validator(minimum(value = "1"), maximum(value = "100")))] limit: Query<Option<i64>>,
    ) -> Result<Json<NotificationPage>, Problems<SIGNED_IN>> {
        let caller = self.state.auth.caller(&auth).await?;
        let account = self.state.auth.account(caller.account_id).await?;
        let limit = limit.0.unwrap_or(50);
        let rows =
            repo::notifications(&self.state.db, caller.account_id, unread.0, before.0, limit)
                .await?;
        let next_before = if rows.len() as i64 == limit {
            rows.last().map(|n| n.notification_id)
        } else {
            None
        };
        let items = rows
            .into_iter()
            .map(|n| NotificationView {
                id: n.notification_id,
                report_id: n.report_id,
                appointment_id: n.appointment_id,
                consultation_id: n.consultation_id,
                kind: Spelled(n.kind),
                text: if account.language == crate::auth::Language::En {
                    n.body_en
                } else {
                    n.body_vi
                },
                read: n.read_at.is_some(),
                created_at: n.created_at,
            })
            .collect();
        Ok(Json(NotificationPage { items, next_before }))
    }

    /// Mark notifications read
    #[oai(
        path = "/v1/notifications/read",
        method = "post",
        operation_id = "notifications_mark_read"
    )]
    async fn mark_read(
        &self,
        auth: BearerAuth,
        body: Json<MarkRead>,
    ) -> Result<Done, Problems<{ SIGNED_IN | BODY }>> {
        let caller = self.state.auth.caller(&auth).await?;
        repo::mark_read(
            &self.state.db,
            caller.account_id,
            &body.ids,
            self.state.clock.now(),
        )
        .await?;
        Ok(Done::Done)
    }
}
