//! Every rule of the conversation's dialogue on the virtual clock of [`super::harness`]:
//! greeting, turns, barge-in, fallbacks and their deadlines, limits, goodbye, re-adoption.

use std::time::Duration;

use super::harness::*;
use crate::conversation::history::Speaker;
use crate::conversation::machine::{MIN_REPLY_BUDGET, REPLY_DEADLINE, WRAP_UP_LIMIT};
use crate::conversation::*;
use crate::engines::llm::{Role, TokenUsage};
use crate::media::playout::{FlushReport, PartialPlayout};
use crate::store::EndReason;

#[test]
fn the_greeting_is_spoken_then_written_and_saved() {
    let mut call = Call::new(profile(), None);
    assert_eq!(call.spoken(), ["Hello!", "How can I help?"]);
    call.play_out();
    let turns = call.turns();
    assert_eq!(
        speaker_texts(&turns),
        [(Speaker::Agent, "Hello! How can I help?", false)]
    );
    // The first sentence was queued once synthesised; both played one after the other.
    assert_eq!(turns[0].start_ms, TTS_LATENCY.as_millis() as u64);
    assert_eq!(turns[0].end_ms, 200 + 2000);
    assert!(call.log.contains(&Action::SaveState));
    assert!(call.conv.state().greeted);
    assert_eq!(call.conv.poll_timeout(), Some(call.at(120_000)));
}

#[test]
fn a_recorded_call_hears_the_notice_before_the_greeting() {
    let mut call = Call::new(
        AgentProfile {
            recording_notice: Some("This call is being recorded.".into()),
            ..profile()
        },
        None,
    );
    assert_eq!(
        call.spoken(),
        ["This call is being recorded.", "Hello!", "How can I help?"]
    );
    call.play_out();
    assert_eq!(
        speaker_texts(&call.turns()),
        [(
            Speaker::Agent,
            "This call is being recorded. Hello! How can I help?",
            false
        )]
    );
    // With no greeting, the notice alone.
    let call = Call::new(
        AgentProfile {
            greeting: String::new(),
            recording_notice: Some("Recorded.".into()),
            ..profile()
        },
        None,
    );
    assert_eq!(call.spoken(), ["Recorded."]);
}

#[test]
fn no_greeting_when_the_profile_has_none_or_the_call_was_greeted_before() {
    let call = Call::new(
        AgentProfile {
            greeting: "  ".into(),
            ..profile()
        },
        None,
    );
    assert!(call.spoken().is_empty());
    let state = ConversationState {
        greeted: true,
        ..ConversationState::default()
    };
    let call = Call::new(profile(), Some(state));
    assert!(call.spoken().is_empty());
}

