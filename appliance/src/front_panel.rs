//! The front panel: status screens on the appliance's LCD, through LCDd (`[lcd] server`).
//!
//! Offhook is an LCDproc client ([`offhook_panel`]): LCDd drives whatever display the box has and
//! rotates the client's screens. [`start`] declares a boot screen at once, before the engine
//! has started; [`Panel::running`] replaces it with the status screens, refreshed every
//! [`REFRESH`]:
//! - name and LAN address (and the admin console's URL on displays of 3 rows or more);
//! - gateways up out of those configured, and phone lines in use;
//! - messages waiting to be heard on phones, and recordings in progress;
//! - DHCP: leases bound, or off;
//! - while user `admin`'s initial password (made by `offhook init`) is pending: "Admin login",
//!   the user name and the password ([`Status::login`]), until that password is changed.
//!
//! and an alert screen, shown in front of the others (LCDd's `foreground`) while a gateway is
//! down or the data directory's disk is nearly full (the core's health says `degraded` or
//! `down` for `storage`). Text is cut to the display's width, and each screen uses as many rows
//! as the display has (20×4 and 16×2 at least). Reconnecting to LCDd is the driver's business:
//! the screens come back by themselves when LCDd restarts.
//!
//! LCDd's menu key opens the set-up menu ([`menu`]): the LAN's address, netmask and gateway,
//! the DHCP server and its pool (changed as the web console changes them), the admin console's
//! URL, a one-time admin password, restart and shut down. What each did, or why a value was
//! refused, shows on a notice screen in front of the others for a few seconds.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

use offhook_domain::VoiceMessaging;
use offhook_domain::db::devices;
use offhook_domain::db::initial_password::{self, InitialPassword};
use offhook_domain::network::Network;
use offhook_domain::settings::ChangeError;
use offhook_panel::driver::{self, Spawned};
use offhook_panel::protocol::{
    Command, Id, Priority, ScreenOptions, Text, WidgetKind, WidgetValue,
};
use offhook_panel::session::Event;
use offhook_web::{GatewayStatus, Web};
use tokio::sync::{mpsc, watch};
use tracing::{debug, info, warn};

use crate::config::Config;
use crate::server::Stopped;

pub mod menu;

/// How often the status screens are refreshed.
pub const REFRESH: Duration = Duration::from_secs(2);
/// How long each status screen is shown in the rotation, in eighths of a second (4 s).
const SHOWN_FOR: u32 = 32;
/// The rows a screen uses at most (displays taller than this show blank rows below).
const MAX_ROWS: usize = 4;
/// The display size assumed until LCDd says (the usual 20×4).
const DEFAULT_SIZE: (usize, usize) = (20, 4);

/// The screens, in rotation order.
const BOOT: &str = "boot";
const STATUS: [&str; 4] = ["name", "gateways", "messages", "dhcp"];
const ALERT: &str = "alert";
/// The initial admin password's screen, in the rotation while it is pending.
const LOGIN: &str = "login";
const NOTICE: &str = "notice";
/// How long a notice stays, in refreshes ([`REFRESH`]): "Saved", "Refused"... 10 s.
const NOTICE_FOR: u32 = 5;
/// The admin console's URL: 30 s.
const URL_FOR: u32 = 15;
/// How long "Restarting..." and "Shutting down..." show before the appliance stops.
const ACKNOWLEDGE: Duration = Duration::from_secs(1);
/// A one-time password: 60 s, time to write it down.
const PASSWORD_FOR: u32 = 30;

/// A running front panel.
#[derive(Debug)]
pub struct Panel {
    panel: driver::Panel,
    events: mpsc::Receiver<Event>,
}

