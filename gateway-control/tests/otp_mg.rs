//! The Erlang test MG (`tests/otp/mg`, on Erlang/OTP's megaco) against a scripted MGC that
//! speaks through our text codec: the MG's messages are read with our parser, ours are written
//! by our encoder, over UDP in pretty and compact text and over TCP with TPKT framing, and over
//! UDP in BER (translated to and from text by OTP's own encoders, as our side here is text).
//! Registration, audit, arming, an off-hook Notify, a connection (Add of the line and `$` into
//! a new context) and its Subtract must all complete, and the MG must print each step.
//!
//! OTP is required: without `escript` and the megaco application the test fails
//! (`scripts/deps --test` installs them).

mod otp;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::process::{Child, ChildStdin, Command as Process, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::Duration;

use gateway_control::megaco::text::{Form, encode, parse};
use gateway_control::megaco::{
    ActionReply, Body, Command, ContextId, Descriptor, MediaParm, Message, ReplyResult, RequestId,
    ServiceChangeMethod, ServiceChangeParm, Transaction, TransactionId, Verb,
};

use otp::{Codec, Otp};

/// Long enough for a loaded machine; only a guard against hanging, never a measurement.
const PATIENCE: Duration = Duration::from_secs(60);

/// How the MGC side reaches the MG and how it writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Pretty,
    Compact,
    Ber,
}

impl Encoding {
    fn arg(self) -> &'static str {
        match self {
            Self::Pretty => "pretty",
            Self::Compact => "compact",
            Self::Ber => "ber",
        }
    }
}

enum Link {
    Udp(UdpSocket, Option<SocketAddr>),
    Tcp(TcpListener, Option<TcpStream>),
}

impl Link {
    fn recv(&mut self) -> Vec<u8> {
        let mut buf = vec![0; 65_536];
        match self {
            Self::Udp(socket, peer) => {
                let (n, from) = socket.recv_from(&mut buf).expect("a datagram from the MG");
                *peer = Some(from);
                buf.truncate(n);
                buf
            }
            Self::Tcp(listener, stream) => {
                if stream.is_none() {
                    let (s, _) = listener.accept().expect("the MG connects");
                    s.set_read_timeout(Some(PATIENCE)).expect("timeout");
                    *stream = Some(s);
                }
                let s = stream.as_mut().expect("connected");
                // TPKT (H.248.1 Annex D.2, RFC 1006): version 3, reserved, length with header.
                let mut header = [0; 4];
                s.read_exact(&mut header)
                    .expect("a TPKT header from the MG");
                assert_eq!(header[0], 3, "TPKT version");
                let len = usize::from(u16::from_be_bytes([header[2], header[3]]));
                buf.truncate(len.checked_sub(4).expect("TPKT length"));
                s.read_exact(&mut buf).expect("a TPKT packet from the MG");
                buf
            }
        }
    }

    fn send(&mut self, bytes: &[u8]) {
        match self {
            Self::Udp(socket, peer) => {
                socket
                    .send_to(bytes, peer.expect("the MG spoke first"))
                    .expect("send");
            }
            Self::Tcp(_, stream) => {
                let len = u16::try_from(bytes.len() + 4).expect("fits a TPKT");
                let s = stream.as_mut().expect("the MG connected");
                s.write_all(&[&[3, 0][..], &len.to_be_bytes(), bytes].concat())
                    .expect("send");
            }
        }
    }
}

/// The MGC side of one run: our codec, or OTP's BER translated to our text.
struct Mgc {
    link: Link,
    encoding: Encoding,
    otp: Otp,
    next_id: u32,
}

impl Mgc {
    /// The next message from the MG, as text.
    fn recv(&mut self) -> Vec<u8> {
        let bytes = self.link.recv();
        if self.encoding == Encoding::Ber {
            self.otp
                .recode(Codec::Ber, &bytes, Codec::Pretty)
                .unwrap_or_else(|e| panic!("OTP does not read the MG's BER: {e}"))
        } else {
            bytes
        }
    }

