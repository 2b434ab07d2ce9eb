//! The languages of an AI profile through the admin API, on the real PostgreSQL: tags
//! checked and written canonically, the other languages a caller may switch to, the
//! profile's own wording of the daemon's lines, and the default greeting in the profile's
//! language.

use axum::http::StatusCode;
use serde_json::json;

use crate::support::admin::{api, assert_error};

#[tokio::test]
async fn tags_are_checked_and_stored_canonically() {
    let api = api().await;
    let t = api.tenant("T").await;
    let base = format!("/api/tenants/{t}/ai-profiles");
    let r = api
        .call(
            "POST",
            &base,
            Some(
                json!({"name": "Hindi desk", "system_prompt": "p", "language": "hi-in",
                        "languages": ["en_in", "ta-IN"]}),
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.raw);
    assert_eq!(r.body["language"], "hi-IN");
    assert_eq!(r.body["languages"], json!(["en-IN", "ta-IN"]));
    assert_eq!(r.body["lines"], json!({}));
    let id = r.body["id"].as_str().unwrap();

    for (tag, wanted) in [
        ("en-IN", "en-IN"),
        ("bn-IN", "bn-IN"),
        ("od-IN", "od-IN"),
        ("EN-gb", "en-GB"),
        ("en-US", "en-US"),
        ("mr-IN", "mr-IN"),
    ] {
        let r = api
            .call(
                "PATCH",
                &format!("{base}/{id}"),
                Some(json!({"language": tag})),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{tag}: {}", r.raw);
        assert_eq!(r.body["language"], wanted);
    }

    for (body, says) in [
        (json!({"language": "fr-FR"}), "not supported"),
        (json!({"language": "e"}), "not a language tag"),
        (json!({"language": "hindi"}), "not a language tag"),
        (json!({"languages": ["hi-IN", "klingon"]}), "languages"),
        (json!({"languages": ["hi", "hi-IN"]}), "twice"),
        (json!({"languages": "hi-IN"}), ""),
        (json!({"languages": vec!["hi"; 13]}), "at most"),
    ] {
        let r = api
            .call("PATCH", &format!("{base}/{id}"), Some(body.clone()))
            .await;
        assert_error(&r, StatusCode::BAD_REQUEST, "bad_request");
        assert!(
            r.body["error"]["message"].as_str().unwrap().contains(says),
            "{body}: {}",
            r.raw
        );
    }
}

#[tokio::test]
async fn a_profile_without_a_greeting_greets_in_its_language() {
    let api = api().await;
    let t = api.tenant("T").await;
    let base = format!("/api/tenants/{t}/ai-profiles");
    let hi = api
        .call(
            "POST",
            &base,
            Some(json!({"name": "h", "system_prompt": "p", "language": "hi-IN"})),
        )
        .await;
    assert_eq!(hi.status, StatusCode::CREATED, "{}", hi.raw);
    assert_eq!(hi.body["greeting"], "नमस्ते! बताइए, आज मैं आपकी क्या मदद करूँ?");
    let en = api
        .call(
            "POST",
            &base,
            Some(json!({"name": "e", "system_prompt": "p"})),
        )
        .await;
    assert_eq!(en.body["greeting"], "Hello! How can I help you today?");
    let silent = api
        .call(
            "POST",
            &base,
            Some(json!({"name": "s", "system_prompt": "p", "greeting": ""})),
        )
        .await;
    assert_eq!(silent.body["greeting"], "", "an empty greeting stays empty");
}

#[tokio::test]
async fn lines_are_checked_and_replaced_whole() {
    let api = api().await;
    let t = api.tenant("T").await;
    let base = format!("/api/tenants/{t}/ai-profiles");
    let lines = json!({
        "goodbye": {"hi-IN": "फिर मिलेंगे!", "en": "See you soon!"},
        "stt_retry": "माफ़ कीजिए, फिर से बोलिए?",
    });
    let r = api
        .call(
            "POST",
            &base,
            Some(json!({"name": "h", "system_prompt": "p", "language": "hi-IN", "lines": lines})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.raw);
    assert_eq!(r.body["lines"], lines);
    let id = r.body["id"].as_str().unwrap();
    let got = api.call("GET", &format!("{base}/{id}"), None).await;
    assert_eq!(got.body["lines"], lines, "stored in the original script");

    let r = api
        .call(
            "PATCH",
            &format!("{base}/{id}"),
            Some(json!({"lines": {"tool_filler": "एक सेकंड।"}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.raw);
    assert_eq!(r.body["lines"], json!({"tool_filler": "एक सेकंड।"}));

    for (bad, says) in [
        (json!({"farewell": "x"}), "not a line"),
        (json!({"greeting": "Hi"}), "greeting"),
        (json!({"goodbye": {"fr": "Au revoir"}}), "not supported"),
        (json!({"goodbye": " "}), "1 to 500"),
        (json!({"goodbye": "x".repeat(501)}), "1 to 500"),
        (json!({"goodbye": {"hi": "a", "hi-IN": "b"}}), "twice"),
        (json!({"goodbye": 7}), ""),
        (json!(["goodbye"]), ""),
    ] {
        let r = api
            .call(
                "PATCH",
                &format!("{base}/{id}"),
                Some(json!({"lines": bad})),
            )
            .await;
        assert_error(&r, StatusCode::BAD_REQUEST, "bad_request");
        assert!(
            r.body["error"]["message"].as_str().unwrap().contains(says),
            "{bad}: {}",
            r.raw
        );
    }
    let r = api.call("GET", &format!("{base}/{id}"), None).await;
    assert_eq!(
        r.body["lines"],
        json!({"tool_filler": "एक सेकंड।"}),
        "nothing lost"
    );
}

#[tokio::test]
async fn another_tenant_cannot_see_or_change_a_profile_s_languages() {
    let api = api().await;
    let a = api.tenant("A").await;
    let b = api.tenant("B").await;
    let r = api
        .call(
            "POST",
            &format!("/api/tenants/{a}/ai-profiles"),
            Some(json!({"name": "h", "system_prompt": "p", "language": "hi-IN"})),
        )
        .await;
    let id = r.body["id"].as_str().unwrap();
    let r = api
        .call(
            "PATCH",
            &format!("/api/tenants/{b}/ai-profiles/{id}"),
            Some(json!({"languages": ["en-IN"]})),
        )
        .await;
    assert_error(&r, StatusCode::NOT_FOUND, "not_found");
}