/// Connects to LCDd (in the background, reconnecting as needed) and shows the boot screen.
/// `None` when `[lcd]` names no server.
pub async fn start(config: &Config) -> Option<Panel> {
    let lcd = config.lcd.as_ref()?;
    let Spawned { panel, events, .. } = driver::spawn(driver::Config {
        address: lcd.server.clone(),
        ..driver::Config::default()
    });
    info!(server = %lcd.server, "front panel (LCDproc client)");
    let p = Panel { panel, events };
    p.screen(BOOT, Priority::Foreground).await;
    p.show(
        BOOT,
        &["Offhook".into(), "starting...".into()],
        DEFAULT_SIZE,
    )
    .await;
    Some(p)
}

impl Panel {
    /// The engine is up: the boot screen goes, the status screens and the set-up menu come,
    /// refreshed until the process ends. The menu's restart and shut down go to `stop`.
    pub fn running(
        self,
        web: Web,
        gateways: Arc<dyn GatewayStatus>,
        config: &Config,
        stop: watch::Sender<Stopped>,
    ) -> tokio::task::JoinHandle<()> {
        let source = Source {
            host: host_name(),
            core: web.core().clone(),
            gateways,
            config: config.clone(),
        };
        tokio::spawn(async move { self.run(source, web, stop).await })
    }

