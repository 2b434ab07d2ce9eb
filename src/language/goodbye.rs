//! Whether the caller is saying goodbye ([`is_goodbye`]), in any supported language and
//! mixed with English as callers mix it: a short utterance with a farewell word anywhere
//! ("okay bye", "अलविदा", "बाय"), or one that ends in thanks in a language where thanks
//! closes a call ("ठीक है, धन्यवाद", "ধন্যবাদ"). Also [`words`], the tokeniser that keeps
//! the vowel signs and viramas of Indian scripts inside their words.

use super::tag::Language;

/// The longest utterance still taken as a goodbye, in words.
const MAX_WORDS: usize = 8;

/// Farewells: a short utterance holding one of these (as whole words) is a goodbye.
const FAREWELLS: &[&str] = &[
    // English, and English as spoken inside Indian languages.
    "bye",
    "goodbye",
    "good bye",
    "bye bye",
    "bye-bye",
    "see you",
    "that's all",
    "that is all",
    "thats all",
    "nothing else",
    "hang up",
    // Hindi and Hinglish (romanised).
    "alvida",
    "phir milenge",
    "बाय",
    "बाय बाय",
    "अलविदा",
    "फिर मिलेंगे",
    "बस इतना ही",
    "और कुछ नहीं",
    "फ़ोन रखता हूँ",
    "फ़ोन रखती हूँ",
    "फोन रखता हूँ",
    "फोन रखती हूँ",
    // Marathi.
    "बरं आहे",
    "पुन्हा भेटू",
    // Bengali.
    "বিদায়",
    "বাই",
    "আবার দেখা হবে",
    // Tamil.
    "போய் வருகிறேன்",
    "பை",
    // Telugu.
    "వెళ్ళొస్తాను",
    "బై",
    // Kannada.
    "ಹೋಗಿ ಬರುತ್ತೇನೆ",
    "ಬೈ",
    // Malayalam.
    "പോകട്ടെ",
    "ബൈ",
    // Gujarati.
    "આવજો",
    "બાય",
    // Punjabi.
    "ਅਲਵਿਦਾ",
    "ਬਾਏ",
    // Odia.
    "ବିଦାୟ",
];

/// Thanks that close a call when the utterance ends with them ("ठीक है, धन्यवाद"), but
/// not when the caller goes on ("धन्यवाद, और एक सवाल है"). English "thank you" is not
/// here: English callers thank the agent mid-call all the time.
const CLOSING_THANKS: &[&str] = &[
    "dhanyavaad",
    "dhanyavad",
    "dhanyawad",
    "shukriya",
    "धन्यवाद",
    "शुक्रिया",
    "बहुत धन्यवाद",
    "ধন্যবাদ",
    "நன்றி",
    "ధన్యవాదాలు",
    "ధన్యవాదం",
    "ಧನ್ಯವಾದ",
    "ಧನ್ಯವಾದಗಳು",
    "നന്ദി",
    "આભાર",
    "ਧੰਨਵਾਦ",
    "ਸ਼ੁਕਰੀਆ",
    "ଧନ୍ୟବାଦ",
];

/// Whether the caller is saying goodbye.
pub fn is_goodbye(text: &str) -> bool {
    let words = words(text);
    if words.is_empty() || words.len() > MAX_WORDS {
        return false;
    }
    let joined = format!(" {} ", words.join(" "));
    let has = |phrase: &str| joined.contains(&format!(" {phrase} "));
    let ends_with = |phrase: &str| joined.ends_with(&format!(" {phrase} "));
    FAREWELLS.iter().any(|f| has(f)) || CLOSING_THANKS.iter().any(|t| ends_with(t))
}

/// The words of `text`, lower-cased, with punctuation (dandas included) taken out.
/// Letters, digits, apostrophes, hyphens, the combining marks of Indian scripts and the
/// zero-width joiners they use stay inside words.
pub fn words(text: &str) -> Vec<String> {
    let cleaned: String = text
        .to_lowercase()
        .chars()
        .map(|c| match c {
            '’' => '\'',
            c if is_word_char(c) => c,
            _ => ' ',
        })
        .collect();
    cleaned.split_whitespace().map(str::to_string).collect()
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric()
        || c == '\''
        || c == '-'
        || c == '\u{200C}'
        || c == '\u{200D}'
        || (('\u{0900}'..='\u{0DFF}').contains(&c) && !matches!(c, '।' | '॥'))
}

/// Whether most letters of `text` are in `language`'s own script (always false for
/// English, whose script is Latin).
pub fn is_in_script_of(text: &str, language: Language) -> bool {
    let Some(block) = language.script_block() else {
        return false;
    };
    let letters = text.chars().filter(|c| c.is_alphabetic());
    let (mut inside, mut total) = (0usize, 0usize);
    for c in letters {
        total += 1;
        if block.contains(&c) {
            inside += 1;
        }
    }
    total > 0 && inside * 2 > total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn english_goodbyes_are_short_farewells() {
        for yes in [
            "Bye!",
            "Okay, goodbye.",
            "thanks, bye bye",
            "That's all, thank you",
            "bye-bye",
        ] {
            assert!(is_goodbye(yes), "{yes}");
        }
        for no in [
            "",
            "I want to buy a car",
            "Can you tell me about the goodbye party we are planning next friday evening at the office",
            "by the way",
            "thank you",
            "namaste",
        ] {
            assert!(!is_goodbye(no), "{no}");
        }
    }

    #[test]
    fn hindi_goodbyes_in_devanagari_and_romanised() {
        for yes in [
            "धन्यवाद",
            "धन्यवाद।",
            "अलविदा",
            "बाय",
            "ठीक है, धन्यवाद",
            "ठीक है धन्यवाद।",
            "बहुत बहुत धन्यवाद!",
            "ओके बाय",
            "okay bye",
            "theek hai dhanyavaad",
            "बस इतना ही, धन्यवाद",
            "अच्छा, फिर मिलेंगे",
        ] {
            assert!(is_goodbye(yes), "{yes}");
        }
        for no in [
            "धन्यवाद, और एक सवाल है",
            "मुझे कल के लिए एक टेबल बुक करनी है",
            "नमस्ते",
            "बायां दरवाज़ा कहाँ है",
        ] {
            assert!(!is_goodbye(no), "{no}");
        }
    }

    #[test]
    fn other_indian_languages_close_with_thanks() {
        for yes in [
            "ধন্যবাদ",
            "சரி, நன்றி",
            "ధన్యవాదాలు",
            "ಧನ್ಯವಾದಗಳು",
            "നന്ദി",
            "આવજો",
            "ਧੰਨਵਾਦ",
            "ଧନ୍ୟବାଦ",
        ] {
            assert!(is_goodbye(yes), "{yes}");
        }
    }

    #[test]
    fn words_keep_vowel_signs_and_viramas() {
        assert_eq!(words("ठीक है, धन्यवाद।"), ["ठीक", "है", "धन्यवाद"]);
        assert_eq!(words("Okay—BYE!"), ["okay", "bye"]);
        assert_eq!(words("क्या आप॥ सुन"), ["क्या", "आप", "सुन"]);
    }

    #[test]
    fn script_is_told_from_letters() {
        assert!(is_in_script_of("मुझे table चाहिए", Language::Hindi));
        assert!(!is_in_script_of("mujhe table chahiye", Language::Hindi));
        assert!(is_in_script_of("ধন্যবাদ", Language::Bengali));
        assert!(!is_in_script_of("hello", Language::English));
    }
}
