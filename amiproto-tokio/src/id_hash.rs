//! The hasher of the driver's tables keyed by caller id: ids are local
//! counters (never chosen by a peer), so one rotate, xor and multiply per
//! integer does, where SipHash shows up in profiles.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A `HashMap` keyed by caller ids (or other local counters).
pub(crate) type IdMap<K, V> = HashMap<K, V, BuildHasherDefault<IdHasher>>;

/// See the module docs.
#[derive(Default, Clone, Copy, Debug)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

#[cfg(test)]
mod tests {
    use super::IdMap;

    #[test]
    fn sequential_ids_are_found_again() {
        let mut map: IdMap<u64, u64> = IdMap::default();
        for id in 0..10_000u64 {
            map.insert(id, id * 3);
        }
        for id in 0..10_000u64 {
            assert_eq!(map.remove(&id), Some(id * 3));
        }
        assert!(map.is_empty());
    }
}
