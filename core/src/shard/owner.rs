//! Which shard owns a message: `hash(Call-ID) % shards`, so that every
//! message of one call (requests and replies) is handled on the shard
//! where its transactions and dialog state live.

/// FNV-1a over the Call-ID, folded so that small shard counts use the
/// well-mixed high bits too.
#[inline]
pub fn call_id_hash(call_id: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in call_id {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^ (h >> 32)
}

/// The owner shard of a Call-ID among `shards` (at least 1).
#[inline]
pub fn owner(call_id: &[u8], shards: usize) -> usize {
    if shards <= 1 {
        return 0;
    }
    (call_id_hash(call_id) % shards as u64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_and_spread() {
        assert_eq!(owner(b"abc@host", 1), 0);
        assert_eq!(owner(b"abc@host", 4), owner(b"abc@host", 4));
        let mut counts = [0usize; 4];
        for i in 0..4000 {
            counts[owner(format!("{i}-call@192.0.2.1").as_bytes(), 4)] += 1;
        }
        // Every shard gets a fair share (FNV on sequential ids spreads well).
        for c in counts {
            assert!((700..1300).contains(&c), "{counts:?}");
        }
    }
}
