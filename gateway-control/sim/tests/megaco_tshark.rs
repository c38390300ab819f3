//! Wire check of the simulated MEGACO gateway against an independent decoder: a whole dialogue
//! (registration, audits, arming, ring, off-hook, digits against a digit map, Add of a line and
//! an RTP termination with SDP, a mode change, Subtract with statistics, errors), run in virtual
//! time, in pretty and in compact text, is written to a pcap and read back with Wireshark's
//! MEGACO dissector (`tshark`): every frame must be MEGACO, none malformed or flagged, and the
//! transactions, commands and terminations tshark reports must be the ones exchanged.
//!
//! tshark is required: without it the test fails (scripts/deps --test installs it).

use std::fs::File;
use std::io::BufWriter;
use std::net::{SocketAddr, SocketAddrV4};
use std::process::Command;
use std::time::{Duration, Instant};

use gateway_control::megaco::text;
use gateway_control::megaco::{Body, Transaction};
use gateway_control::pcap::PcapWriter;
use gateway_sim::megaco::{Config, Encoding, Mg};
use gateway_sim::{LineCommand, Via};

const MGC: &str = "192.0.2.1:2944";
const MG: &str = "192.0.2.2:2946";

/// A base instant for virtual time, never a measurement.
#[allow(clippy::disallowed_methods)]
fn epoch() -> Instant {
    Instant::now()
}

struct Session {
    mg: Mg,
    start: Instant,
    now: Instant,
    pcap: PcapWriter<BufWriter<File>>,
    /// Messages from the MG not yet looked at.
    from_mg: Vec<String>,
    /// `(transaction, command, termination)` of every command sent either way, as tshark
    /// should report them.
    expected: Vec<(u32, String, String)>,
    next_tx: u32,
    compact: bool,
}

fn v4(s: &str) -> SocketAddrV4 {
    s.parse().unwrap()
}

/// `(transaction, verb, termination)` of each command of each request or reply in `message`.
fn commands(message: &str) -> Vec<(u32, String, String)> {
    let m = text::parse(message.as_bytes()).expect("parses");
    let Body::Transactions(ts) = m.body else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for t in ts {
        match t {
            Transaction::Request(r) => {
                for a in r.actions {
                    for c in a.commands {
                        out.push((
                            r.id.0,
                            format!("{:?}", c.command.verb),
                            c.command.termination.0.to_owned(),
                        ));
                    }
                }
            }
            Transaction::Reply(r) => {
                if let gateway_control::megaco::ReplyResult::Actions(actions) = r.result {
                    for a in actions {
                        for c in a.commands {
                            out.push((r.id.0, format!("{:?}", c.verb), c.termination.0.to_owned()));
                        }
                    }
                }
            }
            _ => {}
        }
    }
    out
}

impl Session {
    fn new(path: &std::path::Path, encoding: Encoding) -> Self {
        let start = epoch();
        let mut c = Config::new(2, MGC.parse().unwrap()).unwrap();
        c.seed(3)
            .local_port(2946)
            .media_address("192.0.2.2".parse().unwrap())
            .encoding(encoding);
        let mut mg = Mg::new(c, start);
        mg.add_rtp_port(40000);
        mg.add_rtp_port(40002);
        let pcap = PcapWriter::new(BufWriter::new(File::create(path).unwrap())).unwrap();
        let mut s = Self {
            mg,
            start,
            now: start,
            pcap,
            from_mg: Vec::new(),
            expected: Vec::new(),
            next_tx: 500,
            compact: encoding == Encoding::Compact,
        };
        s.drain();
        s
    }

    fn drain(&mut self) {
        while let Some(t) = self.mg.poll_transmit() {
            if t.via != Via::Control {
                continue;
            }
            self.pcap
                .write_udp(self.now - self.start, v4(MG), v4(MGC), &t.contents)
                .unwrap();
            let text = String::from_utf8(t.contents).unwrap();
            self.expected.extend(commands(&text));
            self.from_mg.push(text);
        }
        while self.mg.poll_output().is_some() {}
    }

    fn deliver(&mut self, text: &str) {
        self.pcap
            .write_udp(self.now - self.start, v4(MGC), v4(MG), text.as_bytes())
            .unwrap();
        self.expected.extend(commands(text));
        let from: SocketAddr = MGC.parse().unwrap();
        self.mg.handle_datagram(self.now, from, text.as_bytes());
        self.drain();
        self.now += Duration::from_millis(10);
    }

