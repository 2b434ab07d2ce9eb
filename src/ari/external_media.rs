//! Parameters and result of `POST /channels/externalMedia` (RTP over UDP), and the parsing of
//! the `UNICASTRTP_LOCAL_ADDRESS`/`UNICASTRTP_LOCAL_PORT` channel variables into the address
//! Asterisk sends RTP from and receives it on (FINDINGS.md 6-7).
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use super::error::AriError;
use super::models::Channel;

/// Channel variable holding the IP Asterisk's RTP socket is bound to.
pub const UNICASTRTP_LOCAL_ADDRESS: &str = "UNICASTRTP_LOCAL_ADDRESS";
/// Channel variable holding the port of Asterisk's RTP socket.
pub const UNICASTRTP_LOCAL_PORT: &str = "UNICASTRTP_LOCAL_PORT";

/// What to ask for when creating an External Media channel. Encapsulation is always `rtp`,
/// transport always `udp` and direction `both`; those are the only ones vca-bridge speaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalMediaRequest {
    /// Stasis application that will own the channel (its `StasisStart` goes there).
    pub app: String,
    /// Where Asterisk should send RTP: our per-call UDP socket.
    pub external_host: SocketAddr,
    /// Asterisk format name: `ulaw`, `alaw`, `slin16`, …
    pub format: String,
    /// The channel id we choose in advance, so its own `StasisStart` is recognisable.
    pub channel_id: Option<String>,
    /// Channel variables to set on the new channel (sent as the JSON body).
    pub variables: BTreeMap<String, String>,
}

/// A created External Media channel and the RTP address Asterisk uses for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalMedia {
    /// The UnicastRTP channel, including its `channelvars`.
    pub channel: Channel,
    /// `UNICASTRTP_LOCAL_ADDRESS:UNICASTRTP_LOCAL_PORT`: the only source whose RTP we accept
    /// and the destination of ours.
    pub rtp_address: SocketAddr,
}

impl ExternalMedia {
    /// Builds the result from the channel in the 200 response.
    ///
    /// # Errors
    /// [`AriError::MissingChannelVar`] or [`AriError::MalformedChannelVar`] when the variables
    /// are absent or do not form an IP address and a non-zero port.
    pub fn from_channel(channel: Channel) -> Result<Self, AriError> {
        let rtp_address = rtp_address_from_vars(&channel.channelvars)?;
        Ok(Self {
            channel,
            rtp_address,
        })
    }
}

/// Parses `UNICASTRTP_LOCAL_ADDRESS` and `UNICASTRTP_LOCAL_PORT` (both strings) into an address.
///
/// # Errors
/// [`AriError::MissingChannelVar`] if either is absent; [`AriError::MalformedChannelVar`] if the
/// address is not an IP or the port is not a number in 1..=65535.
pub fn rtp_address_from_vars(vars: &BTreeMap<String, String>) -> Result<SocketAddr, AriError> {
    let address = vars
        .get(UNICASTRTP_LOCAL_ADDRESS)
        .ok_or(AriError::MissingChannelVar {
            name: UNICASTRTP_LOCAL_ADDRESS,
        })?;
    let port = vars
        .get(UNICASTRTP_LOCAL_PORT)
        .ok_or(AriError::MissingChannelVar {
            name: UNICASTRTP_LOCAL_PORT,
        })?;
    let ip: IpAddr = address
        .trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .map_err(|_| AriError::MalformedChannelVar {
            name: UNICASTRTP_LOCAL_ADDRESS,
            value: address.clone(),
        })?;
    let port_number = port
        .trim()
        .parse::<u16>()
        .ok()
        .filter(|p| *p != 0)
        .ok_or_else(|| AriError::MalformedChannelVar {
            name: UNICASTRTP_LOCAL_PORT,
            value: port.clone(),
        })?;
    Ok(SocketAddr::new(ip, port_number))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn parses_recorded_vars() {
        let addr = rtp_address_from_vars(&vars(&[
            ("UNICASTRTP_LOCAL_PORT", "15732"),
            ("UNICASTRTP_LOCAL_ADDRESS", "127.0.0.1"),
        ]))
        .unwrap();
        assert_eq!(addr, "127.0.0.1:15732".parse::<SocketAddr>().unwrap());
    }

    #[test]
    fn missing_port_is_typed() {
        let err =
            rtp_address_from_vars(&vars(&[("UNICASTRTP_LOCAL_ADDRESS", "127.0.0.1")])).unwrap_err();
        assert!(matches!(
            err,
            AriError::MissingChannelVar {
                name: UNICASTRTP_LOCAL_PORT
            }
        ));
    }

    #[test]
    fn malformed_values_are_typed() {
        for (address, port, bad) in [
            ("localhost", "15732", UNICASTRTP_LOCAL_ADDRESS),
            ("127.0.0.1", "0", UNICASTRTP_LOCAL_PORT),
            ("127.0.0.1", "70000", UNICASTRTP_LOCAL_PORT),
            ("127.0.0.1", "", UNICASTRTP_LOCAL_PORT),
        ] {
            let err = rtp_address_from_vars(&vars(&[
                ("UNICASTRTP_LOCAL_ADDRESS", address),
                ("UNICASTRTP_LOCAL_PORT", port),
            ]))
            .unwrap_err();
            assert!(
                matches!(err, AriError::MalformedChannelVar { name, .. } if name == bad),
                "{address} {port}"
            );
        }
    }

    #[test]
    fn ipv6_address_is_accepted() {
        let addr = rtp_address_from_vars(&vars(&[
            ("UNICASTRTP_LOCAL_ADDRESS", "::1"),
            ("UNICASTRTP_LOCAL_PORT", "10000"),
        ]))
        .unwrap();
        assert_eq!(addr, "[::1]:10000".parse::<SocketAddr>().unwrap());
    }
}
