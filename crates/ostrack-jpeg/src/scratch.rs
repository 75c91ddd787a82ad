//! Byte buffers reused on each loader thread. Decoding and cropping a pair needs several
//! buffers of 50-200 KB; allocating and zeroing them for every sample cost a few percent of
//! the pipeline, so they come from (and go back to) a small per-thread pool instead.
//!
//! The pool lives here, in the lowest crate that uses it: the decoder takes its sample planes
//! and region buffers from pools, and `ostrack-data`'s crops (which depend on this crate, not
//! the other way round) use the same type for their own buffers.

use std::cell::RefCell;

/// Buffers kept per pool and thread.
const POOL_SIZE: usize = 8;

/// A per-thread set of spare byte buffers.
pub struct BufferPool {
    spare: RefCell<Vec<Vec<u8>>>,
}

impl Default for BufferPool {
    fn default() -> Self {
        Self::new()
    }
}

impl BufferPool {
    /// An empty pool (`const`, for `thread_local!` statics).
    pub const fn new() -> Self {
        Self {
            spare: RefCell::new(Vec::new()),
        }
    }

    /// A buffer of at least `len` bytes (callers use the first `len`), holding whatever an
    /// earlier user left there, or zeros.
    pub fn take(&self, len: usize) -> Vec<u8> {
        let mut spare = self.spare.borrow_mut();
        // The shortest buffer that is long enough, else the longest one (grown below).
        let fits = (0..spare.len())
            .filter(|&i| spare[i].len() >= len)
            .min_by_key(|&i| spare[i].len());
        let pick = fits.or_else(|| (0..spare.len()).max_by_key(|&i| spare[i].len()));
        let mut buf = pick.map(|i| spare.swap_remove(i)).unwrap_or_default();
        if buf.len() < len {
            buf.resize(len, 0);
        }
        buf
    }

    /// Returns a buffer for later [`BufferPool::take`]s on this thread.
    pub fn give(&self, buf: Vec<u8>) {
        let mut spare = self.spare.borrow_mut();
        if spare.len() < POOL_SIZE {
            spare.push(buf);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_are_reused_best_fit_and_grown() {
        let pool = BufferPool::new();
        let (mut a, b) = (pool.take(10), pool.take(100));
        assert!(a.len() >= 10 && b.len() >= 100);
        a[3] = 7;
        pool.give(a);
        pool.give(b);
        let again = pool.take(8);
        assert_eq!((again.len(), again[3]), (10, 7));
        assert_eq!(pool.take(300).len(), 300);
    }
}
