//! ARI parameters: the query string, or the same names in a JSON body (both worked on
//! Asterisk 22). `+` in a query decodes to a space, as on Asterisk (FINDINGS 2).

use std::collections::BTreeMap;

use axum::extract::{FromRequest, Request};
use serde_json::Value;

/// Parameters of one request.
#[derive(Debug, Default)]
pub(crate) struct Params {
    pub(crate) query: BTreeMap<String, String>,
    pub(crate) body: Option<Value>,
}

impl Params {
    /// From the raw query string and body bytes.
    pub(crate) fn parse(query: Option<&str>, body: &[u8]) -> Self {
        let query = query
            .map(|q| {
                url::form_urlencoded::parse(q.as_bytes())
                    .into_owned()
                    .collect()
            })
            .unwrap_or_default();
        let body = if body.iter().all(u8::is_ascii_whitespace) {
            None
        } else {
            serde_json::from_slice(body).ok()
        };
        Params { query, body }
    }

    /// A parameter as text: query first, then the JSON body.
    pub(crate) fn get(&self, name: &str) -> Option<String> {
        if let Some(v) = self.query.get(name) {
            return Some(v.clone());
        }
        match self.body.as_ref()?.get(name)? {
            Value::String(s) => Some(s.clone()),
            Value::Null => None,
            other => Some(other.to_string()),
        }
    }

    /// `variables` of the JSON body (`{"variables": {"NAME": "value"}}`).
    pub(crate) fn variables(&self) -> BTreeMap<String, String> {
        let Some(Value::Object(vars)) = self.body.as_ref().and_then(|b| b.get("variables")) else {
            return BTreeMap::new();
        };
        vars.iter()
            .map(|(k, v)| {
                let v = match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                (k.clone(), v)
            })
            .collect()
    }
}

impl<S: Send + Sync> FromRequest<S> for Params {
    type Rejection = std::convert::Infallible;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let query = req.uri().query().map(str::to_owned);
        let bytes = axum::body::to_bytes(req.into_body(), 1 << 20)
            .await
            .unwrap_or_default();
        Ok(Params::parse(query.as_deref(), &bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_then_body_and_plus_is_space() {
        let p = Params::parse(
            Some("channel=a%2Cb&callerId=+1555"),
            br#"{"format":"ulaw","variables":{"X":"1","N":2}}"#,
        );
        assert_eq!(p.get("channel").as_deref(), Some("a,b"));
        assert_eq!(p.get("callerId").as_deref(), Some(" 1555"));
        assert_eq!(p.get("format").as_deref(), Some("ulaw"));
        assert_eq!(p.variables().get("N").map(String::as_str), Some("2"));
        assert_eq!(p.get("missing"), None);
    }
}
