//! The `lenta` binary: see [`lenta::cli`].

fn main() -> std::process::ExitCode {
    match lenta::cli::run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lenta: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
