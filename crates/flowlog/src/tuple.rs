//! One flow tuple, as the comma-separated string Azure writes.
//!
//! VNet flow logs v4 (https://learn.microsoft.com/azure/network-watcher/vnet-flow-logs-overview):
//! `ts,src,dst,sport,dport,protocol(IANA number),I|O,B|C|E|D,encryption,pkts s→d,bytes s→d,pkts d→s,bytes d→s`.
//! NSG flow logs (https://learn.microsoft.com/azure/network-watcher/nsg-flow-logs-overview):
//! v1 `ts,src,dst,sport,dport,T|U,I|O,A|D`; v2 adds `B|C|E` and the four counters.

/// The layout a tuple was written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Schema {
    VnetV4,
    NsgV1,
    NsgV2,
}

impl Schema {
    pub fn as_str(self) -> &'static str {
        match self {
            Schema::VnetV4 => "vnet-v4",
            Schema::NsgV1 => "nsg-v1",
            Schema::NsgV2 => "nsg-v2",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Direction {
    Inbound,
    Outbound,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Inbound => "Inbound",
            Direction::Outbound => "Outbound",
        }
    }
}

/// The flow state: B begin, C continuing (every five minutes), E end, D denied. NSG flow logs
/// v1 carry only the decision: an allowed v1 tuple is `Allowed`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum State {
    Begin,
    Continuing,
    End,
    Denied,
    Allowed,
}

impl State {
    pub fn allowed(self) -> bool {
        self != State::Denied
    }
    /// Bit of this state in a flow's set of states seen.
    pub fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// The encryption field of a v4 tuple (`X` encrypted, `NX...` not, with the reason).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Encryption {
    Encrypted,
    NotEncrypted,
    HwNotSupported,
    SwNotReady,
    NotAccepted,
    NotSupported,
    LocalDestination,
    Fallback,
    /// NSG flow logs carry none.
    Absent,
}

impl Encryption {
    fn parse(s: &str) -> Option<Encryption> {
        Some(match s {
            "X" => Encryption::Encrypted,
            "NX" => Encryption::NotEncrypted,
            "NX_HW_NOT_SUPPORTED" => Encryption::HwNotSupported,
            "NX_SW_NOT_READY" => Encryption::SwNotReady,
            "NX_NOT_ACCEPTED" => Encryption::NotAccepted,
            "NX_NOT_SUPPORTED" => Encryption::NotSupported,
            "NX_LOCAL_DST" => Encryption::LocalDestination,
            "NX_FALLBACK" => Encryption::Fallback,
            _ => return None,
        })
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Encryption::Encrypted => "X",
            Encryption::NotEncrypted => "NX",
            Encryption::HwNotSupported => "NX_HW_NOT_SUPPORTED",
            Encryption::SwNotReady => "NX_SW_NOT_READY",
            Encryption::NotAccepted => "NX_NOT_ACCEPTED",
            Encryption::NotSupported => "NX_NOT_SUPPORTED",
            Encryption::LocalDestination => "NX_LOCAL_DST",
            Encryption::Fallback => "NX_FALLBACK",
            Encryption::Absent => "",
        }
    }
}

/// One parsed tuple. Addresses are host-order IPv4.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tuple {
    /// Milliseconds since the epoch (seconds are scaled).
    pub ts_ms: u64,
    pub src: u32,
    pub dst: u32,
    pub sport: u16,
    pub dport: u16,
    /// IANA protocol number (NSG flow logs' `T`/`U` become 6/17).
    pub proto: u8,
    pub direction: Direction,
    pub state: State,
    pub encryption: Encryption,
    /// Packets and bytes source→destination, then destination→source (deltas since the
    /// flow's previous tuple; empty fields, as on B tuples, are 0).
    pub counters: [u64; 4],
}

/// A timestamp in seconds or milliseconds: Microsoft's own samples use both. Above 10^11
/// (year 5138 in seconds, 1973 in milliseconds) it is milliseconds.
pub fn timestamp_ms(v: u64) -> u64 {
    if v > 100_000_000_000 {
        v
    } else {
        v.saturating_mul(1000)
    }
}

fn ipv4(s: &str) -> Result<u32, String> {
    s.parse::<std::net::Ipv4Addr>()
        .map(u32::from)
        .map_err(|_| format!("'{s}' is not an IPv4 address"))
}

fn number<T: std::str::FromStr>(s: &str, what: &str) -> Result<T, String> {
    s.parse::<T>()
        .map_err(|_| format!("{what} '{s}' is not a number in range"))
}

fn counter(s: &str) -> Result<u64, String> {
    if s.is_empty() {
        Ok(0)
    } else {
        number(s, "counter")
    }
}

fn protocol(s: &str) -> Result<u8, String> {
    match s {
        "T" | "t" => Ok(6),
        "U" | "u" => Ok(17),
        _ => number(s, "protocol"),
    }
}

fn direction(s: &str) -> Result<Direction, String> {
    match s {
        "I" => Ok(Direction::Inbound),
        "O" => Ok(Direction::Outbound),
        _ => Err(format!("direction '{s}' is not I or O")),
    }
}

fn state(s: &str) -> Result<State, String> {
    match s {
        "B" => Ok(State::Begin),
        "C" => Ok(State::Continuing),
        "E" => Ok(State::End),
        "D" => Ok(State::Denied),
        _ => Err(format!("flow state '{s}' is not B, C, E or D")),
    }
}

