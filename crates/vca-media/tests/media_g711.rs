//! G.711 against the ITU-T tables: every code word of both laws decodes to the value in
//! G.711 Table 1 (A-law) / Table 2 (µ-law), every reconstruction level encodes back to its
//! code word, and every 16-bit input encodes to the nearest level, monotonically.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use vca_media::g711::{ALAW_TO_LINEAR, Law, ULAW_TO_LINEAR};

// The tables below were written out from the segment layout printed in ITU-T G.711
// (A-law: 8 segments, step 2 in segments 0 and 1, doubling after, even bits inverted on
// the wire; µ-law: outputs ((33 + 2q) << s) - 33, all bits inverted on the wire), scaled to
// 16 bits. They were checked against the decoder tables of two independent implementations.

/// A-law code word → ITU-T G.711 Table 1 decoder output (×8 to 16 bits), every code word.
const ALAW_ITU: [i16; 256] = [
    -5504, -5248, -6016, -5760, -4480, -4224, -4992, -4736, // 0x00
    -7552, -7296, -8064, -7808, -6528, -6272, -7040, -6784, // 0x08
    -2752, -2624, -3008, -2880, -2240, -2112, -2496, -2368, // 0x10
    -3776, -3648, -4032, -3904, -3264, -3136, -3520, -3392, // 0x18
    -22016, -20992, -24064, -23040, -17920, -16896, -19968, -18944, // 0x20
    -30208, -29184, -32256, -31232, -26112, -25088, -28160, -27136, // 0x28
    -11008, -10496, -12032, -11520, -8960, -8448, -9984, -9472, // 0x30
    -15104, -14592, -16128, -15616, -13056, -12544, -14080, -13568, // 0x38
    -344, -328, -376, -360, -280, -264, -312, -296, // 0x40
    -472, -456, -504, -488, -408, -392, -440, -424, // 0x48
    -88, -72, -120, -104, -24, -8, -56, -40, // 0x50
    -216, -200, -248, -232, -152, -136, -184, -168, // 0x58
    -1376, -1312, -1504, -1440, -1120, -1056, -1248, -1184, // 0x60
    -1888, -1824, -2016, -1952, -1632, -1568, -1760, -1696, // 0x68
    -688, -656, -752, -720, -560, -528, -624, -592, // 0x70
    -944, -912, -1008, -976, -816, -784, -880, -848, // 0x78
    5504, 5248, 6016, 5760, 4480, 4224, 4992, 4736, // 0x80
    7552, 7296, 8064, 7808, 6528, 6272, 7040, 6784, // 0x88
    2752, 2624, 3008, 2880, 2240, 2112, 2496, 2368, // 0x90
    3776, 3648, 4032, 3904, 3264, 3136, 3520, 3392, // 0x98
    22016, 20992, 24064, 23040, 17920, 16896, 19968, 18944, // 0xA0
    30208, 29184, 32256, 31232, 26112, 25088, 28160, 27136, // 0xA8
    11008, 10496, 12032, 11520, 8960, 8448, 9984, 9472, // 0xB0
    15104, 14592, 16128, 15616, 13056, 12544, 14080, 13568, // 0xB8
    344, 328, 376, 360, 280, 264, 312, 296, // 0xC0
    472, 456, 504, 488, 408, 392, 440, 424, // 0xC8
    88, 72, 120, 104, 24, 8, 56, 40, // 0xD0
    216, 200, 248, 232, 152, 136, 184, 168, // 0xD8
    1376, 1312, 1504, 1440, 1120, 1056, 1248, 1184, // 0xE0
    1888, 1824, 2016, 1952, 1632, 1568, 1760, 1696, // 0xE8
    688, 656, 752, 720, 560, 528, 624, 592, // 0xF0
    944, 912, 1008, 976, 816, 784, 880, 848, // 0xF8
];

