//! Test speech for the daemon's tests and `examples/whisper-wer.rs`: sentences spoken by
//! espeak-ng (at its own 22.05 kHz, or resampled to a call's 8 kHz with the project's
//! resampler), the phone band a caller's words reach speech-to-text through (8 kHz,
//! G.711-encoded and decoded, back to 16 kHz), and the word error rate of a transcript.
//!
//! espeak-ng runs as a child process; its absence is [`SpeechError::EspeakMissing`], which
//! a test may take as a reason to skip, apart from every other failure.

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use vca_media::g711::Law;
use vca_media::resample::StreamResampler;

/// Sentences a caller might say, without digits or contractions (so scoring needs no
/// number or spelling normalisation).
pub const SENTENCES: [&str; 20] = [
    "I would like to book an appointment for next Tuesday morning.",
    "Can you tell me when the pharmacy closes today?",
    "My internet connection has been very slow since yesterday.",
    "Please send the invoice to my email address.",
    "The delivery truck arrived late this afternoon.",
    "I need to change the shipping address on my order.",
    "Could you transfer me to the billing department?",
    "We are planning a family trip to the mountains.",
    "The doctor asked me to come back next month.",
    "Is the restaurant open for dinner on Sunday evening?",
    "I lost my credit card and want to block it.",
    "The weather forecast says it will rain all weekend.",
    "Please cancel my subscription at the end of this month.",
    "Our office has moved to a new building downtown.",
    "I am calling about the job advertisement in the newspaper.",
    "The train to the airport leaves every half hour.",
    "Can I speak with the manager about my complaint?",
    "My package was damaged when it arrived this morning.",
    "We would like a table for four people tonight.",
    "Thank you very much for your help, have a nice day.",
];

/// The espeak-ng voice of the test speech.
pub const VOICE: &str = "en-us";

/// Sentences a Hindi-speaking caller might say, in Devanagari, without digits; a few
/// English words as callers use them (अपॉइंटमेंट, ईमेल), written as Hindi writes them.
pub const HINDI_SENTENCES: [&str; 20] = [
    "मुझे अगले मंगलवार सुबह का अपॉइंटमेंट चाहिए।",
    "क्या आप बता सकते हैं कि दवाई की दुकान आज कब बंद होगी?",
    "कल से मेरा इंटरनेट बहुत धीमा चल रहा है।",
    "कृपया बिल मेरे ईमेल पर भेज दीजिए।",
    "सामान आज दोपहर को देर से पहुँचा।",
    "मुझे अपने ऑर्डर का पता बदलना है।",
    "क्या आप मुझे बिलिंग विभाग से जोड़ सकते हैं?",
    "हम परिवार के साथ पहाड़ों पर घूमने जा रहे हैं।",
    "डॉक्टर ने मुझे अगले महीने फिर आने को कहा है।",
    "क्या रविवार की शाम को रेस्टोरेंट खुला रहता है?",
    "मेरा कार्ड खो गया है, उसे बंद करवाना है।",
    "मौसम विभाग के अनुसार पूरे हफ्ते बारिश होगी।",
    "मैं अखबार में छपी नौकरी के बारे में बात करना चाहता हूँ।",
    "हवाई अड्डे की गाड़ी हर आधे घंटे में जाती है।",
    "मुझे कल रात चार लोगों के लिए एक टेबल चाहिए।",
    "मेरा पासवर्ड काम नहीं कर रहा है।",
    "आपका दफ्तर सुबह कितने बजे खुलता है?",
    "मैं अपनी बुकिंग रद्द करना चाहता हूँ।",
    "बच्चों की फीस कब तक जमा करनी है?",
    "ठीक है, आपकी मदद के लिए बहुत धन्यवाद।",
];

/// The espeak-ng voice of the Hindi test speech.
pub const HINDI_VOICE: &str = "hi";

/// Silence either side of an utterance, as a VAD-cut one has: 300 ms at 16 kHz.
const MARGIN_16K: usize = 4800;

