//! The chat engines against a fake OpenAI-compatible server: streaming, usage, history,
//! retries, timeouts, cut streams, bad JSON, cancellation and the circuit breaker.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::Value;
use vca_bridge::config::Secret;
use vca_bridge::engines::EngineError;
use vca_bridge::engines::llm::echo::EchoChat;
use vca_bridge::engines::llm::openai::{OpenAiChat, OpenAiChatConfig};
use vca_bridge::engines::llm::{
    ChatCompletion, ChatMessage, ChatRequest, LlmEvent, LlmStream, ToolCall, ToolSpec,
};
use vca_bridge::engines::resilience::{BreakerPolicy, Guard, ManualClock, RetryPolicy, Timeouts};
use vca_sim::engines::http::{FakeHttp, Reply, Route};

fn timeouts() -> Timeouts {
    Timeouts {
        connect: Duration::from_secs(2),
        first_byte: Duration::from_millis(400),
        idle: Duration::from_millis(400),
        total: Duration::from_secs(5),
    }
}

fn retry() -> RetryPolicy {
    RetryPolicy {
        max_retries: 2,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
        retry_after_cap: Duration::from_secs(1),
        budget: Duration::from_secs(10),
    }
}

fn provider(fake: &FakeHttp, clock: &ManualClock, retry: RetryPolicy) -> OpenAiChat {
    let guard = Guard::new(
        "openai_llm",
        timeouts(),
        retry,
        BreakerPolicy {
            failure_threshold: 3,
            cooldown: Duration::from_secs(30),
        },
        Arc::new(clock.clone()),
    );
    let config = OpenAiChatConfig {
        base_url: fake.base_url(),
        api_key: Some(Secret::new(fake.api_key())),
        api_key_header: None,
        model: "gpt-test".into(),
        max_tokens: 150,
        temperature: 0.5,
        max_history: 2,
    };
    OpenAiChat::new(config, guard).unwrap()
}

fn request() -> ChatRequest {
    ChatRequest {
        system: "You are a helpful receptionist.".into(),
        history: vec![
            ChatMessage::user("first"),
            ChatMessage::assistant("reply one"),
            ChatMessage::user("second"),
            ChatMessage::assistant("reply two"),
            ChatMessage::user("Can I book a table?"),
        ],
        ..ChatRequest::default()
    }
}

/// Collects a stream: the text, the final event, or the first error.
async fn collect(mut stream: LlmStream) -> (String, Result<LlmEvent, EngineError>) {
    let mut text = String::new();
    while let Some(item) = stream.next().await {
        match item {
            Ok(LlmEvent::Delta(d)) => text.push_str(&d),
            Ok(done @ LlmEvent::Done { .. }) => {
                assert!(stream.next().await.is_none(), "nothing after Done");
                return (text, Ok(done));
            }
            Ok(LlmEvent::ToolCalls(calls)) => panic!("unexpected tool calls {calls:?}"),
            Err(e) => return (text, Err(e)),
        }
    }
    panic!("stream ended without Done or an error");
}

#[tokio::test]
async fn streams_the_reply_with_provider_usage_and_bounded_history() {
    let fake = FakeHttp::start().await.unwrap();
    let llm = provider(&fake, &ManualClock::new(), retry());
    let stream = llm.stream_chat(request()).await.unwrap();
    let (text, done) = collect(stream).await;
    assert_eq!(text, "Hello there. How can I help you today?");
    let LlmEvent::Done {
        usage,
        finish_reason,
    } = done.unwrap()
    else {
        unreachable!()
    };
    assert_eq!(finish_reason.as_deref(), Some("stop"));
    assert_eq!(usage.prompt_tokens, 42);
    assert_eq!(usage.completion_tokens, 8);
    assert!(!usage.estimated);

    let sent: Value = serde_json::from_slice(&fake.received()[0].body).unwrap();
    assert_eq!(sent["model"], "gpt-test");
    assert_eq!(sent["stream"], true);
    assert_eq!(sent["stream_options"]["include_usage"], true);
    assert_eq!(sent["max_tokens"], 150);
    assert_eq!(sent["temperature"], 0.5);
    let messages = sent["messages"].as_array().unwrap();
    let roles: Vec<&str> = messages
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(
        roles,
        ["system", "assistant", "user"],
        "system + the newest two"
    );
    assert_eq!(messages[2]["content"], "Can I book a table?");
}

