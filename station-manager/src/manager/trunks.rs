//! The station manager's side of the trunks: groups added, phones behind them, the routing of
//! their virtual lines' commands, and the dial-in callers' short-lived stations.

use std::collections::HashSet;
use std::time::Instant;

use gateway_control::model::{Command, Event, GatewayId, LineId};
use tracing::debug;

use super::StationManager;
use crate::Input;
use crate::station::Station;
use crate::trunk::{self, Spawn, Then, TrunkError, TrunkGroup};

impl StationManager {
    /// Adds a trunk group: its ports are watched as trunks ([`Command::AddTrunk`]), phones
    /// behind it can be added on [`Self::trunk_station_line`], and with dial-in its incoming
    /// calls are answered.
    pub fn add_trunk(&mut self, group: TrunkGroup) -> Result<(), TrunkError> {
        let up = group_gateway_up(&self.gateways_up, &group);
        let name = group.name().to_owned();
        self.trunks.add_group(group, up)?;
        if up {
            // Phones added behind it from now on start in service, as on an up gateway.
            for prefix in [trunk::STATION_PREFIX, trunk::DIAL_IN_PREFIX] {
                self.gateways_up
                    .insert(GatewayId::new(&format!("{prefix}{name}")));
            }
        }
        while let Some(c) = self.trunks.poll_command() {
            self.commands.push_back(c);
        }
        Ok(())
    }

    /// The line to add with [`Self::add_station`] for a phone behind trunk `trunk` reached
    /// by dialling `number`.
    pub fn trunk_station_line(&self, trunk: &str, number: &str) -> Result<LineId, TrunkError> {
        self.trunks.station_line(trunk, number)
    }

    /// A station's command: to the trunks for a virtual line, else to the gateway.
    pub(super) fn route(&mut self, now: Instant, c: Command) {
        if c.line().is_some_and(|l| self.trunks.is_virtual(l)) {
            self.trunks.handle_station_command(now, c, &mut self.calls);
        } else {
            self.commands.push_back(c);
        }
    }

    /// Moves what the trunks have for others to them, until nothing more comes of it.
    pub(super) fn pump(&mut self, now: Instant) {
        loop {
            let mut more = false;
            while let Some(c) = self.trunks.poll_command() {
                self.commands.push_back(c);
            }
            while let Some(m) = self.trunks.poll_media() {
                self.media.push_back(m);
            }
            while let Some(o) = self.trunks.poll_output() {
                self.outputs.push_back(o);
            }
            while let Some(e) = self.trunks.poll_event() {
                more = true;
                self.deliver(now, e);
            }
            if let Some(s) = self.trunks.poll_spawn() {
                more = true;
                self.spawn(now, s);
            }
            if let Some(line) = self.trunks.poll_retire() {
                more = true;
                self.remove_station(now, &line);
            }
            if !more {
                break;
            }
        }
    }

    /// Adds a dial-in caller's station and sets it going: it rings (answered at once by the
    /// trunk) to play their messages or to record one.
    pub(super) fn spawn(&mut self, now: Instant, s: Spawn) {
        let slot = match self.by_line.get(&s.line) {
            Some(&i) if self.retired.contains(&i) && !self.stations[i].is_capturing() => Some(i),
            Some(_) => {
                debug!(line = %s.line, "dial-in station not added: the line is still in use");
                return;
            }
            None => None,
        };
        let mut station = Station::new(s.line.clone(), s.user, self.config.clone());
        station.gateway_known_up();
        let i = self.place_station(slot, station);
        self.transient.insert(i);
        self.by_line.insert(s.line.clone(), i);
        let status = Event::LineStatus {
            line: s.line.clone(),
            off_hook: false,
        };
        self.stations[i].handle_event(now, &status, &mut self.calls);
        match s.then {
            Then::Listen(waiting) => {
                for (message, from) in waiting {
                    let input = Input::MessageWaiting {
                        user: s.user,
                        message,
                        from,
                    };
                    self.stations[i].handle_input(now, input, &mut self.calls);
                }
            }
            Then::Record(to) => self.stations[i].record_for(now, to),
        }
        self.collect(now, i);
    }
}

fn group_gateway_up(up: &HashSet<GatewayId>, group: &TrunkGroup) -> bool {
    group.gateway().is_some_and(|g| up.contains(g))
}
