//! The `tollgate` binary: flags and config, logging, then `server::run` until a signal.

use clap::Parser;
use std::sync::Arc;
use tollgate::config::{self, Cli};
use tollgate::state::State;

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let cfg = match config::load(&cli) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("tollgate: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("TOLLGATE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(cfg.log.level.as_str()));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    if cfg.log.format.as_str() == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cfg.server.effective_threads())
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("tollgate: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let mut listeners = Vec::new();
        for ip in cfg.server.bind_addrs() {
            let addr = std::net::SocketAddr::new(ip, cfg.server.port);
            match tokio::net::TcpListener::bind(addr).await {
                Ok(l) => listeners.push(l),
                Err(e) => {
                    tracing::error!(%addr, error = %e, "cannot bind");
                    return std::process::ExitCode::FAILURE;
                }
            }
        }
        if listeners.is_empty() {
            tracing::error!(bind = %cfg.server.bind, "no address to listen on");
            return std::process::ExitCode::FAILURE;
        }
        let state = Arc::new(State::new(cfg, tollgate::commands::all_names()));
        tollgate::server::run_many(listeners, state, shutdown_signal()).await;
        tracing::info!("bye");
        std::process::ExitCode::SUCCESS
    })
}

/// Completes on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => return ctrl_c.await.unwrap_or(()),
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
