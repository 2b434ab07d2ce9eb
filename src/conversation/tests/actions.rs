//! The agent's actions on the virtual clock of [`super::harness`]: the caller's keypad,
//! tool rounds of the model (built-in and HTTP tools, the filler line, the round limit) and
//! the transfer phase.

use std::collections::BTreeMap;
use std::time::Duration;

use super::harness::*;
use crate::conversation::history::Speaker;
use crate::conversation::machine::keypad::KEYPAD_GAP;
use crate::conversation::machine::tools::{FILLER_AFTER, MAX_TOOL_ROUNDS};
use crate::conversation::profile::{END_CALL, KeyAction, TRANSFER_CALL, TargetInfo, ToolBox};
use crate::conversation::*;
use crate::engines::llm::{Role, ToolCall, ToolSpec};
use crate::store::EndReason;

fn with_actions() -> AgentProfile {
    let mut dtmf_map = BTreeMap::new();
    dtmf_map.insert('0', KeyAction::Transfer("front-desk".into()));
    dtmf_map.insert('9', KeyAction::Hangup);
    dtmf_map.insert('*', KeyAction::Repeat);
    AgentProfile {
        greeting: String::new(),
        dtmf_map,
        targets: vec![
            TargetInfo {
                name: "front-desk".into(),
                announce: None,
            },
            TargetInfo {
                name: "sales".into(),
                announce: Some("Connecting you to sales.".into()),
            },
        ],
        tools: ToolBox {
            transfer_call: true,
            end_call: true,
            http: vec![ToolSpec {
                name: "book_table".into(),
                description: "Books a table.".into(),
                parameters: serde_json::json!({"type": "object"}),
            }],
        },
        ..profile()
    }
}

fn tool(id: &str, name: &str, arguments: &str) -> ToolCall {
    ToolCall {
        id: id.into(),
        name: name.into(),
        arguments: arguments.into(),
    }
}

fn transfers(call: &Call) -> Vec<String> {
    call.log
        .iter()
        .filter_map(|a| match a {
            Action::Transfer { target } => Some(target.clone()),
            _ => None,
        })
        .collect()
}

fn tool_calls(call: &Call) -> Vec<ToolCall> {
    call.log
        .iter()
        .filter_map(|a| match a {
            Action::CallTool(c) => Some(c.clone()),
            _ => None,
        })
        .collect()
}

fn events(call: &Call, kind: &str) -> Vec<serde_json::Value> {
    call.log
        .iter()
        .filter_map(|a| match a {
            Action::Event { kind: k, details } if *k == kind => Some(details.clone()),
            _ => None,
        })
        .collect()
}

/// The caller says `said`; returns the reply the model is asked for.
fn caller_turn(call: &mut Call, at_ms: u64, said: &str) -> ReplyId {
    let id = call.caller_speaks(at_ms, at_ms + 800).expect("wanted");
    call.transcript(id, said);
    call.last_request().expect("asked the model").0
}

#[test]
fn a_mapped_key_transfers_after_the_announce() {
    let mut call = Call::new(with_actions(), None);
    call.run_until(call.at(1000));
    call.conv.handle_dtmf(call.now, '0');
    call.pump();
    assert_eq!(call.spoken(), ["Please hold while I connect you."]);
    assert!(
        transfers(&call).is_empty(),
        "not before the announce has played"
    );
    assert_eq!(
        events(&call, "transfer_requested"),
        [serde_json::json!({"target": "front-desk", "via": "keypad"})]
    );
    assert!(call.conv.is_transferring());
    // Nothing the caller says is taken while the transfer runs.
    assert!(call.caller_speaks(1500, 1900).is_none());
    call.play_out();
    assert_eq!(transfers(&call), ["front-desk"]);
    assert_eq!(call.observed(Observation::Key("transfer")), 1);
    assert_eq!(
        call.conv.poll_timeout(),
        None,
        "no deadline while the driver transfers"
    );
    call.conv.handle_transfer_done(call.now);
    assert!(call.conv.is_closed());
    assert!(call.hung_up().is_none(), "a transfer is not a hang-up");
}

