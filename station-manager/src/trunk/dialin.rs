//! Dial-in: a caller on a trunk identifies with their number (or caller id) and PIN, then
//! hears their messages or leaves one, through a short-lived station of theirs.

use std::collections::VecDeque;
use std::time::Instant;

use gateway_control::model::{CallId, Command, DigitMap, Event, GatewayId, LineId};
use tracing::debug;

use super::{
    COLLECT_TIMEOUT, DIAL_IN_MAP, DIAL_IN_PREFIX, DIGIT_TIMEOUT, MAX_KEYS, MAX_TRIES, OwnCall,
    PortState, Spawn, Then, Trunks,
};
use crate::station::Calls;
use crate::{MediaCommand, MediaEvent, MessageId, Output, Progress, Prompt, UserId};

/// The IVM core's answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Answer {
    /// [`crate::Input::Identified`].
    Identified(Option<UserId>, Vec<(MessageId, UserId)>),
    /// [`crate::Input::Recipient`].
    Recipient(Option<UserId>),
}

/// What reaches a dial-in session.
#[derive(Debug)]
pub(super) enum In<'a> {
    Gateway(&'a Event),
    Media(CallId, &'a MediaEvent),
    Core(Answer),
    Timeout,
}

/// Where the caller is.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Stage {
    /// Answering: waits for our connection.
    Connecting,
    /// Keying their number.
    Number,
    /// Keying their PIN.
    Pin { number: String },
    /// The core checks the number and PIN.
    Checking,
    /// Identified: `1` listen, `2` leave a message.
    Menu,
    /// Keying the recipient's number.
    Recipient,
    /// The core looks the number up.
    LookingUp,
    /// Told to speak after the tone: the recording starts once the prompt ends.
    Speak { to: UserId },
    /// Saying goodbye: the call ends once the prompts are played.
    Ending,
    /// The caller's own station has the call.
    Handed,
}

/// One dial-in call.
#[derive(Debug)]
pub(super) struct Session {
    /// Our connection (prompts, keys), until the call is handed to the caller's station.
    pub(super) call: Option<OwnCall>,
    stage: Stage,
    keys: String,
    /// Keys typed ahead while the core answers or the call is being set up, replayed when
    /// keys are next collected (at most [`MAX_KEYS`]).
    ahead: String,
    /// The number caller id gave, tried first.
    caller: Option<String>,
    /// The gateway is collecting a dial string for us ([`Command::CollectDigits`] sent, not
    /// yet reported or refused).
    collecting: bool,
    tries: u8,
    silences: u8,
    user: Option<UserId>,
    waiting: Vec<(MessageId, UserId)>,
    prompts: VecDeque<Prompt>,
    playing: bool,
    /// The caller's station, once spawned.
    pub(super) station: Option<LineId>,
    /// Its connection on the port.
    pub(super) station_call: Option<CallId>,
    /// The call was handed to the station.
    pub(super) handed: bool,
    /// The caller hung up; the station was told.
    pub(super) gone: bool,
}

impl Trunks {
    /// An incoming call on dial-in port `p`: answered, our connection made.
    pub(super) fn answer_incoming(
        &mut self,
        _now: Instant,
        p: usize,
        caller: Option<String>,
        calls: &mut Calls,
    ) {
        let line = self.ports[p].line.clone();
        let Some(call) = self.open_own(p, calls) else {
            debug!(port = %line, "incoming call not answered: no media port free");
            self.stats.incoming_ignored += 1;
            return;
        };
        self.stats.dial_ins += 1;
        debug!(port = %line, "answering an incoming call");
        self.commands.push_back(Command::Answer { line });
        let caller = caller
            .map(|c| c.chars().filter(char::is_ascii_digit).collect::<String>())
            .filter(|c| !c.is_empty() && c.len() <= MAX_KEYS);
        self.ports[p].state = PortState::In(Box::new(Session {
            call: Some(call),
            stage: Stage::Connecting,
            keys: String::new(),
            ahead: String::new(),
            caller,
            collecting: false,
            tries: 0,
            silences: 0,
            user: None,
            waiting: Vec::new(),
            prompts: VecDeque::new(),
            playing: false,
            station: None,
            station_call: None,
            handed: false,
            gone: false,
        }));
    }

