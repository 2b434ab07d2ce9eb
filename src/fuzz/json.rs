//! JSON-aware mutation: parse an input as JSON, change one node (a value of another type,
//! an extreme number, a long or odd string, a key added or removed, an array grown or
//! emptied) and write it back. Byte mutations rarely keep JSON valid; these reach the
//! field checks behind the parser.

use rand::Rng;
use rand::rngs::StdRng;
use serde_json::{Map, Number, Value};

/// `data` with one node changed, or `None` if it is not JSON.
pub fn mutate(rng: &mut StdRng, data: &[u8], words: &[&[u8]]) -> Option<Vec<u8>> {
    let mut value: Value = serde_json::from_slice(data).ok()?;
    let rounds = rng.random_range(1..=3);
    for _ in 0..rounds {
        mutate_node(rng, &mut value, words, 0);
    }
    serde_json::to_vec(&value).ok()
}

fn mutate_node(rng: &mut StdRng, value: &mut Value, words: &[&[u8]], depth: usize) {
    let descend = depth < 16 && rng.random_bool(0.7);
    match value {
        Value::Object(map) if descend && !map.is_empty() => {
            let key = map.keys().nth(rng.random_range(0..map.len())).cloned();
            if let Some(child) = key.and_then(|k| map.get_mut(&k)) {
                return mutate_node(rng, child, words, depth + 1);
            }
        }
        Value::Array(items) if descend && !items.is_empty() => {
            let i = rng.random_range(0..items.len());
            if let Some(child) = items.get_mut(i) {
                return mutate_node(rng, child, words, depth + 1);
            }
        }
        _ => {}
    }
    match value {
        Value::Object(map) if rng.random_bool(0.5) => edit_object(rng, map, words),
        Value::Array(items) if rng.random_bool(0.5) => edit_array(rng, items, words),
        _ => *value = random_value(rng, words, 0),
    }
}

fn edit_object(rng: &mut StdRng, map: &mut Map<String, Value>, words: &[&[u8]]) {
    if !map.is_empty() && rng.random_bool(0.3) {
        let key = map.keys().nth(rng.random_range(0..map.len())).cloned();
        if let Some(key) = key {
            map.remove(&key);
        }
        return;
    }
    let key = word(rng, words);
    map.insert(key, random_value(rng, words, 0));
}

fn edit_array(rng: &mut StdRng, items: &mut Vec<Value>, words: &[&[u8]]) {
    match rng.random_range(0..3) {
        0 => items.clear(),
        1 if !items.is_empty() => {
            let copy = items[rng.random_range(0..items.len())].clone();
            let n = rng.random_range(1..=64);
            items.extend(std::iter::repeat_n(copy, n));
        }
        _ => items.push(random_value(rng, words, 0)),
    }
}

/// A dictionary word as a string (lossy), or a short random one.
fn word(rng: &mut StdRng, words: &[&[u8]]) -> String {
    if !words.is_empty() && rng.random_bool(0.8) {
        let w = words[rng.random_range(0..words.len())];
        return String::from_utf8_lossy(w).trim_matches('"').to_string();
    }
    random_string(rng)
}

fn random_string(rng: &mut StdRng) -> String {
    const ODD: &[&str] = &[
        "",
        " ",
        "\u{0}",
        "\u{feff}",
        "é",
        "ह",
        "😀",
        "\u{202e}",
        "\r\n",
        "%00",
        "../",
        "NaN",
        "-1",
        "1e309",
        "+0",
        "9999999999999999999999",
    ];
    match rng.random_range(0..4) {
        0 => ODD[rng.random_range(0..ODD.len())].to_string(),
        1 => {
            let piece = ODD[rng.random_range(0..ODD.len())];
            piece.repeat(rng.random_range(1..=4096))
        }
        _ => (0..rng.random_range(0..24))
            .map(|_| char::from_u32(rng.random_range(0..0x3_0000)).unwrap_or('?'))
            .collect(),
    }
}

/// A random JSON value, mostly scalars at the edges of their types.
pub fn random_value(rng: &mut StdRng, words: &[&[u8]], depth: usize) -> Value {
    let pick = if depth > 3 {
        rng.random_range(0..7)
    } else {
        rng.random_range(0..9)
    };
    match pick {
        0 => Value::Null,
        1 => Value::Bool(rng.random()),
        2 => {
            const INTS: &[i64] = &[
                0,
                1,
                -1,
                i64::MAX,
                i64::MIN,
                i32::MAX as i64,
                u32::MAX as i64,
                65536,
                255,
            ];
            Value::from(INTS[rng.random_range(0..INTS.len())])
        }
        3 => Value::from(u64::MAX - rng.random_range(0..2)),
        4 => {
            const FLOATS: &[f64] = &[
                0.5,
                -0.0,
                -1.5,
                1e308,
                -1e308,
                f64::MIN_POSITIVE,
                3.4e38,
                1e-320,
            ];
            Number::from_f64(FLOATS[rng.random_range(0..FLOATS.len())])
                .map_or(Value::Null, Value::Number)
        }
        5 => Value::String(word(rng, words)),
        6 => Value::String(random_string(rng)),
        7 => Value::Array(
            (0..rng.random_range(0..4))
                .map(|_| random_value(rng, words, depth + 1))
                .collect(),
        ),
        _ => Value::Object(
            (0..rng.random_range(0..4))
                .map(|_| (word(rng, words), random_value(rng, words, depth + 1)))
                .collect(),
        ),
    }
}