#[test]
fn a_failed_transfer_says_nobody_is_available_and_the_conversation_goes_on() {
    let mut call = Call::new(with_actions(), None);
    call.conv.handle_dtmf(call.now, '0');
    call.pump();
    call.play_out();
    call.conv.handle_transfer_failed(call.now, "busy");
    call.pump();
    assert!(
        call.spoken()
            .last()
            .is_some_and(|s| s.starts_with("Is there anything else")),
        "{:?}",
        call.spoken()
    );
    call.play_out();
    assert!(!call.conv.is_transferring());
    assert!(
        call.caller_speaks(call.ms() + 500, call.ms() + 1300)
            .is_some()
    );
}

#[test]
fn the_hangup_key_says_goodbye_and_the_repeat_key_says_the_last_turn_again() {
    let mut call = Call::new(with_actions(), None);
    let reply = caller_turn(&mut call, 1000, "What are your hours?");
    call.model_says(reply, &["We open at nine."]);
    call.play_out();
    call.conv.handle_dtmf(call.now, '*');
    call.pump();
    call.play_out();
    let agent: Vec<String> = call
        .turns()
        .into_iter()
        .filter(|t| t.speaker == Speaker::Agent)
        .map(|t| t.text)
        .collect();
    assert_eq!(agent, ["We open at nine.", "We open at nine."]);
    call.conv.handle_dtmf(call.now, '9');
    call.pump();
    call.play_out();
    assert_eq!(call.hung_up(), Some(EndReason::KeypadHangup));
}

#[test]
fn other_keys_are_collected_until_hash_and_given_to_the_model() {
    let mut call = Call::new(with_actions(), None);
    for d in ['1', '2', '0', '4'] {
        call.run_for(300 * MS);
        call.conv.handle_dtmf(call.now, d);
        call.pump();
    }
    assert!(
        transfers(&call).is_empty(),
        "a mapped key inside digits is a digit"
    );
    assert!(call.last_request().is_none());
    call.conv.handle_dtmf(call.now, '#');
    call.pump();
    let (_, request) = call
        .last_request()
        .expect("the digits are the caller's turn");
    assert_eq!(
        request.history.last().map(|m| m.content.as_str()),
        Some("[keypad: 1204]")
    );
    assert_eq!(call.turns()[0].text, "[keypad: 1204]");
    assert_eq!(call.conv.state().turn_count, 1);
}

#[test]
fn collected_keys_end_after_two_seconds_without_a_key() {
    let mut call = Call::new(with_actions(), None);
    call.conv.handle_dtmf(call.now, '5');
    call.pump();
    let pressed = call.now;
    assert_eq!(call.conv.poll_timeout(), Some(pressed + KEYPAD_GAP));
    call.run_until(pressed + KEYPAD_GAP - MS);
    assert!(call.last_request().is_none());
    call.run_until(pressed + KEYPAD_GAP);
    assert!(call.last_request().is_some());
    assert_eq!(call.turns()[0].text, "[keypad: 5]");
}

#[test]
fn a_key_while_the_agent_speaks_is_a_barge_in() {
    let mut call = Call::new(
        AgentProfile {
            greeting: "Hello! How can I help?".into(),
            ..with_actions()
        },
        None,
    );
    call.run_until(call.at(1700));
    call.take();
    call.conv.handle_dtmf(call.now, '3');
    call.pump();
    let actions = call.take();
    assert!(actions.contains(&Action::Flush));
    assert_eq!(call.observed(Observation::BargeIn), 1);
    assert_eq!(call.turns()[0].text, "Hello! How can");
    assert!(call.turns()[0].interrupted);
}