    pub(super) fn on_dial_in(&mut self, now: Instant, p: usize, input: In<'_>, calls: &mut Calls) {
        let PortState::In(_) = &self.ports[p].state else {
            return;
        };
        match input {
            In::Gateway(event) => self.dial_in_event(now, p, event, calls),
            In::Media(call, event) => self.dial_in_media(now, p, call, event, calls),
            In::Core(answer) => self.dial_in_answer(now, p, answer, calls),
            In::Timeout => self.dial_in_timeout(now, p, calls),
        }
    }

    fn session(&mut self, p: usize) -> Option<&mut Session> {
        match &mut self.ports[p].state {
            PortState::In(s) => Some(s),
            _ => None,
        }
    }

    fn dial_in_event(&mut self, now: Instant, p: usize, event: &Event, calls: &mut Calls) {
        if let Some(call) = event.call() {
            let ours = self
                .session(p)
                .and_then(|s| s.call)
                .is_some_and(|c| c.id == call);
            if ours {
                return self.own_connection_event(now, p, event, calls);
            }
            if self.carried.contains_key(&call) {
                return self.carried_event(p, call, event);
            }
            return;
        }
        match event {
            Event::Digit { digit, .. } => {
                if let Some(s) = self.session(p)
                    && s.handed
                {
                    // The caller's station takes the keys (`#` next, `7` delete…).
                    if let Some(line) = s.station.clone() {
                        self.events.push_back(Event::Digit {
                            line,
                            digit: *digit,
                        });
                    }
                    return;
                }
                self.key(now, p, digit.as_char(), calls);
            }
            Event::Dialled { digits, .. } => {
                let Some(s) = self.session(p) else { return };
                if !std::mem::take(&mut s.collecting) {
                    self.stats.dropped += 1;
                    debug!(port = %self.ports[p].line, "dial string not asked for dropped");
                    return;
                }
                self.stats.dial_strings += 1;
                self.dialled(now, p, digits, calls);
            }
            Event::CommandFailed { code, reason, .. }
                if self.session(p).is_some_and(|s| s.collecting) =>
            {
                // The gateway cannot collect: the keys come one by one from now on.
                debug!(port = %self.ports[p].line, code, %reason, "dial string collection refused");
                self.stats.collect_refused += 1;
                self.ports[p].no_collect = true;
                if let Some(s) = self.session(p) {
                    s.collecting = false;
                }
                if self.ports[p].timer.is_some() {
                    self.ports[p].timer = Some(now + DIGIT_TIMEOUT);
                }
            }
            Event::FarEndDisconnect { .. } => self.caller_gone(p, calls),
            Event::LineStatus { .. } => {}
            _ => {
                self.stats.dropped += 1;
                debug!(port = %self.ports[p].line, ?event, "dial-in event out of place dropped");
            }
        }
    }

    fn own_connection_event(&mut self, now: Instant, p: usize, event: &Event, calls: &mut Calls) {
        match event {
            Event::ConnectionCreated { call, local, .. } => {
                self.media.push_back(MediaCommand::Remote {
                    call: *call,
                    remote: *local,
                });
                // Busy, reorder or dial tone: the caller hung up on a line without CPC.
                self.media
                    .push_back(MediaCommand::WatchProgress { call: *call });
                let Some(s) = self.session(p) else { return };
                if let Some(c) = &mut s.call {
                    c.created = true;
                }
                if s.stage == Stage::Connecting {
                    match s.caller.take() {
                        Some(number) => {
                            s.stage = Stage::Pin { number };
                            self.say(now, p, &[Prompt::EnterPin]);
                        }
                        None => {
                            s.stage = Stage::Number;
                            self.say(now, p, &[Prompt::EnterNumber]);
                        }
                    }
                    self.replay(now, p, calls);
                }
            }
            Event::ConnectionLost { .. } | Event::CommandFailed { .. } => {
                debug!(port = %self.ports[p].line, "dial-in connection failed; releasing");
                if let Some(s) = self.session(p)
                    && let Some(c) = &mut s.call
                {
                    c.created = false;
                }
                self.hang_up(p, calls, true);
            }
            _ => {}
        }
    }