    /// Sends a request in the session's form and returns the MG's reply.
    fn request(&mut self, pretty: &str, compact: &str) -> String {
        self.next_tx += 1;
        let text = if self.compact {
            format!("!/1 [192.0.2.1]:2944\nT={}{{{compact}}}\n", self.next_tx)
        } else {
            format!(
                "MEGACO/1 [192.0.2.1]:2944\nTransaction = {} {{\n{pretty}\n}}\n",
                self.next_tx
            )
        };
        self.deliver(&text);
        let i = self
            .from_mg
            .iter()
            .position(|m| {
                let s: String = m.split_whitespace().collect();
                s.contains(&format!("Reply={}{{", self.next_tx))
                    || s.contains(&format!("P={}{{", self.next_tx))
            })
            .expect("a reply");
        self.from_mg.remove(i)
    }

    /// Replies to the MG's oldest request of `verb` (dropping its retransmissions).
    fn reply_to(&mut self, verb: &str) -> String {
        let needle = match (self.compact, verb) {
            (false, v) => format!("{v} = "),
            (true, "Notify") => "{N=".to_owned(),
            (true, _) => "{SC=".to_owned(),
        };
        let i = self
            .from_mg
            .iter()
            .position(|m| m.contains(&needle))
            .unwrap_or_else(|| panic!("no {needle} in {:?}", self.from_mg));
        let request = self.from_mg.remove(i);
        self.from_mg.retain(|m| *m != request);
        let m = text::parse(request.as_bytes()).unwrap();
        let Body::Transactions(ts) = m.body else {
            panic!()
        };
        let Some(Transaction::Request(r)) = ts.first() else {
            panic!("{request}")
        };
        let a = &r.actions[0];
        let c = &a.commands[0].command;
        let ctx = match a.context {
            gateway_control::megaco::ContextId::Number(n) => n.to_string(),
            _ => "-".into(),
        };
        let verb = format!("{:?}", c.verb);
        let text = format!(
            "MEGACO/1 [192.0.2.1]:2944\nReply = {} {{ Context = {ctx} {{ {verb} = {} }} }}\n",
            r.id.0, c.termination.0
        );
        self.deliver(&text);
        request
    }

    fn line(&mut self, cmd: LineCommand) {
        self.mg.handle_line(self.now, cmd);
        self.drain();
        self.now += Duration::from_millis(10);
    }

    fn advance(&mut self, d: Duration) {
        let end = self.now + d;
        while let Some(t) = self.mg.poll_timeout().filter(|&t| t <= end) {
            self.now = self.now.max(t);
            self.mg.handle_timeout(self.now);
            self.drain();
        }
        self.now = end;
    }
}

