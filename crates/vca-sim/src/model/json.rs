//! The ARI JSON shapes, built from the recordings: Channel, Bridge, Playback, and the event
//! envelope (`type`, `timestamp`, `asterisk_id`, `application`).

use serde_json::{Map, Value, json};

use crate::model::{Bridge, Channel};
use crate::timefmt::ari_timestamp;

/// A Channel object.
pub(crate) fn channel(c: &Channel) -> Value {
    json!({
        "id": c.id,
        "name": c.name,
        "state": c.state,
        "protocol_id": "",
        "caller": { "name": c.caller.name, "number": c.caller.number },
        "connected": { "name": c.connected.name, "number": c.connected.number },
        "accountcode": "",
        "dialplan": {
            "context": c.dialplan.context,
            "exten": c.dialplan.exten,
            "priority": c.dialplan.priority,
            "app_name": c.dialplan.app_name,
            "app_data": c.dialplan.app_data,
        },
        "creationtime": c.creationtime,
        "language": "en",
    })
}

/// A Bridge object. Asterisk lists the members sorted by id (every recorded bridge with
/// two members lists them so, whatever the order they joined in).
pub(crate) fn bridge(b: &Bridge) -> Value {
    let mut channels: Vec<&String> = b.channels.iter().collect();
    channels.sort();
    json!({
        "id": b.id,
        "technology": b.technology,
        "bridge_type": b.bridge_type,
        "bridge_class": "stasis",
        "creator": "Stasis",
        "name": b.name,
        "channels": channels,
        "creationtime": b.creationtime,
        "video_mode": "talker",
    })
}

/// A Playback object.
pub(crate) fn playback(id: &str, media_uri: &str, channel_id: &str, state: &str) -> Value {
    json!({
        "id": id,
        "media_uri": media_uri,
        "target_uri": format!("channel:{channel_id}"),
        "language": "en",
        "state": state,
    })
}

/// An event: `fields` plus `type`, `timestamp`, `asterisk_id`, `application`.
pub(crate) fn event(kind: &str, fields: Value, asterisk_id: &str, app: &str) -> Value {
    let mut m = match fields {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    m.insert("type".into(), Value::from(kind));
    m.insert("timestamp".into(), Value::from(ari_timestamp()));
    m.insert("asterisk_id".into(), Value::from(asterisk_id));
    m.insert("application".into(), Value::from(app));
    Value::Object(m)
}

/// `ApplicationReplaced`, sent to the connection a newer one replaced (FINDINGS 48).
pub(crate) fn replaced_event(asterisk_id: &str, app: &str) -> Value {
    json!({
        "type": "ApplicationReplaced",
        "timestamp": ari_timestamp(),
        "application": app,
        "asterisk_id": asterisk_id,
    })
}
