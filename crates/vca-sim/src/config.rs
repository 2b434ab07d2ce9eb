//! How a simulator instance is set up: listen address, ARI credentials, app name, RTP port
//! range and strict-RTP timing.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use std::collections::BTreeMap;

use crate::model::dialplan::DialplanConfig;
use crate::spec::{AgentBehaviour, ArgsMode};

/// Settings of one simulator. `Default` matches the recordings (user `vca`, password
/// `vca-secret`, app `vca-bridge`, RTP 10000-20000 on 127.0.0.1, 5 s strict-RTP learning)
/// except the listen port, which is 0 (any free port) so tests never collide.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Where ARI (and `/sim`) listens. Keep it on loopback.
    pub listen: SocketAddr,
    /// ARI user name.
    pub user: String,
    /// ARI password.
    pub password: String,
    /// The one Stasis application the dialplan sends calls to.
    pub app: String,
    /// The `asterisk_id` field of every event.
    pub asterisk_id: String,
    /// Address the RTP peers bind (UNICASTRTP_LOCAL_ADDRESS).
    pub rtp_ip: IpAddr,
    /// Inclusive port range of the RTP peers (rtp.conf rtpstart/rtpend).
    pub rtp_ports: (u16, u16),
    /// RTP threads (`vca-sim load --rtp-threads`): this many threads with one socket each
    /// on the first free ports of `rtp_ports` carry every External Media channel, each on
    /// its own loopback address. 0 (the default): a socket and a task per channel on
    /// `rtp_ip`.
    pub rtp_threads: usize,
    /// Hostile RTP some of the RTP threads' channels send beside their packets
    /// (`vca-sim load --flood-every`); none by default.
    pub rtp_flood: crate::RtpFlood,
    /// Strict RTP: the source locks on the first packet this long after the channel exists.
    pub strict_learn: Duration,
    /// Strict RTP: sequential packets another source needs during learning to be adopted.
    pub strict_probation: u32,
    /// Delay from bridging until the first RTP packet (about 0.5 s on Asterisk).
    pub media_start_delay: Duration,
    /// What `StasisStart.args` carries for placed calls unless the call says otherwise.
    pub default_args: ArgsMode,
    /// Where per-call recordings go when a call does not name a file (none: not written).
    pub record_dir: Option<PathBuf>,
    /// How agent endpoints behave when the app originates a leg to them, on top of the
    /// `agent-sim` extensions of extensions.conf (`Local/100@agent-sim` answers,
    /// `Local/busy@agent-sim` is busy, …). Key: the endpoint without options, e.g.
    /// `PJSIP/1001` or `Local/200@agents`. An endpoint in neither fails as an unknown
    /// technology does (500 `Allocation failed`). Change at run time with
    /// [`crate::SimHandle::set_agent`].
    pub agents: BTreeMap<String, AgentBehaviour>,
    /// The dialplan `continue` and `DIALPLAN_EXISTS` see (default: extensions.conf).
    pub dialplan: DialplanConfig,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            listen: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
            user: "vca".to_owned(),
            password: "vca-secret".to_owned(),
            app: "vca-bridge".to_owned(),
            asterisk_id: "02:fc:00:00:00:01".to_owned(),
            rtp_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            rtp_ports: (10000, 20000),
            rtp_threads: 0,
            rtp_flood: crate::RtpFlood::default(),
            strict_learn: Duration::from_secs(5),
            strict_probation: 4,
            media_start_delay: Duration::from_millis(500),
            default_args: ArgsMode::DidAndCaller,
            record_dir: None,
            agents: BTreeMap::new(),
            dialplan: DialplanConfig::default(),
        }
    }
}
