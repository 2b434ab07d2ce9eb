//! The call's language on the virtual clock of [`super::harness`]: a Hindi profile speaks
//! its own lines in Hindi, the caller switching to another allowed language moves the
//! agent with them (voice, lines, the model's instruction), and what may not switch it.

use super::harness::*;
use crate::conversation::*;
use crate::language::{Language, LanguageTag, Line, LineBook, LineText, lines::builtin};
use crate::store::EndReason;

fn tag(t: &str) -> LanguageTag {
    LanguageTag::parse(t).unwrap()
}

fn hindi() -> AgentProfile {
    AgentProfile {
        greeting: "नमस्ते! मैं आपकी क्या मदद करूँ?".into(),
        language: tag("hi-IN"),
        ..profile()
    }
}

/// An English profile whose callers may switch to Hindi.
fn bilingual() -> AgentProfile {
    AgentProfile {
        language: tag("en-IN"),
        languages: vec![tag("hi-IN")],
        ..profile()
    }
}

/// The language of every sentence spoken so far, in order.
fn spoken_languages(call: &Call) -> Vec<String> {
    call.log
        .iter()
        .filter_map(|a| match a {
            Action::Speak { language, .. } => Some(language.to_string()),
            _ => None,
        })
        .collect()
}

fn language_events(call: &Call) -> Vec<serde_json::Value> {
    call.log
        .iter()
        .filter_map(|a| match a {
            Action::Event {
                kind: "language_changed",
                details,
            } => Some(details.clone()),
            _ => None,
        })
        .collect()
}

/// The caller says `said` (reported as `language`) and the model answers `answer`.
fn exchange_in(call: &mut Call, start_ms: u64, said: &str, language: &str, answer: &[&str]) {
    let id = call.caller_speaks(start_ms, start_ms + 1000).unwrap();
    call.run_for(300 * MS);
    call.transcript_in(id, said, language);
    let (reply, _) = call.last_request().unwrap();
    call.model_says(reply, answer);
    call.play_out();
}

#[test]
fn a_hindi_profile_says_its_own_lines_in_hindi() {
    let mut call = Call::new(hindi(), None);
    call.play_out();
    let id = call.caller_speaks(3000, 4000).unwrap();
    call.conv
        .handle_transcript(call.now, id, Err(RecognitionFailed));
    call.pump();
    call.play_out();
    let spoken = call.spoken();
    assert_eq!(spoken[0], "नमस्ते!");
    assert_eq!(
        spoken[2..].join(" "),
        builtin(Line::SttRetry, Language::Hindi),
        "{spoken:?}"
    );
    assert!(spoken_languages(&call).iter().all(|l| l == "hi-IN"));
}

#[test]
fn the_model_is_told_to_answer_in_hindi_and_the_request_carries_it() {
    let mut call = Call::new(hindi(), None);
    call.play_out();
    exchange_in(
        &mut call,
        3000,
        "मुझे कल के लिए टेबल चाहिए",
        "hi-IN",
        &["ज़रूर। कितने लोग?"],
    );
    let (_, request) = call.last_request().unwrap();
    assert!(
        request.system.contains("Reply in Hindi"),
        "{}",
        request.system
    );
    assert_eq!(request.language.as_deref(), Some("hi-IN"));
    assert_eq!(call.turns()[1].text, "मुझे कल के लिए टेबल चाहिए");
    assert!(call.spoken().contains(&"ज़रूर।".to_string()));
    assert!(language_events(&call).is_empty());
}

#[test]
fn a_plain_english_profile_is_not_told_about_languages() {
    let mut call = Call::new(profile(), None);
    call.exchange(1000, "hello there", &["Hi."]);
    let (_, request) = call.last_request().unwrap();
    assert!(!request.system.contains("Reply in"), "{}", request.system);
    assert_eq!(request.language.as_deref(), Some("en"));
}

#[test]
fn a_hindi_goodbye_ends_the_call_with_the_hindi_goodbye() {
    let mut call = Call::new(hindi(), None);
    call.play_out();
    let id = call.caller_speaks(3000, 4000).unwrap();
    call.run_for(300 * MS);
    call.transcript_in(id, "ठीक है, धन्यवाद।", "hi-IN");
    assert!(
        call.last_request().is_none(),
        "a goodbye is not sent to the model"
    );
    call.play_out();
    assert_eq!(call.hung_up(), Some(EndReason::CallerGoodbye));
    let spoken = call.spoken();
    assert_eq!(
        spoken[spoken.len() - 2..].join(" "),
        builtin(Line::Goodbye, Language::Hindi)
    );
}