impl Tuple {
    /// Parses one tuple of the given schema. The error says which field is wrong.
    pub fn parse(s: &str, schema: Schema) -> Result<Tuple, String> {
        let mut f: [&str; 13] = [""; 13];
        let mut n = 0;
        for part in s.split(',') {
            if n == 13 {
                return Err(format!("more than 13 fields in '{s}'"));
            }
            f[n] = part.trim();
            n += 1;
        }
        let want = match schema {
            Schema::NsgV1 => 8,
            _ => 13,
        };
        if n != want {
            return Err(format!(
                "{n} fields in '{s}', expected {want} ({})",
                schema.as_str()
            ));
        }
        let ts = timestamp_ms(number(f[0], "timestamp")?);
        let (st, enc) = match schema {
            Schema::VnetV4 => (
                state(f[7])?,
                Encryption::parse(f[8])
                    .ok_or_else(|| format!("encryption '{}' is not X or NX...", f[8]))?,
            ),
            Schema::NsgV1 | Schema::NsgV2 => {
                let decision = match f[7] {
                    "A" => true,
                    "D" => false,
                    x => return Err(format!("decision '{x}' is not A or D")),
                };
                let st = match (decision, schema) {
                    (false, _) => State::Denied,
                    (true, Schema::NsgV1) => State::Allowed,
                    (true, _) => state(f[8])?,
                };
                (st, Encryption::Absent)
            }
        };
        let counters = if schema == Schema::NsgV1 {
            [0; 4]
        } else {
            [
                counter(f[9])?,
                counter(f[10])?,
                counter(f[11])?,
                counter(f[12])?,
            ]
        };
        Ok(Tuple {
            ts_ms: ts,
            src: ipv4(f[1])?,
            dst: ipv4(f[2])?,
            sport: number(f[3], "source port")?,
            dport: number(f[4], "destination port")?,
            proto: protocol(f[5])?,
            direction: direction(f[6])?,
            state: st,
            encryption: enc,
            counters,
        })
    }
}

/// A MAC address as Azure writes it in flow logs (`00224871C205`) or as the CLI lists it
/// (`00-22-48-71-C2-05`), with `:` or `-` separators, any case: 48 bits.
pub fn parse_mac(s: &str) -> Option<u64> {
    let mut v: u64 = 0;
    let mut digits = 0;
    for c in s.chars() {
        match c {
            '-' | ':' | '.' => continue,
            _ => {
                let d = c.to_digit(16)?;
                v = v << 4 | d as u64;
                digits += 1;
                if digits > 12 {
                    return None;
                }
            }
        }
    }
    (digits == 12).then_some(v)
}

/// A MAC address as flow logs write it: twelve upper-case hex digits.
pub fn mac_string(m: u64) -> String {
    format!("{m:012X}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v4_tuple_from_the_overview_sample() {
        // https://learn.microsoft.com/azure/network-watcher/vnet-flow-logs-overview (sample record)
        let t = Tuple::parse(
            "1663146003599,10.0.0.6,192.0.2.180,23956,443,6,O,B,NX,0,0,0,0",
            Schema::VnetV4,
        )
        .unwrap();
        assert_eq!(t.ts_ms, 1663146003599);
        assert_eq!(t.src, u32::from(std::net::Ipv4Addr::new(10, 0, 0, 6)));
        assert_eq!((t.sport, t.dport, t.proto), (23956, 443, 6));
        assert_eq!(t.direction, Direction::Outbound);
        assert_eq!(t.state, State::Begin);
        assert_eq!(t.encryption, Encryption::NotEncrypted);
    }

    #[test]
    fn seconds_and_empty_counters() {
        let t = Tuple::parse(
            "1754512773,10.0.0.4,10.0.1.4,5000,22,6,I,B,NX,,,,",
            Schema::VnetV4,
        )
        .unwrap();
        assert_eq!(t.ts_ms, 1754512773000);
        assert_eq!(t.counters, [0; 4]);
    }

    #[test]
    fn nsg_v1_and_v2() {
        // https://learn.microsoft.com/azure/network-watcher/nsg-flow-logs-overview
        let v1 = Tuple::parse(
            "1487282421,42.119.146.95,10.1.0.4,51529,5358,T,I,D",
            Schema::NsgV1,
        )
        .unwrap();
        assert_eq!(v1.state, State::Denied);
        assert_eq!(v1.proto, 6);
        let v2 = Tuple::parse(
            "1493763938,185.170.185.105,10.2.0.4,35370,23,T,I,D,B,,,,",
            Schema::NsgV2,
        )
        .unwrap();
        assert_eq!(v2.state, State::Denied);
        let v2a = Tuple::parse(
            "1493695838,13.65.199.222,10.2.0.4,44931,443,T,O,A,C,30,16978,24,14008",
            Schema::NsgV2,
        )
        .unwrap();
        assert_eq!(v2a.state, State::Continuing);
        assert_eq!(v2a.counters, [30, 16978, 24, 14008]);
    }

    #[test]
    fn bad_fields_are_named() {
        let e = Tuple::parse("1,10.0.0.1,10.0.0.2,1,2,6,X,B,NX,0,0,0,0", Schema::VnetV4);
        assert!(e.unwrap_err().contains("direction"));
        let e = Tuple::parse("1,10.0.0.1,10.0.0.2,1,2,6,I,B", Schema::VnetV4);
        assert!(e.unwrap_err().contains("8 fields"));
    }

    #[test]
    fn macs_in_every_spelling() {
        let m = parse_mac("00224871C205").unwrap();
        assert_eq!(parse_mac("00-22-48-71-c2-05"), Some(m));
        assert_eq!(parse_mac("00:22:48:71:C2:05"), Some(m));
        assert_eq!(parse_mac("0022"), None);
        assert_eq!(mac_string(m), "00224871C205");
    }
}
