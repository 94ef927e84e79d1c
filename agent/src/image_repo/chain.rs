//! SHA-256 taken segment by segment.
//!
//! SHA-256 absorbs its input in 64-byte blocks, carrying a 32-byte
//! chaining value from block to block; the digest is the chaining value
//! after the padded last block. When every segment but the last is a whole
//! number of blocks, the chaining value after each segment is a checkpoint:
//! given the one before segment `n` and the one after it, segment `n` can
//! be checked on its own, in any order, from any source; and the last
//! segment, taken from the checkpoint before it and padded with the total
//! length, ends in the SHA-256 of the whole archive.
//!
//! An image manifest lists these checkpoints (`segmentChain`). A node that
//! checks every segment against them has, in the same single pass over the
//! bytes, checked the whole archive against the manifest's `sha256`, where
//! a digest per segment plus a whole-archive digest would hash every byte
//! twice. Forging a segment that leads from one signed checkpoint to the
//! next is a second preimage of SHA-256's compression function, the
//! property the whole-archive digest rests on as well.

use sha2::digest::generic_array::GenericArray;

/// Bytes per SHA-256 block.
pub const BLOCK: usize = 64;

/// SHA-256's initial chaining value (FIPS 180-4 §5.3.3).
const IV: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

/// A SHA-256 computation whose chaining value can be read and resumed
/// between whole blocks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainHasher {
    state: [u32; 8],
    /// Bytes absorbed so far (a multiple of [`BLOCK`]).
    len: u64,
}

impl Default for ChainHasher {
    fn default() -> Self {
        Self::new()
    }
}

impl ChainHasher {
    /// A computation at the start of the input.
    pub fn new() -> Self {
        Self { state: IV, len: 0 }
    }

    /// Resumes from chaining value `state` (as [`Self::state`] gave it)
    /// after `len` bytes. `None` when `len` is not a whole number of blocks.
    pub fn resume(state: &[u8; 32], len: u64) -> Option<Self> {
        if !len.is_multiple_of(BLOCK as u64) {
            return None;
        }
        let mut words = [0u32; 8];
        for (w, b) in words.iter_mut().zip(state.chunks_exact(4)) {
            *w = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
        }
        Some(Self { state: words, len })
    }

    /// Absorbs `data`, a whole number of blocks; `false` (and nothing
    /// absorbed) when it is not.
    #[must_use]
    pub fn absorb_blocks(&mut self, data: &[u8]) -> bool {
        if !data.len().is_multiple_of(BLOCK) {
            return false;
        }
        self.compress(data);
        true
    }

    fn compress(&mut self, data: &[u8]) {
        for block in data.chunks_exact(BLOCK) {
            sha2::compress256(
                &mut self.state,
                std::slice::from_ref(GenericArray::from_slice(block)),
            );
        }
        self.len += (data.len() - data.len() % BLOCK) as u64;
    }

    /// The chaining value now, big-endian (the same encoding as a digest).
    pub fn state(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        for (o, w) in out.chunks_exact_mut(4).zip(self.state) {
            o.copy_from_slice(&w.to_be_bytes());
        }
        out
    }

    /// The SHA-256 of everything absorbed followed by `tail` (any length).
    pub fn finish(mut self, tail: &[u8]) -> [u8; 32] {
        let bits = (self.len + tail.len() as u64).wrapping_mul(8);
        let whole = tail.len() - tail.len() % BLOCK;
        self.compress(&tail[..whole]);
        let rest = &tail[whole..];
        // The rest, 0x80, zeros, and the length in bits: one block, or two
        // when fewer than 9 bytes are left after the rest.
        let mut last = [0u8; 2 * BLOCK];
        last[..rest.len()].copy_from_slice(rest);
        last[rest.len()] = 0x80;
        let end = if rest.len() + 9 <= BLOCK {
            BLOCK
        } else {
            2 * BLOCK
        };
        last[end - 8..end].copy_from_slice(&bits.to_be_bytes());
        self.compress(&last[..end]);
        self.state()
    }
}

/// Checks segment `n` of an archive of `segments` segments of
/// `segment_size` bytes against its checkpoints: `chain[n - 1]` (the
/// initial value for segment 0) to `chain[n]`, and for the last segment to
/// `sha256`, the whole archive's digest. `chain` holds the chaining value
/// after every segment but the last.
pub fn segment_matches(
    chain: &[[u8; 32]],
    sha256: &[u8; 32],
    segment_size: u64,
    n: u64,
    data: &[u8],
) -> bool {
    let segments = chain.len() as u64 + 1;
    if n >= segments {
        return false;
    }
    let start = match n.checked_sub(1) {
        None => Some(ChainHasher::new()),
        Some(prev) => ChainHasher::resume(&chain[prev as usize], n * segment_size),
    };
    let Some(mut h) = start else {
        return false;
    };
    if n + 1 == segments {
        return h.finish(data) == *sha256;
    }
    data.len() as u64 == segment_size && h.absorb_blocks(data) && h.state() == chain[n as usize]
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    fn bytes(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 131 + i / 7) as u8).collect()
    }

    #[test]
    fn finish_is_sha256_at_every_padding_boundary() {
        for n in [
            0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129, 1000, 8000, 8001,
        ] {
            let data = bytes(n);
            let want: [u8; 32] = Sha256::digest(&data).into();
            assert_eq!(ChainHasher::new().finish(&data), want, "{n} bytes");
            // Resumed at each whole block on the way.
            for cut in (0..=n).step_by(BLOCK) {
                let mut h = ChainHasher::new();
                assert!(h.absorb_blocks(&data[..cut]));
                let r = ChainHasher::resume(&h.state(), cut as u64).unwrap();
                assert_eq!(r, h);
                assert_eq!(r.finish(&data[cut..]), want, "{n} bytes cut at {cut}");
            }
        }
    }

    #[test]
    fn partial_blocks_and_misaligned_resumes_are_refused() {
        let mut h = ChainHasher::new();
        assert!(!h.absorb_blocks(&[0u8; 65]));
        assert_eq!(h, ChainHasher::new(), "nothing absorbed");
        assert!(ChainHasher::resume(&[0u8; 32], 100).is_none());
    }

    #[test]
    fn each_segment_checks_against_its_checkpoints_and_the_last_against_the_digest() {
        let data = bytes(3 * 128 + 5);
        let size = 128u64;
        let segs: Vec<&[u8]> = data.chunks(size as usize).collect();
        let mut h = ChainHasher::new();
        let mut chain = Vec::new();
        for s in &segs[..segs.len() - 1] {
            assert!(h.absorb_blocks(s));
            chain.push(h.state());
        }
        let sha: [u8; 32] = Sha256::digest(&data).into();
        for (n, s) in segs.iter().enumerate() {
            assert!(
                segment_matches(&chain, &sha, size, n as u64, s),
                "segment {n}"
            );
            let mut bad = s.to_vec();
            bad[0] ^= 1;
            assert!(!segment_matches(&chain, &sha, size, n as u64, &bad));
            // A segment in another's place does not match.
            let other = segs[(n + 1) % segs.len()];
            assert!(!segment_matches(&chain, &sha, size, n as u64, other));
        }
        assert!(!segment_matches(&chain, &sha, size, 4, segs[3]));
        assert!(!segment_matches(&chain, &sha, size, 0, &data[..127]));
    }
}
