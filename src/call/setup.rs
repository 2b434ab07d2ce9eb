//! Bringing a call's Asterisk side up and down: answer, mixing bridge, External Media
//! channel on a port from the pool, both channels in the bridge, media task started —
//! and the reverse, which never leaves a channel, bridge or port behind.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use crate::ari::{AriError, ExternalMediaRequest, HangupReason};
use crate::call::context::CallContext;
use crate::media::config::MediaConfig;
use crate::media_driver::{MediaError, MediaHandle};

/// What is up on Asterisk's side for a call, so it can all be taken down.
#[derive(Debug, Default)]
pub struct CallResources {
    /// The mixing bridge holding the caller and the External Media channel.
    pub bridge_id: Option<String>,
    /// Our External Media channel.
    pub media_channel_id: Option<String>,
    /// The media task; dropping/stopping it frees the port.
    pub media: Option<MediaHandle>,
}

/// The step of the bring-up that failed, and why.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SetupError {
    /// Answering the caller's channel.
    #[error("answer: {0}")]
    Answer(#[source] AriError),
    /// Creating our mixing bridge.
    #[error("bridge: {0}")]
    Bridge(#[source] AriError),
    /// The call has no bridge to put its media in.
    #[error("bridge: no bridge")]
    NoBridge,
    /// Creating the External Media channel.
    #[error("external_media: {0}")]
    ExternalMedia(#[source] AriError),
    /// Adding the channels to the bridge.
    #[error("add_channels: {0}")]
    AddChannels(#[source] AriError),
    /// Starting the media task.
    #[error("media: {0}")]
    Media(#[source] MediaError),
}

impl SetupError {
    /// The step's name, as written into the end reason (`setup_failed: <step>: …`).
    pub fn step(&self) -> &'static str {
        match self {
            SetupError::Answer(_) => "answer",
            SetupError::Bridge(_) | SetupError::NoBridge => "bridge",
            SetupError::ExternalMedia(_) => "external_media",
            SetupError::AddChannels(_) => "add_channels",
            SetupError::Media(_) => "media",
        }
    }
}

/// Creates our mixing bridge for a call.
pub async fn create_bridge(
    ctx: &CallContext,
    bridge_id: &str,
    res: &mut CallResources,
) -> Result<(), SetupError> {
    let bridge = ctx
        .ari
        .create_bridge(bridge_id, Some(bridge_id))
        .await
        .map_err(SetupError::Bridge)?;
    res.bridge_id = Some(bridge.id);
    Ok(())
}

/// Creates the External Media channel `media_channel_id` towards a media thread's port,
/// puts it (and `also_add`, the caller, when given) into the bridge, and attaches the
/// call's media to that thread.
pub async fn attach_media(
    ctx: &CallContext,
    media_channel_id: &str,
    also_add: Option<&str>,
    media_config: MediaConfig,
    res: &mut CallResources,
) -> Result<(SocketAddr, u16), SetupError> {
    let bridge_id = res.bridge_id.clone().ok_or(SetupError::NoBridge)?;
    let slot = ctx.media.slot();
    let port = slot.local_addr().port();
    let external_host = SocketAddr::new(ctx.settings.rtp_advertise, port);
    let request = ExternalMediaRequest {
        app: ctx.settings.app.clone(),
        external_host,
        format: ctx.settings.law.asterisk_format().to_string(),
        channel_id: Some(media_channel_id.to_string()),
        variables: BTreeMap::new(),
    };
    let created = ctx
        .ari
        .create_external_media(&request)
        .await
        .map_err(SetupError::ExternalMedia);
    let media = match created {
        Ok(m) => m,
        Err(e) => {
            // Asterisk may have made the channel before failing (a timeout, say): remove it.
            delete_channel(ctx, media_channel_id, HangupReason::Normal).await;
            return Err(e);
        }
    };
    res.media_channel_id = Some(media.channel.id.clone());
    let mut members: Vec<&str> = Vec::with_capacity(2);
    if let Some(caller) = also_add {
        members.push(caller);
    }
    members.push(&media.channel.id);
    ctx.ari
        .add_channels_to_bridge(&bridge_id, &members)
        .await
        .map_err(SetupError::AddChannels)?;
    let handle = ctx
        .media
        .attach(&slot, media.rtp_address, media_config)
        .await
        .map_err(SetupError::Media)?;
    res.media = Some(handle);
    Ok((media.rtp_address, port))
}

/// Deletes a channel; a channel already gone is fine.
pub async fn delete_channel(ctx: &CallContext, id: &str, reason: HangupReason) {
    match ctx.ari.hangup(id, reason).await {
        Ok(()) => {}
        Err(e) if e.is_not_found() => {}
        Err(e) => tracing::warn!(channel = id, error = %e, "could not hang up channel"),
    }
}

/// Destroys a bridge; a bridge already gone is fine.
pub async fn destroy_bridge(ctx: &CallContext, id: &str) {
    match ctx.ari.destroy_bridge(id).await {
        Ok(()) => {}
        Err(e) if e.is_not_found() => {}
        Err(e) => tracing::warn!(bridge = id, error = %e, "could not destroy bridge"),
    }
}

/// Takes everything down: the media task (its port returns to the pool), the External
/// Media channel, then the bridge — the order Asterisk itself was seen to need.
pub async fn release(ctx: &CallContext, res: &mut CallResources) {
    if let Some(media) = res.media.take()
        && let Err(e) = media.stop().await
    {
        tracing::debug!(error = %e, "media task had already stopped");
    }
    if let Some(id) = res.media_channel_id.take() {
        delete_channel(ctx, &id, HangupReason::Normal).await;
    }
    if let Some(id) = res.bridge_id.take() {
        destroy_bridge(ctx, &id).await;
    }
}
