//! G.711 µ-law (PCMU, RTP payload type 0) and A-law (PCMA, payload type 8).
//!
//! Encoding and decoding follow ITU-T G.711 exactly: decoding uses a 256-entry table
//! computed at compile time from the standard's segment formula, encoding uses the
//! segment search of the reference implementation on the 14-bit (µ-law) or 13-bit
//! (A-law) linear value taken from the top of a 16-bit sample. Nothing here allocates.

/// The two G.711 companding laws a call can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Law {
    /// A-law (PCMA): what Indian and European trunks carry.
    Alaw,
    /// µ-law (PCMU): North America and Japan.
    Ulaw,
}

impl Law {
    /// The static RTP payload type (RFC 3551): 0 for PCMU, 8 for PCMA.
    pub const fn payload_type(self) -> u8 {
        match self {
            Law::Ulaw => 0,
            Law::Alaw => 8,
        }
    }

    /// The law for a static payload type, if it is one of the two.
    pub const fn from_payload_type(pt: u8) -> Option<Law> {
        match pt {
            0 => Some(Law::Ulaw),
            8 => Some(Law::Alaw),
            _ => None,
        }
    }

    /// The Asterisk format name used for External Media (`alaw` / `ulaw`).
    pub const fn asterisk_format(self) -> &'static str {
        match self {
            Law::Alaw => "alaw",
            Law::Ulaw => "ulaw",
        }
    }

    /// The code word of digital silence (linear 0) in this law.
    pub const fn silence(self) -> u8 {
        match self {
            Law::Ulaw => 0xFF,
            Law::Alaw => 0xD5,
        }
    }

    /// Decodes one code word to a 16-bit linear sample.
    #[inline]
    pub fn decode(self, code: u8) -> i16 {
        match self {
            Law::Ulaw => ULAW_TO_LINEAR[code as usize],
            Law::Alaw => ALAW_TO_LINEAR[code as usize],
        }
    }

    /// Encodes one 16-bit linear sample to a code word.
    #[inline]
    pub fn encode(self, sample: i16) -> u8 {
        match self {
            Law::Ulaw => linear_to_ulaw(sample),
            Law::Alaw => linear_to_alaw(sample),
        }
    }

    /// Decodes `codes` into `out` (which must be at least as long); returns the count written.
    #[inline]
    pub fn decode_into(self, codes: &[u8], out: &mut [i16]) -> usize {
        let n = codes.len().min(out.len());
        let table = match self {
            Law::Ulaw => &ULAW_TO_LINEAR,
            Law::Alaw => &ALAW_TO_LINEAR,
        };
        for (o, &c) in out[..n].iter_mut().zip(&codes[..n]) {
            *o = table[c as usize];
        }
        n
    }

    /// Encodes `pcm` into `out` (which must be at least as long); returns the count written.
    #[inline]
    pub fn encode_into(self, pcm: &[i16], out: &mut [u8]) -> usize {
        let n = pcm.len().min(out.len());
        for (o, &s) in out[..n].iter_mut().zip(&pcm[..n]) {
            *o = self.encode(s);
        }
        n
    }
}

const ULAW_BIAS: i32 = 0x84;

const fn ulaw_decode(code: u8) -> i16 {
    let u = !code;
    let mut t = (((u & 0x0F) as i32) << 3) + ULAW_BIAS;
    t <<= ((u & 0x70) >> 4) as i32;
    if u & 0x80 != 0 {
        (ULAW_BIAS - t) as i16
    } else {
        (t - ULAW_BIAS) as i16
    }
}

const fn alaw_decode(code: u8) -> i16 {
    let a = code ^ 0x55;
    let mut t = ((a & 0x0F) as i32) << 4;
    let seg = ((a & 0x70) >> 4) as i32;
    match seg {
        0 => t += 8,
        1 => t += 0x108,
        _ => {
            t += 0x108;
            t <<= seg - 1;
        }
    }
    if a & 0x80 != 0 { t as i16 } else { -t as i16 }
}

const fn build_table(alaw: bool) -> [i16; 256] {
    let mut table = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = if alaw {
            alaw_decode(i as u8)
        } else {
            ulaw_decode(i as u8)
        };
        i += 1;
    }
    table
}

/// µ-law code word → linear sample, for every code word.
pub static ULAW_TO_LINEAR: [i16; 256] = build_table(false);
/// A-law code word → linear sample, for every code word.
pub static ALAW_TO_LINEAR: [i16; 256] = build_table(true);

#[inline]
fn segment(value: i32, ends: &[i32; 8]) -> usize {
    let mut seg = 0;
    while seg < 8 && value > ends[seg] {
        seg += 1;
    }
    seg
}

const ULAW_SEG_END: [i32; 8] = [0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF];
const ALAW_SEG_END: [i32; 8] = [0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF];

#[inline]
fn linear_to_ulaw(sample: i16) -> u8 {
    let mut pcm = (sample as i32) >> 2;
    let mask: u8 = if pcm < 0 {
        pcm = -pcm;
        0x7F
    } else {
        0xFF
    };
    if pcm > 8159 {
        pcm = 8159;
    }
    pcm += ULAW_BIAS >> 2;
    let seg = segment(pcm, &ULAW_SEG_END);
    if seg >= 8 {
        return 0x7F ^ mask;
    }
    let uval = ((seg as i32) << 4) | ((pcm >> (seg + 1)) & 0x0F);
    (uval as u8) ^ mask
}

#[inline]
fn linear_to_alaw(sample: i16) -> u8 {
    let mut pcm = (sample as i32) >> 3;
    let mask: u8 = if pcm >= 0 {
        0xD5
    } else {
        pcm = -pcm - 1;
        0x55
    };
    let seg = segment(pcm, &ALAW_SEG_END);
    if seg >= 8 {
        return 0x7F ^ mask;
    }
    let mut aval = (seg as i32) << 4;
    if seg < 2 {
        aval |= (pcm >> 1) & 0x0F;
    } else {
        aval |= (pcm >> seg) & 0x0F;
    }
    (aval as u8) ^ mask
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_word_round_trips() {
        for law in [Law::Ulaw, Law::Alaw] {
            for code in 0..=255u8 {
                let lin = law.decode(code);
                let back = law.encode(lin);
                // µ-law has two zeros (0x7F and 0xFF); both decode to 0, which encodes to 0xFF.
                if law == Law::Ulaw && code == 0x7F {
                    assert_eq!(back, 0xFF);
                } else {
                    assert_eq!(back, code, "{law:?} code {code:#04x} -> {lin}");
                }
            }
        }
    }

    #[test]
    fn silence_decodes_to_near_zero() {
        assert_eq!(Law::Ulaw.decode(Law::Ulaw.silence()), 0);
        assert_eq!(Law::Alaw.decode(Law::Alaw.silence()), 8);
    }
}
