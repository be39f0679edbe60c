//! The whole catalog kept in memory.

use uuid::Uuid;

use super::{Category, list};
use crate::error::{Error, Result};
use crate::store::Db;

/// The whole catalog (a ward has a few dozen categories) kept in memory, so creating or showing a
/// report does not read it. Changes made through this instance ([`Cache::forget`]) show at once;
/// changes made through another instance within [`Kept::FRESH`](crate::store::kept::Kept::FRESH).
#[derive(Default)]
pub struct Cache {
    kept: crate::store::kept::Kept<std::sync::Arc<Vec<Category>>>,
    /// Bumped by every `forget`, so a read that began before a change is not kept after it.
    generation: std::sync::atomic::AtomicU64,
}

impl Cache {
    /// Every category, active or not.
    pub async fn all(&self, db: &Db) -> Result<std::sync::Arc<Vec<Category>>> {
        self.kept
            .get_or_read(&self.generation, || async {
                Ok(std::sync::Arc::new(list(db, true).await?))
            })
            .await
    }

    pub async fn by_code(&self, db: &Db, code: &str) -> Result<Option<Category>> {
        Ok(self.all(db).await?.iter().find(|c| c.code == code).cloned())
    }

    /// The category of a stored report. Every report has one (a foreign key), so a missing one is
    /// a bug: 500, not 404.
    pub async fn of_report(&self, db: &Db, category_id: Uuid) -> Result<Category> {
        self.by_id(db, category_id)
            .await?
            .ok_or_else(|| Error::Internal(anyhow::anyhow!("report without category")))
    }

    pub async fn by_id(&self, db: &Db, id: Uuid) -> Result<Option<Category>> {
        Ok(self
            .all(db)
            .await?
            .iter()
            .find(|c| c.category_id == id)
            .cloned())
    }

    /// Read the catalog again on next use (after this instance changed it).
    pub fn forget(&self) {
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    }
}