    async fn run(mut self, source: Source, web: Web, stop: watch::Sender<Stopped>) {
        // First in the rotation when it shows.
        self.screen(LOGIN, Priority::Hidden).await;
        for name in STATUS {
            self.screen(name, Priority::Info).await;
        }
        self.screen(ALERT, Priority::Hidden).await;
        self.screen(NOTICE, Priority::Hidden).await;
        let _ = self.panel.send(Command::ScreenDel(id(BOOT))).await;
        let mut network = source.core.watch_network();
        let (mut menu, commands) = menu::Menu::declare(&network.borrow_and_update());
        for c in commands {
            let _ = self.panel.send(c).await;
        }
        let mut size = DEFAULT_SIZE;
        // What LCDd was last given, screen by screen (then the alert and the login); `None`:
        // unknown (at start, and after a reconnection), so everything is written again.
        let mut shown: Option<Vec<Vec<String>>> = None;
        // Refreshes left before the notice screen hides again.
        let mut notice_left = 0u32;
        let mut tick = tokio::time::interval(REFRESH);
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    if notice_left > 0 {
                        notice_left -= 1;
                        if notice_left == 0 {
                            self.set_priority(NOTICE, Priority::Hidden).await;
                        }
                    }
                }
                Ok(()) = network.changed() => {
                    let n = network.borrow_and_update().clone();
                    for c in menu.refresh(&n) {
                        let _ = self.panel.send(c).await;
                    }
                }
                event = self.events.recv() => match event {
                    Some(Event::Connected(d)) => {
                        size = (usize::from(d.width), usize::from(d.height));
                        shown = None;
                    }
                    Some(Event::Menu { kind, id, value }) => {
                        let n = source.core.network();
                        let Some(asked) = menu.on_event(kind, &id, value.as_deref(), &n) else {
                            continue;
                        };
                        let (rows, for_ticks) = self.answer(asked, &source, &web, &stop).await;
                        for c in menu.refresh(&source.core.network()) {
                            let _ = self.panel.send(c).await;
                        }
                        self.show(NOTICE, &wrap(&rows, size.0), size).await;
                        self.set_priority(NOTICE, Priority::Foreground).await;
                        notice_left = for_ticks;
                        continue;
                    }
                    Some(e) => {
                        debug!(event = ?e, "front panel event");
                        continue;
                    }
                    None => return,
                },
            }
            let status = source.read().await;
            let screens = status.screens();
            let was = |i: usize| shown.as_ref().and_then(|s| s.get(i));
            for (i, (name, rows)) in screens.iter().enumerate() {
                if was(i) != Some(rows) {
                    self.show(name, rows, size).await;
                }
            }
            let alert = status.alert();
            if was(screens.len()) != Some(&alert) {
                let priority = if alert.is_empty() {
                    Priority::Hidden
                } else {
                    Priority::Foreground
                };
                self.set_priority(ALERT, priority).await;
                self.show(ALERT, &alert, size).await;
            }
            let login = status.login(size);
            if was(screens.len() + 1) != Some(&login) {
                let priority = if login.is_empty() {
                    Priority::Hidden
                } else {
                    Priority::Info
                };
                self.set_priority(LOGIN, priority).await;
                self.show(LOGIN, &login, size).await;
            }
            let mut now: Vec<Vec<String>> = screens.into_iter().map(|(_, rows)| rows).collect();
            now.push(alert);
            now.push(login);
            shown = Some(now);
        }
    }

    /// Does what the menu asked; the notice's rows and how long it stays.
    async fn answer(
        &self,
        asked: menu::Asked,
        source: &Source,
        web: &Web,
        stop: &watch::Sender<Stopped>,
    ) -> (Vec<String>, u32) {
        use menu::Asked;
        let rows = |r: &[&str]| r.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        match asked {
            Asked::Change(key, value) => {
                let change = vec![(key.to_owned(), Some(value.clone()))];
                match source.core.change_settings(change).await {
                    Ok(_) => {
                        info!(setting = key, %value, by = "front panel", "settings changed");
                        let shown = if value.is_empty() { "none" } else { &value };
                        (rows(&["Saved", key, shown]), NOTICE_FOR)
                    }
                    Err(ChangeError::Invalid { key, why }) => {
                        info!(setting = %key, %why, "front panel: value refused");
                        (rows(&["Refused", &key, &why]), NOTICE_FOR)
                    }
                    Err(e) => {
                        warn!(error = %e, "front panel: settings not kept");
                        (rows(&["Not saved", &e.to_string()]), NOTICE_FOR)
                    }
                }
            }
            Asked::Refuse(key, why) => (rows(&["Refused", key, &why]), NOTICE_FOR),
            Asked::ShowUrl => {
                let n = source.core.network();
                match console_url(&source.config, &n) {
                    Some(url) => (rows(&["Admin console", &url]), URL_FOR),
                    None => (rows(&["Admin console", "no address yet"]), NOTICE_FOR),
                }
            }
            Asked::ResetPassword => match web.reset_admin_password().await {
                Ok(password) => (
                    rows(&["User admin", "one-time password", &password]),
                    PASSWORD_FOR,
                ),
                Err(why) => (rows(&["Not reset", &why]), NOTICE_FOR),
            },
            Asked::Restart => {
                stop_soon(stop, Stopped::Restart);
                (rows(&["Restarting..."]), NOTICE_FOR)
            }
            Asked::PowerOff => {
                stop_soon(stop, Stopped::PowerOff);
                (rows(&["Shutting down..."]), NOTICE_FOR)
            }
        }
    }

    /// Declares a screen with a string widget per row.
    async fn screen(&self, name: &str, priority: Priority) {
        let screen = id(name);
        let _ = self.panel.send(Command::ScreenAdd(screen.clone())).await;
        let options = ScreenOptions {
            name: Some(Text::new(&format!("Offhook {name}"))),
            priority: Some(priority),
            duration: Some(SHOWN_FOR),
            heartbeat: Some(offhook_panel::protocol::Heartbeat::Off),
            ..ScreenOptions::default()
        };
        let _ = self
            .panel
            .send(Command::ScreenSet(screen.clone(), options))
            .await;
        for row in 0..MAX_ROWS {
            let _ = self
                .panel
                .send(Command::WidgetAdd {
                    screen: screen.clone(),
                    widget: row_id(row),
                    kind: WidgetKind::String,
                })
                .await;
        }
    }

    async fn set_priority(&self, name: &str, priority: Priority) {
        let options = ScreenOptions {
            priority: Some(priority),
            ..ScreenOptions::default()
        };
        let _ = self.panel.send(Command::ScreenSet(id(name), options)).await;
    }

    /// Writes `rows` on screen `name`, cut to the display; rows past the text are blanked.
    async fn show(&self, name: &str, rows: &[String], (width, height): (usize, usize)) {
        let fitted = fit(rows, width, height);
        for row in 0..MAX_ROWS {
            let text = fitted.get(row).cloned().unwrap_or_default();
            let _ = self
                .panel
                .send(Command::WidgetSet {
                    screen: id(name),
                    widget: row_id(row),
                    value: WidgetValue::String {
                        x: 1,
                        y: u16::try_from(row + 1).unwrap_or(1),
                        text: Text::new(&text),
                    },
                })
                .await;
        }
    }
}