/// µ-law code word → ITU-T G.711 Table 2 decoder output (×4 to 16 bits), every code word.
const ULAW_ITU: [i16; 256] = [
    -32124, -31100, -30076, -29052, -28028, -27004, -25980, -24956, // 0x00
    -23932, -22908, -21884, -20860, -19836, -18812, -17788, -16764, // 0x08
    -15996, -15484, -14972, -14460, -13948, -13436, -12924, -12412, // 0x10
    -11900, -11388, -10876, -10364, -9852, -9340, -8828, -8316, // 0x18
    -7932, -7676, -7420, -7164, -6908, -6652, -6396, -6140, // 0x20
    -5884, -5628, -5372, -5116, -4860, -4604, -4348, -4092, // 0x28
    -3900, -3772, -3644, -3516, -3388, -3260, -3132, -3004, // 0x30
    -2876, -2748, -2620, -2492, -2364, -2236, -2108, -1980, // 0x38
    -1884, -1820, -1756, -1692, -1628, -1564, -1500, -1436, // 0x40
    -1372, -1308, -1244, -1180, -1116, -1052, -988, -924, // 0x48
    -876, -844, -812, -780, -748, -716, -684, -652, // 0x50
    -620, -588, -556, -524, -492, -460, -428, -396, // 0x58
    -372, -356, -340, -324, -308, -292, -276, -260, // 0x60
    -244, -228, -212, -196, -180, -164, -148, -132, // 0x68
    -120, -112, -104, -96, -88, -80, -72, -64, // 0x70
    -56, -48, -40, -32, -24, -16, -8, 0, // 0x78
    32124, 31100, 30076, 29052, 28028, 27004, 25980, 24956, // 0x80
    23932, 22908, 21884, 20860, 19836, 18812, 17788, 16764, // 0x88
    15996, 15484, 14972, 14460, 13948, 13436, 12924, 12412, // 0x90
    11900, 11388, 10876, 10364, 9852, 9340, 8828, 8316, // 0x98
    7932, 7676, 7420, 7164, 6908, 6652, 6396, 6140, // 0xA0
    5884, 5628, 5372, 5116, 4860, 4604, 4348, 4092, // 0xA8
    3900, 3772, 3644, 3516, 3388, 3260, 3132, 3004, // 0xB0
    2876, 2748, 2620, 2492, 2364, 2236, 2108, 1980, // 0xB8
    1884, 1820, 1756, 1692, 1628, 1564, 1500, 1436, // 0xC0
    1372, 1308, 1244, 1180, 1116, 1052, 988, 924, // 0xC8
    876, 844, 812, 780, 748, 716, 684, 652, // 0xD0
    620, 588, 556, 524, 492, 460, 428, 396, // 0xD8
    372, 356, 340, 324, 308, 292, 276, 260, // 0xE0
    244, 228, 212, 196, 180, 164, 148, 132, // 0xE8
    120, 112, 104, 96, 88, 80, 72, 64, // 0xF0
    56, 48, 40, 32, 24, 16, 8, 0, // 0xF8
];

#[test]
fn every_alaw_code_word_decodes_to_the_itu_value() {
    for code in 0..=255u8 {
        assert_eq!(
            Law::Alaw.decode(code),
            ALAW_ITU[code as usize],
            "A-law {code:#04x}"
        );
        assert_eq!(ALAW_TO_LINEAR[code as usize], ALAW_ITU[code as usize]);
    }
}

#[test]
fn every_ulaw_code_word_decodes_to_the_itu_value() {
    for code in 0..=255u8 {
        assert_eq!(
            Law::Ulaw.decode(code),
            ULAW_ITU[code as usize],
            "µ-law {code:#04x}"
        );
        assert_eq!(ULAW_TO_LINEAR[code as usize], ULAW_ITU[code as usize]);
    }
}

#[test]
fn every_reconstruction_level_encodes_back_to_its_code_word() {
    for code in 0..=255u8 {
        assert_eq!(
            Law::Alaw.encode(ALAW_ITU[code as usize]),
            code,
            "A-law {code:#04x}"
        );
        // µ-law has a negative zero (0x7F) that decodes to 0; 0 encodes to positive zero.
        let expected = if code == 0x7F { 0xFF } else { code };
        assert_eq!(
            Law::Ulaw.encode(ULAW_ITU[code as usize]),
            expected,
            "µ-law {code:#04x}"
        );
    }
}

