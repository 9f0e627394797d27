//! The `shophook` binary: parse the command line, set up logs, hand over to the library.

use clap::Parser;

/// mimalloc instead of the system allocator: per request and per delivery the
/// server makes many small, short-lived allocations across threads, where glibc's
/// malloc showed as about a tenth of the server's CPU in `perf` (BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<std::process::ExitCode> {
    let cli = shophook::cli::Cli::parse();
    shophook::cli::run(cli)
}
