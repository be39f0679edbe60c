//! HTTP: the consent texts and residents' consent decisions.

use chrono::{DateTime, Utc};
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use uuid::Uuid;

use crate::auth::api::BearerAuth;
use crate::error::{BODY, CONFLICT, Problems, SIGNED_IN};
use crate::tags::ApiTags;
use crate::telehealth::Ctx;
use crate::telehealth::records::{self, ConsentKind};

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct ConsentTextView {
    kind: ConsentKind,
    version: String,
    text_vi: String,
    text_en: String,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct ConsentDecision {
    kind: ConsentKind,
    /// The version of the text the resident read (must be the current one).
    #[oai(validator(max_length = 40))]
    version: String,
    accepted: bool,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct ConsentView {
    id: Uuid,
    kind: ConsentKind,
    version: String,
    accepted: bool,
    created_at: DateTime<Utc>,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct MyConsents {
    /// Whether the current telehealth consent is accepted (needed to be admitted).
    telehealth: bool,
    /// Whether calls may be recorded (off unless accepted).
    recording: bool,
    history: Vec<ConsentView>,
}

/// Consent texts and decisions.
pub struct ConsentApi {
    pub state: Ctx,
}

#[OpenApi(tag = "ApiTags::MedicalRecords")]
impl ConsentApi {
    /// The current consent texts (public)
    #[oai(
        path = "/v1/telehealth/consent",
        method = "get",
        operation_id = "telehealth_consent_texts"
    )]
    async fn consent_texts(&self) -> Result<Json<Vec<ConsentTextView>>, Problems<0>> {
        Ok(Json(
            records::CONSENTS
                .iter()
                .map(|c| ConsentTextView {
                    kind: c.kind,
                    version: c.version.into(),
                    text_vi: c.text_vi.split_whitespace().collect::<Vec<_>>().join(" "),
                    text_en: c.text_en.split_whitespace().collect::<Vec<_>>().join(" "),
                })
                .collect(),
        ))
    }

    /// Accept or withdraw a consent (residents)
    ///
    /// The version must be the current one (409 `consent_version_outdated` otherwise). Recording
    /// consent is separate and off unless accepted.
    #[oai(
        path = "/v1/telehealth/consent",
        method = "post",
        operation_id = "telehealth_consent_decide"
    )]
    async fn decide(
        &self,
        auth: BearerAuth,
        body: Json<ConsentDecision>,
    ) -> Result<Json<ConsentView>, Problems<{ SIGNED_IN | CONFLICT | BODY }>> {
        let caller = self.state.auth.caller(&auth).await?;
        let row = records::decide(
            &self.state,
            &caller,
            body.kind,
            &body.version,
            body.accepted,
        )
        .await?;
        // A resident waiting without consent cannot be admitted: the doctors' consoles show it.
        crate::telehealth::live::nudge(&self.state, None).await;
        Ok(Json(consent_view(row)))
    }

    /// My consents: what holds now and every decision
    #[oai(path = "/v1/me/consents", method = "get", operation_id = "me_consents")]
    async fn my_consents(&self, auth: BearerAuth) -> Result<Json<MyConsents>, Problems<SIGNED_IN>> {
        let caller = self.state.auth.caller(&auth).await?;
        let telehealth =
            records::consents_to(&self.state.db, caller.account_id, ConsentKind::Telehealth)
                .await?;
        let recording =
            records::consents_to(&self.state.db, caller.account_id, ConsentKind::Recording).await?;
        let history = records::history(&self.state, &caller)
            .await?
            .into_iter()
            .map(consent_view)
            .collect();
        Ok(Json(MyConsents {
            telehealth,
            recording,
            history,
        }))
    }
}

fn consent_view(r: records::ConsentRow) -> ConsentView {
    ConsentView {
        id: r.consent_id,
        kind: r.kind,
        version: r.version,
        accepted: r.accepted,
        created_at: r.created_at,
    }
}