#[test]
fn known_code_words_for_zero_and_full_scale() {
    assert_eq!(Law::Ulaw.encode(0), 0xFF);
    assert_eq!(Law::Ulaw.encode(i16::MAX), 0x80);
    assert_eq!(Law::Ulaw.encode(i16::MIN), 0x00);
    assert_eq!(Law::Alaw.encode(0), 0xD5);
    assert_eq!(Law::Alaw.encode(i16::MAX), 0xAA);
    assert_eq!(Law::Alaw.encode(i16::MIN), 0x2A);
    assert_eq!(Law::Ulaw.silence(), 0xFF);
    assert_eq!(Law::Alaw.silence(), 0xD5);
}

/// G.711 quantisation step (16-bit units) of the segment a code word belongs to.
fn step_of(law: Law, code: u8) -> i32 {
    match law {
        Law::Alaw => {
            let segment = ((code ^ 0x55) >> 4) & 7;
            if segment <= 1 { 16 } else { 8 << segment }
        }
        Law::Ulaw => 8 << ((!code >> 4) & 7),
    }
}

/// Every 16-bit input encodes to the code word whose decision interval (its output value
/// ± half its segment's step, per the G.711 tables) holds the input, up to the truncation
/// G.711 applies to the 13/14-bit input; inputs beyond the largest level saturate; larger
/// inputs never decode smaller.
fn check_quantiser(law: Law, table: &[i16; 256], truncation: i32) {
    let top = table.iter().map(|&v| i32::from(v)).max().unwrap();
    let mut previous = i32::MIN;
    for x in i16::MIN..=i16::MAX {
        let code = law.encode(x);
        let decoded = i32::from(law.decode(code));
        let x = i32::from(x);
        if x.abs() > top {
            assert_eq!(decoded.abs(), top, "{law:?}: {x} must saturate");
        } else {
            let half = step_of(law, code) / 2;
            assert!(
                (decoded - x).abs() <= half + truncation,
                "{law:?}: {x} -> {decoded} (code {code:#04x}, half step {half})"
            );
        }
        assert!(decoded >= previous, "{law:?}: not monotonic at {x}");
        previous = decoded;
    }
}

#[test]
fn alaw_encoder_quantises_every_input_to_the_nearest_level() {
    check_quantiser(Law::Alaw, &ALAW_ITU, 8);
}

#[test]
fn ulaw_encoder_quantises_every_input_to_the_nearest_level() {
    check_quantiser(Law::Ulaw, &ULAW_ITU, 4);
}

#[test]
fn payload_types_are_the_static_ones() {
    assert_eq!(Law::Ulaw.payload_type(), 0);
    assert_eq!(Law::Alaw.payload_type(), 8);
    assert_eq!(Law::from_payload_type(0), Some(Law::Ulaw));
    assert_eq!(Law::from_payload_type(8), Some(Law::Alaw));
    assert_eq!(Law::from_payload_type(96), None);
}

proptest! {
    #[test]
    fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..600), short in 0usize..700) {
        for law in [Law::Alaw, Law::Ulaw] {
            let mut out = vec![0i16; short];
            let n = law.decode_into(&bytes, &mut out);
            prop_assert_eq!(n, bytes.len().min(short));
            for (i, &code) in bytes.iter().take(n).enumerate() {
                prop_assert_eq!(out[i], law.decode(code));
            }
        }
    }

    #[test]
    fn encoding_arbitrary_pcm_round_trips_within_one_step(pcm in proptest::collection::vec(any::<i16>(), 0..400)) {
        for law in [Law::Alaw, Law::Ulaw] {
            let mut codes = vec![0u8; pcm.len()];
            prop_assert_eq!(law.encode_into(&pcm, &mut codes), pcm.len());
            for (&x, &c) in pcm.iter().zip(&codes) {
                let back = i32::from(law.decode(c));
                // the largest G.711 step is 1024 (A-law) / 1024 (µ-law) in 16-bit units
                prop_assert!((back - i32::from(x)).abs() <= 1024, "{:?} {} -> {}", law, x, back);
            }
        }
    }
}