/// Asks the server to stop for `why` after [`ACKNOWLEDGE`], time for LCDd to show the notice
/// saying so before the panel's connection goes.
#[allow(clippy::disallowed_methods)] // The I/O shell's one timer: a pause for the display.
fn stop_soon(stop: &watch::Sender<Stopped>, why: Stopped) {
    let stop = stop.clone();
    tokio::spawn(async move {
        tokio::time::sleep(ACKNOWLEDGE).await;
        stop.send_replace(why);
    });
}

/// `rows` with each longer than `width` broken into pieces of `width` (a URL, a reason), at
/// most 4 rows (the most a screen uses).
pub fn wrap(rows: &[String], width: usize) -> Vec<String> {
    let width = width.max(1);
    rows.iter()
        .flat_map(|r| {
            let chars: Vec<char> = r.chars().collect();
            if chars.is_empty() {
                return vec![String::new()];
            }
            chars.chunks(width).map(|c| c.iter().collect()).collect()
        })
        .take(MAX_ROWS)
        .collect()
}

/// `rows` for a `width`×`height` display: at most `height` rows (a display of 2 rows shows the
/// first two), each cut to `width` characters.
pub fn fit(rows: &[String], width: usize, height: usize) -> Vec<String> {
    rows.iter()
        .take(height.min(MAX_ROWS))
        .map(|r| r.chars().take(width).collect())
        .collect()
}

fn id(s: &str) -> Id {
    Id::new(s).expect("the panel's ids are valid")
}

fn row_id(row: usize) -> Id {
    id(&format!("r{row}"))
}

/// Where the status comes from.
struct Source {
    /// Read once: the host name does not change while Offhook runs.
    host: String,
    core: VoiceMessaging,
    gateways: Arc<dyn GatewayStatus>,
    config: Config,
}

impl Source {
    async fn read(&self) -> Status {
        let gateways = self.gateways.health();
        let lines = self.core.lines();
        let network = self.core.network();
        let leases = if network.dhcp {
            let all = self
                .core
                .db()
                .read(devices::leases)
                .await
                .unwrap_or_default();
            Some(all.iter().filter(|l| l.state == "bound").count())
        } else {
            None
        };
        let storage = self
            .core
            .health()
            .await
            .into_iter()
            .find(|p| p.name == "storage")
            .filter(|p| p.state != offhook_domain::health::State::Ok)
            .map(|p| p.detail);
        let initial_password = self
            .core
            .initial_admin_password()
            .await
            .unwrap_or_else(|e| {
                debug!(error = %e, "cannot read the initial admin password");
                None
            });
        Status {
            host: self.host.clone(),
            lan: lan_text(&self.config, &network),
            url: console_url(&self.config, &network),
            gateways_up: gateways.iter().filter(|g| g.up).count(),
            gateways: gateways.len(),
            down: gateways
                .iter()
                .filter(|g| !g.up)
                .map(|g| g.name.clone())
                .collect(),
            in_use: lines
                .iter()
                .filter(|l| !matches!(l.state, "idle" | "gateway down" | "checking"))
                .count(),
            waiting: lines.iter().map(|l| l.waiting).sum(),
            recording: lines.iter().filter(|l| l.state == "recording").count(),
            leases,
            storage,
            initial_password,
        }
    }
}

