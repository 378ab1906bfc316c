//! What lenta asks of the allocator, and why.
//!
//! The README's memory bound is the caches' budgets plus a fixed allowance. Two behaviours of
//! mimalloc (the allocator of the `lenta` binary, see `src/main.rs`) broke it, both measured on
//! the 1M-article store under distinct cache-missing queries (issue 13):
//!
//! - **Transparent huge pages.** mimalloc asks for huge pages on its arenas (`MADV_HUGEPAGE`),
//!   and the kernel's khugepaged then refills the 64 KiB ranges mimalloc gives back into whole
//!   2 MiB pages: 751 MB of the 880 MB of anonymous memory were huge pages after the load, and
//!   freed memory never left the RSS. Built with mimalloc's `no_thp` feature (Cargo.toml) the
//!   process opts out of them (`PR_SET_THP_DISABLE`): 744 MB instead of 893 MB peak, the same
//!   throughput within noise. This is what Redis and most databases recommend for the same
//!   reason.
//! - **Memory freed by a thread that then goes quiet.** mimalloc keeps freed pages in the heap
//!   of the thread that used them until that thread allocates again. Opening sled frees about
//!   40 MB of snapshot it read (the thread that opened it then only waits for shutdown), and a
//!   render worker keeps the pages of its last burst. [`release_free_memory`] hands such pages
//!   back to the operating system; the server calls it after opening the store and when the
//!   render pool falls idle.

/// Returns the memory the calling thread freed, and mimalloc's delayed purges, to the OS now.
/// Costs up to about a millisecond: call it when a burst of work is over, not per request.
///
/// The profiling build (`--features system-allocator`) leaves glibc's malloc alone: it is not
/// the allocator lenta ships with, and trimming would change what a heap profiler sees.
pub fn release_free_memory() {
    // SAFETY: `mi_collect` takes no pointers and may be called from any thread at any time; it
    // only returns free pages of the calling thread's heap (and abandoned ones) to the OS.
    #[cfg(not(feature = "system-allocator"))]
    unsafe {
        libmimalloc_sys::mi_collect(true)
    }
}
