//! [`Input`]: typed values read off the front of a fuzzer's bytes, zero once they run out
//! (the libFuzzer convention: every byte string is a valid input).

/// The unread rest of an input.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    data: &'a [u8],
}

impl<'a> Input<'a> {
    /// Reads from the start of `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Input { data }
    }

    /// Whether everything was read.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// One byte (0 at the end).
    pub fn u8(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }

    /// A big-endian u16.
    pub fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.u8(), self.u8()])
    }

    /// A big-endian u32.
    pub fn u32(&mut self) -> u32 {
        u32::from_be_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }

    /// Up to `n` bytes (fewer at the end).
    pub fn bytes(&mut self, n: usize) -> &'a [u8] {
        let (head, rest) = self.data.split_at(n.min(self.data.len()));
        self.data = rest;
        head
    }

    /// Everything left.
    pub fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.data)
    }

    /// Cut points for splitting `len` bytes into pieces, from the next byte: each piece is
    /// 1..=`max` bytes long (0 `max` means one piece).
    pub fn cuts(&mut self, len: usize, max: usize) -> Vec<usize> {
        let mut cuts = Vec::new();
        if max == 0 {
            return cuts;
        }
        let mut at = 0;
        loop {
            at += 1 + usize::from(self.u8()) % max;
            if at >= len {
                return cuts;
            }
            cuts.push(at);
        }
    }
}

/// `bytes` split at `cuts` (increasing, each inside the slice).
pub fn pieces<'a>(bytes: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut out = Vec::with_capacity(cuts.len() + 1);
    let mut start = 0;
    for &cut in cuts {
        out.push(bytes.get(start..cut).unwrap_or(&[]));
        start = cut;
    }
    out.push(bytes.get(start..).unwrap_or(&[]));
    out
}
