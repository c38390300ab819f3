//! Time zones: the site's IANA name mapped to the notation each vendor wants.
//!
//! Phones do not carry the tz database; each vendor has its own list. The table covers the
//! zones an installer is likely to pick; an unknown IANA name is refused when the site is set
//! (better than phones silently showing UTC).
//! - POSIX TZ strings (IEEE 1003.1 §8.3, as glibc's `tzfile` footers give them): Grandstream's
//!   P64 takes these.
//! - Cisco: the Windows-style names of the `<timeZone>` element of `SEP<MAC>.cnf.xml`.
//! - Yealink: `local_time.time_zone` (an hour offset) and `local_time.time_zone_name`.
//! - snom: the `timezone` setting's codes (`GBR-0`, `FRA+1`, `USA-5` …).
//! - Polycom: `tcpIpApp.sntp.gmtOffset` in seconds and a DST rule (`dst`), which the template
//!   spells as the `tcpIpApp.sntp.daylightSavings.*` parameters.

/// A daylight-saving rule, as the phones that need one spelled out want it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Dst {
    /// No daylight-saving time.
    None,
    /// EU: last Sunday of March 01:00 UTC to last Sunday of October 01:00 UTC.
    Eu,
    /// USA/Canada: second Sunday of March 02:00 to first Sunday of November 02:00 local.
    Us,
    /// South-east Australia: first Sunday of October 02:00 to first Sunday of April 03:00.
    Au,
}

/// A time zone in each vendor's notation. Serialised into the templates as `tz`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Zone {
    /// The IANA name (`Europe/Paris`).
    pub iana: &'static str,
    /// Standard time's offset from UTC, in minutes (east positive).
    pub offset_minutes: i32,
    /// The daylight-saving rule.
    pub dst: Dst,
    /// The POSIX TZ string (`CET-1CEST,M3.5.0,M10.5.0/3`).
    pub posix: &'static str,
    /// Cisco's name (`Romance Standard/Daylight Time`).
    pub cisco: &'static str,
    /// Yealink's `local_time.time_zone` (`+1`, `-5`, `0`).
    pub yealink_offset: &'static str,
    /// Yealink's `local_time.time_zone_name` (`France(Paris)`); empty where it has none.
    pub yealink_name: &'static str,
    /// snom's `timezone` code (`FRA+1`); empty where it has none (the phone keeps its own).
    pub snom: &'static str,
}

const EU_CET: &str = "CET-1CEST,M3.5.0,M10.5.0/3";

#[allow(clippy::too_many_arguments)]
const fn zone(
    iana: &'static str,
    offset_minutes: i32,
    dst: Dst,
    posix: &'static str,
    cisco: &'static str,
    yealink_offset: &'static str,
    yealink_name: &'static str,
    snom: &'static str,
) -> Zone {
    Zone {
        iana,
        offset_minutes,
        dst,
        posix,
        cisco,
        yealink_offset,
        yealink_name,
        snom,
    }
}