#[test]
fn a_turn_is_transcribed_answered_sentence_by_sentence_and_written() {
    let mut call = Call::new(profile(), None);
    call.play_out();
    let id = call.caller_speaks(3000, 4500).expect("wanted");
    assert!(call.take().contains(&Action::Recognise { utterance: id }));
    call.run_for(400 * MS);
    call.transcript(id, "  I would like to book a table.  ");
    let (reply, request) = call.last_request().expect("asked the model");
    assert_eq!(request.system, "You are a test agent.");
    assert_eq!(request.model.as_deref(), Some("test-model"));
    let roles: Vec<Role> = request.history.iter().map(|m| m.role).collect();
    assert_eq!(roles, [Role::Assistant, Role::User]);
    assert_eq!(request.history[1].content, "I would like to book a table.");
    call.take();
    // The first sentence is spoken as soon as it is complete.
    for chunk in ["Sure", ", for how many", " people? And"] {
        call.run_for(50 * MS);
        call.conv.handle_reply_text(call.now, reply, chunk);
        call.pump();
    }
    assert_eq!(
        call.spoken(),
        ["Hello!", "How can I help?", "Sure, for how many people?"]
    );
    call.conv.handle_reply_done(
        call.now,
        reply,
        Some(TokenUsage {
            prompt_tokens: 10,
            completion_tokens: 5,
            estimated: false,
        }),
    );
    call.pump();
    call.conv.handle_reply_text(call.now, reply, " when?");
    call.play_out();
    let turns = call.turns();
    assert_eq!(
        speaker_texts(&turns),
        [
            (Speaker::Agent, "Hello! How can I help?", false),
            (Speaker::Caller, "I would like to book a table.", false),
            (Speaker::Agent, "Sure, for how many people? And", false),
        ]
    );
    assert_eq!((turns[1].start_ms, turns[1].end_ms), (3000, 4500));
    assert_eq!(
        turns.iter().map(|t| t.seq).collect::<Vec<_>>(),
        [0, 1, 2],
        "seq counts every row"
    );
    assert_eq!(call.conv.state().turn_count, 1);
    assert_eq!(call.observed(Observation::Turn), 1);
    // Caller's speech ended at 4.5 s; 600 ms endpointing + 400 ms STT + 150 ms of model
    // text + 200 ms synthesis later the first sentence was queued.
    assert_eq!(call.conv.state().turn_latencies_ms, [1350]);
    assert_eq!(call.observed(Observation::TurnLatency(1350)), 1);
    assert!(
        call.log
            .contains(&Action::AddUsage(crate::store::transcript::UsageDelta {
                llm_prompt_tokens: 10,
                llm_completion_tokens: 5,
                ..Default::default()
            }))
    );
    // The model's text after `Done` belongs to no reply any more.
    assert!(!call.spoken().iter().any(|s| s.contains("when")));
}

#[test]
fn barge_in_in_the_middle_of_a_streamed_reply_keeps_only_what_was_heard() {
    let mut call = Call::new(
        AgentProfile {
            greeting: String::new(),
            ..profile()
        },
        None,
    );
    let id = call.caller_speaks(1000, 2000).expect("wanted");
    call.run_for(300 * MS);
    call.transcript(id, "Tell me about your opening hours");
    let (reply, _) = call.last_request().expect("asked");
    // Two sentences arrive; the model is still streaming when the caller talks over.
    call.conv
        .handle_reply_text(call.now, reply, "We open at nine every day. ");
    call.conv.handle_reply_text(
        call.now,
        reply,
        "On Sundays we open at ten in the morning. ",
    );
    call.pump();
    // First sentence queued at +200 ms, played 1 s; the second is half played at +1.7 s.
    call.run_for(1700 * MS);
    let (playing, since, _) = call.playing.expect("second sentence playing");
    assert_eq!(call.now - since, 500 * MS);
    let flushed = FlushReport {
        interrupted: Some(PartialPlayout {
            id: playing,
            played_ms: 500,
            total_ms: 1000,
        }),
        not_started: Vec::new(),
    };
    call.take();
    call.conv.handle_barge_in(call.now, Some(flushed));
    call.pump();
    let actions = call.take();
    assert!(actions.contains(&Action::CancelReply { reply }));
    assert!(
        !actions.contains(&Action::Flush),
        "the media side already flushed"
    );
    let turns = call.turns();
    let cut = turns.last().expect("agent turn");
    assert_eq!(
        (cut.speaker, cut.text.as_str(), cut.interrupted),
        (
            Speaker::Agent,
            "We open at nine every day. On Sundays we open",
            true
        )
    );
    assert_eq!(call.observed(Observation::BargeIn), 1);
    // What the model streams after the barge-in is dropped.
    call.conv
        .handle_reply_text(call.now, reply, "Anything else? ");
    call.conv.handle_reply_done(call.now, reply, None);
    call.pump();
    assert!(
        call.take()
            .iter()
            .all(|a| !matches!(a, Action::Speak { .. }))
    );
    // The history the model sees next holds what the caller heard.
    call.exchange(6000, "And on Mondays?", &["Nine as well."]);
    let (_, request) = call.last_request().expect("asked");
    assert_eq!(
        request.history[1].content,
        "We open at nine every day. On Sundays we open"
    );
}

