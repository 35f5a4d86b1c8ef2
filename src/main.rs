//! The `tollgate` binary: flags and config (or `--check-health` and out), logging, the HTTP
//! endpoint, the snapshot load, then `server::run` until a signal or SHUTDOWN, then the final
//! snapshot.

use clap::Parser;
use std::io::IsTerminal;
use std::sync::Arc;
use tollgate::config::{self, Cli, LogConfig, LogFormat};
use tollgate::server::snapshots;
use tollgate::state::State;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{fmt, reload, EnvFilter};

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let cfg = match config::load(&cli) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("tollgate: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    if cli.check_health {
        return check_health(&cfg);
    }
    init_logging(&cfg.log);
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        config = %cli
            .config
            .as_ref()
            .map_or("embedded defaults".to_string(), |p| p.display().to_string()),
        port = cfg.server.port,
        metrics_port = cfg.server.metrics_port,
        dir = %cfg.persist.dir,
        "tollgate starting"
    );
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
        // The HTTP port is bound like the Redis one (same addresses; a failure stops the
        // start) and served from now on: /health says `loading` while the snapshot and the
        // log are read.
        let mut http = Vec::new();
        if cfg.server.metrics_port != 0 {
            for ip in cfg.server.bind_addrs() {
                let addr = std::net::SocketAddr::new(ip, cfg.server.metrics_port);
                match tokio::net::TcpListener::bind(addr).await {
                    Ok(l) => http.push(l),
                    Err(e) => {
                        tracing::error!(%addr, error = %e, "cannot bind the metrics port");
                        return std::process::ExitCode::FAILURE;
                    }
                }
            }
        }
        let state = Arc::new(State::new(cfg, tollgate::commands::all_names()));
        tollgate::server::http::spawn(http, state.clone());
        // Before any client is served; a damaged snapshot stops the start, file untouched.
        if let Err(e) = snapshots::load_at_start(&state) {
            tracing::error!("{e}");
            eprintln!("tollgate: {e}");
            return std::process::ExitCode::FAILURE;
        }
        tollgate::server::run_many(listeners, state.clone(), shutdown_signal()).await;
        let saved = tokio::task::spawn_blocking(move || snapshots::save_at_exit(&state)).await;
        if !matches!(saved, Ok(Ok(()))) {
            tracing::error!("exiting without the final snapshot (see the error above)");
            return std::process::ExitCode::FAILURE;
        }
        tracing::info!("bye");
        std::process::ExitCode::SUCCESS
    })
}

/// Logs to stderr in the configured format, coloured only on a terminal (escape codes would
/// garble files and log collectors). `TOLLGATE_LOG`, a tracing filter, replaces `log.level`
/// at start-up; the filter is reloadable so that CONFIG SET loglevel takes effect.
fn init_logging(log: &LogConfig) {
    let filter = EnvFilter::try_from_env("TOLLGATE_LOG")
        .unwrap_or_else(|_| EnvFilter::new(log.level.as_str()));
    let (filter, handle) = reload::Layer::new(filter);
    let ansi = std::io::stderr().is_terminal();
    let json = log.format == LogFormat::Json;
    let text_layer = (!json).then(|| fmt::layer().with_writer(std::io::stderr).with_ansi(ansi));
    let json_layer = json.then(|| {
        fmt::layer()
            .json()
            .with_writer(std::io::stderr)
            .with_ansi(ansi)
    });
    let installed = tracing_subscriber::registry()
        .with(filter)
        .with(text_layer)
        .with(json_layer)
        .try_init();
    if let Err(e) = installed {
        eprintln!("tollgate: cannot set up logging: {e}");
        return;
    }
    config::log::on_level_change(log.level, move |level| {
        if let Err(e) = handle.reload(EnvFilter::new(level.as_str())) {
            tracing::warn!(error = %e, "cannot change the log level");
        }
    });
}

/// `--check-health`: GET /health on this machine at `metrics_port`, exit 0 on 200, else 1.
fn check_health(cfg: &config::Config) -> std::process::ExitCode {
    let Some(addr) = cfg.server.local_metrics_addr() else {
        eprintln!("tollgate: metrics_port is 0: no health endpoint to check");
        return std::process::ExitCode::FAILURE;
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("tollgate: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let limit = std::time::Duration::from_secs(3);
    match runtime.block_on(tollgate::server::http::check_health(addr, limit)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tollgate: unhealthy: {e}");
            std::process::ExitCode::FAILURE
        }
    }
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
