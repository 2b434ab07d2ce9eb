//! The REST client's transfer calls against vca-sim, with the daemon's own event supervisor
//! as the application: `DIALPLAN_EXISTS` and variables on a live call, the hand-over of
//! FINDINGS.md 36 (MOH, agent leg originated into the app, External Media out, agent in),
//! `continue` into the simulated `humans` dialplan (26-27), and the errors once a channel
//! has left Stasis or is gone.

use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use vca_bridge::ari::events::StasisStart;
use vca_bridge::ari::{
    AriClient, AriConfig, AriError, AriEvent, AriPassword, AriStreamItem, DialplanTarget,
    EventsEndpoint, ExternalMediaRequest, HangupReason, OriginateRequest, SupervisorConfig,
    SupervisorHandle, spawn_supervisor,
};
use vca_sim::{CallSpec, SimCall, SimConfig, SimHandle, Simulator};

/// A simulator, a client for it and our application's event stream.
struct App {
    sim: SimHandle,
    client: AriClient,
    events: mpsc::Receiver<AriStreamItem>,
    _supervisor: SupervisorHandle,
}

async fn start() -> App {
    let sim = Simulator::start(SimConfig {
        media_start_delay: Duration::from_millis(20),
        strict_learn: Duration::from_millis(300),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let config = AriConfig::new(
        sim.ari_url(),
        "vca",
        AriPassword::new("vca-secret"),
        "vca-bridge",
    );
    let client = AriClient::new(&config).unwrap();
    let (supervisor, events) = spawn_supervisor(
        EventsEndpoint::from_config(&config).unwrap(),
        SupervisorConfig::default(),
        CancellationToken::new(),
    );
    sim.wait_websocket().await;
    App {
        sim,
        client,
        events,
        _supervisor: supervisor,
    }
}

impl App {
    /// Waits for the `StasisStart` of `channel`, skipping every other event.
    async fn stasis_start(&mut self, channel: &str) -> StasisStart {
        tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                match self.events.recv().await {
                    Some(AriStreamItem::Event(message)) => {
                        if let AriEvent::StasisStart(start) = message.event
                            && start.channel.id == channel
                        {
                            return start;
                        }
                    }
                    Some(_) => {}
                    None => panic!("event stream ended"),
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("no StasisStart for {channel}"))
    }

    /// A call in Stasis, answered, in a mixing bridge with an External Media channel, as the
    /// daemon sets calls up.
    async fn bridged_call(&mut self) -> Bridged {
        let call = self
            .sim
            .place_call(CallSpec::new("+15559876543", "+15551234567"));
        let caller = call.id().to_owned();
        self.stasis_start(&caller).await;
        self.client.answer(&caller).await.unwrap();
        let bridge = self
            .client
            .create_bridge(&format!("vca-{caller}"), None)
            .await
            .unwrap();
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let em = self
            .client
            .create_external_media(&ExternalMediaRequest {
                app: "vca-bridge".to_owned(),
                external_host: socket.local_addr().unwrap(),
                format: "ulaw".to_owned(),
                channel_id: Some(format!("vca-em-{caller}")),
                variables: Default::default(),
            })
            .await
            .unwrap();
        self.client
            .add_channels_to_bridge(&bridge.id, &[&caller, &em.channel.id])
            .await
            .unwrap();
        Bridged {
            call,
            caller,
            bridge: bridge.id,
            em: em.channel.id,
            _socket: socket,
        }
    }
}

/// A call set up as the daemon sets one up.
struct Bridged {
    /// The simulator's side of the call.
    call: SimCall,
    /// The caller's (inbound) channel id.
    caller: String,
    /// The mixing bridge.
    bridge: String,
    /// The External Media channel.
    em: String,
    /// Where External Media sends RTP (kept open for the call).
    _socket: UdpSocket,
}

#[tokio::test]
async fn variables_and_dialplan_exists_on_a_live_call() {
    let mut app = start().await;
    let Bridged {
        caller, bridge, em, ..
    } = app.bridged_call().await;
    let client = &app.client;
    assert!(
        client
            .dialplan_exists(&caller, "humans", "100", 1)
            .await
            .unwrap()
    );
    assert!(
        client
            .dialplan_exists(&caller, "humans", "queue", 1)
            .await
            .unwrap()
    );
    for (context, extension, priority) in [
        ("humans", "999", 1),
        ("humans", "100", 99),
        ("nosuchcontext", "100", 1),
    ] {
        assert!(
            !client
                .dialplan_exists(&caller, context, extension, priority)
                .await
                .unwrap(),
            "{context},{extension},{priority}"
        );
    }
    // Any channel answers the same (finding 33), and a `+` in a pattern survives.
    assert!(
        client
            .dialplan_exists(&em, "from-tata-trunk", "+15559876543", 1)
            .await
            .unwrap()
    );
    assert_eq!(
        client.get_variable(&caller, "DIALSTATUS").await.unwrap(),
        None
    );
    assert_eq!(
        client
            .get_variable(&caller, "CALLERID(num)")
            .await
            .unwrap()
            .as_deref(),
        Some("+15551234567")
    );
    let err = client
        .get_variable(&caller, "NOSUCHFUNCTION(x)")
        .await
        .unwrap_err();
    assert!(matches!(err, AriError::ServerError { .. }), "{err:?}");

    // Gone: the not-found error, not `None`.
    app.sim.hangup_caller(&caller).unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let err = client
        .get_variable(&caller, "DIALSTATUS")
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
    let err = client
        .dialplan_exists(&caller, "humans", "100", 1)
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
    client.hangup(&em, HangupReason::Normal).await.unwrap();
    client.destroy_bridge(&bridge).await.unwrap();
}

#[tokio::test]
async fn agent_leg_originated_into_the_app_replaces_external_media() {
    let mut app = start().await;
    let Bridged {
        caller, bridge, em, ..
    } = app.bridged_call().await;
    let client = app.client.clone();
    client.start_moh(&caller, Some("default")).await.unwrap();
    let agent_id = format!("vca-agent-{caller}");
    let agent = client
        .originate(&OriginateRequest {
            endpoint: "Local/100@agent-sim".to_owned(),
            app: "vca-bridge".to_owned(),
            app_args: vec!["transfer".to_owned(), caller.clone()],
            channel_id: Some(agent_id.clone()),
            other_channel_id: None,
            caller_id: Some("+15551234567".to_owned()),
            timeout_seconds: Some(20),
        })
        .await
        .unwrap();
    assert_eq!(agent.id, agent_id);
    assert_eq!(agent.caller.number, "+15551234567", "the + arrived");
    let start = app.stasis_start(&agent_id).await;
    assert_eq!(start.args, ["transfer", caller.as_str()]);

    // The hand-over of finding 36.
    client.stop_moh(&caller).await.unwrap();
    client
        .remove_channel_from_bridge(&bridge, &em)
        .await
        .unwrap();
    client.hangup(&em, HangupReason::Normal).await.unwrap();
    client
        .add_channels_to_bridge(&bridge, &[&agent_id])
        .await
        .unwrap();
    let mut members = client.bridge(&bridge).await.unwrap().channels;
    members.sort();
    let mut expected = vec![caller.clone(), agent_id.clone()];
    expected.sort();
    assert_eq!(members, expected);
    let view = app.sim.agent(&agent_id).expect("the sim knows the leg");
    assert!(view.answered && !view.dialled_by_dialplan, "{view:?}");

    // External Media left: removing it again is the recorded 422.
    let err = client
        .remove_channel_from_bridge(&bridge, &em)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            AriError::Unprocessable { .. } | AriError::BadRequest { .. }
        ),
        "{err:?}"
    );

    // The caller hangs up; the agent leg stays until we hang it up (finding 47).
    app.sim.hangup_caller(&caller).unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        client.channel(&agent_id).await.is_ok(),
        "agent leg still up"
    );
    client
        .hangup(&agent_id, HangupReason::Normal)
        .await
        .unwrap();
    client.destroy_bridge(&bridge).await.unwrap();
}