#[test]
fn the_model_gets_the_tools_and_an_http_tool_result_goes_back_to_it() {
    let mut call = Call::new(with_actions(), None);
    let reply = caller_turn(&mut call, 1000, "A table for four at eight please");
    let (_, request) = call.last_request().expect("asked");
    let names: Vec<&str> = request.tools.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, [TRANSFER_CALL, END_CALL, "book_table"]);
    assert_eq!(
        request.tools[0].parameters["properties"]["target"]["enum"],
        serde_json::json!(["front-desk", "sales"])
    );
    // Text before the tool call is spoken.
    call.conv
        .handle_reply_text(call.now, reply, "Let me check that for you. ");
    call.conv.handle_reply_tool_calls(
        call.now,
        reply,
        vec![tool(
            "call_1",
            "book_table",
            r#"{"party":4,"time":"20:00"}"#,
        )],
    );
    call.conv.handle_reply_done(call.now, reply, None);
    call.pump();
    assert_eq!(tool_calls(&call).len(), 1);
    assert_eq!(
        call.spoken().last().map(String::as_str),
        Some("Let me check that for you.")
    );
    call.play_out();
    // The tool answers; the model is asked again with the exchange in its history.
    call.conv
        .handle_tool_result(call.now, "call_1", r#"{"booked":true,"ref":"A17"}"#);
    call.pump();
    let (second, request) = call.last_request().expect("asked again");
    assert_ne!(second, reply);
    let roles: Vec<Role> = request.history.iter().map(|m| m.role).collect();
    assert_eq!(roles, [Role::User, Role::Assistant, Role::Tool]);
    assert_eq!(request.history[1].content, "Let me check that for you.");
    assert_eq!(request.history[1].tool_calls[0].id, "call_1");
    assert_eq!(request.history[2].tool_call_id.as_deref(), Some("call_1"));
    assert_eq!(request.history[2].content, r#"{"booked":true,"ref":"A17"}"#);
    call.model_says(second, &["You're booked, reference A17."]);
    call.play_out();
    let agent: Vec<String> = call
        .turns()
        .into_iter()
        .filter(|t| t.speaker == Speaker::Agent)
        .map(|t| t.text)
        .collect();
    assert_eq!(
        agent,
        [
            "Let me check that for you.",
            "You're booked, reference A17."
        ]
    );
    // The exchange is part of the state a restarted daemon continues from.
    assert!(
        call.conv
            .state()
            .history
            .turns()
            .iter()
            .any(|t| t.tool_call_id.as_deref() == Some("call_1"))
    );
}

#[test]
fn a_slow_tool_gets_one_filler_line() {
    let mut call = Call::new(with_actions(), None);
    let reply = caller_turn(&mut call, 1000, "Book me a table");
    call.conv
        .handle_reply_tool_calls(call.now, reply, vec![tool("c1", "book_table", "{}")]);
    call.conv.handle_reply_done(call.now, reply, None);
    call.pump();
    let asked = call.now;
    assert_eq!(call.conv.poll_timeout(), Some(asked + FILLER_AFTER));
    call.run_until(asked + FILLER_AFTER);
    assert_eq!(call.spoken(), ["One moment, please."]);
    call.run_for(Duration::from_secs(5));
    assert_eq!(call.spoken().len(), 1, "once");
    call.conv
        .handle_tool_result(call.now, "c1", r#"{"error":"timed out"}"#);
    call.pump();
    let (_, request) = call.last_request().expect("asked again");
    assert_eq!(
        request.history.last().map(|m| m.content.as_str()),
        Some(r#"{"error":"timed out"}"#)
    );
    // The filler was the caller's to hear, not the model's to have said.
    assert!(
        request
            .history
            .iter()
            .all(|m| !m.content.contains("One moment")),
        "{:?}",
        request.history
    );
}

#[test]
fn two_calls_in_one_response_are_answered_together_and_unknown_ones_get_an_error() {
    let mut call = Call::new(with_actions(), None);
    let reply = caller_turn(&mut call, 1000, "Book and check");
    call.conv.handle_reply_tool_calls(
        call.now,
        reply,
        vec![
            tool("a", "book_table", "{}"),
            tool("b", "no_such_tool", "{}"),
            tool("c", "book_table", r#"{"x":1}"#),
        ],
    );
    call.conv.handle_reply_done(call.now, reply, None);
    call.pump();
    assert_eq!(tool_calls(&call).len(), 2, "only offered tools are run");
    call.conv.handle_tool_result(call.now, "c", "second");
    call.pump();
    let asked_before = call.last_request().map(|r| r.0);
    assert_eq!(asked_before, Some(reply), "waits for every result");
    call.conv.handle_tool_result(call.now, "a", "first");
    call.pump();
    let (_, request) = call.last_request().expect("asked again");
    let results: Vec<(Option<&str>, &str)> = request
        .history
        .iter()
        .filter(|m| m.role == Role::Tool)
        .map(|m| (m.tool_call_id.as_deref(), m.content.as_str()))
        .collect();
    assert_eq!(
        results,
        [
            (Some("a"), "first"),
            (
                Some("b"),
                r#"{"error":"unknown_tool","message":"there is no tool named \"no_such_tool\""}"#
            ),
            (Some("c"), "second"),
        ]
    );
    // The call decided here is reported too (the driver reports the HTTP ones).
    let called = events(&call, "tool_called");
    assert_eq!(called.len(), 1, "{called:?}");
    assert_eq!(called[0]["name"], "no_such_tool");
    assert_eq!(called[0]["tool_call_id"], "b");
    assert_eq!(called[0]["ok"], false);
    assert_eq!(called[0]["error"], "unknown_tool");
    assert!(called[0]["message"].is_string());
}

#[test]
fn the_built_in_tools_end_or_transfer_the_call() {
    let mut call = Call::new(with_actions(), None);
    let reply = caller_turn(&mut call, 1000, "I want sales");
    call.conv.handle_reply_text(call.now, reply, "Sure. ");
    call.conv.handle_reply_tool_calls(
        call.now,
        reply,
        vec![tool("t", TRANSFER_CALL, r#"{"target":"sales"}"#)],
    );
    call.conv.handle_reply_done(call.now, reply, None);
    call.pump();
    call.play_out();
    assert_eq!(call.spoken(), ["Sure.", "Connecting you to sales."]);
    assert_eq!(transfers(&call), ["sales"]);
    assert_eq!(
        events(&call, "transfer_requested"),
        [serde_json::json!({"target": "sales", "via": "model"})]
    );

    let mut call = Call::new(with_actions(), None);
    let reply = caller_turn(&mut call, 1000, "That's it for today");
    call.conv
        .handle_reply_tool_calls(call.now, reply, vec![tool("e", END_CALL, "{}")]);
    call.conv.handle_reply_done(call.now, reply, None);
    call.pump();
    call.play_out();
    assert_eq!(call.hung_up(), Some(EndReason::AgentEnded));
}

#[test]
fn a_transfer_to_an_unknown_target_is_an_error_the_model_hears() {
    let mut call = Call::new(with_actions(), None);
    let reply = caller_turn(&mut call, 1000, "Get me the manager");
    call.conv.handle_reply_tool_calls(
        call.now,
        reply,
        vec![tool("t", TRANSFER_CALL, r#"{"target":"manager"}"#)],
    );
    call.conv.handle_reply_done(call.now, reply, None);
    call.pump();
    assert!(transfers(&call).is_empty());
    let (_, request) = call.last_request().expect("asked again");
    assert!(
        request
            .history
            .last()
            .is_some_and(|m| m.content.contains("manager")),
        "{:?}",
        request.history.last()
    );
}

#[test]
fn after_three_tool_rounds_the_model_must_answer_in_words() {
    let mut call = Call::new(with_actions(), None);
    let mut reply = caller_turn(&mut call, 1000, "Book it");
    for round in 1..=MAX_TOOL_ROUNDS {
        let (_, request) = call.last_request().expect("asked");
        assert!(!request.tools.is_empty(), "round {round} offers tools");
        let id = format!("r{round}");
        call.conv
            .handle_reply_tool_calls(call.now, reply, vec![tool(&id, "book_table", "{}")]);
        call.conv.handle_reply_done(call.now, reply, None);
        call.pump();
        call.conv.handle_tool_result(call.now, &id, "ok");
        call.pump();
        reply = call.last_request().expect("asked again").0;
    }
    let (_, request) = call.last_request().expect("asked");
    assert!(
        request.tools.is_empty(),
        "the last round is offered no tools"
    );
}

#[test]
fn the_caller_speaking_during_a_tool_round_drops_it() {
    let mut call = Call::new(with_actions(), None);
    let reply = caller_turn(&mut call, 1000, "Book a table");
    call.conv
        .handle_reply_tool_calls(call.now, reply, vec![tool("c1", "book_table", "{}")]);
    call.conv.handle_reply_done(call.now, reply, None);
    call.pump();
    let _ = call.caller_speaks(call.ms() + 100, call.ms() + 900);
    call.conv.handle_tool_result(call.now, "c1", "late");
    call.pump();
    assert_eq!(
        call.last_request().map(|r| r.0),
        Some(reply),
        "a late result asks nothing"
    );
    assert_eq!(
        call.conv.poll_timeout(),
        Some(call.at(120_000)),
        "no filler pending"
    );
}
