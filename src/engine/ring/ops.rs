//! The state of the operations a ring has in flight, keyed by `user_data`.
//!
//! A plain slab reuses a key as soon as its entry is removed, so a
//! completion that arrives for an operation already given up on (a bug, or a
//! chain cut short) would be taken for the new operation under the same key
//! and act on the wrong file. Here every key carries the generation of its
//! slot: a completion whose generation is not the slot's current one finds
//! nothing.
//!
//! `user_data` layout: generation (24 bits) | slot (32 bits) | step (8 bits),
//! the step telling which entry of a chain completed.

use slab::Slab;

/// An operation's key: its slot and the slot's generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    slot: u32,
    generation: u32,
}

const GENERATION_BITS: u32 = 24;

impl Key {
    /// The `user_data` of this operation's entry number `step`.
    pub fn user_data(self, step: u8) -> u64 {
        (u64::from(self.generation) << 40) | (u64::from(self.slot) << 8) | u64::from(step)
    }

    /// The key and step a completion's `user_data` names.
    pub fn from_user_data(user_data: u64) -> (Key, u8) {
        let key = Key {
            slot: (user_data >> 8) as u32,
            generation: (user_data >> 40) as u32,
        };
        (key, user_data as u8)
    }
}

/// Operations in flight, each with its state `T`.
pub struct Ops<T> {
    slab: Slab<(u32, T)>,
    /// The generation the next inserted operation gets.
    next: u32,
}

impl<T> Ops<T> {
    pub fn with_capacity(n: usize) -> Self {
        Ops {
            slab: Slab::with_capacity(n),
            next: 0,
        }
    }

    pub fn insert(&mut self, state: T) -> Key {
        let generation = self.next;
        self.next = (self.next + 1) & ((1 << GENERATION_BITS) - 1);
        let slot = self.slab.insert((generation, state));
        Key {
            // The slab never holds more than a ring's worth of operations.
            slot: u32::try_from(slot).unwrap_or(u32::MAX),
            generation,
        }
    }

    pub fn get(&self, key: Key) -> Option<&T> {
        match self.slab.get(key.slot as usize) {
            Some((g, state)) if *g == key.generation => Some(state),
            _ => None,
        }
    }

    pub fn get_mut(&mut self, key: Key) -> Option<&mut T> {
        match self.slab.get_mut(key.slot as usize) {
            Some((g, state)) if *g == key.generation => Some(state),
            _ => None,
        }
    }

    pub fn remove(&mut self, key: Key) -> Option<T> {
        self.get(key)?;
        Some(self.slab.remove(key.slot as usize).1)
    }

    pub fn len(&self) -> usize {
        self.slab.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slab.is_empty()
    }

    /// Every state, taken out (the ring failed: the caller leaks what the
    /// kernel may still use).
    pub fn take_all(&mut self) -> Vec<T> {
        std::mem::take(&mut self.slab)
            .into_iter()
            .map(|(_, (_, state))| state)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stale_completion_finds_nothing() {
        let mut ops = Ops::with_capacity(4);
        let old = ops.insert("first");
        let ud = old.user_data(3);
        assert_eq!(ops.remove(old), Some("first"));
        let new = ops.insert("second");
        // Same slot, another generation.
        assert_eq!(new.slot, old.slot);
        let (key, step) = Key::from_user_data(ud);
        assert_eq!(step, 3);
        assert_eq!(ops.get(key), None);
        assert_eq!(ops.remove(key), None);
        let (key, step) = Key::from_user_data(new.user_data(7));
        assert_eq!((ops.get(key), step), (Some(&"second"), 7));
    }

    #[test]
    fn generations_wrap_within_their_bits() {
        let mut ops = Ops::with_capacity(1);
        ops.next = (1 << GENERATION_BITS) - 1;
        let k = ops.insert(1);
        let (back, _) = Key::from_user_data(k.user_data(0));
        assert_eq!(back, k);
        ops.remove(k);
        let k = ops.insert(2);
        assert_eq!(k.generation, 0);
    }
}
