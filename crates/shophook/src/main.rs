//! The `shophook` binary: parse the command line, set up logs, hand over to the library.

use clap::Parser;

/// mimalloc instead of the system allocator: per request and per delivery the
/// server makes many small, short-lived allocations across threads, where glibc's
/// malloc showed as about a tenth of the server's CPU in `perf` (BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// An error ends the process with one line naming it and its causes (`error:
/// cannot listen on 127.0.0.1:8080 (…): Address in use`), never a backtrace.
fn main() -> std::process::ExitCode {
    let cli = shophook::cli::Cli::parse();
    match shophook::cli::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