#[rustfmt::skip]
const ZONES: &[Zone] = &[
    zone("UTC", 0, Dst::None, "UTC0", "Greenwich Standard Time", "0", "", ""),
    zone("Europe/London", 0, Dst::Eu, "GMT0BST,M3.5.0/1,M10.5.0", "GMT Standard/Daylight Time", "0", "United Kingdom(London)", "GBR-0"),
    zone("Europe/Dublin", 0, Dst::Eu, "GMT0IST,M3.5.0/1,M10.5.0", "GMT Standard/Daylight Time", "0", "Ireland(Dublin)", "IRL-0"),
    zone("Europe/Lisbon", 0, Dst::Eu, "WET0WEST,M3.5.0/1,M10.5.0", "GMT Standard/Daylight Time", "0", "Portugal(Lisboa)", "PRT-0"),
    zone("Europe/Paris", 60, Dst::Eu, EU_CET, "Romance Standard/Daylight Time", "+1", "France(Paris)", "FRA+1"),
    zone("Europe/Brussels", 60, Dst::Eu, EU_CET, "Romance Standard/Daylight Time", "+1", "Belgium(Brussels)", "BEL+1"),
    zone("Europe/Madrid", 60, Dst::Eu, EU_CET, "Romance Standard/Daylight Time", "+1", "Spain(Madrid)", "ESP+1"),
    zone("Europe/Berlin", 60, Dst::Eu, EU_CET, "W. Europe Standard/Daylight Time", "+1", "Germany(Berlin)", "GER+1"),
    zone("Europe/Amsterdam", 60, Dst::Eu, EU_CET, "W. Europe Standard/Daylight Time", "+1", "Netherlands(Amsterdam)", "NLD+1"),
    zone("Europe/Rome", 60, Dst::Eu, EU_CET, "W. Europe Standard/Daylight Time", "+1", "Italy(Rome)", "ITA+1"),
    zone("Europe/Zurich", 60, Dst::Eu, EU_CET, "W. Europe Standard/Daylight Time", "+1", "Switzerland(Bern)", "CHE+1"),
    zone("Europe/Vienna", 60, Dst::Eu, EU_CET, "W. Europe Standard/Daylight Time", "+1", "Austria(Vienna)", "AUT+1"),
    zone("Europe/Stockholm", 60, Dst::Eu, EU_CET, "W. Europe Standard/Daylight Time", "+1", "Sweden(Stockholm)", "SWE+1"),
    zone("Europe/Warsaw", 60, Dst::Eu, EU_CET, "Central European Standard/Daylight Time", "+1", "Poland(Warsaw)", "POL+1"),
    zone("Europe/Helsinki", 120, Dst::Eu, "EET-2EEST,M3.5.0/3,M10.5.0/4", "FLE Standard/Daylight Time", "+2", "Finland(Helsinki)", "FIN+2"),
    zone("Europe/Athens", 120, Dst::Eu, "EET-2EEST,M3.5.0/3,M10.5.0/4", "GTB Standard/Daylight Time", "+2", "Greece(Athens)", "GRC+2"),
    zone("America/New_York", -300, Dst::Us, "EST5EDT,M3.2.0,M11.1.0", "Eastern Standard/Daylight Time", "-5", "United States-Eastern Time", "USA-5"),
    zone("America/Chicago", -360, Dst::Us, "CST6CDT,M3.2.0,M11.1.0", "Central Standard/Daylight Time", "-6", "United States-Central Time", "USA-6"),
    zone("America/Denver", -420, Dst::Us, "MST7MDT,M3.2.0,M11.1.0", "Mountain Standard/Daylight Time", "-7", "United States-Mountain Time", "USA-7"),
    zone("America/Los_Angeles", -480, Dst::Us, "PST8PDT,M3.2.0,M11.1.0", "Pacific Standard/Daylight Time", "-8", "United States-Pacific Time", "USA-8"),
    zone("America/Toronto", -300, Dst::Us, "EST5EDT,M3.2.0,M11.1.0", "Eastern Standard/Daylight Time", "-5", "Canada(Montreal,Ottawa,Quebec)", "CAN-5"),
    zone("Asia/Tokyo", 540, Dst::None, "JST-9", "Tokyo Standard Time", "+9", "Japan(Tokyo)", "JPN+9"),
    zone("Australia/Sydney", 600, Dst::Au, "AEST-10AEDT,M10.1.0,M4.1.0/3", "AUS Eastern Standard/Daylight Time", "+10", "Australia(Sydney,Melbourne,Canberra)", "AUS+10"),
];

impl Zone {
    /// The zone of an IANA name (`Etc/UTC` and `Etc/GMT` are `UTC`), if the table has it.
    pub fn lookup(iana: &str) -> Option<Self> {
        let iana = match iana {
            "Etc/UTC" | "Etc/GMT" | "GMT" | "Etc/Universal" | "Universal" | "Zulu" => "UTC",
            other => other,
        };
        ZONES.iter().find(|z| z.iana == iana).copied()
    }

    /// The IANA names the table knows (aliases of UTC aside).
    pub fn names() -> impl Iterator<Item = &'static str> {
        ZONES.iter().map(|z| z.iana)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup() {
        let z = Zone::lookup("Europe/Paris").unwrap();
        assert_eq!(z.offset_minutes, 60);
        assert_eq!(z.dst, Dst::Eu);
        assert_eq!(Zone::lookup("Etc/UTC").unwrap().iana, "UTC");
        assert_eq!(Zone::lookup("Mars/Olympus"), None);
    }

    #[test]
    fn the_table_is_consistent() {
        for z in ZONES {
            // The POSIX offset is west-positive hours; the standard name comes first.
            let hours = -z.offset_minutes / 60;
            let digits: String = z
                .posix
                .chars()
                .skip_while(|c| c.is_ascii_alphabetic())
                .take_while(|c| c.is_ascii_digit() || *c == '-')
                .collect();
            assert_eq!(digits.parse::<i32>().unwrap(), hours, "{}", z.iana);
            assert_eq!(z.dst == Dst::None, !z.posix.contains(','), "{}", z.iana);
            let y: i32 = z.yealink_offset.trim_start_matches('+').parse().unwrap();
            assert_eq!(y * 60, z.offset_minutes, "{}", z.iana);
            assert!(Zone::names().filter(|n| *n == z.iana).count() == 1);
        }
    }
}
