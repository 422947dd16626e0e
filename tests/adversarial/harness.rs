//! The machinery every family shares: knobs, strace injections, running the
//! binary under strace with a hard timeout (and an optional watcher that acts
//! while it runs), tree snapshots, and the collected list of violations.
//!
//! The pieces live in `strace.rs` (running and watching the binary) and
//! `trees.rs` (snapshots and comparisons); this module re-exports them.

use crate::common::{self, Rng};
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

pub use crate::strace::*;
pub use crate::trees::*;

// ---------------------------------------------------------------------------
// Knobs
// ---------------------------------------------------------------------------

/// Environment knobs (documented in the module doc of `adversarial.rs`).
pub struct Knobs {
    pub sweep: bool,
    pub seed: u64,
    pub only: Option<String>,
    pub sample: Option<usize>,
    pub timeout: Duration,
    pub keep: bool,
    pub verbose: bool,
}

pub fn knobs() -> &'static Knobs {
    static K: OnceLock<Knobs> = OnceLock::new();
    K.get_or_init(|| {
        let var = |n: &str| std::env::var(n).ok().filter(|v| !v.is_empty());
        let flag = |n: &str| var(n).is_some_and(|v| v != "0");
        let seed = match var("UCP_SEED") {
            Some(s) => s.parse().expect("UCP_SEED must be an unsigned integer"),
            None => std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64 % 1_000_000_007)
                .unwrap_or(1),
        };
        let k = Knobs {
            sweep: flag("UCP_SWEEP"),
            seed,
            only: var("UCP_ONLY"),
            sample: var("UCP_SAMPLE").map(|s| s.parse().expect("UCP_SAMPLE must be a number")),
            timeout: Duration::from_secs(
                var("UCP_TIMEOUT").map_or(60, |s| s.parse().expect("UCP_TIMEOUT: seconds")),
            ),
            keep: flag("UCP_KEEP"),
            verbose: flag("UCP_VERBOSE"),
        };
        common::notice(&format!(
            "adversarial: seed {} (replay with UCP_SEED={}){}{}",
            k.seed,
            k.seed,
            if k.sweep {
                ", full sweep"
            } else {
                ", CI sample"
            },
            k.only
                .as_deref()
                .map(|o| format!(", only cases matching {o:?}"))
                .unwrap_or_default()
        ));
        k
    })
}

/// A PRNG for one family: the run's seed mixed with the family's name, so
/// each family's sample is replayable on its own.
pub fn rng_for(family: &str) -> Rng {
    let mut h = knobs().seed ^ 0x5151_7a7a_0000_0000;
    for b in family.bytes() {
        h = (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3);
    }
    Rng(h)
}

/// Pick the cases to run: all of them in a sweep (or when `UCP_ONLY`
/// names some), else the `must` ones plus `n` drawn at random (seeded).
pub fn select<T: fmt::Display>(family: &str, all: Vec<T>, must: &[usize], n: usize) -> Vec<T> {
    let k = knobs();
    let total = all.len();
    if let Some(only) = &k.only {
        let v: Vec<T> = all
            .into_iter()
            .filter(|c| c.to_string().contains(only.as_str()))
            .collect();
        common::notice(&format!(
            "adversarial {family}: {} of {total} cases match UCP_ONLY",
            v.len()
        ));
        return v;
    }
    if k.sweep {
        common::notice(&format!("adversarial {family}: sweep of {total} cases"));
        return all;
    }
    let n = k.sample.unwrap_or(n);
    let mut rng = rng_for(family);
    let mut pick: Vec<usize> = must.iter().copied().filter(|&i| i < total).collect();
    let mut tries = 0;
    while pick.len() < (n + must.len()).min(total) && tries < 100 * total {
        let i = rng.below(total as u64) as usize;
        if !pick.contains(&i) {
            pick.push(i);
        }
        tries += 1;
    }
    pick.sort_unstable();
    common::notice(&format!(
        "adversarial {family}: {} of {total} cases (UCP_SWEEP=1 runs all)",
        pick.len()
    ));
    let mut all: Vec<Option<T>> = all.into_iter().map(Some).collect();
    pick.into_iter().filter_map(|i| all[i].take()).collect()
}

/// A scratch directory on the project's disk (target/tmp, not /tmp, which
/// may be a tmpfs elsewhere); kept with `UCP_KEEP=1`.
pub fn scratch(prefix: &str) -> tempfile::TempDir {
    let base = Path::new(env!("CARGO_TARGET_TMPDIR"));
    std::fs::create_dir_all(base).expect("create CARGO_TARGET_TMPDIR");
    let mut d = tempfile::Builder::new()
        .prefix(&format!("adv-{prefix}."))
        .tempdir_in(base)
        .expect("tempdir");
    if knobs().keep {
        d.disable_cleanup(true);
    }
    d
}

// ---------------------------------------------------------------------------
// Violations
// ---------------------------------------------------------------------------

pub struct Violation {
    pub kind: String,
    pub case: String,
    pub detail: String,
}

/// Collects violations across all cases of a family; fails once at the end.
pub struct Report {
    family: &'static str,
    list: Mutex<Vec<Violation>>,
    notes: Mutex<Vec<String>>,
    ran: Mutex<usize>,
    start: Instant,
}

impl Report {
    pub fn new(family: &'static str) -> Report {
        Report {
            family,
            list: Mutex::new(Vec::new()),
            notes: Mutex::new(Vec::new()),
            ran: Mutex::new(0),
            start: Instant::now(),
        }
    }

    pub fn ran(&self) {
        *self.ran.lock().unwrap() += 1;
    }

    pub fn add(&self, kind: &str, case: &dyn fmt::Display, detail: impl Into<String>) {
        let v = Violation {
            kind: kind.to_string(),
            case: case.to_string(),
            detail: detail.into(),
        };
        if knobs().verbose {
            common::notice(&format!(
                "VIOLATION [{}] {}\n  {}",
                v.kind, v.case, v.detail
            ));
        }
        self.list.lock().unwrap().push(v);
    }

    pub fn note(&self, msg: impl Into<String>) {
        self.notes.lock().unwrap().push(msg.into());
    }

    pub fn finish(self) {
        let list = self.list.into_inner().unwrap();
        let notes = self.notes.into_inner().unwrap();
        let ran = self.ran.into_inner().unwrap();
        let took = self.start.elapsed();
        if !notes.is_empty() {
            let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
            for n in &notes {
                *counts.entry(n.as_str()).or_default() += 1;
            }
            for (n, c) in counts {
                common::notice(&format!("NOTE adversarial {}: {n} (x{c})", self.family));
            }
        }
        common::notice(&format!(
            "adversarial {}: {ran} cases in {took:.1?}, {} violations",
            self.family,
            list.len()
        ));
        if list.is_empty() {
            return;
        }
        let mut groups: BTreeMap<&str, Vec<&Violation>> = BTreeMap::new();
        for v in &list {
            groups.entry(v.kind.as_str()).or_default().push(v);
        }
        let mut msg = format!(
            "adversarial {}: {} invariant violations in {ran} cases (seed {}; \
             replay one case with UCP_ONLY='<case>' UCP_SEED={} and see the command):\n",
            self.family,
            list.len(),
            knobs().seed,
            knobs().seed
        );
        for (kind, vs) in &groups {
            msg.push_str(&format!("\n=== {kind}: {} case(s)\n", vs.len()));
            for v in vs {
                msg.push_str(&format!(
                    "--- {}\n    {}\n",
                    v.case,
                    v.detail.replace('\n', "\n    ")
                ));
            }
        }
        panic!("{msg}");
    }
}

pub use crate::common::mount::Mount;