    fn dial_in_media(
        &mut self,
        now: Instant,
        p: usize,
        call: CallId,
        event: &MediaEvent,
        calls: &mut Calls,
    ) {
        let Some(s) = self.session(p) else { return };
        let ours = s.call.is_some_and(|c| c.id == call);
        match event {
            // The gateway collecting the string has this key too.
            MediaEvent::Digit { .. } if ours && s.collecting => {}
            MediaEvent::Digit { digit, .. } if ours => self.key(now, p, digit.as_char(), calls),
            MediaEvent::PlayDone { .. } if ours => {
                s.playing = false;
                self.next_prompt(now, p, calls);
            }
            MediaEvent::Progress {
                heard: Progress::Busy | Progress::Reorder | Progress::DialTone,
                ..
            } => {
                self.caller_gone(p, calls);
            }
            MediaEvent::Failed { reason, .. } if ours => {
                s.playing = false;
                s.prompts.clear();
                debug!(port = %self.ports[p].line, %reason, "dial-in media failed");
                self.next_prompt(now, p, calls);
            }
            _ => {}
        }
    }

    /// A key from the caller.
    fn key(&mut self, now: Instant, p: usize, key: char, calls: &mut Calls) {
        let Some(s) = self.session(p) else { return };
        let collecting = matches!(
            s.stage,
            Stage::Number | Stage::Pin { .. } | Stage::Menu | Stage::Recipient
        );
        if !collecting {
            let waiting = matches!(
                s.stage,
                Stage::Connecting | Stage::Checking | Stage::LookingUp
            );
            if waiting && s.ahead.len() < MAX_KEYS {
                s.ahead.push(key);
            } else {
                self.stats.dropped += 1;
                debug!(port = %self.ports[p].line, "key out of place dropped");
            }
            return;
        }
        // Barge-in: a key stops the prompt.
        s.silences = 0;
        if s.playing {
            s.playing = false;
            s.prompts.clear();
            if let Some(c) = s.call {
                self.media.push_back(MediaCommand::StopPlay { call: c.id });
            }
        }
        let Some(s) = self.session(p) else { return };
        if s.stage == Stage::Menu {
            return self.menu_key(now, p, key, calls);
        }
        if key != '#' {
            if key.is_ascii_digit() && s.keys.len() < MAX_KEYS {
                s.keys.push(key);
            }
            self.ports[p].timer = Some(now + DIGIT_TIMEOUT);
            return;
        }
        let keys = std::mem::take(&mut s.keys);
        self.ports[p].timer = None;
        self.keyed(now, p, keys, calls);
    }

    /// A dial string the gateway collected: its keys, in order; one that the gateway's timer
    /// ended counts as ended with `#`, an empty one (nothing keyed) as a silence.
    fn dialled(
        &mut self,
        now: Instant,
        p: usize,
        digits: &[gateway_control::model::Digit],
        calls: &mut Calls,
    ) {
        if digits.is_empty() {
            return self.dial_in_timeout(now, p, calls);
        }
        for d in digits {
            self.key(now, p, d.as_char(), calls);
        }
        let Some(s) = self.session(p) else { return };
        let string = matches!(
            s.stage,
            Stage::Number | Stage::Pin { .. } | Stage::Recipient
        );
        // Ended by the gateway's timer: as if `#` ended it (nothing usable keyed: the prompt
        // again, or a wrong PIN, as a lone `#` would).
        if string && digits.last().is_some_and(|d| d.as_char() != '#') {
            let keys = std::mem::take(&mut s.keys);
            self.ports[p].timer = None;
            self.keyed(now, p, keys, calls);
        }
    }

    /// The caller ended a number with `#`.
    fn keyed(&mut self, now: Instant, p: usize, keys: String, _calls: &mut Calls) {
        let line = self.ports[p].line.clone();
        let Some(s) = self.session(p) else { return };
        match s.stage.clone() {
            Stage::Number if keys.is_empty() => self.say(now, p, &[Prompt::EnterNumber]),
            Stage::Number => {
                s.stage = Stage::Pin { number: keys };
                self.say(now, p, &[Prompt::EnterPin]);
            }
            Stage::Pin { number } => {
                s.stage = Stage::Checking;
                self.outputs.push_back(Output::Identify {
                    line,
                    number,
                    pin: keys,
                });
            }
            Stage::Recipient if keys.is_empty() => self.say(now, p, &[Prompt::EnterRecipient]),
            Stage::Recipient => {
                s.stage = Stage::LookingUp;
                self.outputs
                    .push_back(Output::LookUp { line, number: keys });
            }
            _ => {}
        }
    }

