//! Consent (FHIR Consent): the current texts, residents' decisions, and whether one holds.

use uuid::Uuid;

use crate::auth::{Caller, Role};
use crate::error::{Error, Result};
use crate::store::Db;
use crate::telehealth::Ctx;
use crate::telehealth::repo::consent as repo;

pub use crate::telehealth::repo::consent::{ConsentKind, ConsentRow};

/// A consent text residents read and accept.
#[derive(Debug, Clone, Copy)]
pub struct ConsentText {
    pub kind: ConsentKind,
    pub version: &'static str,
    pub text_vi: &'static str,
    pub text_en: &'static str,
}

/// The current texts. Changing a text means a new version: everyone accepts it again.
pub const CONSENTS: [ConsentText; 2] = [
    ConsentText {
        kind: ConsentKind::Telehealth,
        version: "2026-11-01",
        text_vi: "Tôi đồng ý được khám, tư vấn từ xa qua video với bác sĩ của Trạm Y tế phường. \
                  Tôi hiểu rằng khám từ xa có giới hạn so với khám trực tiếp, bác sĩ có thể đề nghị \
                  tôi đến khám tại trạm, và trong trường hợp cấp cứu tôi sẽ gọi 115. Thông tin khám \
                  bệnh của tôi chỉ bác sĩ tham gia buổi khám và tôi được xem; mọi lần truy cập đều \
                  được ghi lại và tôi có thể xem nhật ký truy cập.",
        text_en: "I agree to be seen and advised by video by doctors of the ward health station. I \
                  understand that a remote consultation has limits compared with an in-person visit, \
                  that the doctor may ask me to come to the station, and that in an emergency I will \
                  call 115. Only the doctors of the consultation and I can read my medical \
                  information; every access is logged and I can read the log.",
    },
    ConsentText {
        kind: ConsentKind::Recording,
        version: "2026-11-01",
        text_vi: "Tôi đồng ý để buổi khám từ xa được ghi lại nhằm bảo đảm chất lượng chuyên môn. \
                  Bản ghi được lưu trữ bảo mật và tôi có thể rút lại sự đồng ý này bất cứ lúc nào.",
        text_en: "I agree that my video consultations may be recorded for quality of care. \
                  Recordings are kept confidential, and I can withdraw this consent at any time.",
    },
];

pub fn current(kind: ConsentKind) -> ConsentText {
    match kind {
        ConsentKind::Telehealth => CONSENTS[0],
        ConsentKind::Recording => CONSENTS[1],
    }
}

/// Record a consent decision of the caller (residents) for the current version of a text.
pub async fn decide(
    state: &Ctx,
    caller: &Caller,
    kind: ConsentKind,
    version: &str,
    accepted: bool,
) -> Result<ConsentRow> {
    caller.require(&[Role::Resident])?;
    if version != current(kind).version {
        return Err(Error::Conflict("consent_version_outdated"));
    }
    let row = ConsentRow {
        consent_id: Uuid::now_v7(),
        kind,
        version: version.into(),
        accepted,
        created_at: state.clock.now(),
    };
    repo::insert(&state.db, caller.account_id, &row).await?;
    Ok(row)
}

/// The caller's consent decisions, newest first.
pub async fn history(state: &Ctx, caller: &Caller) -> Result<Vec<ConsentRow>> {
    Ok(repo::history(&state.db, caller.account_id).await?)
}

/// Whether the resident's latest decision accepts the current version of `kind`.
pub async fn consents_to(db: &Db, resident: Uuid, kind: ConsentKind) -> Result<bool> {
    let latest = repo::latest(db, resident, kind).await?;
    Ok(matches!(latest, Some((v, true)) if v == current(kind).version))
}

/// The telehealth consent admission requires.
pub async fn has_consent(state: &Ctx, resident: Uuid) -> Result<bool> {
    consents_to(&state.db, resident, ConsentKind::Telehealth).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consent_kinds_round_trip() {
        for k in [ConsentKind::Telehealth, ConsentKind::Recording] {
            assert_eq!(ConsentKind::parse(k.as_str()), Some(k));
            assert_eq!(current(k).kind, k);
        }
    }
}
