//! The memory allocator, and what it reports for INFO memory.
//!
//! jemalloc, as Redis uses: size classes without per-block headers keep small keys compact,
//! and its background thread returns freed pages to the system (glibc's malloc kept the
//! pages of a million expired keys resident: 125 MB of RSS for `used_memory` near zero).
//! Set here, in the library, so that the tests measure the allocator the server runs with.

#[cfg(feature = "jemalloc")]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Bytes as the allocator counts them (Redis's `allocator_*` fields).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Requested by the program and not yet freed.
    pub allocated: u64,
    /// In pages the allocator uses for those blocks (allocated plus the gaps between them).
    pub active: u64,
    /// Resident pages the allocator holds, including freed ones not yet returned.
    pub resident: u64,
}

/// The allocator's name and version, as INFO's `mem_allocator` shows it.
pub fn name() -> &'static str {
    if cfg!(feature = "jemalloc") {
        "jemalloc-5.3.0"
    } else {
        "libc"
    }
}

/// The allocator's current counts; `None` when it cannot say (the system allocator).
pub fn usage() -> Option<Usage> {
    #[cfg(feature = "jemalloc")]
    {
        use tikv_jemalloc_ctl::{epoch, stats};
        // The statistics are a snapshot taken when the epoch advances.
        epoch::advance().ok()?;
        Some(Usage {
            allocated: stats::allocated::read().ok()? as u64,
            active: stats::active::read().ok()? as u64,
            resident: stats::resident::read().ok()? as u64,
        })
    }
    #[cfg(not(feature = "jemalloc"))]
    {
        None
    }
}