#[tokio::test]
async fn per_call_overrides_and_estimated_usage_without_a_usage_chunk() {
    let fake = FakeHttp::start().await.unwrap();
    fake.set(|b| b.omit_usage = true);
    let llm = provider(&fake, &ManualClock::new(), retry());
    let mut req = request();
    req.model = Some("tenant-model".into());
    req.max_tokens = Some(20);
    let (_, done) = collect(llm.stream_chat(req).await.unwrap()).await;
    let LlmEvent::Done { usage, .. } = done.unwrap() else {
        unreachable!()
    };
    assert!(usage.estimated);
    assert!(usage.completion_tokens > 0 && usage.prompt_tokens > 0);
    let sent: Value = serde_json::from_slice(&fake.received()[0].body).unwrap();
    assert_eq!(sent["model"], "tenant-model");
    assert_eq!(sent["max_tokens"], 20);
}

#[tokio::test]
async fn retries_500_and_429_then_succeeds() {
    let fake = FakeHttp::start().await.unwrap();
    fake.script(
        Route::Chat,
        [
            Reply::Status {
                status: 500,
                retry_after: None,
            },
            Reply::Status {
                status: 429,
                retry_after: Some("0".into()),
            },
        ],
    );
    let llm = provider(&fake, &ManualClock::new(), retry());
    let (text, done) = collect(llm.stream_chat(request()).await.unwrap()).await;
    assert!(done.is_ok());
    assert!(!text.is_empty());
    assert_eq!(fake.count(Route::Chat), 3);
}

#[tokio::test]
async fn does_not_retry_400_or_a_wrong_key() {
    let fake = FakeHttp::start().await.unwrap();
    fake.script(
        Route::Chat,
        [Reply::Status {
            status: 400,
            retry_after: None,
        }],
    );
    let llm = provider(&fake, &ManualClock::new(), retry());
    let err = llm.stream_chat(request()).await.err().unwrap();
    assert!(
        matches!(err, EngineError::Http { status: 400, .. }),
        "{err}"
    );
    assert_eq!(fake.count(Route::Chat), 1);

    let guard = Guard::new(
        "openai_llm",
        timeouts(),
        retry(),
        BreakerPolicy::default(),
        Arc::new(ManualClock::new()),
    );
    let config = OpenAiChatConfig {
        base_url: fake.base_url(),
        api_key: Some(Secret::new("wrong-key")),
        api_key_header: None,
        model: "m".into(),
        max_tokens: 10,
        temperature: 0.0,
        max_history: 10,
    };
    let bad = OpenAiChat::new(config, guard).unwrap();
    let err = bad.stream_chat(request()).await.err().unwrap();
    assert!(
        matches!(err, EngineError::Auth { status: 401, .. }),
        "{err}"
    );
    assert!(
        !format!("{err} {err:?} {bad:?}").contains("wrong-key"),
        "key leaked"
    );
    assert_eq!(fake.count(Route::Chat), 2);
}

#[tokio::test]
async fn gives_up_after_the_bounded_retries() {
    let fake = FakeHttp::start().await.unwrap();
    fake.script(
        Route::Chat,
        (0..5).map(|_| Reply::Status {
            status: 503,
            retry_after: None,
        }),
    );
    let llm = provider(&fake, &ManualClock::new(), retry());
    let err = llm.stream_chat(request()).await.err().unwrap();
    assert_eq!(err.kind(), "http_5xx");
    assert_eq!(fake.count(Route::Chat), 3, "one attempt and two retries");
}

#[tokio::test]
async fn a_slow_first_token_times_out() {
    let fake = FakeHttp::start().await.unwrap();
    fake.script(Route::Chat, [Reply::SlowStart(Duration::from_secs(30))]);
    let llm = provider(&fake, &ManualClock::new(), retry());
    let err = llm.stream_chat(request()).await.err().unwrap();
    assert!(matches!(err, EngineError::Timeout { .. }), "{err}");
    assert_eq!(fake.count(Route::Chat), 1, "timeouts are not retried");
}

#[tokio::test]
async fn a_stream_hanging_mid_reply_ends_with_a_timeout() {
    let fake = FakeHttp::start().await.unwrap();
    fake.script(Route::Chat, [Reply::HangAfter(12)]);
    let llm = provider(&fake, &ManualClock::new(), retry());
    let (text, end) = collect(llm.stream_chat(request()).await.unwrap()).await;
    assert!(!text.is_empty());
    assert!(matches!(end, Err(EngineError::Timeout { .. })), "{end:?}");
}

