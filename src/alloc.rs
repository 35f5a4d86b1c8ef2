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

/// The bytes an allocation of `n` takes: jemalloc's size class for it (16-byte steps up to
/// 128, then four classes per doubling: 160, 192, 224, 256, 320, ..., 8192, 10240, ...).
/// Memory accounting (`used_memory`, eviction) must count what a value really holds: an
/// 8,200-byte value occupies a 10,240-byte block, and counting 8,208 let RSS pass
/// `maxmemory` by a quarter under a cache of 8 KB entries.
pub fn block_size(n: usize) -> usize {
    match n {
        0 => 0,
        1..=8 => 8,
        9..=128 => n.next_multiple_of(16),
        _ => {
            // The group (2^(k-1), 2^k] holding n is split in four classes.
            let k = usize::BITS - (n - 1).leading_zeros();
            let spacing = 1usize << (k - 3);
            n.next_multiple_of(spacing)
        }
    }
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

#[cfg(test)]
mod tests {
    use super::block_size;

    #[test]
    fn blocks_follow_jemallocs_size_classes() {
        let cases = [
            (1, 8),
            (8, 8),
            (9, 16),
            (17, 32),
            (128, 128),
            (129, 160),
            (160, 160),
            (161, 192),
            (257, 320),
            (4096, 4096),
            (4097, 5120),
            (8208, 10240),
            (16385, 20480),
            (1 << 20, 1 << 20),
            ((1 << 20) + 1, (1 << 20) + (1 << 18)),
        ];
        for (n, want) in cases {
            assert_eq!(block_size(n), want, "{n}");
        }
    }
}
