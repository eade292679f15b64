//! HTTP: the router built from the route table, the guard, hardening layers, serving.

pub mod agent_auth;
pub mod authn;
pub mod doc;
pub mod extract;
pub mod hardening;
pub mod ip_allow;
pub mod openapi;
pub mod route;
pub mod routes;
pub mod tls;
pub mod views;

use std::net::SocketAddr;

use axum::Router;
use axum::extract::Extension;

use crate::state::AppState;
use route::Route;

/// Builds the application router: every route of [`routes::all`] with its metadata and the
/// guard, then the global hardening layers.
///
/// # Panics
/// Never at run time; axum panics at build time on two routes with the same method and
/// path, which the route-table test catches.
pub fn router(state: AppState) -> Router {
    let mut app: Router<AppState> = Router::new();
    for Route { meta, handler, .. } in routes::all() {
        let handler = handler
            .layer::<_, std::convert::Infallible>(axum::middleware::from_fn_with_state(
                state.clone(),
                authn::guard,
            ))
            .layer::<_, std::convert::Infallible>(Extension(meta));
        app = app.route(meta.path, handler);
    }
    let app = app.fallback(|| async { crate::error::ApiError::NotFound });
    hardening::apply(app.with_state(state.clone()), &state)
}

/// Serves `router` on `listener` until ctrl-c / SIGTERM, with client addresses (`SIGHUP` is
/// logged and ignored: there is no certificate to reload).
///
/// # Errors
/// I/O errors of the listener.
pub async fn serve(listener: tokio::net::TcpListener, router: Router) -> std::io::Result<()> {
    tls::reload_on_sighup(None);
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await
}

/// Serves `router` over TLS on `listener` (see [`tls`]) until ctrl-c / SIGTERM, with client
/// addresses; the certificate is re-read on `SIGHUP`.
///
/// # Errors
/// [`tls::TlsError`] of the configuration, I/O errors of the listener.
pub async fn serve_tls(
    listener: tokio::net::TcpListener,
    store: std::sync::Arc<tls::CertStore>,
    router: Router,
) -> std::io::Result<()> {
    use axum::serve::ListenerExt as _;
    let config =
        tls::server_config(std::sync::Arc::clone(&store)).map_err(std::io::Error::other)?;
    tls::reload_on_sighup(Some(store));
    // `tap_io` gives the TLS listener axum's client-address plumbing (`ConnectInfo`)
    let listener = tls::TlsListener::new(listener, config)?.tap_io(|_| {});
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
