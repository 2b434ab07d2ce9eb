//! Word error rate and real-time factor of a CTranslate2 Whisper model on phone-band test
//! speech: 20 espeak-ng sentences, each through 8 kHz G.711 (A-law and µ-law) and back to
//! 16 kHz, transcribed one by one on this machine's CPU. English by default; `--language
//! hi` takes 20 Hindi sentences in espeak-ng's Hindi voice, with Whisper's language token
//! set to Hindi (`--detect` leaves the language to Whisper instead).
//!
//! `cargo run --release --features whisper-local --example whisper-wer -- models/whisper-tiny.en`
//! `cargo run --release --features whisper-local --example whisper-wer -- models/whisper-base --language hi`
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Parser;
use vca_bridge::whisper::{ModelOptions, Precision, Transcribe, WhisperModel};
use vca_media::g711::Law;
use vca_sim::speech::{
    HINDI_SENTENCES, HINDI_VOICE, SENTENCES, VOICE, phone_speech, wideband_speech, word_errors,
};

#[derive(Parser)]
struct Args {
    /// CTranslate2 Whisper model directory (scripts/fetch-whisper-model).
    model: PathBuf,
    /// Decoder beam width.
    #[arg(long, default_value_t = 5)]
    beam: usize,
    /// CPU threads for the model.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Compute in float32 instead of int8.
    #[arg(long)]
    float32: bool,
    /// The test language: `en` (English sentences) or `hi` (Hindi sentences).
    #[arg(long, default_value = "en")]
    language: String,
    /// Let Whisper detect the language instead of setting its token.
    #[arg(long)]
    detect: bool,
    /// espeak-ng voice (default: the language's).
    #[arg(long)]
    voice: Option<String>,
    /// espeak-ng speaking rate in words per minute (0: its default, 175).
    #[arg(long, default_value_t = 0)]
    speed: u32,
    /// Clean 16 kHz speech instead of the phone band (for comparison).
    #[arg(long)]
    wideband: bool,
    /// Only the first N sentences.
    #[arg(long, default_value_t = SENTENCES.len())]
    sentences: usize,
    /// Print each sentence's transcript.
    #[arg(long, short)]
    verbose: bool,
}

fn main() {
    let args = Args::parse();
    let options = ModelOptions {
        precision: if args.float32 {
            Precision::Float32
        } else {
            Precision::Int8
        },
        threads_per_replica: args.threads,
        beam_size: args.beam,
        ..ModelOptions::default()
    };
    let load = Instant::now();
    let model = WhisperModel::load(&args.model, options.clone()).expect("load model");
    let load = load.elapsed();
    let (sentences, default_voice): (&[&str], &str) = match args.language.as_str() {
        "en" => (&SENTENCES, VOICE),
        "hi" => (&HINDI_SENTENCES, HINDI_VOICE),
        other => panic!("--language {other}: use en or hi"),
    };
    let voice = args
        .voice
        .clone()
        .unwrap_or_else(|| default_voice.to_string());
    let language = (!args.detect).then_some(args.language.as_str());

    let mut clips = Vec::new();
    for law in [Law::Alaw, Law::Ulaw] {
        for sentence in sentences.iter().take(args.sentences) {
            let speech = if args.wideband {
                wideband_speech(sentence, &voice, args.speed)
            } else {
                phone_speech(sentence, law, &voice, args.speed)
            }
            .expect("espeak-ng");
            clips.push((law, sentence, speech));
        }
    }
    // One warm-up run, not counted.
    model
        .transcribe_blocking(&clips[0].2, language)
        .expect("warm-up");

    let (mut errors, mut words) = (0usize, 0usize);
    let (mut audio, mut compute) = (0.0f64, Duration::ZERO);
    let mut per_law = [(0usize, 0usize); 2];
    let mut detected_right = 0usize;
    for (law, sentence, speech) in &clips {
        let started = Instant::now();
        let heard = model
            .transcribe_blocking(speech, language)
            .expect("transcribe");
        compute += started.elapsed();
        audio += speech.len() as f64 / 16_000.0;
        let (e, n) = word_errors(sentence, &heard.text);
        detected_right += usize::from(heard.language == args.language);
        errors += e;
        words += n;
        let slot = &mut per_law[usize::from(*law == Law::Ulaw)];
        slot.0 += e;
        slot.1 += n;
        if args.verbose || e > 0 {
            println!(
                "{law:?} {e}/{n}  ref: {sentence}\n            hyp: {}",
                heard.text
            );
        }
    }
    let pct = |e: usize, n: usize| 100.0 * e as f64 / n.max(1) as f64;
    println!(
        "model {} ({:?}, beam {}, {} threads), language {} ({}), voice {} at {} wpm{}, loaded in {:.2?}",
        args.model.display(),
        options.precision,
        options.beam_size,
        options.threads_per_replica,
        args.language,
        if args.detect { "detected" } else { "token set" },
        voice,
        if args.speed > 0 { args.speed } else { 175 },
        if args.wideband {
            ", wideband 16 kHz"
        } else {
            ", 8 kHz G.711"
        },
        load
    );
    println!(
        "WER {:.1} % ({errors}/{words} words; A-law {:.1} %, µ-law {:.1} %) over {} utterances",
        pct(errors, words),
        pct(per_law[0].0, per_law[0].1),
        pct(per_law[1].0, per_law[1].1),
        clips.len()
    );
    if args.detect {
        println!(
            "language detected as {}: {detected_right} of {} utterances",
            args.language,
            clips.len()
        );
    }
    println!(
        "RTF {:.3} ({:.1} s compute for {:.1} s audio, {:.2} s per utterance)",
        compute.as_secs_f64() / audio,
        compute.as_secs_f64(),
        audio,
        compute.as_secs_f64() / clips.len() as f64
    );
}