#[test]
fn barge_in_without_the_media_flushing_flushes_and_estimates_what_was_heard() {
    let mut call = Call::new(profile(), None);
    // "Hello!" queued at 200 ms, played to 1.2 s; "How can I help?" 1.2-2.2 s.
    call.run_until(call.at(1700));
    call.take();
    call.conv.handle_barge_in(call.now, None);
    call.pump();
    assert!(call.take().contains(&Action::Flush));
    let turns = call.turns();
    assert_eq!(
        speaker_texts(&turns),
        [(Speaker::Agent, "Hello! How can", true)]
    );
}

#[test]
fn the_caller_speaking_on_cancels_a_reply_still_being_prepared() {
    let mut call = Call::new(
        AgentProfile {
            greeting: String::new(),
            ..profile()
        },
        None,
    );
    let first = call.caller_speaks(1000, 2000).expect("wanted");
    call.transcript(first, "I want to book");
    let (reply, _) = call.last_request().expect("asked");
    call.take();
    let second = call.caller_speaks(2700, 3500).expect("wanted");
    let actions = call.take();
    assert!(actions.contains(&Action::CancelReply { reply }));
    assert!(actions.contains(&Action::Flush));
    assert!(actions.contains(&Action::Recognise { utterance: second }));
    // Nothing of the cancelled reply was heard, so no agent row.
    assert!(call.turns().iter().all(|t| t.speaker == Speaker::Caller));
}

#[test]
fn utterances_are_transcribed_one_at_a_time_and_answered_together() {
    let mut call = Call::new(
        AgentProfile {
            greeting: String::new(),
            ..profile()
        },
        None,
    );
    let first = call.caller_speaks(1000, 2000).expect("wanted");
    let second = call.caller_speaks(2800, 3600).expect("wanted");
    let recognise: Vec<_> = call
        .log
        .iter()
        .filter(|a| matches!(a, Action::Recognise { .. }))
        .cloned()
        .collect();
    assert_eq!(recognise, [Action::Recognise { utterance: first }]);
    call.transcript(first, "A table for two");
    assert!(call.last_request().is_none(), "the caller went on speaking");
    assert!(call.log.contains(&Action::Recognise { utterance: second }));
    call.transcript(second, "tomorrow at eight");
    let (_, request) = call.last_request().expect("asked once both were heard");
    let said: Vec<&str> = request.history.iter().map(|m| m.content.as_str()).collect();
    assert_eq!(said, ["A table for two", "tomorrow at eight"]);
    assert_eq!(call.conv.state().turn_count, 2);
}

#[test]
fn noise_and_empty_transcripts_are_not_turns() {
    let mut call = Call::new(
        AgentProfile {
            greeting: String::new(),
            ..profile()
        },
        None,
    );
    for text in ["", " . ", "[BLANK_AUDIO]", "(noise) [music]"] {
        let id = call
            .caller_speaks(call.ms(), call.ms() + 500)
            .expect("wanted");
        call.transcript(id, text);
    }
    assert!(call.turns().is_empty());
    assert!(call.last_request().is_none());
    assert!(call.spoken().is_empty());
    assert!(is_speech("[noise] yes please"));
}

#[test]
fn a_failed_recognition_is_answered_with_the_apology() {
    let mut call = Call::new(
        AgentProfile {
            greeting: String::new(),
            ..profile()
        },
        None,
    );
    let id = call.caller_speaks(1000, 2000).expect("wanted");
    call.conv
        .handle_transcript(call.now, id, Err(RecognitionFailed));
    call.pump();
    assert_eq!(
        call.spoken(),
        ["Sorry, I didn't catch that.", "Could you say it again?"]
    );
    assert_eq!(call.observed(Observation::Fallback("stt")), 1);
    call.play_out();
    assert_eq!(
        speaker_texts(&call.turns()),
        [(
            Speaker::Agent,
            "Sorry, I didn't catch that. Could you say it again?",
            false
        )]
    );
    // The call goes on.
    assert!(call.hung_up().is_none());
    assert!(call.caller_speaks(call.ms(), call.ms() + 800).is_some());
}