/// What the screens show.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Status {
    /// The machine's host name.
    pub host: String,
    /// The LAN address, in words.
    pub lan: String,
    /// The admin console's URL, when known.
    pub url: Option<String>,
    /// Gateways up.
    pub gateways_up: usize,
    /// Gateways configured.
    pub gateways: usize,
    /// The names of those down.
    pub down: Vec<String>,
    /// Phone lines not idle.
    pub in_use: usize,
    /// Messages waiting to be heard on phones.
    pub waiting: usize,
    /// Recordings in progress.
    pub recording: usize,
    /// DHCP leases bound; `None`: the DHCP server is off.
    pub leases: Option<usize>,
    /// Why storage is not ok, when it is not.
    pub storage: Option<String>,
    /// User `admin`'s initial password, while it is pending.
    pub initial_password: Option<InitialPassword>,
}

impl Status {
    /// The status screens' rows, in rotation order.
    pub fn screens(&self) -> Vec<(&'static str, Vec<String>)> {
        let mut name = vec![
            format!("Offhook {}", self.host),
            format!("LAN {}", self.lan),
        ];
        if let Some(url) = &self.url {
            name.push(url.clone());
        }
        let mut gateways = vec![
            format!("Gateways {}/{} up", self.gateways_up, self.gateways),
            format!("Lines in use {}", self.in_use),
        ];
        if !self.down.is_empty() {
            gateways.push(format!("Down: {}", self.down.join(",")));
        }
        let messages = vec![
            format!("Waiting {}", self.waiting),
            format!("Recording {}", self.recording),
        ];
        let dhcp = vec![match self.leases {
            Some(n) => format!("DHCP on, {n} leases"),
            None => "DHCP off".to_owned(),
        }];
        vec![
            (STATUS[0], name),
            (STATUS[1], gateways),
            (STATUS[2], messages),
            (STATUS[3], dhcp),
        ]
    }

    /// The login screen's rows for a `width`×`height` display: user `admin`'s initial
    /// password, whole on one row; empty when none is pending. The password (14 characters)
    /// is never cut: 3 rows of 18 columns show "Admin login", "user: admin", "pw: …"; 16
    /// columns show "password:" on a row of its own (4 rows) or drop the title (3 rows); 2 rows
    /// show "admin password:" over the password.
    pub fn login(&self, (width, height): (usize, usize)) -> Vec<String> {
        let Some(password) = &self.initial_password else {
            return Vec::new();
        };
        let (user, pw) = (initial_password::USERNAME, password.as_str());
        let title = "Admin login".to_owned();
        let user_row = format!("user: {user}");
        let inline = format!("pw: {pw}");
        if height >= 3 && inline.chars().count() <= width {
            vec![title, user_row, inline]
        } else if height >= 4 {
            vec![title, user_row, "password:".into(), pw.into()]
        } else if height == 3 {
            vec![user_row, "password:".into(), pw.into()]
        } else {
            vec![format!("{user} password:"), pw.into()]
        }
    }

    /// The alert screen's rows; empty when there is nothing to alert about.
    pub fn alert(&self) -> Vec<String> {
        let mut rows = Vec::new();
        if !self.down.is_empty() {
            rows.push("ALERT gateway down".to_owned());
            rows.push(self.down.join(","));
        }
        if let Some(why) = &self.storage {
            rows.push("ALERT storage".to_owned());
            rows.push(why.clone());
        }
        rows
    }
}

/// The LAN address as the panel shows it: the one the settings give it, else the DHCP
/// interface's address and prefix, else the web console's listening address when it names one.
fn lan_text(config: &Config, n: &Network) -> String {
    if let Some(c) = n.address {
        return c.to_string();
    }
    if let Some(d) = &config.dhcp {
        return match provisioning::dhcp::driver::interface_ipv4_net(&d.interface) {
            Ok((address, prefix)) => format!("{address}/{prefix}"),
            Err(_) => format!("{}: no address", d.interface),
        };
    }
    match config.http.listen.ip() {
        IpAddr::V4(a) if a != Ipv4Addr::UNSPECIFIED => a.to_string(),
        IpAddr::V6(a) if !a.is_unspecified() => a.to_string(),
        _ => "not set".to_owned(),
    }
}