#[tokio::test]
async fn a_stream_cut_mid_sentence_is_a_protocol_error() {
    let fake = FakeHttp::start().await.unwrap();
    fake.script(Route::Chat, [Reply::CutAfter(12)]);
    let llm = provider(&fake, &ManualClock::new(), retry());
    let (text, end) = collect(llm.stream_chat(request()).await.unwrap()).await;
    assert!(!text.is_empty() && text != "Hello there. How can I help you today?");
    assert!(matches!(end, Err(EngineError::Protocol { .. })), "{end:?}");
}

#[tokio::test]
async fn bad_json_is_a_protocol_error_not_a_panic() {
    let fake = FakeHttp::start().await.unwrap();
    fake.script(Route::Chat, [Reply::BadJson]);
    let llm = provider(&fake, &ManualClock::new(), retry());
    let err = llm.stream_chat(request()).await.err().unwrap();
    assert!(matches!(err, EngineError::Protocol { .. }), "{err}");
    assert_eq!(fake.count(Route::Chat), 1);
}

#[tokio::test]
async fn dropping_the_stream_closes_the_connection() {
    let fake = FakeHttp::start().await.unwrap();
    fake.script(Route::Chat, [Reply::Trickle(Duration::from_millis(30))]);
    let llm = provider(&fake, &ManualClock::new(), retry());
    let mut stream = llm.stream_chat(request()).await.unwrap();
    assert!(matches!(stream.next().await, Some(Ok(LlmEvent::Delta(_)))));
    drop(stream);
    assert!(
        fake.wait_dropped_early(1).await,
        "the server saw the client go away"
    );
    assert_eq!(fake.completed(), 0);
}

#[tokio::test]
async fn the_circuit_opens_fails_fast_half_opens_and_closes() {
    let fake = FakeHttp::start().await.unwrap();
    fake.script(
        Route::Chat,
        (0..3).map(|_| Reply::Status {
            status: 500,
            retry_after: None,
        }),
    );
    let clock = ManualClock::new();
    let no_retry = RetryPolicy {
        max_retries: 0,
        ..retry()
    };
    let llm = provider(&fake, &clock, no_retry);
    for _ in 0..3 {
        assert_eq!(
            llm.stream_chat(request()).await.err().unwrap().kind(),
            "http_5xx"
        );
    }
    let err = llm.stream_chat(request()).await.err().unwrap();
    assert!(matches!(err, EngineError::CircuitOpen { .. }), "{err}");
    assert_eq!(fake.count(Route::Chat), 3, "no request while open");
    clock.advance(Duration::from_secs(30));
    let (_, done) = collect(llm.stream_chat(request()).await.unwrap()).await;
    assert!(done.is_ok(), "the probe went through");
    assert!(llm.stream_chat(request()).await.is_ok(), "closed again");
    assert_eq!(fake.count(Route::Chat), 5);
}

#[tokio::test]
async fn echo_repeats_the_caller_word_by_word() {
    let echo = EchoChat;
    let mut stream = echo.stream_chat(request()).await.unwrap();
    let mut deltas = Vec::new();
    while let Some(Ok(LlmEvent::Delta(d))) = stream.next().await {
        deltas.push(d);
    }
    assert_eq!(deltas.concat(), "You said: Can I book a table?");
    assert_eq!(deltas.len(), 7, "one event per word");
    assert_eq!(echo.name(), "echo");
}

fn booking_tool() -> ToolSpec {
    ToolSpec {
        name: "book_table".into(),
        description: "Books a table.".into(),
        parameters: serde_json::json!({"type": "object",
            "properties": {"party": {"type": "integer"}, "time": {"type": "string"}},
            "required": ["party", "time"]}),
    }
}

#[tokio::test]
async fn tool_calls_split_across_chunks_are_assembled_per_index() {
    let fake = FakeHttp::start().await.unwrap();
    let llm = provider(&fake, &ManualClock::new(), retry());
    fake.script(
        Route::Chat,
        [Reply::ToolCalls {
            before: "Let me check.".into(),
            calls: vec![
                (
                    "book_table".into(),
                    r#"{"party": 4, "time": "20:00"}"#.into(),
                ),
                ("end_call".into(), "{}".into()),
            ],
        }],
    );
    let mut req = request();
    req.tools = vec![booking_tool()];
    let mut stream = llm.stream_chat(req).await.unwrap();
    let mut text = String::new();
    let mut calls = Vec::new();
    let mut finish = None;
    while let Some(item) = stream.next().await {
        match item.unwrap() {
            LlmEvent::Delta(d) => text.push_str(&d),
            LlmEvent::ToolCalls(c) => calls = c,
            LlmEvent::Done { finish_reason, .. } => finish = finish_reason,
        }
    }
    assert_eq!(text, "Let me check.");
    assert_eq!(
        calls,
        [
            ToolCall {
                id: "call_0_fake".into(),
                name: "book_table".into(),
                arguments: r#"{"party": 4, "time": "20:00"}"#.into()
            },
            ToolCall {
                id: "call_1_fake".into(),
                name: "end_call".into(),
                arguments: "{}".into()
            },
        ]
    );
    assert_eq!(finish.as_deref(), Some("tool_calls"));
    let sent: Value = serde_json::from_slice(&fake.received()[0].body).unwrap();
    assert_eq!(sent["tool_choice"], "auto");
    assert_eq!(sent["tools"][0]["type"], "function");
    assert_eq!(sent["tools"][0]["function"]["name"], "book_table");
    assert_eq!(
        sent["tools"][0]["function"]["parameters"]["required"][0],
        "party"
    );
}