#[test]
fn the_model_failing_before_it_said_anything_is_answered_with_the_fallback() {
    let mut call = Call::new(
        AgentProfile {
            greeting: String::new(),
            ..profile()
        },
        None,
    );
    let id = call.caller_speaks(1000, 2000).expect("wanted");
    call.transcript(id, "Hello?");
    let (reply, _) = call.last_request().expect("asked");
    call.take();
    call.conv.handle_reply_failed(call.now, reply);
    call.pump();
    let actions = call.take();
    assert!(actions.contains(&Action::CancelReply { reply }));
    assert_eq!(call.observed(Observation::Fallback("llm")), 1);
    assert_eq!(
        call.spoken()[0],
        "I'm sorry, I'm having trouble answering right now."
    );
}

#[test]
fn the_model_failing_mid_reply_keeps_what_it_said() {
    let mut call = Call::new(
        AgentProfile {
            greeting: String::new(),
            ..profile()
        },
        None,
    );
    let id = call.caller_speaks(1000, 2000).expect("wanted");
    call.transcript(id, "Hello?");
    let (reply, _) = call.last_request().expect("asked");
    call.conv
        .handle_reply_text(call.now, reply, "Hi there. And then");
    call.conv.handle_reply_failed(call.now, reply);
    call.pump();
    call.play_out();
    assert_eq!(call.observed(Observation::Fallback("llm")), 0);
    assert_eq!(
        call.turns().last().map(|t| t.text.as_str()),
        Some("Hi there.")
    );
}

#[test]
fn an_empty_model_answer_is_answered_with_the_fallback() {
    let mut call = Call::new(
        AgentProfile {
            greeting: String::new(),
            ..profile()
        },
        None,
    );
    let id = call.caller_speaks(1000, 2000).expect("wanted");
    call.transcript(id, "Hello?");
    let (reply, _) = call.last_request().expect("asked");
    call.model_says(reply, &["  "]);
    assert_eq!(call.observed(Observation::Fallback("llm")), 1);
}

#[test]
fn no_reply_audio_by_the_deadline_speaks_the_fallback_line() {
    let mut call = Call::new(
        AgentProfile {
            greeting: String::new(),
            ..profile()
        },
        None,
    );
    let id = call.caller_speaks(1000, 2000).expect("wanted");
    let heard_at = call.now;
    call.run_for(500 * MS);
    call.transcript(id, "Is anyone there?");
    let (reply, _) = call.last_request().expect("asked");
    // The deadline counts from the end of the turn, recognition included.
    assert_eq!(call.conv.poll_timeout(), Some(heard_at + REPLY_DEADLINE));
    call.take();
    call.run_until(heard_at + REPLY_DEADLINE - MS);
    assert!(call.take().is_empty(), "nothing before the deadline");
    call.run_until(heard_at + REPLY_DEADLINE);
    let actions = call.take();
    assert!(actions.contains(&Action::CancelReply { reply }));
    assert!(actions.contains(&Action::Flush));
    assert_eq!(call.observed(Observation::Fallback("llm_slow")), 1);
    // A late answer of the model is ignored.
    call.model_says(reply, &["Yes, I'm here."]);
    assert!(!call.spoken().iter().any(|s| s.contains("I'm here")));
}

#[test]
fn a_slow_recognition_still_leaves_the_model_its_minimum_budget() {
    let mut call = Call::new(
        AgentProfile {
            greeting: String::new(),
            ..profile()
        },
        None,
    );
    let id = call.caller_speaks(1000, 2000).expect("wanted");
    let heard_at = call.now;
    // Recognition took 2.5 s: 2.8 s from the turn's end would leave the model 0.3 s.
    call.run_for(2500 * MS);
    call.transcript(id, "Is anyone there?");
    let transcript_at = call.now;
    assert_eq!(
        call.conv.poll_timeout(),
        Some(transcript_at + MIN_REPLY_BUDGET)
    );
    assert!(transcript_at + MIN_REPLY_BUDGET > heard_at + REPLY_DEADLINE);
    let (reply, _) = call.last_request().expect("asked");
    // An answer at 1.2 s is still in time: its first sentence is queued 0.2 s later.
    call.run_for(1000 * MS);
    call.model_says(reply, &["Yes, I'm here."]);
    call.play_out();
    assert_eq!(call.observed(Observation::Fallback("llm_slow")), 0);
    assert_eq!(
        call.turns().last().map(|t| t.text.as_str()),
        Some("Yes, I'm here.")
    );
}

