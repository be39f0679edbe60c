//! A value read from the database and kept in memory for a few seconds, so hot paths (a report's
//! category, the areas' outlines) read no table. Each kept value is stamped with a generation: a
//! counter its owner bumps on every change made through this process. A value is served only while
//! it is fresh and its generation is current, and a read that began before a change is never kept
//! after it. Changes made by another process show within [`Kept::FRESH`].

use std::future::Future;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

pub struct Kept<T> {
    slot: Mutex<Option<(T, Instant, u64)>>,
}

impl<T> Default for Kept<T> {
    fn default() -> Self {
        Kept {
            slot: Mutex::new(None),
        }
    }
}

impl<T: Clone> Kept<T> {
    pub const FRESH: Duration = Duration::from_secs(5);

    /// The kept value if it is fresh and `generation` has not moved since it was read; otherwise
    /// `read`'s, kept unless `generation` moved while reading.
    pub async fn get_or_read<E, F, Fut>(&self, generation: &AtomicU64, read: F) -> Result<T, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let seen = generation.load(Ordering::Acquire);
        if let Some((value, at, read_at)) = &*self.slot.lock().unwrap_or_else(|e| e.into_inner())
            && *read_at == seen
            && at.elapsed() < Self::FRESH
        {
            return Ok(value.clone());
        }
        let value = read().await?;
        // Stamped with the generation seen before reading: if a change came meanwhile, the value is
        // already stale and the next use reads again.
        *self.slot.lock().unwrap_or_else(|e| e.into_inner()) =
            Some((value.clone(), Instant::now(), seen));
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn kept_while_fresh_and_current_read_again_after_a_change() {
        let kept = Kept::<u32>::default();
        let generation = AtomicU64::new(0);
        let read = |v: u32| move || async move { Ok::<_, ()>(v) };
        assert_eq!(kept.get_or_read(&generation, read(1)).await, Ok(1));
        // Kept: the second read is not made.
        assert_eq!(kept.get_or_read(&generation, read(2)).await, Ok(1));
        // A change through this process: read again at once.
        generation.fetch_add(1, Ordering::AcqRel);
        assert_eq!(kept.get_or_read(&generation, read(3)).await, Ok(3));
        assert_eq!(kept.get_or_read(&generation, read(4)).await, Ok(3));
        // A failed read keeps nothing.
        let failed = Kept::<u32>::default();
        assert_eq!(
            failed
                .get_or_read(&generation, || async { Err::<u32, _>("down") })
                .await,
            Err("down")
        );
        assert_eq!(failed.get_or_read(&generation, read(9)).await, Ok(9));
    }
}