#[tokio::test]
async fn tool_results_go_back_as_the_api_wants_them() {
    let fake = FakeHttp::start().await.unwrap();
    let llm = provider(&fake, &ManualClock::new(), retry());
    let call = ToolCall {
        id: "call_9".into(),
        name: "book_table".into(),
        arguments: r#"{"party":2}"#.into(),
    };
    let req = ChatRequest {
        system: "You book tables.".into(),
        history: vec![
            ChatMessage::user("Two people at eight"),
            ChatMessage::assistant_calling("", vec![call]),
            ChatMessage::tool_result("call_9", r#"{"booked":true}"#),
        ],
        tools: vec![booking_tool()],
        ..ChatRequest::default()
    };
    let (text, done) = collect(llm.stream_chat(req).await.unwrap()).await;
    assert!(
        done.is_ok() && !text.is_empty(),
        "the fake accepted the history"
    );
    let sent: Value = serde_json::from_slice(&fake.received()[0].body).unwrap();
    // max_history is 2: the system prompt, then the call and its result.
    let m = &sent["messages"];
    assert_eq!(m[1]["role"], "assistant");
    assert!(m[1]["content"].is_null());
    assert_eq!(m[1]["tool_calls"][0]["id"], "call_9");
    assert_eq!(m[1]["tool_calls"][0]["type"], "function");
    assert_eq!(
        m[1]["tool_calls"][0]["function"]["arguments"],
        r#"{"party":2}"#
    );
    assert_eq!(m[2]["role"], "tool");
    assert_eq!(m[2]["tool_call_id"], "call_9");
    assert_eq!(m[2]["content"], r#"{"booked":true}"#);
}

#[tokio::test]
async fn a_history_cut_by_max_history_never_starts_with_a_tool_result() {
    let fake = FakeHttp::start().await.unwrap();
    // max_history is 2: the last two messages would be [tool, user].
    let llm = provider(&fake, &ManualClock::new(), retry());
    let call = ToolCall {
        id: "c".into(),
        name: "book_table".into(),
        arguments: "{}".into(),
    };
    let req = ChatRequest {
        history: vec![
            ChatMessage::user("Book"),
            ChatMessage::assistant_calling("Checking.", vec![call]),
            ChatMessage::tool_result("c", "ok"),
            ChatMessage::user("Thanks"),
        ],
        ..ChatRequest::default()
    };
    let (_, done) = collect(llm.stream_chat(req).await.unwrap()).await;
    assert!(done.is_ok(), "{done:?}");
    let sent: Value = serde_json::from_slice(&fake.received()[0].body).unwrap();
    let roles: Vec<&str> = sent["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["user"]);
}

#[tokio::test]
async fn an_engine_failing_half_its_requests_is_retried_through() {
    let behaviour = vca_sim::engines::http::Behaviour {
        failure_percent: 50,
        ..vca_sim::engines::http::Behaviour::default()
    };
    let fake = FakeHttp::start_with(behaviour).await.unwrap();
    let llm = provider(&fake, &ManualClock::new(), retry());
    let (mut ok, mut failed) = (0, 0);
    for _ in 0..20 {
        match llm.stream_chat(request()).await {
            Ok(stream) => {
                let (text, done) = collect(stream).await;
                assert!(done.is_ok() && !text.is_empty());
                ok += 1;
            }
            Err(EngineError::Http { status: 503, .. }) | Err(EngineError::CircuitOpen { .. }) => {
                failed += 1
            }
            Err(e) => panic!("unexpected {e}"),
        }
    }
    // Two retries: a request fails only when three draws in a row fail (1 in 8).
    assert!(ok >= 10, "{ok} ok, {failed} failed");
    assert!(fake.count(Route::Chat) > 20, "some requests were retried");
}