    fn menu_key(&mut self, now: Instant, p: usize, key: char, calls: &mut Calls) {
        let Some(s) = self.session(p) else { return };
        match key {
            '1' if s.waiting.is_empty() => self.say(now, p, &[Prompt::NoMessages, Prompt::Menu]),
            '1' => {
                let waiting = std::mem::take(&mut s.waiting);
                self.hand_over(p, Then::Listen(waiting), calls);
            }
            '2' => {
                s.stage = Stage::Recipient;
                self.say(now, p, &[Prompt::EnterRecipient]);
            }
            _ => self.say(now, p, &[Prompt::Menu]),
        }
    }

    /// Keys typed ahead are taken now that keys are collected again.
    fn replay(&mut self, now: Instant, p: usize, calls: &mut Calls) {
        let Some(s) = self.session(p) else { return };
        let ahead = std::mem::take(&mut s.ahead);
        for k in ahead.chars() {
            self.key(now, p, k, calls);
        }
    }

    fn dial_in_answer(&mut self, now: Instant, p: usize, answer: Answer, calls: &mut Calls) {
        let stats = &mut self.stats;
        let PortState::In(s) = &mut self.ports[p].state else {
            return;
        };
        match (s.stage.clone(), answer) {
            (Stage::Checking, Answer::Identified(Some(user), waiting)) => {
                stats.identified += 1;
                s.user = Some(user);
                s.waiting = waiting;
                s.tries = 0;
                s.stage = Stage::Menu;
                if s.waiting.is_empty() {
                    self.say(now, p, &[Prompt::NoMessages, Prompt::Menu]);
                } else {
                    self.say(now, p, &[Prompt::Menu]);
                }
            }
            (Stage::Checking, Answer::Identified(None, _)) => {
                stats.wrong_pins += 1;
                s.tries += 1;
                if s.tries >= MAX_TRIES {
                    s.stage = Stage::Ending;
                    self.say(now, p, &[Prompt::Wrong, Prompt::Goodbye]);
                } else {
                    s.stage = Stage::Number;
                    self.say(now, p, &[Prompt::Wrong, Prompt::EnterNumber]);
                }
            }
            (Stage::LookingUp, Answer::Recipient(Some(to))) => {
                s.stage = Stage::Speak { to };
                self.say(now, p, &[Prompt::SpeakAfterTone]);
            }
            (Stage::LookingUp, Answer::Recipient(None)) => {
                s.tries += 1;
                if s.tries >= MAX_TRIES {
                    s.stage = Stage::Ending;
                    self.say(now, p, &[Prompt::UnknownRecipient, Prompt::Goodbye]);
                } else {
                    s.stage = Stage::Recipient;
                    self.say(now, p, &[Prompt::UnknownRecipient, Prompt::EnterRecipient]);
                }
            }
            _ => {
                stats.dropped += 1;
                debug!(port = %self.ports[p].line, "answer out of place dropped");
            }
        }
        self.replay(now, p, calls);
    }

    /// Nothing keyed for [`DIGIT_TIMEOUT`]: what was keyed counts as ended with `#`, or the
    /// prompt is said again; the call ends after [`MAX_TRIES`] silences.
    fn dial_in_timeout(&mut self, now: Instant, p: usize, calls: &mut Calls) {
        let Some(s) = self.session(p) else { return };
        if !s.keys.is_empty() {
            let keys = std::mem::take(&mut s.keys);
            return self.keyed(now, p, keys, calls);
        }
        s.silences += 1;
        if s.silences >= MAX_TRIES {
            s.stage = Stage::Ending;
            return self.say(now, p, &[Prompt::Goodbye]);
        }
        let again = match s.stage {
            Stage::Number => Prompt::EnterNumber,
            Stage::Pin { .. } => Prompt::EnterPin,
            Stage::Menu => Prompt::Menu,
            Stage::Recipient => Prompt::EnterRecipient,
            _ => return,
        };
        self.say(now, p, &[again]);
    }

