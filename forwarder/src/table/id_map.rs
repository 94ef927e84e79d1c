//! Hash maps keyed by the forwarder's own numbers (face ids, timer ids,
//! dead-nonce hashes): a multiplicative hash instead of SipHash. These keys
//! are chosen by the forwarder, not by the network, so hash flooding is not
//! a concern; names from the network keep the default (SipHash) maps.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A `HashMap` for internal integer keys.
pub type IdMap<K, V> = HashMap<K, V, BuildHasherDefault<IdHasher>>;

/// Fibonacci hashing of integer keys (as FxHash does).
#[derive(Debug, Default, Clone, Copy)]
pub struct IdHasher(u64);

const SEED: u64 = 0x9e37_79b9_7f4a_7c15;

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(SEED);
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }

    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_integers() {
        let mut m: IdMap<u64, u32> = IdMap::default();
        for i in 0..10_000u64 {
            m.insert(i, i as u32);
        }
        assert_eq!(m.len(), 10_000);
        assert_eq!(m.get(&4242), Some(&4242));
        let mut f: IdMap<crate::FaceId, ()> = IdMap::default();
        f.insert(crate::FaceId(300), ());
        assert!(f.contains_key(&crate::FaceId(300)));
    }
}
