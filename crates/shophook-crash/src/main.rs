//! `shophook-crash`: the crash-safety harness. Runs `shophook serve` under load,
//! SIGKILLs it at random moments, restarts it on the same database, and checks
//! that every event the API accepted reached the receiver (at least once) and
//! that nothing reached it that was never accepted. See `run` for the steps and
//! `ledger` for the verdict.

mod args;
mod backend;
mod drain;
mod ledger;
mod load;
mod node;
mod receiver;
mod report;
mod run;

use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    let args = args::Args::parse();
    if let Err(e) = args.validate() {
        eprintln!("shophook-crash: {e}");
        return ExitCode::from(2);
    }
    let title = report::title(&args);
    eprintln!("{title}");
    match run::run(args).await {
        Ok(outcome) => {
            print!("{}", report::render(&title, &outcome));
            if outcome.passed() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("shophook-crash: {e:#}");
            ExitCode::from(2)
        }
    }
}