/// Why no speech came.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SpeechError {
    /// espeak-ng is not installed (`apt-get install espeak-ng`).
    #[error("espeak-ng is not installed (apt-get install -y espeak-ng)")]
    EspeakMissing,
    /// espeak-ng ran and failed.
    #[error("espeak-ng failed: {0}")]
    EspeakFailed(String),
    /// What espeak-ng wrote is not a readable WAV.
    #[error("reading espeak-ng's WAV: {0}")]
    Wav(String),
    /// Resampling failed.
    #[error("resampling: {0}")]
    Resample(#[from] vca_media::resample::ResampleError),
}

/// Whether espeak-ng can be run.
pub fn espeak_installed() -> bool {
    Command::new("espeak-ng")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// A temporary WAV path of this process, unique per clip.
fn clip_path() -> PathBuf {
    static CLIP: AtomicUsize = AtomicUsize::new(0);
    std::env::temp_dir().join(format!(
        "vca-speech-{}-{}.wav",
        std::process::id(),
        CLIP.fetch_add(1, Ordering::Relaxed)
    ))
}

/// `text` spoken in `voice` at `speed_wpm` words per minute (0: espeak-ng's default, 175),
/// with the rate it came at.
pub fn espeak(text: &str, voice: &str, speed_wpm: u32) -> Result<(u32, Vec<i16>), SpeechError> {
    let path = clip_path();
    let mut command = Command::new("espeak-ng");
    command.args(["-v", voice]);
    if speed_wpm > 0 {
        command.arg("-s").arg(speed_wpm.to_string());
    }
    let output = command.arg("-w").arg(&path).arg(text).output();
    let result = match output {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(SpeechError::EspeakMissing),
        Err(e) => Err(SpeechError::EspeakFailed(e.to_string())),
        Ok(out) if !out.status.success() => Err(SpeechError::EspeakFailed(format!(
            "{}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))),
        Ok(_) => read_wav(&path),
    };
    let _ = std::fs::remove_file(&path);
    result
}

fn read_wav(path: &std::path::Path) -> Result<(u32, Vec<i16>), SpeechError> {
    let wav = |e: hound::Error| SpeechError::Wav(e.to_string());
    let mut reader = hound::WavReader::open(path).map_err(wav)?;
    let rate = reader.spec().sample_rate;
    let samples = reader
        .samples::<i16>()
        .collect::<Result<Vec<i16>, _>>()
        .map_err(wav)?;
    Ok((rate, samples))
}

/// `pcm` at `from` Hz resampled to `to` Hz.
fn resample(from: u32, to: u32, pcm: &[i16]) -> Result<Vec<i16>, SpeechError> {
    let mut out = Vec::new();
    StreamResampler::new(from, to)?.process_clip(pcm, &mut out)?;
    Ok(out)
}

/// As [`espeak`], resampled to 8 kHz.
pub fn espeak_8k(text: &str, voice: &str, speed_wpm: u32) -> Result<Vec<i16>, SpeechError> {
    let (rate, pcm) = espeak(text, voice, speed_wpm)?;
    resample(rate, 8000, &pcm)
}

/// `pcm` at `rate` as a phone call carries it and the bridge hands it to STT: resampled to
/// 8 kHz, G.711-encoded in `law` and decoded, resampled to 16 kHz, as floats in [-1, 1].
pub fn phone_band_16k(rate: u32, pcm: &[i16], law: Law) -> Result<Vec<f32>, SpeechError> {
    let narrow = resample(rate, 8000, pcm)?;
    let companded: Vec<i16> = narrow.iter().map(|&s| law.decode(law.encode(s))).collect();
    Ok(to_float(&resample(8000, 16_000, &companded)?))
}

fn to_float(pcm: &[i16]) -> Vec<f32> {
    pcm.iter().map(|&s| f32::from(s) / 32768.0).collect()
}

/// `speech` with 300 ms of silence either side.
fn with_margins(speech: Vec<f32>) -> Vec<f32> {
    let mut out = vec![0.0f32; MARGIN_16K];
    out.extend(speech);
    out.extend(std::iter::repeat_n(0.0, MARGIN_16K));
    out
}

/// espeak-ng speech of `text` in `voice` through the phone band (see [`phone_band_16k`]),
/// with 300 ms of silence either side as a VAD-cut utterance has.
pub fn phone_speech(
    text: &str,
    law: Law,
    voice: &str,
    speed_wpm: u32,
) -> Result<Vec<f32>, SpeechError> {
    let (rate, pcm) = espeak(text, voice, speed_wpm)?;
    Ok(with_margins(phone_band_16k(rate, &pcm, law)?))
}

/// Clean 16 kHz speech (no phone band) of `text` in `voice`, with the same 300 ms margins.
pub fn wideband_speech(text: &str, voice: &str, speed_wpm: u32) -> Result<Vec<f32>, SpeechError> {
    let (rate, pcm) = espeak(text, voice, speed_wpm)?;
    Ok(with_margins(to_float(&resample(rate, 16_000, &pcm)?)))
}

/// Lower-case words with punctuation removed (apostrophes dropped, hyphens split, dandas
/// gone). The vowel signs and viramas of Indian scripts stay inside their words; in
/// Devanagari the nukta is dropped and candrabindu folded into anusvara (ज़ = ज, हूँ = हूं),
/// spellings a listener does not tell apart.
pub fn normalize(text: &str) -> Vec<String> {
    let indic = |c: char| ('\u{0900}'..='\u{0DFF}').contains(&c) && !matches!(c, '।' | '॥');
    text.to_lowercase()
        .chars()
        .filter(|c| !matches!(c, '\'' | '’' | '\u{093C}'))
        .map(|c| if c == '\u{0901}' { '\u{0902}' } else { c })
        .map(|c| {
            if c.is_alphanumeric() || indic(c) {
                c
            } else {
                ' '
            }
        })
        .collect::<String>()
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

/// Word-level edit distance (substitutions + deletions + insertions) between a reference
/// and a hypothesis, and the number of reference words.
pub fn word_errors(reference: &str, hypothesis: &str) -> (usize, usize) {
    let r = normalize(reference);
    let h = normalize(hypothesis);
    let mut prev: Vec<usize> = (0..=h.len()).collect();
    for (i, rw) in r.iter().enumerate() {
        let mut cur = vec![i + 1; h.len() + 1];
        for (j, hw) in h.iter().enumerate() {
            let substitution = prev[j] + usize::from(rw != hw);
            cur[j + 1] = substitution.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    (prev[h.len()], r.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_errors_count_edits_after_normalising() {
        assert_eq!(word_errors("Hello, world!", "hello world"), (0, 2));
        assert_eq!(word_errors("a b c", "a x c d"), (2, 3));
        assert_eq!(word_errors("don't stop", "dont stop"), (0, 2));
        assert_eq!(word_errors("", "extra"), (1, 0));
    }

    #[test]
    fn devanagari_words_keep_their_vowel_signs() {
        assert_eq!(normalize("ठीक है, धन्यवाद।"), ["ठीक", "है", "धन्यवाद"]);
        assert_eq!(word_errors("मुझे टेबल चाहिए।", "मुझे टेबल चाहिए"), (0, 3));
        assert_eq!(word_errors("मैं जा रहा हूँ", "मैं जा रहा हूं"), (0, 4));
        assert_eq!(word_errors("ज़रूर", "जरूर"), (0, 1));
        assert_eq!(word_errors("मुझे चाहिए", "मुझे चाहे"), (1, 2));
    }

    #[test]
    fn the_phone_band_keeps_length_and_range() {
        let tone = crate::engines::tone(8000, 8000);
        let wide = phone_band_16k(8000, &tone, Law::Alaw).unwrap();
        assert!((15_000..=17_000).contains(&wide.len()), "{}", wide.len());
        assert!(wide.iter().all(|s| (-1.0..=1.0).contains(s)));
        assert!(wide.iter().any(|s| s.abs() > 0.1));
    }
}