/// The admin console's URL: the listening address, or the LAN's address when it listens on
/// all of them; `None` when neither names a host.
fn console_url(config: &Config, n: &Network) -> Option<String> {
    let listen = config.http.listen;
    let host = match (listen.ip().is_unspecified(), n.address) {
        (false, _) => listen.ip(),
        (true, Some(c)) => IpAddr::V4(c.address),
        (true, None) => return None,
    };
    let scheme = match config.http.tls {
        crate::config::Tls::Off => "http",
        crate::config::Tls::On { .. } => "https",
    };
    Some(format!(
        "{scheme}://{}",
        std::net::SocketAddr::new(host, listen.port())
    ))
}

/// The machine's host name (`/proc/sys/kernel/hostname`), or `offhook`.
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "offhook".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status() -> Status {
        Status {
            host: "box".into(),
            lan: "192.0.2.1/24".into(),
            url: Some("http://192.0.2.1:8080".into()),
            gateways_up: 1,
            gateways: 2,
            down: vec!["gw2".into()],
            in_use: 1,
            waiting: 3,
            recording: 1,
            leases: Some(5),
            storage: None,
            initial_password: None,
        }
    }

    #[test]
    fn screens_say_what_the_appliance_does_and_fit_the_display() {
        let s = status();
        let screens = s.screens();
        assert_eq!(
            screens[0].1,
            ["Offhook box", "LAN 192.0.2.1/24", "http://192.0.2.1:8080"]
        );
        assert_eq!(
            screens[1].1,
            ["Gateways 1/2 up", "Lines in use 1", "Down: gw2"]
        );
        assert_eq!(screens[2].1, ["Waiting 3", "Recording 1"]);
        assert_eq!(screens[3].1, ["DHCP on, 5 leases"]);
        // 16×2: two rows, 16 columns.
        assert_eq!(
            fit(&screens[0].1, 16, 2),
            ["Offhook box", "LAN 192.0.2.1/24"]
        );
        assert_eq!(fit(&screens[1].1, 8, 2), ["Gateways", "Lines in"]);
        assert_eq!(fit(&vec!["x".to_owned(); 6], 20, 8).len(), MAX_ROWS);
    }

    #[test]
    fn the_alert_names_what_is_wrong_and_is_empty_otherwise() {
        let mut s = status();
        assert_eq!(s.alert(), ["ALERT gateway down", "gw2"]);
        s.down.clear();
        assert!(s.alert().is_empty());
        s.storage = Some("3% free".into());
        assert_eq!(s.alert(), ["ALERT storage", "3% free"]);
        s.leases = None;
        assert_eq!(s.screens()[3].1, ["DHCP off"]);
    }

    #[test]
    fn the_initial_password_shows_whole_on_each_display_while_pending() {
        let mut s = status();
        assert!(s.login((20, 4)).is_empty(), "none pending: no screen");
        let password = initial_password::generate();
        let pw = password.as_str().to_owned();
        s.initial_password = Some(password);
        let on = |width, height| {
            let rows = fit(&s.login((width, height)), width, height);
            assert!(
                rows.contains(&pw) || rows.contains(&format!("pw: {pw}")),
                "{rows:?}"
            );
            assert!(rows.iter().any(|r| r.contains("admin")), "{rows:?}");
            rows
        };
        assert_eq!(
            on(20, 4),
            ["Admin login", "user: admin", &format!("pw: {pw}")]
        );
        assert_eq!(on(16, 2), ["admin password:", pw.as_str()]);
        assert_eq!(
            on(16, 4),
            ["Admin login", "user: admin", "password:", pw.as_str()]
        );
        assert_eq!(on(16, 3), ["user: admin", "password:", pw.as_str()]);
        assert_eq!(on(40, 2), ["admin password:", pw.as_str()]);
        assert_eq!(on(18, 3)[2], format!("pw: {pw}"));
        // Its Debug (a status logged by mistake) does not show it.
        assert!(!format!("{s:?}").contains(&pw));
    }
}