    /// Queues prompts and starts the first if nothing plays; a stage that takes a number or
    /// PIN has the gateway collect it meanwhile.
    fn say(&mut self, now: Instant, p: usize, prompts: &[Prompt]) {
        self.ports[p].timer = None;
        let no_collect = self.ports[p].no_collect;
        let line = self.ports[p].line.clone();
        let Some(s) = self.session(p) else { return };
        let string = matches!(
            s.stage,
            Stage::Number | Stage::Pin { .. } | Stage::Recipient
        );
        if string && !no_collect && s.call.is_some_and(|c| c.created) {
            // Each prompt starts the string again (a new request replaces the last).
            s.collecting = true;
            let map = DigitMap::parse(DIAL_IN_MAP).expect("the dial-in map parses");
            self.commands
                .push_back(Command::CollectDigits { line, map });
        }
        let Some(s) = self.session(p) else { return };
        s.prompts.extend(prompts.iter().copied());
        if !s.playing {
            self.play_next(now, p);
        }
    }

    fn play_next(&mut self, now: Instant, p: usize) {
        let Some(s) = self.session(p) else { return };
        let Some(call) = s.call.filter(|c| c.created) else {
            return;
        };
        if let Some(prompt) = s.prompts.pop_front() {
            s.playing = true;
            self.media.push_back(MediaCommand::PlayPrompt {
                call: call.id,
                prompt,
            });
        } else if matches!(
            s.stage,
            Stage::Number | Stage::Pin { .. } | Stage::Menu | Stage::Recipient
        ) {
            let wait = if s.collecting {
                COLLECT_TIMEOUT
            } else {
                DIGIT_TIMEOUT
            };
            self.ports[p].timer = Some(now + wait);
        }
    }

    /// A prompt ended: the next one, or what the stage does once the caller has heard it.
    fn next_prompt(&mut self, now: Instant, p: usize, calls: &mut Calls) {
        let Some(s) = self.session(p) else { return };
        if !s.prompts.is_empty() {
            return self.play_next(now, p);
        }
        match s.stage.clone() {
            Stage::Ending => self.hang_up(p, calls, false),
            Stage::Speak { to } => self.hand_over(p, Then::Record(vec![to]), calls),
            _ => self.play_next(now, p),
        }
    }

    /// The caller's own station takes the call: ours ends, the manager adds the station on
    /// the caller's virtual line, which is answered at once when it rings.
    fn hand_over(&mut self, p: usize, then: Then, calls: &mut Calls) {
        let g = self.ports[p].group;
        let vline = LineId::new(
            GatewayId::new(&format!("{DIAL_IN_PREFIX}{}", self.groups[g].spec.name)),
            &self.ports[p].line.endpoint,
        );
        let Some(s) = self.session(p) else { return };
        let Some(user) = s.user else { return };
        let call = s.call.take();
        s.stage = Stage::Handed;
        s.handed = true;
        s.station = Some(vline.clone());
        s.prompts.clear();
        s.playing = false;
        self.ports[p].timer = None;
        if let Some(c) = call {
            self.close_own(c, calls);
        }
        self.vlines.insert(
            vline.clone(),
            super::Virtual {
                group: g,
                number: None,
                port: Some(p),
            },
        );
        self.spawns.push_back(Spawn {
            line: vline,
            user,
            then,
        });
    }

    /// The caller hung up (or is gone): everything on the port ends.
    fn caller_gone(&mut self, p: usize, calls: &mut Calls) {
        let Some(s) = self.session(p) else { return };
        if s.station_call.is_some() {
            // The caller's station hears the on-hook and deletes its connection; the port
            // is released then.
            if s.gone {
                return;
            }
            s.gone = true;
            let v = s.station.clone();
            self.release(p);
            if let Some(v) = v {
                self.events.push_back(Event::OnHook { line: v });
            }
            return;
        }
        self.hang_up(p, calls, true);
    }
}
