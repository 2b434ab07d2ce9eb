//! One entry of the log of REST requests the simulator received, so daemon tests can assert
//! what the daemon asked Asterisk to do.

use std::collections::BTreeMap;

use serde::Serialize;

/// A REST request under `/ari`, as received, with the status it got.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RestRequest {
    /// `GET`, `POST`, `DELETE`…
    pub method: String,
    /// The path without the `/ari` prefix, e.g. `/channels/1795270178.0/answer`.
    pub path: String,
    /// Query parameters (decoded).
    pub query: BTreeMap<String, String>,
    /// The JSON body, if one was sent.
    pub body: Option<serde_json::Value>,
    /// The status code answered.
    pub status: u16,
}
