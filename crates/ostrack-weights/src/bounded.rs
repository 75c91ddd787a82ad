//! Buffers for sizes that come from files: reserved fallibly, so that a size the machine
//! cannot hold is an error for the caller to report, not an abort.

/// An empty buffer with room for `len` bytes, or `None` when memory cannot hold them.
pub(crate) fn try_buffer(len: u64) -> Option<Vec<u8>> {
    let mut buffer = Vec::new();
    buffer.try_reserve_exact(usize::try_from(len).ok()?).ok()?;
    Some(buffer)
}