fn dialogue(s: &mut Session) {
    s.reply_to("ServiceChange");
    s.request(
        "Context = - { AuditValue = ROOT { Audit { } } }",
        "C=-{AV=ROOT{AT{}}}",
    );
    s.request(
        "Context = - { AuditValue = aaln/1 { Audit { } } }",
        "C=-{AV=aaln/1{AT{}}}",
    );
    s.request(
        "Context = - { AuditValue = aaln/9 { Audit { } } }",
        "C=-{AV=aaln/9{AT{}}}",
    );
    s.request(
        "Context = - { Modify = aaln/1 { Events = 1 { al/of } } }",
        "C=-{MF=aaln/1{E=1{al/of}}}",
    );
    s.request(
        "Context = - { Modify = aaln/2 { Signals { al/ri }, Events = 2 { al/of } } }",
        "C=-{MF=aaln/2{SG{al/ri},E=2{al/of}}}",
    );
    s.line(LineCommand::OffHook(2));
    s.reply_to("Notify");
    s.line(LineCommand::OffHook(1));
    s.reply_to("Notify");
    s.request(
        "Context = - { Modify = aaln/1 { Signals { cg/dt }, Events = 3 { al/on, al/fl, \
         dd/ce { DigitMap = dialplan01 } }, DigitMap = dialplan01 { (xxxF|Exx|0S) } } }",
        "C=-{MF=aaln/1{SG{cg/dt},E=3{al/on,al/fl,dd/ce{DM=dialplan01}},DM=dialplan01{(xxxF|Exx|0S)}}}",
    );
    s.line(LineCommand::Digits(1, "204#".into()));
    s.reply_to("Notify");
    s.line(LineCommand::Digits(1, "0".into()));
    s.advance(Duration::from_secs(5));
    s.reply_to("Notify");
    s.line(LineCommand::Flash(1));
    s.reply_to("Notify");
    let sdp_local = "\nv=0\nc=IN IP4 $\nm=audio $ RTP/AVP 0 8\n";
    let sdp_remote = "\nv=0\nc=IN IP4 192.0.2.1\nm=audio 16384 RTP/AVP 0\na=ptime:20\n";
    let add = s.request(
        &format!(
            "Context = $ {{ Add = aaln/1 {{ Events = 4 {{ al/on, al/fl }} }}, Add = $ {{ Media {{ \
             Stream = 1 {{ LocalControl {{ Mode = ReceiveOnly }}, Local {{{sdp_local}}}, \
             Remote {{{sdp_remote}}} }} }} }} }}"
        ),
        &format!(
            "C=${{A=aaln/1{{E=4{{al/on,al/fl}}}},A=${{M{{ST=1{{O{{MO=RC}},L{{{sdp_local}}},R{{{sdp_remote}}}}}}}}}}}"
        ),
    );
    let squashed: String = add.split_whitespace().collect();
    let at = squashed
        .find("Context=")
        .or_else(|| squashed.find("C="))
        .unwrap();
    let rest = &squashed[at..];
    let ctx: String = rest
        .chars()
        .skip_while(|c| !c.is_ascii_digit())
        .take_while(char::is_ascii_digit)
        .collect();
    s.request(
        &format!(
            "Context = {ctx} {{ Modify = rtp/1 {{ Media {{ Stream = 1 {{ LocalControl {{ Mode = SendReceive }} }} }} }} }}"
        ),
        &format!("C={ctx}{{MF=rtp/1{{M{{ST=1{{O{{MO=SR}}}}}}}}}}"),
    );
    s.request(
        &format!("Context = {ctx} {{ Modify = aaln/2 }}"),
        &format!("C={ctx}{{MF=aaln/2}}"),
    );
    s.request(
        &format!("Context = {ctx} {{ Subtract = rtp/1, Subtract = aaln/1 }}"),
        &format!("C={ctx}{{S=rtp/1,S=aaln/1}}"),
    );
    s.request(
        &format!("Context = {ctx} {{ Modify = aaln/1 }}"),
        &format!("C={ctx}{{MF=aaln/1}}"),
    );
    s.advance(Duration::from_secs(1));
    s.pcap.flush().unwrap();
}

fn tshark(path: &std::path::Path, args: &[&str]) -> String {
    let out = Command::new("tshark")
        .args(["-r", &path.display().to_string()])
        .args(["-d", "udp.port==2944,megaco", "-d", "udp.port==2946,megaco"])
        .args(args)
        .output()
        .expect("tshark is installed (scripts/deps --test installs it)");
    assert!(
        out.status.success(),
        "tshark failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn check(encoding: Encoding) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("megaco.pcap");
    let mut s = Session::new(&path, encoding);
    dialogue(&mut s);
    let flagged = tshark(
        &path,
        &[
            "-Y",
            "_ws.malformed || _ws.expert.severity >= 0x00600000 || !megaco",
            "-T",
            "fields",
            "-e",
            "frame.number",
            "-e",
            "_ws.expert.message",
        ],
    );
    assert!(
        flagged.trim().is_empty(),
        "tshark flagged frames ({encoding:?}):\n{flagged}"
    );
    // Every command tshark saw, in order, is one we exchanged.
    let seen = tshark(
        &path,
        &[
            "-T",
            "fields",
            "-E",
            "occurrence=a",
            "-E",
            "aggregator=;",
            "-e",
            "megaco.command",
            "-e",
            "megaco.termid",
        ],
    );
    let mut pairs: Vec<(String, String)> = Vec::new();
    for line in seen.lines() {
        let mut cols = line.split('\t');
        let verbs: Vec<&str> = cols.next().unwrap_or("").split(';').collect();
        let terms: Vec<&str> = cols.next().unwrap_or("").split(';').collect();
        for (v, t) in verbs.iter().zip(&terms) {
            if !v.is_empty() {
                pairs.push(((*v).to_owned(), (*t).to_owned()));
            }
        }
    }
    // The dissector shows the termination `$` as "WildCard any".
    let expected: Vec<(String, String)> = s
        .expected
        .iter()
        .map(|(_, v, t)| {
            let t = if t == "$" { "WildCard any" } else { t };
            (v.clone(), t.to_owned())
        })
        .collect();
    assert_eq!(pairs, expected, "{encoding:?}");
    assert!(expected.len() >= 36, "{}", expected.len());
}

#[test]
fn tshark_reads_the_pretty_dialogue_cleanly() {
    check(Encoding::Pretty);
}

#[test]
fn tshark_reads_the_compact_dialogue_cleanly() {
    check(Encoding::Compact);
}
