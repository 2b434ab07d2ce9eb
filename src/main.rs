//! The `vca-bridge` binary: parses the command line, loads settings (exit status 2 on
//! a bad setting, with one line naming it) and runs the chosen command.

use std::process::ExitCode;

use clap::Parser;

use vca_bridge::check_config;
use vca_bridge::cli::{Cli, Command};
use vca_bridge::config::{Layers, Needs, Settings};
use vca_bridge::daemon::{Daemon, stop_requests};
use vca_bridge::logging;
use vca_bridge::store::Store;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let needs = match cli.command {
        Command::Migrate => Needs::Database,
        Command::Run | Command::CheckConfig => Needs::Everything,
    };
    let loaded = Layers::from_process(cli.config.as_deref(), cli.flags.into_map())
        .and_then(|layers| Settings::load(&layers, needs));
    let (settings, shown) = match loaded {
        Ok(found) => found,
        Err(e) => {
            eprintln!("vca-bridge: {e}");
            return ExitCode::from(2);
        }
    };
    logging::init(&settings);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("vca-bridge: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        match cli.command {
            Command::Run => match run(&settings).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    tracing::error!(error = %format!("{e:#}"), "vca-bridge stopped with an error");
                    eprintln!("vca-bridge: {e:#}");
                    ExitCode::FAILURE
                }
            },
            Command::Migrate => {
                let result = async {
                    let store = Store::connect(&settings.database_url).await?;
                    store.migrate().await
                }
                .await;
                match result {
                    Ok(()) => {
                        println!("migrations applied");
                        ExitCode::SUCCESS
                    }
                    Err(e) => {
                        eprintln!("vca-bridge: migrate: {e}");
                        ExitCode::FAILURE
                    }
                }
            }
            Command::CheckConfig => {
                let checks = check_config::run_checks(&settings).await;
                print!("{}", check_config::render(&shown, &checks));
                if checks.iter().all(|c| c.ok) {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::FAILURE
                }
            }
        }
    })
}

async fn run(settings: &vca_bridge::config::Settings) -> anyhow::Result<()> {
    let daemon = Daemon::start(settings).await?;
    daemon.serve(stop_requests()).await?;
    Ok(())
}