#[test]
fn the_caller_switching_to_hindi_moves_the_agent_to_hindi() {
    let mut call = Call::new(bilingual(), None);
    call.play_out();
    exchange_in(
        &mut call,
        3000,
        "I would like a table",
        "en-IN",
        &["Sure. For when?"],
    );
    assert!(language_events(&call).is_empty());
    assert!(spoken_languages(&call).iter().all(|l| l == "en-IN"));
    let before = call.log.len();

    exchange_in(
        &mut call,
        8000,
        "मुझे हिंदी में बात करनी है",
        "hi",
        &["ठीक है। कब के लिए?"],
    );
    assert_eq!(
        language_events(&call),
        [serde_json::json!({"from": "en-IN", "to": "hi-IN"})]
    );
    let (_, request) = call.last_request().unwrap();
    assert!(
        request.system.contains("Reply in Hindi"),
        "{}",
        request.system
    );
    assert_eq!(request.language.as_deref(), Some("hi-IN"));
    let after: Vec<String> = call.log[before..]
        .iter()
        .filter_map(|a| match a {
            Action::Speak { language, .. } => Some(language.to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(after, ["hi-IN", "hi-IN"]);
    assert_eq!(call.conv.language().as_str(), "hi-IN");
    assert_eq!(call.conv.state().language, Some(tag("hi-IN")));

    // From now on the daemon's own lines are Hindi too.
    let id = call.caller_speaks(14000, 15000).unwrap();
    call.conv
        .handle_transcript(call.now, id, Err(RecognitionFailed));
    call.pump();
    call.play_out();
    let spoken = call.spoken();
    assert!(
        spoken
            .join(" ")
            .ends_with(builtin(Line::SttRetry, Language::Hindi)),
        "{spoken:?}"
    );

    // And back: several English words switch it again.
    exchange_in(
        &mut call,
        20000,
        "Please speak English again",
        "en",
        &["Of course."],
    );
    assert_eq!(language_events(&call).len(), 2);
    assert_eq!(call.conv.language().as_str(), "en-IN");
    assert_eq!(
        call.conv.state().language,
        None,
        "back to the profile's own"
    );
}

#[test]
fn a_language_the_profile_does_not_allow_is_not_followed() {
    let mut call = Call::new(profile(), None);
    exchange_in(&mut call, 1000, "मुझे टेबल चाहिए", "hi", &["Sorry?"]);
    assert!(language_events(&call).is_empty());
    assert!(spoken_languages(&call).iter().all(|l| l == "en"));
    let (_, request) = call.last_request().unwrap();
    assert_eq!(request.language.as_deref(), Some("en"));
}

#[test]
fn a_lone_latin_word_does_not_switch_a_hindi_call() {
    let profile = AgentProfile {
        languages: vec![tag("en-IN")],
        ..hindi()
    };
    let mut call = Call::new(profile, None);
    call.play_out();
    exchange_in(&mut call, 3000, "okay", "en", &["जी।"]);
    assert!(language_events(&call).is_empty());
    assert_eq!(call.conv.language().as_str(), "hi-IN");
}

#[test]
fn without_a_reported_language_the_script_decides() {
    let mut call = Call::new(bilingual(), None);
    call.play_out();
    let id = call.caller_speaks(3000, 4000).unwrap();
    call.run_for(300 * MS);
    call.transcript(id, "क्या आप हिंदी बोलते हैं");
    assert_eq!(
        language_events(&call),
        [serde_json::json!({"from": "en-IN", "to": "hi-IN"})]
    );
    // Hinglish in Latin letters with no report says nothing.
    let mut call = Call::new(bilingual(), None);
    call.play_out();
    let id = call.caller_speaks(3000, 4000).unwrap();
    call.run_for(300 * MS);
    call.transcript(id, "mujhe table chahiye kal");
    assert!(language_events(&call).is_empty());
}

#[test]
fn max_duration_says_its_own_line_in_the_call_s_language() {
    let profile = AgentProfile {
        max_duration: std::time::Duration::from_secs(30),
        ..hindi()
    };
    let mut call = Call::new(profile, None);
    call.play_out();
    call.run_for(std::time::Duration::from_secs(31));
    call.play_out();
    assert_eq!(call.hung_up(), Some(EndReason::MaxDuration));
    let spoken = call.spoken().join(" ");
    assert!(
        spoken.ends_with(builtin(Line::MaxDuration, Language::Hindi)),
        "{spoken}"
    );
}

#[test]
fn the_profile_s_wording_replaces_the_daemon_s() {
    let lines: std::collections::BTreeMap<String, LineText> = serde_json::from_value(
        serde_json::json!({"goodbye": {"hi": "फिर मिलेंगे!", "en": "See you soon!"}}),
    )
    .unwrap();
    let profile = AgentProfile {
        lines: LineBook::parse(&lines, &tag("hi-IN")).unwrap(),
        ..hindi()
    };
    let mut call = Call::new(profile, None);
    call.play_out();
    let id = call.caller_speaks(3000, 4000).unwrap();
    call.run_for(300 * MS);
    call.transcript(id, "अलविदा");
    call.play_out();
    assert_eq!(call.spoken().last().map(String::as_str), Some("फिर मिलेंगे!"));
}

#[test]
fn a_readopted_call_goes_on_in_the_language_it_switched_to() {
    let state = ConversationState {
        greeted: true,
        language: Some(tag("hi-IN")),
        ..ConversationState::default()
    };
    let mut call = Call::new(bilingual(), Some(state));
    exchange_in(&mut call, 1000, "हाँ जी", "hi", &["बताइए।"]);
    assert!(language_events(&call).is_empty());
    assert!(spoken_languages(&call).iter().all(|l| l == "hi-IN"));
}
