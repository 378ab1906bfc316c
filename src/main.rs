//! The `lenta` binary: see [`lenta::cli`].

/// mimalloc instead of the system allocator: a feed server allocates and frees many small
/// buffers per request and per article (JSON, HTML sanitizing, XML), and glibc's malloc showed
/// up at ~15% of the write path's profile.
#[cfg(not(feature = "system-allocator"))]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    match lenta::cli::run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lenta: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