#[tokio::test]
async fn continue_hands_the_caller_to_the_dialplan() {
    let mut app = start().await;
    let Bridged {
        call,
        caller,
        bridge,
        em,
        ..
    } = app.bridged_call().await;
    let client = app.client.clone();
    assert!(
        client
            .dialplan_exists(&caller, "humans", "100", 1)
            .await
            .unwrap()
    );
    client
        .continue_in_dialplan(
            &caller,
            &DialplanTarget {
                context: Some("humans".to_owned()),
                extension: Some("100".to_owned()),
                priority: Some(1),
                label: None,
            },
        )
        .await
        .unwrap();
    // Out of Stasis (finding 27): a second continue, MOH and addChannel are refused.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let again = client
        .continue_in_dialplan(&caller, &DialplanTarget::default())
        .await
        .unwrap_err();
    assert!(matches!(again, AriError::Conflict { .. }), "{again:?}");
    let moh = client.start_moh(&caller, None).await.unwrap_err();
    assert!(matches!(moh, AriError::Conflict { .. }), "{moh:?}");
    let add = client
        .add_channels_to_bridge(&bridge, &[&caller])
        .await
        .unwrap_err();
    assert!(matches!(add, AriError::Unprocessable { .. }), "{add:?}");
    // Still readable outside Stasis, now in the humans dialplan.
    let channel = client.channel(&caller).await.unwrap();
    assert_eq!(channel.dialplan.context, "humans");
    assert_eq!(call.dialplan_target().as_deref(), Some("humans,100,1"));
    let dialled: Vec<_> = app
        .sim
        .agents()
        .into_iter()
        .filter(|a| a.dialled_by_dialplan)
        .collect();
    assert_eq!(dialled.len(), 1, "Dial() rang the agent: {dialled:?}");
    // External Media and the bridge are ours to delete (finding 28).
    assert_eq!(
        client.bridge(&bridge).await.unwrap().channels,
        vec![em.clone()]
    );
    client.hangup(&em, HangupReason::Normal).await.unwrap();
    client.destroy_bridge(&bridge).await.unwrap();
}