#[test]
fn max_turns_ends_with_a_goodbye_after_the_last_answer() {
    let mut call = Call::new(profile(), None);
    call.play_out();
    for (i, said) in ["one", "two", "three"].iter().enumerate() {
        assert!(call.hung_up().is_none());
        call.exchange(3000 + i as u64 * 8000, said, &["Noted."]);
    }
    assert_eq!(call.spoken().last().map(String::as_str), Some("Goodbye!"));
    assert_eq!(call.hung_up(), Some(EndReason::MaxTurns));
    assert!(call.conv.is_closed());
    let last = call.turns().pop().expect("goodbye row");
    assert_eq!(last.text, "Thank you for calling. Goodbye!");
    // Nothing is taken after the end.
    assert!(call.caller_speaks(call.ms(), call.ms() + 500).is_none());
}

#[test]
fn the_callers_goodbye_is_answered_with_ours_and_a_hang_up() {
    let mut call = Call::new(profile(), None);
    call.play_out();
    let id = call.caller_speaks(3000, 3800).expect("wanted");
    call.transcript(id, "Okay, thanks, bye bye");
    assert!(call.last_request().is_none(), "no model for a goodbye");
    call.play_out();
    assert_eq!(call.hung_up(), Some(EndReason::CallerGoodbye));
}

#[test]
fn the_end_marker_ends_the_call_and_is_never_spoken_or_stored() {
    let mut call = Call::new(profile(), None);
    call.play_out();
    call.exchange(
        3000,
        "That's everything",
        &["Great, see you soon. [END", "_CALL]"],
    );
    assert_eq!(call.hung_up(), Some(EndReason::AgentEnded));
    assert!(call.spoken().iter().all(|s| !s.contains("END_CALL")));
    assert!(call.turns().iter().all(|t| !t.text.contains("END_CALL")));
    let texts: Vec<String> = call.turns().iter().map(|t| t.text.clone()).collect();
    assert!(
        texts.contains(&"Great, see you soon.".to_string()),
        "{texts:?}"
    );
    // A reply of the marker alone ends the call too.
    let mut call = Call::new(
        AgentProfile {
            greeting: String::new(),
            ..profile()
        },
        None,
    );
    call.exchange(1000, "I am done here", &["[END_CALL]"]);
    assert_eq!(call.hung_up(), Some(EndReason::AgentEnded));
}

#[test]
fn max_duration_reached_while_recognition_runs_says_goodbye_and_keeps_the_last_words() {
    let mut call = Call::new(
        AgentProfile {
            greeting: String::new(),
            max_duration: Duration::from_secs(30),
            ..profile()
        },
        None,
    );
    let id = call.caller_speaks(28_000, 29_000).expect("wanted");
    // Recognition is still running at 30 s.
    call.run_until(call.at(30_000));
    assert_eq!(
        call.spoken(),
        [
            "We have reached the time limit for this call.",
            "Thank you for calling.",
            "Goodbye!"
        ]
    );
    assert!(call.hung_up().is_none(), "the goodbye plays first");
    call.transcript(id, "and one more thing");
    assert!(call.last_request().is_none(), "not answered");
    assert_eq!(call.turns()[0].text, "and one more thing", "but written");
    call.play_out();
    assert_eq!(call.hung_up(), Some(EndReason::MaxDuration));
}

