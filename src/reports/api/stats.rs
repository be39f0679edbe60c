//! Statistics of reports, as JSON and CSV.

use chrono::{DateTime, Utc};
use poem_openapi::param::Query;
use poem_openapi::payload::{Json, PlainText};
use poem_openapi::{ApiResponse, OpenApi};

use crate::auth::Role;
use crate::auth::api::BearerAuth;
use crate::error::{INVALID, Problems, SIGNED_IN};
use crate::reports::Ctx;
use crate::reports::stats::{self, Figures, GroupBy};
use crate::tags::ApiTags;

#[derive(ApiResponse)]
enum Csv {
    /// CSV, one line per group.
    #[oai(status = 200, content_type = "text/csv; charset=utf-8")]
    Ok(
        PlainText<String>,
        /// `attachment; filename="wardline-reports-<from>-<to>.csv"`: browsers save it.
        #[oai(header = "Content-Disposition")]
        String,
    ),
}

pub struct StatsApi {
    pub state: Ctx,
}

#[OpenApi(tag = "ApiTags::Reports")]
impl StatsApi {
    /// Statistics of reports received in a period (staff, admins)
    ///
    /// Received, resolved, on-time rate, median working hours to acknowledge and to resolve, online
    /// share (app vs counter and phone), satisfaction. The last row is the total (`all`).
    #[oai(
        path = "/v1/stats/reports",
        method = "get",
        operation_id = "stats_reports"
    )]
    async fn stats(
        &self,
        auth: BearerAuth,
        from: Query<DateTime<Utc>>,
        to: Query<DateTime<Utc>>,
        group_by: Query<Option<GroupBy>>,
    ) -> Result<Json<Vec<Figures>>, Problems<{ SIGNED_IN | INVALID }>> {
        self.state
            .auth
            .caller_with(&auth, &[Role::Staff, Role::Admin])
            .await?;
        Ok(Json(
            stats::compute(&self.state, from.0, to.0, group_by.0).await?,
        ))
    }

    /// The same statistics as CSV
    #[oai(
        path = "/v1/stats/reports.csv",
        method = "get",
        operation_id = "stats_reports_csv"
    )]
    async fn stats_csv(
        &self,
        auth: BearerAuth,
        from: Query<DateTime<Utc>>,
        to: Query<DateTime<Utc>>,
        group_by: Query<Option<GroupBy>>,
    ) -> Result<Csv, Problems<{ SIGNED_IN | INVALID }>> {
        self.state
            .auth
            .caller_with(&auth, &[Role::Staff, Role::Admin])
            .await?;
        let rows = stats::compute(&self.state, from.0, to.0, group_by.0).await?;
        let name = format!(
            "attachment; filename=\"wardline-reports-{}-{}.csv\"",
            from.0.format("%Y%m%d"),
            to.0.format("%Y%m%d")
        );
        Ok(Csv::Ok(PlainText(stats::to_csv(&rows)), name))
    }
}