    /// Sends `body` (pretty text) under our header, in the run's encoding.
    fn send(&mut self, body: &str) {
        let source = format!("MEGACO/1 [127.0.0.1]:2944\n{body}\n");
        let message = parse(source.as_bytes()).unwrap_or_else(|e| panic!("{e}\n{source}"));
        let mut out = Vec::new();
        match self.encoding {
            Encoding::Pretty => encode(&message, Form::Pretty, &mut out),
            Encoding::Compact => encode(&message, Form::Compact, &mut out),
            Encoding::Ber => {
                encode(&message, Form::Pretty, &mut out);
                out = self
                    .otp
                    .recode(Codec::Pretty, &out, Codec::Ber)
                    .unwrap_or_else(|e| panic!("OTP does not encode ours in BER: {e}\n{source}"));
            }
        }
        self.link.send(&out);
    }

    /// Sends a request and returns the MG's reply to it.
    fn request(&mut self, actions: &str) -> Vec<OwnedReply> {
        self.next_id += 1;
        let id = self.next_id;
        self.send(&format!("Transaction = {id} {{ {actions} }}"));
        let bytes = self.recv();
        let (message, text) = parsed(&bytes);
        let Body::Transactions(ts) = message.body else {
            panic!("not a reply: {text}")
        };
        match &ts[..] {
            [Transaction::Reply(r)] if r.id == TransactionId(id) => match &r.result {
                ReplyResult::Actions(actions) => owned(actions),
                ReplyResult::Error(e) => panic!("the MG refused: {e:?}\n{text}"),
            },
            _ => panic!("not the reply to {id}: {text}"),
        }
    }

    /// Reads the MG's next request, which must be one command; answers it with `reply`
    /// (the action's content, `{context}` replaced) and returns the command.
    fn answer(&mut self, reply: &str) -> (TransactionId, ContextId, OwnedCommand) {
        let bytes = self.recv();
        let (message, text) = parsed(&bytes);
        let Body::Transactions(ts) = message.body else {
            panic!("not a request: {text}")
        };
        let [Transaction::Request(r)] = &ts[..] else {
            panic!("not one request: {text}")
        };
        let [action] = &r.actions[..] else {
            panic!("not one action: {text}")
        };
        let [command] = &action.commands[..] else {
            panic!("not one command: {text}")
        };
        let (id, context) = (r.id, action.context);
        let command = OwnedCommand::from(&command.command);
        let ctx = match context {
            ContextId::Number(n) => n.to_string(),
            _ => "-".into(),
        };
        let reply = reply.replace("{context}", &ctx);
        self.send(&format!(
            "Reply = {} {{ Context = {ctx} {{ {reply} }} }}",
            id.0
        ));
        (id, context, command)
    }
}

/// A message from the MG read with our parser, and its text for messages.
fn parsed(bytes: &[u8]) -> (Message<'_>, String) {
    let text = String::from_utf8_lossy(bytes).into_owned();
    match parse(bytes) {
        Ok(message) => (message, text),
        Err(e) => panic!("we do not read the MG's message: {e}\n{text}"),
    }
}

/// What the checks need of a command, owned (the parsed message borrows the receive buffer).
#[derive(Debug)]
struct OwnedCommand {
    verb: Verb,
    termination: String,
    /// A ServiceChange's method and reason.
    service_change: Option<(Option<String>, Option<String>)>,
    /// A Notify's RequestID and event names.
    observed: Option<(RequestId, Vec<String>)>,
}

impl From<&Command<'_>> for OwnedCommand {
    fn from(c: &Command<'_>) -> Self {
        let mut service_change = None;
        let mut observed = None;
        for d in &c.descriptors {
            match d {
                Descriptor::ServiceChange(parms) => {
                    let method = parms.iter().find_map(|p| match p {
                        ServiceChangeParm::Method(m) => Some(format!("{m:?}")),
                        _ => None,
                    });
                    let reason = parms.iter().find_map(|p| match p {
                        ServiceChangeParm::Reason(r) => Some(r.to_string()),
                        _ => None,
                    });
                    service_change = Some((method, reason));
                }
                Descriptor::ObservedEvents(oe) => {
                    let names = oe.events.iter().map(|e| e.name.to_owned()).collect();
                    observed = Some((oe.request_id, names));
                }
                _ => {}
            }
        }
        Self {
            verb: c.verb,
            termination: c.termination.0.to_owned(),
            service_change,
            observed,
        }
    }
}