#[test]
fn max_duration_counts_from_the_answer_of_a_readopted_call() {
    let t_answer_ago = Duration::from_secs(100);
    let mut call = Call::new(
        AgentProfile {
            max_duration: Duration::from_secs(120),
            ..profile()
        },
        Some(ConversationState {
            greeted: true,
            ..Default::default()
        }),
    );
    // Re-create as if answered 100 s before now.
    call.conv = Conversation::new(
        AgentProfile {
            max_duration: Duration::from_secs(120),
            ..profile()
        },
        Some(ConversationState {
            greeted: true,
            ..Default::default()
        }),
        call.now - t_answer_ago,
    );
    assert_eq!(
        call.conv.poll_timeout(),
        Some(call.now + Duration::from_secs(20))
    );
}

#[test]
fn a_transcript_that_arrives_after_the_caller_hung_up_is_written_and_nothing_else() {
    let mut call = Call::new(
        AgentProfile {
            greeting: String::new(),
            ..profile()
        },
        None,
    );
    let id = call.caller_speaks(1000, 2000).expect("wanted");
    call.conv.handle_hangup(call.now);
    call.pump();
    assert!(call.conv.is_closed());
    assert!(call.conv.is_recognising());
    call.take();
    call.run_for(800 * MS);
    call.transcript(id, "thank you so much");
    let actions = call.take();
    assert!(matches!(actions.first(), Some(Action::WriteTurn(t)) if t.text == "thank you so much"));
    assert!(
        actions.iter().all(|a| matches!(
            a,
            Action::WriteTurn(_) | Action::AddUsage(_) | Action::Observe(_)
        )),
        "{actions:?}"
    );
    assert_eq!(call.conv.poll_timeout(), None);
}

#[test]
fn hanging_up_mid_reply_writes_what_was_heard() {
    let mut call = Call::new(profile(), None);
    call.run_until(call.at(1700));
    call.conv.handle_hangup(call.now);
    call.pump();
    let turns = call.turns();
    assert_eq!(
        speaker_texts(&turns),
        [(Speaker::Agent, "Hello! How can", true)]
    );
    assert!(call.hung_up().is_none(), "the caller hung up, not us");
}

#[test]
fn a_goodbye_that_never_finishes_playing_is_cut_at_its_limit() {
    let mut call = Call::new(
        AgentProfile {
            greeting: String::new(),
            ..profile()
        },
        None,
    );
    call.playout_stuck = true;
    call.conv.handle_wrap_up(call.now);
    call.pump();
    let started = call.now;
    assert_eq!(call.conv.poll_timeout(), Some(started + WRAP_UP_LIMIT));
    call.run_for(WRAP_UP_LIMIT);
    assert_eq!(call.hung_up(), Some(EndReason::DaemonShutdown));
    assert_eq!(call.now, started + WRAP_UP_LIMIT);
}

#[test]
fn the_shutdown_goodbye_ends_the_call_once_played() {
    let mut call = Call::new(profile(), None);
    call.play_out();
    call.conv.handle_wrap_up(call.now);
    call.pump();
    call.play_out();
    assert_eq!(call.hung_up(), Some(EndReason::DaemonShutdown));
}

#[test]
fn an_operator_hangup_says_goodbye_then_ends_with_its_reason() {
    let mut call = Call::new(profile(), None);
    call.play_out();
    assert_eq!(call.conv.activity(), crate::conversation::Activity::Talking);
    assert!(
        call.conv
            .handle_end_request(call.now, EndReason::OperatorHangup)
    );
    call.pump();
    assert_eq!(call.conv.activity(), crate::conversation::Activity::Ending);
    // A second request while the goodbye plays changes nothing.
    assert!(
        call.conv
            .handle_end_request(call.now, EndReason::OperatorHangup)
    );
    call.play_out();
    assert_eq!(call.hung_up(), Some(EndReason::OperatorHangup));
    // Once over, nothing more can be said: the driver ends the call itself.
    assert!(
        !call
            .conv
            .handle_end_request(call.now, EndReason::OperatorHangup)
    );
}

