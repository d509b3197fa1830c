//! Fault schedules: what goes wrong, when, as data.
//!
//! A schedule is a list of faults at simulated times. It is printed before a run starts, can
//! be saved as JSON and replayed with `--schedule FILE`, and `explore` draws one per seed from
//! [`FaultSettings`] so that a seed alone reproduces the run. Faults use only what turmoil can
//! do faithfully on TCP: partitions (both ways or one way), holding and releasing messages,
//! crashes and restarts, per-link latency, and per-host clock skew. Message loss on TCP is not
//! offered, because turmoil does not retransmit and a lost segment would be a fault no real
//! network produces.

use std::fmt;

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use serde::{Deserialize, Serialize};

/// One thing that goes wrong.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "fault", rename_all = "snake_case")]
pub enum Fault {
    /// No message passes between `a` and `b`, either way.
    Partition {
        a: String,
        b: String,
    },
    /// No message passes from `from` to `to`; the other way still works.
    PartitionOneWay {
        from: String,
        to: String,
    },
    /// Undoes a partition (both directions).
    Repair {
        a: String,
        b: String,
    },
    /// Messages between `a` and `b` are held in flight, in order, until released.
    Hold {
        a: String,
        b: String,
    },
    Release {
        a: String,
        b: String,
    },
    /// The host's software stops; its connections break. The shared store survives.
    Crash {
        host: String,
    },
    /// The host's software starts again from scratch.
    Restart {
        host: String,
    },
    /// The host's wall clock runs `skew_ms` ahead (negative: behind).
    Skew {
        host: String,
        skew_ms: i64,
    },
    /// Every message between `a` and `b` takes this long.
    Latency {
        a: String,
        b: String,
        ms: u64,
    },
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::Partition { a, b } => write!(f, "partition {a} <-> {b}"),
            Fault::PartitionOneWay { from, to } => write!(f, "partition {from} -> {to}"),
            Fault::Repair { a, b } => write!(f, "repair {a} <-> {b}"),
            Fault::Hold { a, b } => write!(f, "hold {a} <-> {b}"),
            Fault::Release { a, b } => write!(f, "release {a} <-> {b}"),
            Fault::Crash { host } => write!(f, "crash {host}"),
            Fault::Restart { host } => write!(f, "restart {host}"),
            Fault::Skew { host, skew_ms } => write!(f, "skew {host} {skew_ms:+}ms"),
            Fault::Latency { a, b, ms } => write!(f, "latency {a} <-> {b} {ms}ms"),
        }
    }
}

impl Fault {
    /// The hosts the fault names.
    pub fn hosts(&self) -> Vec<&str> {
        match self {
            Fault::Partition { a, b }
            | Fault::Repair { a, b }
            | Fault::Hold { a, b }
            | Fault::Release { a, b }
            | Fault::Latency { a, b, .. } => vec![a, b],
            Fault::PartitionOneWay { from, to } => vec![from, to],
            Fault::Crash { host } | Fault::Restart { host } | Fault::Skew { host, .. } => {
                vec![host]
            }
        }
    }
}

/// A fault at a simulated time, in milliseconds since the run began.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scheduled {
    pub at_ms: u64,
    #[serde(flatten)]
    pub fault: Fault,
}

/// Faults in time order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultSchedule {
    pub faults: Vec<Scheduled>,
}

impl FaultSchedule {
    pub fn new(mut faults: Vec<Scheduled>) -> FaultSchedule {
        faults.sort_by_key(|s| s.at_ms);
        FaultSchedule { faults }
    }

    pub fn is_empty(&self) -> bool {
        self.faults.is_empty()
    }

    /// Faults due at or before `now_ms` and after `after_ms`.
    pub fn due(&self, after_ms: Option<u64>, now_ms: u64) -> impl Iterator<Item = &Scheduled> {
        self.faults
            .iter()
            .filter(move |s| s.at_ms <= now_ms && after_ms.is_none_or(|after| s.at_ms > after))
    }

    /// The time by which every fault has been applied and healed: the start of the liveness
    /// phase. Healing is the simulator's job (it repairs, releases and restarts everything).
    pub fn last_at_ms(&self) -> u64 {
        self.faults.last().map_or(0, |s| s.at_ms)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    pub fn from_json(text: &str) -> Result<FaultSchedule, String> {
        let schedule: FaultSchedule = serde_json::from_str(text)
            .map_err(|e| format!("fault schedule is not valid JSON of the expected shape: {e}"))?;
        Ok(FaultSchedule::new(schedule.faults))
    }
}

impl fmt::Display for FaultSchedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.faults.is_empty() {
            return f.write_str("no faults");
        }
        for (i, s) in self.faults.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{}ms {}", s.at_ms, s.fault)?;
        }
        Ok(())
    }
}

/// How `explore` draws a schedule for a seed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultSettings {
    /// Most faults drawn per run.
    pub max_faults: usize,
    /// Faults fall in `[0, window_ms)` of simulated time.
    pub window_ms: u64,
    /// Largest clock skew drawn, either way.
    pub max_skew_ms: i64,
    /// Largest link latency drawn.
    pub max_latency_ms: u64,
    /// Whether crashes of auth servers are drawn.
    pub crashes: bool,
}

impl Default for FaultSettings {
    /// Windows and skews are small against the 3-minute request lifetime so that most
    /// legitimate requests can still be decided; the liveness phase checks that they are.
    fn default() -> Self {
        FaultSettings {
            max_faults: 4,
            window_ms: 20_000,
            max_skew_ms: 5_000,
            max_latency_ms: 200,
            crashes: true,
        }
    }
}

