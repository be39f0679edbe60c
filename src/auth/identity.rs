//! Who is calling: the caller of a request, identified from its bearer access token, and the
//! short-lived memory of accounts seen active that spares most requests a read of their account.

use uuid::Uuid;

use super::{Auth, Role, repo};
use crate::error::{Error, Result};

/// The authenticated caller of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    pub account_id: Uuid,
    pub role: Role,
    /// Signed in with a one-time password not yet changed: every operation but changing it,
    /// reading one's account and signing out is refused (`password_change_required`).
    pub password_must_change: bool,
}

impl Caller {
    /// Allow only these roles (403 otherwise).
    pub fn require(&self, roles: &[Role]) -> Result<()> {
        if roles.contains(&self.role) {
            Ok(())
        } else {
            Err(Error::Forbidden)
        }
    }
}

/// Accounts found active (not disabled) in the last [`ActiveAccounts::FRESH`], with their role.
/// Disabling an account forgets it here at once; another instance forgets it within `FRESH`.
#[derive(Default)]
pub(super) struct ActiveAccounts {
    seen: std::sync::Mutex<std::collections::HashMap<Uuid, (Role, bool, std::time::Instant)>>,
    /// Bumped by every `forget`: an account read before a disable is not kept after it.
    generation: std::sync::atomic::AtomicU64,
}

impl ActiveAccounts {
    const FRESH: std::time::Duration = std::time::Duration::from_secs(5);
    /// Bound on entries: past it the map starts over (a burst of new accounts costs a read each).
    const MOST: usize = 100_000;

    fn get(&self, id: Uuid) -> Option<(Role, bool)> {
        let map = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        map.get(&id)
            .filter(|(_, _, seen)| seen.elapsed() < Self::FRESH)
            .map(|(role, must_change, _)| (*role, *must_change))
    }

    /// Taken before reading the account; [`put`](Self::put) keeps it only if nothing was
    /// forgotten since.
    fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::Acquire)
    }

    fn put(&self, id: Uuid, role: Role, must_change: bool, read_at: u64) {
        let mut map = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if self.generation() != read_at {
            return;
        }
        if map.len() >= Self::MOST {
            map.clear();
        }
        map.insert(id, (role, must_change, std::time::Instant::now()));
    }

    pub(super) fn forget(&self, id: Uuid) {
        let mut map = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        map.remove(&id);
    }
}

impl Auth {
    /// Who is calling, from a bearer access token. Disabled accounts are refused even while their
    /// token is unexpired.
    pub async fn identify(&self, token: &str) -> Result<Caller> {
        let claims = self
            .keys
            .verify(token, self.clock.now().timestamp())
            .ok_or(Error::Unauthorized("invalid_token"))?;
        let account_id =
            Uuid::parse_str(&claims.sub).map_err(|_| Error::Unauthorized("invalid_token"))?;
        if let Some((role, password_must_change)) = self.active.get(account_id) {
            return Ok(Caller {
                account_id,
                role,
                password_must_change,
            });
        }
        let read_at = self.active.generation();
        let account = repo::account_by_id(&self.db, account_id)
            .await?
            .ok_or(Error::Unauthorized("invalid_token"))?;
        if account.disabled_at.is_some() {
            return Err(Error::Unauthorized("account_disabled"));
        }
        // The role in the database wins over the one in the token (an admin may have changed it).
        // Residents sign in by SMS code: a password flag means nothing for them.
        let must_change = account.password_must_change && account.role != Role::Resident;
        self.active
            .put(account_id, account.role, must_change, read_at);
        Ok(Caller {
            account_id,
            role: account.role,
            password_must_change: must_change,
        })
    }
}