#[test]
fn a_barge_in_that_cuts_the_goodbye_hangs_up_at_once() {
    let mut call = Call::new(
        AgentProfile {
            greeting: String::new(),
            ..profile()
        },
        None,
    );
    let id = call.caller_speaks(1000, 2000).expect("wanted");
    call.transcript(id, "goodbye");
    call.run_for(500 * MS);
    call.conv.handle_barge_in(
        call.now,
        Some(FlushReport {
            interrupted: None,
            not_started: Vec::new(),
        }),
    );
    call.pump();
    assert_eq!(call.hung_up(), Some(EndReason::CallerGoodbye));
}

#[test]
fn failed_speech_synthesis_skips_sentences_and_the_call_goes_on() {
    let mut call = Call::new(profile(), None);
    call.tts_down = true;
    call.synth.iter_mut().for_each(|s| s.0 = call.now);
    call.play_out();
    assert_eq!(call.observed(Observation::Fallback("tts_skip")), 2);
    assert!(call.turns().is_empty(), "nothing was heard");
    assert!(call.caller_speaks(3000, 3500).is_some());
}

#[test]
fn an_answer_whose_every_sentence_failed_to_synthesise_gets_the_apology() {
    let mut call = Call::new(profile(), None);
    call.play_out();
    let id = call.caller_speaks(3000, 4000).expect("wanted");
    call.run_for(300 * MS);
    call.transcript(id, "what time do you open");
    let (reply, _) = call.last_request().expect("a reply was asked for");
    call.tts_down = true;
    call.model_says(reply, &["We open at nine. ", "See you then."]);
    let before = call.spoken().len();
    // Both sentences fail; the apology line is asked for once, and its own failure is
    // not retried.
    call.run_for(200 * MS);
    call.play_out();
    let apology = call.conv.fallback_sentences();
    let spoken = call.spoken();
    let after: Vec<&String> = spoken.iter().skip(before).collect();
    assert!(
        after.iter().any(|t| apology.contains(t)),
        "the apology was spoken: {after:?} (apology {apology:?})"
    );
    // The answer's two sentences, then the apology's own (failing too), and no more.
    let skips = call.observed(Observation::Fallback("tts_skip"));
    assert!(skips > 2 && skips <= 2 + apology.len(), "{skips}");
    // The call goes on: the caller can speak again.
    assert!(call.caller_speaks(8000, 8500).is_some());
}

#[test]
fn the_history_sent_to_the_model_stays_within_its_budget() {
    let mut call = Call::new(
        AgentProfile {
            greeting: String::new(),
            history_chars: 60,
            max_turns: 100,
            ..profile()
        },
        None,
    );
    for i in 0..6 {
        call.exchange(
            1000 + i * 6000,
            "Here is a fairly long sentence from the caller",
            &["And a reply."],
        );
    }
    let (_, request) = call.last_request().expect("asked");
    let chars: usize = request
        .history
        .iter()
        .map(|m| m.content.chars().count())
        .sum();
    assert!(chars <= 60, "{chars}");
    assert_eq!(request.history.last().map(|m| m.role), Some(Role::User));
}

#[test]
fn a_readopted_conversation_continues_its_rows_and_its_turn_count() {
    let mut history = crate::conversation::history::History::new(4000);
    history.push(Speaker::Agent, "Hello!");
    history.push(Speaker::Caller, "one");
    history.push(Speaker::Agent, "Noted.");
    history.push(Speaker::Caller, "two");
    history.push(Speaker::Agent, "Noted.");
    let state = ConversationState {
        history,
        turn_count: 2,
        next_seq: 5,
        greeted: true,
        turn_latencies_ms: vec![900, 950],
        language: None,
    };
    let mut call = Call::new(profile(), Some(state));
    assert!(call.spoken().is_empty());
    call.exchange(1000, "three", &["Noted."]);
    let turns = call.turns();
    assert_eq!(turns[0].seq, 5);
    let (_, request) = call.last_request().expect("asked");
    assert_eq!(request.history.len(), 6);
    // Turn three of three: goodbye.
    assert_eq!(call.hung_up(), Some(EndReason::MaxTurns));
}
