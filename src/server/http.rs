//! The HTTP endpoint on `metrics_port`: `/metrics` (Prometheus) and `/health`, served by hyper
//! on the same runtime as the clients, one task per listener and per connection. It runs from
//! before the snapshot is loaded until the process exits, so `/health` can say `loading` and
//! `shutting_down` (503) as well as `ok` (200). And `check_health`, the client side of
//! `tollgate --check-health`.

use crate::state::{Phase, State};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HOST};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// A client that has not sent its request headers by then is dropped: an open scrape port
/// must not collect idle connections.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves `listeners` until the runtime stops (the tasks are detached: the endpoint outlives
/// `server::run`, through the final snapshot).
pub fn spawn(listeners: Vec<TcpListener>, state: Arc<State>) {
    for listener in listeners {
        if let Ok(addr) = listener.local_addr() {
            tracing::info!(%addr, "metrics and health endpoint ready");
        }
        let state = state.clone();
        tokio::spawn(async move {
            loop {
                let (stream, _) = match listener.accept().await {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::warn!(error = %e, "metrics endpoint: accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let state = state.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let state = state.clone();
                        async move { Ok::<_, Infallible>(respond(&state, &req)) }
                    });
                    let served = hyper::server::conn::http1::Builder::new()
                        .timer(TokioTimer::new())
                        .header_read_timeout(HEADER_TIMEOUT)
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                    if let Err(e) = served {
                        tracing::debug!(error = %e, "metrics endpoint: connection ended");
                    }
                });
            }
        });
    }
}

fn respond(state: &Arc<State>, req: &Request<Incoming>) -> Response<Full<Bytes>> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return plain(StatusCode::METHOD_NOT_ALLOWED, "GET or HEAD\n");
    }
    match req.uri().path() {
        "/metrics" => match super::exposition::render(state) {
            Ok(text) => reply(StatusCode::OK, super::exposition::CONTENT_TYPE, text),
            Err(_) => plain(StatusCode::INTERNAL_SERVER_ERROR, "cannot encode\n"),
        },
        "/health" => health(state),
        _ => plain(StatusCode::NOT_FOUND, "/metrics or /health\n"),
    }
}

/// 200 `{"status":"ok",...}` while serving; 503 with `loading` or `shutting_down`.
fn health(state: &State) -> Response<Full<Bytes>> {
    let phase = state.phase();
    let code = match phase {
        Phase::Serving => StatusCode::OK,
        Phase::Loading | Phase::Stopping => StatusCode::SERVICE_UNAVAILABLE,
    };
    let body = serde_json::json!({
        "status": phase.as_str(),
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_seconds": state.uptime_secs(),
        "connected_clients": state.clients.len(),
    });
    reply(code, "application/json", format!("{body}\n"))
}

fn plain(code: StatusCode, text: &'static str) -> Response<Full<Bytes>> {
    reply(code, "text/plain; charset=utf-8", text.to_string())
}

fn reply(code: StatusCode, content_type: &'static str, body: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = code;
    r.headers_mut().insert(
        CONTENT_TYPE,
        hyper::header::HeaderValue::from_static(content_type),
    );
    r
}

/// `tollgate --check-health`: GET `/health` at `addr`; `Ok(())` on 200, else what went wrong.
/// Bounded by `limit` overall (a health check must not hang).
pub async fn check_health(addr: SocketAddr, limit: Duration) -> Result<(), String> {
    match tokio::time::timeout(limit, get_health(addr)).await {
        Ok(r) => r,
        Err(_) => Err(format!("no answer from {addr} within {limit:?}")),
    }
}

async fn get_health(addr: SocketAddr) -> Result<(), String> {
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    let req = Request::get("/health")
        .header(HOST, addr.to_string())
        .body(Empty::<Bytes>::new())
        .map_err(|e| e.to_string())?;
    let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
    let status = resp.status();
    let body = resp
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let body = String::from_utf8_lossy(&body);
    if status == StatusCode::OK {
        Ok(())
    } else {
        Err(format!("{status}: {}", body.trim()))
    }
}
