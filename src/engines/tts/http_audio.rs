//! Reading a streamed HTTP audio body (raw PCM, µ-law or A-law) into [`PcmChunk`]s: the first
//! audio inside the guarded, retryable phase, the rest under the idle limit.

use crate::engines::audio::{Le16Assembler, PcmChunk};
use crate::engines::error::EngineError;
use crate::engines::resilience::Guard;
use crate::engines::{http, metrics};
use crate::media::g711::Law;

use super::{ChunkSource, TtsStream, stream_after_first};

/// How the body's bytes encode audio.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyAudio {
    /// 16-bit little-endian PCM at this rate.
    Le16 {
        /// Sample rate.
        rate_hz: u32,
    },
    /// G.711 µ-law at 8 kHz.
    Ulaw8000,
    /// G.711 A-law at 8 kHz.
    Alaw8000,
}

struct Reading {
    provider: &'static str,
    response: reqwest::Response,
    audio: BodyAudio,
    assembler: Le16Assembler,
}

impl Reading {
    fn decode(&mut self, bytes: &[u8]) -> PcmChunk {
        match self.audio {
            BodyAudio::Le16 { rate_hz } => PcmChunk {
                rate_hz,
                samples: self.assembler.push(bytes),
            },
            BodyAudio::Ulaw8000 => PcmChunk {
                rate_hz: 8000,
                samples: bytes.iter().map(|&b| Law::Ulaw.decode(b)).collect(),
            },
            BodyAudio::Alaw8000 => PcmChunk {
                rate_hz: 8000,
                samples: bytes.iter().map(|&b| Law::Alaw.decode(b)).collect(),
            },
        }
    }
}

impl ChunkSource for Reading {
    /// The next non-empty chunk, or `None` at the end of the body.
    async fn next_chunk(
        &mut self,
        limit: std::time::Duration,
        stage: &'static str,
    ) -> Result<Option<PcmChunk>, EngineError> {
        loop {
            match http::next_chunk(self.provider, &mut self.response, limit, stage).await? {
                None => return Ok(None),
                Some(bytes) => {
                    let chunk = self.decode(&bytes);
                    if !chunk.samples.is_empty() {
                        return Ok(Some(chunk));
                    }
                }
            }
        }
    }
}

/// Sends the request built by `make` under `guard` until its first audio, then streams.
pub async fn stream_audio(
    guard: &Guard,
    audio: BodyAudio,
    make: impl Fn() -> reqwest::RequestBuilder,
) -> Result<TtsStream, EngineError> {
    let provider = guard.provider;
    let started = tokio::time::Instant::now();
    let first_byte = guard.timeouts.first_byte;
    let limit = guard.timeouts.connect + first_byte;
    let (reading, first) = guard
        .run("first audio", limit, || async {
            let response = http::send(provider, make()).await?;
            let mut reading = Reading {
                provider,
                response,
                audio,
                assembler: Le16Assembler::new(),
            };
            match reading.next_chunk(first_byte, "first audio").await? {
                Some(first) => Ok((reading, first)),
                None => Err(EngineError::Protocol {
                    provider,
                    detail: "the response held no audio".into(),
                }),
            }
        })
        .await?;
    metrics::tts_first_audio(provider, started.elapsed());
    Ok(stream_after_first(first, reading, guard.timeouts.idle))
}