impl fmt::Display for FaultSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "max_faults={} window_ms={} max_skew_ms={} max_latency_ms={} crashes={}",
            self.max_faults, self.window_ms, self.max_skew_ms, self.max_latency_ms, self.crashes
        )
    }
}

impl FaultSettings {
    /// Draws a schedule for `seed` over the links between `clients` and `servers`. Every
    /// partition, hold and crash drawn is paired with its healing so the run can end live.
    pub fn draw(&self, seed: u64, clients: &[String], servers: &[String]) -> FaultSchedule {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5eed_fa17);
        let mut pick =
            |n: usize| -> usize { if n == 0 { 0 } else { (rng.next_u64() % n as u64) as usize } };
        let mut faults = Vec::new();
        if clients.is_empty() || servers.is_empty() || self.window_ms == 0 {
            return FaultSchedule::default();
        }
        let count = pick(self.max_faults + 1);
        for _ in 0..count {
            let at_ms = pick(self.window_ms as usize) as u64;
            let heal_ms = at_ms + 1 + pick(self.window_ms as usize / 2 + 1) as u64;
            let client = clients[pick(clients.len())].clone();
            let server = servers[pick(servers.len())].clone();
            let kinds = if self.crashes { 6 } else { 5 };
            match pick(kinds) {
                0 => {
                    let (a, b) = (client, server);
                    faults.push(Scheduled {
                        at_ms,
                        fault: Fault::Partition { a: a.clone(), b: b.clone() },
                    });
                    faults.push(Scheduled { at_ms: heal_ms, fault: Fault::Repair { a, b } });
                }
                1 => {
                    let (from, to) = if pick(2) == 0 { (client, server) } else { (server, client) };
                    faults.push(Scheduled {
                        at_ms,
                        fault: Fault::PartitionOneWay { from: from.clone(), to: to.clone() },
                    });
                    faults.push(Scheduled {
                        at_ms: heal_ms,
                        fault: Fault::Repair { a: from, b: to },
                    });
                }
                2 => {
                    let (a, b) = (client, server);
                    faults.push(Scheduled {
                        at_ms,
                        fault: Fault::Hold { a: a.clone(), b: b.clone() },
                    });
                    faults.push(Scheduled { at_ms: heal_ms, fault: Fault::Release { a, b } });
                }
                3 => {
                    let span = (self.max_skew_ms.max(0) as usize) * 2 + 1;
                    let skew_ms = pick(span) as i64 - self.max_skew_ms.max(0);
                    let host = if pick(2) == 0 { client } else { server };
                    faults.push(Scheduled { at_ms, fault: Fault::Skew { host, skew_ms } });
                }
                4 => {
                    let ms = pick(self.max_latency_ms as usize + 1) as u64;
                    faults.push(Scheduled {
                        at_ms,
                        fault: Fault::Latency { a: client, b: server, ms },
                    });
                }
                _ => {
                    faults.push(Scheduled { at_ms, fault: Fault::Crash { host: server.clone() } });
                    faults
                        .push(Scheduled { at_ms: heal_ms, fault: Fault::Restart { host: server } });
                }
            }
        }
        FaultSchedule::new(faults)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_same_seed_draws_the_same_schedule() {
        let settings = FaultSettings::default();
        let (c, s) = (names(&["laptop", "remote"]), names(&["auth1", "auth2"]));
        let draws: Vec<FaultSchedule> = (0..50).map(|seed| settings.draw(seed, &c, &s)).collect();
        for (seed, drawn) in draws.iter().enumerate() {
            assert_eq!(*drawn, settings.draw(seed as u64, &c, &s));
        }
        assert!(draws.iter().any(|d| !d.is_empty()), "fifty seeds drew no fault at all");
    }

    #[test]
    fn every_drawn_partition_hold_and_crash_is_healed_later() {
        let settings = FaultSettings::default();
        let (c, s) = (names(&["laptop"]), names(&["auth1"]));
        for seed in 0..200 {
            let schedule = settings.draw(seed, &c, &s);
            let count = |pred: fn(&Fault) -> bool| {
                schedule.faults.iter().filter(|f| pred(&f.fault)).count()
            };
            assert_eq!(
                count(|f| matches!(f, Fault::Partition { .. } | Fault::PartitionOneWay { .. })),
                count(|f| matches!(f, Fault::Repair { .. })),
                "seed {seed}: {schedule}"
            );
            assert_eq!(
                count(|f| matches!(f, Fault::Hold { .. })),
                count(|f| matches!(f, Fault::Release { .. }))
            );
            assert_eq!(
                count(|f| matches!(f, Fault::Crash { .. })),
                count(|f| matches!(f, Fault::Restart { .. }))
            );
        }
    }

    #[test]
    fn a_schedule_round_trips_through_json_and_prints_in_time_order() {
        let schedule = FaultSchedule::new(vec![
            Scheduled { at_ms: 900, fault: Fault::Restart { host: "auth1".into() } },
            Scheduled { at_ms: 100, fault: Fault::Crash { host: "auth1".into() } },
        ]);
        assert_eq!(FaultSchedule::from_json(&schedule.to_json()).unwrap(), schedule);
        assert_eq!(schedule.to_string(), "100ms crash auth1; 900ms restart auth1");
    }

    #[test]
    fn a_malformed_schedule_file_says_what_is_wrong() {
        let err = FaultSchedule::from_json("{\"faults\": [{\"at_ms\": 1, \"fault\": \"melt\"}]}")
            .unwrap_err();
        assert!(err.contains("fault schedule is not valid JSON"), "{err}");
    }
}
