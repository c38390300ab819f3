//! `offhook device add|set|remove|list|show|config` and `offhook device leases`: the IP phones
//! provisioned on the LAN, on the data dir, server running or not (a running server reads
//! devices when a phone asks for its files, and reloads reservations within seconds).

use std::net::Ipv4Addr;

use clap::{Args as ClapArgs, Subcommand};
use provisioning::Mac;
use provisioning::templates::Vendor;
use serde_json::json;

use super::{Error, Global};
use offhook_domain::clock::{Clock, SystemClock};
use offhook_domain::db::{self, Paths, devices};

/// `offhook device …`.
#[derive(Debug, ClapArgs)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, ClapArgs)]
struct Fields {
    /// The phone's vendor: cisco, polycom, yealink, grandstream or snom.
    #[arg(long, value_parser = parse_vendor)]
    vendor: Option<Vendor>,
    /// Its model (`7841`, `VVX411`, `T46U`, `GRP2614`, `D785`): Yealink and Snom name files by it.
    #[arg(long)]
    model: Option<String>,
    /// The user whose phone it is (its configuration registers as them).
    #[arg(long)]
    user: Option<String>,
    /// A DHCP reservation: the address it always gets.
    #[arg(long)]
    ip: Option<Ipv4Addr>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Adds a phone by its MAC address (any case, any of `:`, `-`, `.` or none).
    Add {
        /// Its MAC address.
        #[arg(value_parser = parse_mac)]
        mac: Mac,
        #[command(flatten)]
        fields: Fields,
    },
    /// Changes a phone; `--no-user`, `--no-ip` and `--no-model` clear those.
    Set {
        /// Its MAC address.
        #[arg(value_parser = parse_mac)]
        mac: Mac,
        #[command(flatten)]
        fields: Fields,
        /// Assigns it to nobody.
        #[arg(long, conflicts_with = "user")]
        no_user: bool,
        /// Drops its reservation.
        #[arg(long, conflicts_with = "ip")]
        no_ip: bool,
        /// Forgets its model.
        #[arg(long, conflicts_with = "model")]
        no_model: bool,
    },
    /// Removes a phone.
    Remove {
        /// Its MAC address.
        #[arg(value_parser = parse_mac)]
        mac: Mac,
    },
    /// Lists phones: those added, and those DHCP has seen (with no user until one is set).
    List {
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Shows one phone, with the password it fetches its files with when
    /// `[provisioning] auth = "device"`.
    Show {
        /// Its MAC address.
        #[arg(value_parser = parse_mac)]
        mac: Mac,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Lists the DHCP leases.
    Leases {
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
}

fn parse_mac(s: &str) -> Result<Mac, String> {
    s.parse()
        .map_err(|e: provisioning::mac::ParseError| e.to_string())
}

fn parse_vendor(s: &str) -> Result<Vendor, String> {
    s.parse()
        .map_err(|_| format!("{s:?}: expected cisco, polycom, yealink, grandstream or snom"))
}

fn change(f: Fields, no_user: bool, no_ip: bool, no_model: bool) -> devices::Change {
    devices::Change {
        vendor: f.vendor.map(|v| Some(v.to_string())),
        model: if no_model {
            Some(None)
        } else {
            f.model.map(Some)
        },
        user: if no_user {
            Some(None)
        } else {
            f.user.map(Some)
        },
        ip: if no_ip { Some(None) } else { f.ip.map(Some) },
    }
}

fn device_json(d: &devices::Device) -> serde_json::Value {
    serde_json::to_value(d).unwrap_or_default()
}

fn print_device(d: &devices::Device) {
    let or = |v: Option<String>| v.unwrap_or_else(|| "-".into());
    println!(
        "{}  {:<12} {:<10} {:<16} {:<15} {}",
        d.mac,
        or(d.vendor.clone()),
        or(d.model.clone()),
        or(d.user.clone()),
        or(d.ip.map(|i| i.to_string())),
        or(d.last_ip.map(|i| format!("last seen at {i}"))),
    );
}

fn refused(e: db::Error) -> Error {
    match e {
        db::Error::NotFound(_) | db::Error::Exists(_) | db::Error::Invalid(_) => {
            Error::Usage(e.to_string())
        }
        e => e.into(),
    }
}

/// Runs `offhook device …`.
pub fn run(g: &Global, args: Args) -> Result<(), Error> {
    // The config is read so that a bad one is reported here as well.
    crate::config::Config::load(g.config.as_deref())?;
    let paths = Paths::new(&g.data_dir);
    let conn = db::connect(&paths)?;
    let now = SystemClock.now_ms();
    match args.command {
        Command::Add { mac, fields } => {
            let key = db::load_or_create_key(&paths)?;
            let d = devices::add(&conn, &key, mac, &change(fields, false, false, false), now)
                .map_err(refused)?;
            print_device(&d);
        }
        Command::Set {
            mac,
            fields,
            no_user,
            no_ip,
            no_model,
        } => {
            let d = devices::set(&conn, mac, &change(fields, no_user, no_ip, no_model))
                .map_err(refused)?;
            print_device(&d);
        }
        Command::Remove { mac } => {
            devices::remove(&conn, mac).map_err(refused)?;
            println!("removed {mac}");
        }
        Command::List { json } => {
            let all = devices::list(&conn)?;
            if json {
                let v: Vec<_> = all.iter().map(device_json).collect();
                println!("{}", serde_json::Value::Array(v));
            } else {
                for d in &all {
                    print_device(d);
                }
            }
        }
        Command::Show { mac, json } => {
            let d = devices::get(&conn, mac)?
                .ok_or_else(|| Error::Usage(format!("no such device {mac}")))?;
            let key = db::load_or_create_key(&paths)?;
            let secret = devices::http_secret(&conn, &key, mac)?.unwrap_or_default();
            if json {
                let mut v = device_json(&d);
                v["http_secret"] = json!(secret);
                println!("{v}");
            } else {
                let or = |v: Option<String>| v.unwrap_or_else(|| "-".into());
                println!("mac:          {}", d.mac);
                println!("vendor:       {}", or(d.vendor));
                println!("model:        {}", or(d.model));
                println!("user:         {}", or(d.user));
                println!("reservation:  {}", or(d.ip.map(|i| i.to_string())));
                println!("vendor class: {}", or(d.vendor_class));
                println!("last address: {}", or(d.last_ip.map(|i| i.to_string())));
                println!("http secret:  {secret}");
            }
        }
        Command::Leases { json } => {
            let all = devices::leases(&conn)?;
            if json {
                println!("{}", serde_json::to_value(&all).unwrap_or_default());
            } else {
                for l in &all {
                    println!(
                        "{:<15} {}  {:<8} expires {}  {}",
                        l.ip,
                        l.mac,
                        l.state,
                        l.expires,
                        l.hostname.as_deref().unwrap_or("")
                    );
                }
            }
        }
    }
    Ok(())
}
