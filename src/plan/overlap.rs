//! Whether an operand lands on, inside or above an earlier operand's
//! destination ([`crate::plan::Root::after_earlier`]): then it is walked only
//! once the earlier ones are done, as cp copies one operand after another.
//!
//! Asked once per operand, so it must not compare each with every earlier
//! one: `cp -r /usr/share/man/man1/* dir/` names 17.9k operands, and the
//! pairwise `Path::starts_with` took 44 s of a copy cp makes in 1.6.
//! Destinations are kept in an ordered set as byte strings, each component
//! followed by a NUL (which no name holds), so that one destination lies
//! inside another exactly when its string starts with the other's: the
//! earlier ones above a new one are its prefixes at component ends (one
//! lookup each, no allocation), and those below it (or equal) sort right
//! after it.

use std::collections::BTreeSet;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// The destinations of the operands so far.
#[derive(Default)]
pub(super) struct Landed(BTreeSet<Vec<u8>>);

impl Landed {
    /// Does `key` equal, lie inside or hold an earlier destination (by whole
    /// components, as [`Path::starts_with`])? It is remembered either way.
    pub(super) fn overlaps(&mut self, key: &Path) -> bool {
        let mut enc = Vec::with_capacity(key.as_os_str().len() + 8);
        let mut ends = Vec::new();
        for c in key.components() {
            enc.extend_from_slice(c.as_os_str().as_bytes());
            enc.push(0);
            ends.push(enc.len());
        }
        let above = self.0.contains(&[][..]) || ends.iter().any(|&n| self.0.contains(&enc[..n]));
        let below = self
            .0
            .range::<[u8], _>((
                std::ops::Bound::Included(&enc[..]),
                std::ops::Bound::Unbounded,
            ))
            .next()
            .is_some_and(|k| k.starts_with(&enc));
        self.0.insert(enc);
        above || below
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same answers as comparing with every earlier key.
    #[test]
    fn overlaps_as_pairwise_starts_with() {
        let keys = [
            "/d/a", "/d/b", "/d/a/x", "/d/ab", "/d", "/e/a", "/d/b/", "/d/./c", "/d/c/y", "/e", "/",
        ];
        let mut landed = Landed::default();
        let mut earlier: Vec<&Path> = Vec::new();
        for k in keys {
            let key = Path::new(k);
            let want = earlier
                .iter()
                .any(|d| d.starts_with(key) || key.starts_with(d));
            assert_eq!(landed.overlaps(key), want, "{k} after {earlier:?}");
            earlier.push(key);
        }
    }

    /// Every path of up to three components from a few names that prefix
    /// each other, in a scrambled order, against the pairwise answer.
    #[test]
    fn overlaps_as_pairwise_starts_with_on_many_paths() {
        let names = ["a", "b", "ab", "a.b"];
        let mut keys: Vec<String> = Vec::new();
        for depth in 1..=3u32 {
            for i in 0..names.len().pow(depth) {
                let mut k = String::new();
                let mut n = i;
                for _ in 0..depth {
                    k.push('/');
                    k.push_str(names[n % names.len()]);
                    n /= names.len();
                }
                keys.push(k);
            }
        }
        // A fixed scramble (multiplying by a unit modulo the length).
        let len = keys.len();
        let order: Vec<String> = (0..len).map(|i| keys[(i * 37) % len].clone()).collect();
        let mut landed = Landed::default();
        let mut earlier: Vec<&Path> = Vec::new();
        let mut seen = [0usize; 2];
        for k in &order {
            let key = Path::new(k);
            let want = earlier
                .iter()
                .any(|d| d.starts_with(key) || key.starts_with(d));
            assert_eq!(landed.overlaps(key), want, "{k}");
            seen[usize::from(want)] += 1;
            earlier.push(key);
        }
        assert!(seen[0] > 0 && seen[1] > 0, "both answers: {seen:?}");
    }
}
