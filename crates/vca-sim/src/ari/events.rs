//! The ARI events WebSocket `/ari/events?app=NAME&api_key=user:pass`: 400 HTML page
//! without `app`, 404 while refused, otherwise the app's event stream. Events arrive from
//! the model through an unbounded queue; a drop ("kill") sends what was already queued and
//! then closes the TCP connection without a close frame, as Asterisk does on restart.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_util::sync::CancellationToken;

use crate::ari::html_error;
use crate::ari::params::Params;
use crate::core::Shared;

pub(crate) async fn upgrade(State(shared): State<Arc<Shared>>, mut req: Request) -> Response {
    let params = Params::parse(req.uri().query(), &[]);
    if params.get("app").is_none_or(|a| a.is_empty()) {
        return html_error(
            StatusCode::BAD_REQUEST,
            "Bad Request",
            "HTTP request is missing param: [app]",
        );
    }
    if !shared.ws_accepted() {
        return html_error(
            StatusCode::NOT_FOUND,
            "Not Found",
            "The requested URL was not found on this server.",
        );
    }
    let key = req
        .headers()
        .get(header::SEC_WEBSOCKET_KEY)
        .map(|k| derive_accept_key(k.as_bytes()));
    let on_upgrade = req.extensions_mut().remove::<hyper::upgrade::OnUpgrade>();
    let (Some(accept), Some(on_upgrade)) = (key, on_upgrade) else {
        return html_error(
            StatusCode::BAD_REQUEST,
            "Bad Request",
            "This is a WebSocket endpoint.",
        );
    };
    let apps = params.get("app").unwrap_or_default();
    let ours = apps.split(',').any(|a| a == shared.config.app);
    tokio::spawn(async move {
        let Ok(upgraded) = on_upgrade.await else {
            return;
        };
        let io = hyper_util::rt::TokioIo::new(upgraded);
        let ws = WebSocketStream::from_raw_socket(io, Role::Server, None).await;
        let (tx, rx) = mpsc::unbounded_channel();
        // Another app's connection gets no events but stays open.
        let mut idle_sender = None;
        let (id, kill) = if ours {
            let (id, kill) = shared.state().attach_ws(tx);
            (Some(id), kill)
        } else {
            idle_sender = Some(tx);
            (None, CancellationToken::new())
        };
        serve_events(ws, rx, kill).await;
        drop(idle_sender);
        if let Some(id) = id {
            shared.state().detach_ws(id);
        }
    });
    let mut resp = StatusCode::SWITCHING_PROTOCOLS.into_response();
    let h = resp.headers_mut();
    h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    if let Ok(v) = HeaderValue::from_str(&accept) {
        h.insert(header::SEC_WEBSOCKET_ACCEPT, v);
    }
    resp
}

async fn serve_events<S>(
    ws: WebSocketStream<S>,
    mut events: mpsc::UnboundedReceiver<String>,
    kill: CancellationToken,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let (mut sink, mut stream) = ws.split();
    loop {
        tokio::select! {
            biased;
            () = kill.cancelled() => {
                while let Ok(text) = events.try_recv() {
                    if sink.feed(Message::Text(text.into())).await.is_err() {
                        break;
                    }
                }
                let _ = sink.flush().await;
                // Dropped here without a close frame.
                return;
            }
            ev = events.recv() => match ev {
                Some(text) => {
                    if sink.send(Message::Text(text.into())).await.is_err() {
                        return;
                    }
                }
                None => return,
            },
            msg = stream.next() => match msg {
                Some(Ok(Message::Ping(p))) => {
                    if sink.send(Message::Pong(p)).await.is_err() {
                        return;
                    }
                }
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => {
                    let _ = sink.close().await;
                    return;
                }
                Some(Ok(_)) => {}
            },
        }
    }
}