/// An action reply, owned.
#[derive(Debug)]
struct OwnedReply {
    context: ContextId,
    /// Each command reply's verb, termination and Local `m=audio` port (or empty).
    commands: Vec<(Verb, String, String)>,
    error: bool,
}

fn owned(actions: &[ActionReply<'_>]) -> Vec<OwnedReply> {
    actions
        .iter()
        .map(|a| OwnedReply {
            context: a.context,
            commands: a
                .commands
                .iter()
                .map(|c| {
                    let port = local_port(&c.descriptors);
                    (c.verb, c.termination.0.to_owned(), port)
                })
                .collect(),
            error: a.error.is_some(),
        })
        .collect()
}

/// The port of the `m=audio` line of a Local descriptor, or empty.
fn local_port(descriptors: &[Descriptor<'_>]) -> String {
    fn in_media(parms: &[MediaParm<'_>]) -> Option<String> {
        parms.iter().find_map(|p| match p {
            MediaParm::Stream(_, inner) => in_media(inner),
            MediaParm::Local(sdp) => sdp.lines().find_map(|l| {
                let l = l.trim();
                l.strip_prefix("m=audio ")
                    .and_then(|rest| rest.split(' ').next())
                    .map(str::to_owned)
            }),
            _ => None,
        })
    }
    descriptors
        .iter()
        .find_map(|d| match d {
            Descriptor::Media(parms) => in_media(parms),
            _ => None,
        })
        .unwrap_or_default()
}

/// The Erlang MG, its JSON lines read on a thread.
struct Mg {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
    seen: Vec<String>,
}

impl Mg {
    fn start(mgc: SocketAddr, transport: &str, encoding: Encoding) -> Self {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/otp/mg/mg.escript");
        let mut child = Process::new("escript")
            .arg(script)
            .args(["--mgc", &mgc.to_string(), "--transport", transport])
            .args(["--encoding", encoding.arg()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("escript runs (scripts/deps --test installs erlang-base and erlang-megaco)");
        let stdin = child.stdin.take().expect("piped");
        let stdout = child.stdout.take().expect("piped");
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self {
            child,
            stdin,
            lines,
            seen: Vec::new(),
        }
    }

    fn command(&mut self, line: &str) {
        writeln!(self.stdin, "{line}").expect("the MG reads its stdin");
        self.stdin.flush().expect("the MG reads its stdin");
    }

    /// Waits for the MG's next line holding `"event":"<event>"` and every one of `parts`.
    fn expect(&mut self, event: &str, parts: &[&str]) -> String {
        let tag = format!("\"event\":\"{event}\"");
        loop {
            let line = self.lines.recv_timeout(PATIENCE).unwrap_or_else(|_| {
                panic!(
                    "the MG printed no {event} line; it printed:\n{}",
                    self.seen.join("\n")
                )
            });
            self.seen.push(line.clone());
            if line.contains(&tag) {
                for part in parts {
                    assert!(line.contains(part), "{part} not in {line}");
                }
                return line;
            }
            assert!(!line.contains("\"event\":\"error\""), "the MG: {line}");
        }
    }
}

impl Drop for Mg {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn run(transport: &str, encoding: Encoding) {
    let loopback = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    let link = match transport {
        "udp" => {
            let socket = UdpSocket::bind(loopback).expect("bind");
            socket.set_read_timeout(Some(PATIENCE)).expect("timeout");
            Link::Udp(socket, None)
        }
        _ => Link::Tcp(TcpListener::bind(loopback).expect("bind"), None),
    };
    let addr = match &link {
        Link::Udp(s, _) => s.local_addr(),
        Link::Tcp(l, _) => l.local_addr(),
    }
    .expect("bound");
    let mut mgc = Mgc {
        link,
        encoding,
        otp: Otp::start(),
        next_id: 100,
    };
    let mut mg = Mg::start(addr, transport, encoding);
    let line = match encoding {
        Encoding::Ber => "00000000/00000000/00000001",
        _ => "aaln/1",
    };

    // Registration: a ServiceChange Restart on ROOT with a Reason.
    let (_, context, sc) = mgc.answer("ServiceChange = ROOT { Services { Version = 1 } }");
    assert_eq!((sc.verb, context), (Verb::ServiceChange, ContextId::Null));
    assert!(sc.termination.eq_ignore_ascii_case("ROOT"), "{sc:?}");
    let restart = format!("{:?}", ServiceChangeMethod::Restart);
    let reason = "\"901 Cold Boot\"".to_owned();
    assert_eq!(
        sc.service_change,
        Some((Some(restart), Some(reason))),
        "{sc:?}"
    );
    mg.expect(
        "registered",
        &[&format!("\"encoding\":\"{}\"", encoding.arg())],
    );

    // Audit of ROOT and of the line.
    let audit = mgc.request("Context = - { AuditValue = ROOT { Audit { } } }");
    assert_eq!(audit[0].commands[0].0, Verb::AuditValue);
    let audit = mgc.request(&format!(
        "Context = - {{ AuditValue = {line} {{ Audit {{ }} }} }}"
    ));
    assert!(!audit[0].error, "{audit:?}");
    mg.expect("audit", &["\"found\":true"]);

    // Arm off-hook, stop signals; the MG reports the off-hook with the RequestID.
    let armed = mgc.request(&format!(
        "Context = - {{ Modify = {line} {{ Events = 7 {{ al/of {{ strict = state }} }}, Signals }} }}"
    ));
    assert_eq!(armed[0].commands[0].0, Verb::Modify);
    mg.expect("modify", &["\"request_id\":7", "\"events\":[\"al/of\"]"]);
    mg.command("offhook 1");
    let (_, context, notify) = mgc.answer(&format!("Notify = {line}"));
    assert_eq!((notify.verb, context), (Verb::Notify, ContextId::Null));
    assert_eq!(
        notify.observed,
        Some((RequestId::Number(7), vec!["al/of".to_owned()])),
        "{notify:?}"
    );
    mg.expect("notify_reply", &["\"ok\":true"]);

    // Connect: the line and a new RTP termination into a new context.
    let added = mgc.request(&format!(
        "Context = $ {{ Add = {line} {{ Events = 8 {{ al/on, al/fl }} }}, Add = $ {{ Media {{ \
         Stream = 1 {{ LocalControl {{ Mode = SendReceive }}, \
         Local {{\nv=0\nc=IN IP4 $\nm=audio $ RTP/AVP 0\n}}, \
         Remote {{\nv=0\nc=IN IP4 127.0.0.1\nm=audio 40000 RTP/AVP 0\n}} }} }} }} }}"
    ));
    let [
        OwnedReply {
            context: ContextId::Number(context),
            commands,
            error: false,
        },
    ] = &added[..]
    else {
        panic!("{added:?}")
    };
    let [(Verb::Add, _, _), (Verb::Add, rtp, port)] = &commands[..] else {
        panic!("{added:?}")
    };
    let port: u16 = port.parse().unwrap_or_else(|_| panic!("{added:?}"));
    assert_ne!(port, 0);
    mg.expect("add", &[&format!("\"context\":{context}")]);
    mg.expect(
        "add",
        &[
            &format!("\"local\":\"127.0.0.1:{port}\""),
            "\"remote\":\"127.0.0.1:40000\"",
            "\"mode\":\"SendReceive\"",
        ],
    );

    // Disconnect: both terminations subtracted, the context deleted.
    let subtracted = mgc.request(&format!(
        "Context = {context} {{ Subtract = {rtp}, Subtract = {line} }}"
    ));
    assert!(!subtracted[0].error, "{subtracted:?}");
    mg.expect("subtract", &[&format!("\"context\":{context}")]);
    mg.expect("subtract", &["\"context_deleted\":true"]);

    mg.command("quit");
    mg.expect("quit", &[]);
}

#[test]
fn udp_pretty_text() {
    run("udp", Encoding::Pretty);
}

#[test]
fn udp_compact_text() {
    run("udp", Encoding::Compact);
}

#[test]
fn tcp_pretty_text() {
    run("tcp", Encoding::Pretty);
}

#[test]
fn udp_ber() {
    run("udp", Encoding::Ber);
}
