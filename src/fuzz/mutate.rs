//! Byte-level mutations in the manner of libFuzzer's: flip, set, insert, erase, copy,
//! splice with another input, and dictionary words (field names, keywords) inserted or
//! written over the bytes.

use rand::Rng;
use rand::rngs::StdRng;

/// Values that find off-by-one and sign mistakes.
const INTERESTING: &[u8] = &[
    0, 1, 0x7f, 0x80, 0xff, b'0', b'9', b'"', b'\\', b'\n', b'{', b'[',
];

/// Applies one to eight random mutations to `data`, keeping it at most `max_len` bytes.
pub fn mutate(
    rng: &mut StdRng,
    data: &mut Vec<u8>,
    other: &[u8],
    dictionary: &[&[u8]],
    max_len: usize,
) {
    let rounds = rng.random_range(1..=8);
    for _ in 0..rounds {
        mutate_once(rng, data, other, dictionary);
    }
    data.truncate(max_len);
}

fn mutate_once(rng: &mut StdRng, data: &mut Vec<u8>, other: &[u8], dictionary: &[&[u8]]) {
    let len = data.len();
    let at = if len == 0 {
        0
    } else {
        rng.random_range(0..len)
    };
    match rng.random_range(0..11) {
        0 if len > 0 => data[at] ^= 1 << rng.random_range(0..8),
        1 if len > 0 => data[at] = rng.random(),
        2 if len > 0 => data[at] = INTERESTING[rng.random_range(0..INTERESTING.len())],
        3 => {
            let n = rng.random_range(1..=16);
            let bytes: Vec<u8> = (0..n).map(|_| rng.random()).collect();
            data.splice(at..at, bytes);
        }
        4 if len > 0 => {
            let n = rng.random_range(1..=(len - at).min(32));
            data.drain(at..at + n);
        }
        5 if len > 0 => {
            let n = rng.random_range(1..=(len - at).min(64));
            let copy = data[at..at + n].to_vec();
            let to = rng.random_range(0..=len);
            data.splice(to..to, copy);
        }
        6 | 7 if !dictionary.is_empty() => {
            let word = dictionary[rng.random_range(0..dictionary.len())];
            if rng.random_bool(0.5) || len == 0 {
                data.splice(at..at, word.iter().copied());
            } else {
                let end = (at + word.len()).min(len);
                data.splice(at..end, word.iter().copied());
            }
        }
        8 if !other.is_empty() => {
            let from = rng.random_range(0..other.len());
            let n = rng.random_range(1..=(other.len() - from).min(256));
            let end = if len == 0 {
                0
            } else {
                rng.random_range(at..=len)
            };
            data.splice(at..end, other[from..from + n].iter().copied());
        }
        9 if len > 1 => data.truncate(at.max(1)),
        10 if len >= 2 => {
            // A little-endian or big-endian number made extreme.
            let width = if len - at >= 4 { 4 } else { 2.min(len - at) };
            let value: u32 = match rng.random_range(0..4) {
                0 => 0,
                1 => u32::MAX,
                2 => 0x8000_0000,
                _ => rng.random(),
            };
            let bytes = value.to_be_bytes();
            data[at..at + width].copy_from_slice(&bytes[4 - width..]);
        }
        _ => data.push(rng.random()),
    }
}
