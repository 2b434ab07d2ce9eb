//! [`UtterancePool`]: the buffers that hold callers' utterances, shared by every call that
//! uses the pool (one pool per daemon, or per media thread). A call takes a buffer when its
//! caller may be starting to speak and gives it back once the utterance has been handed
//! out, so memory follows the callers speaking at once, not the calls.
//!
//! All buffers are allocated when the pool is built; taking and giving back is a lock-free
//! queue operation ([`crossbeam_queue::ArrayQueue`]) that never allocates, so it may run on
//! the per-frame path from any thread. A [`PooledBuffer`] goes back to its pool when
//! dropped, whoever drops it.
use std::sync::Arc;
use std::time::Duration;

use crossbeam_queue::ArrayQueue;

use super::FRAME_MS;
use super::config::EndpointerConfig;

/// Buffers in the pool [`crate::core::MediaCore::new`] builds for a call given none.
pub const PRIVATE_POOL_BUFFERS: usize = 1;

struct Shared {
    free: ArrayQueue<Box<[i16]>>,
    buffer_samples: usize,
    buffers: usize,
}

/// A fixed set of equally sized sample buffers. Cheap to clone (one `Arc`), `Send` and
/// `Sync`; clones share the buffers.
#[derive(Clone)]
pub struct UtterancePool {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for UtterancePool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UtterancePool")
            .field("buffers", &self.shared.buffers)
            .field("available", &self.available())
            .field("buffer_samples", &self.shared.buffer_samples)
            .finish()
    }
}

impl UtterancePool {
    /// A pool of `buffers` buffers of `buffer_samples` samples each, all allocated now
    /// (zeroed, so the kernel maps a page only when an utterance first reaches it). A pool
    /// of 0 buffers is valid: every utterance then has no audio.
    pub fn new(buffers: usize, buffer_samples: usize) -> Self {
        let free = ArrayQueue::new(buffers.max(1));
        for _ in 0..buffers {
            // Cannot fail: the queue holds `buffers` items and gets that many.
            let _ = free.push(vec![0i16; buffer_samples.max(1)].into_boxed_slice());
        }
        UtterancePool {
            shared: Arc::new(Shared {
                free,
                buffer_samples: buffer_samples.max(1),
                buffers,
            }),
        }
    }

    /// A pool of `buffers` buffers, each long enough for the longest utterance `config`
    /// allows (pre-roll and maximum length) at `sample_rate` Hz.
    pub fn for_endpointer(buffers: usize, config: &EndpointerConfig, sample_rate: u32) -> Self {
        Self::new(buffers, Self::samples_for(config, sample_rate))
    }

    /// Samples a buffer needs for the longest utterance `config` allows at `sample_rate`.
    pub fn samples_for(config: &EndpointerConfig, sample_rate: u32) -> usize {
        let longest = config.max_utterance.max(Duration::from_millis(FRAME_MS))
            + config.pre_roll
            + Duration::from_millis(FRAME_MS);
        (longest.as_millis() as u64 * u64::from(sample_rate) / 1000) as usize
    }

    /// Buffers the pool was built with.
    pub fn capacity(&self) -> usize {
        self.shared.buffers
    }

    /// Buffers not taken right now.
    pub fn available(&self) -> usize {
        self.shared.free.len()
    }

    /// Samples in each buffer.
    pub fn buffer_samples(&self) -> usize {
        self.shared.buffer_samples
    }

    /// A buffer, or `None` if all are taken. Lock-free, never allocates.
    pub fn take(&self) -> Option<PooledBuffer> {
        self.shared.free.pop().map(|samples| PooledBuffer {
            samples: Some(samples),
            shared: Arc::clone(&self.shared),
        })
    }

    /// Whether `self` and `other` share their buffers.
    pub fn same_pool(&self, other: &UtterancePool) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }
}

/// A buffer taken from an [`UtterancePool`]; dropping it gives it back.
pub struct PooledBuffer {
    samples: Option<Box<[i16]>>,
    shared: Arc<Shared>,
}

impl PooledBuffer {
    /// The buffer's samples (its whole length, whatever was written).
    pub fn as_slice(&self) -> &[i16] {
        self.samples.as_deref().unwrap_or(&[])
    }

    /// The buffer's samples, writable.
    pub fn as_mut_slice(&mut self) -> &mut [i16] {
        self.samples.as_deref_mut().unwrap_or(&mut [])
    }

    /// Its length in samples.
    pub fn len(&self) -> usize {
        self.as_slice().len()
    }

    /// Whether it holds no samples at all (never, for a buffer from a pool).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Drop for PooledBuffer {
    fn drop(&mut self) {
        if let Some(samples) = self.samples.take() {
            // The queue has room for every buffer of the pool, so this cannot fail.
            let _ = self.shared.free.push(samples);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_go_back_when_dropped_and_the_pool_runs_dry_in_between() {
        let pool = UtterancePool::new(2, 100);
        let a = pool.take().unwrap();
        let b = pool.clone().take().unwrap();
        assert_eq!((a.len(), b.len()), (100, 100));
        assert!(pool.take().is_none());
        assert_eq!(pool.available(), 0);
        drop(a);
        assert_eq!(pool.available(), 1);
        let moved = std::thread::spawn(move || drop(b));
        moved.join().unwrap();
        assert_eq!(pool.available(), 2);
    }

    #[test]
    fn an_empty_pool_has_nothing_to_give() {
        let pool = UtterancePool::new(0, 100);
        assert_eq!(pool.capacity(), 0);
        assert!(pool.take().is_none());
    }

    #[test]
    fn default_buffers_hold_the_longest_utterance() {
        let samples = UtterancePool::samples_for(&EndpointerConfig::default(), 8000);
        assert_eq!(samples, (30_000 + 300 + 20) * 8);
    }
}
