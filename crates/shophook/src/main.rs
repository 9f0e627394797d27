//! The `shophook` binary: parse the command line, set up logs, hand over to the library.

use clap::Parser;

fn main() -> anyhow::Result<std::process::ExitCode> {
    let cli = shophook::config::Cli::parse();
    shophook::cli::run(cli)
}
