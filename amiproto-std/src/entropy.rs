//! Fresh randomness for each connection's generated `ActionID`s (the core
//! reads no source of its own; see `amiproto::Connection::with_entropy`).

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::time::{SystemTime, UNIX_EPOCH};

/// 64 bits no other session can guess: SipHash, keyed by the standard
/// library's random hash keys (taken from the OS once per thread, then
/// changed for every `RandomState`), of the current time. Two calls never
/// share a key, so they differ even within the same clock tick.
pub(crate) fn connection_entropy() -> u64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    RandomState::new().hash_one(nanos)
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_call_differs() {
        let mut seen: Vec<u64> = (0..64).map(|_| super::connection_entropy()).collect();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), 64);
    }
}
