//! The one Merkle construction of PROTOCOL.md: 0x00 leaves, 0x01 nodes, ZERO padding to a power of two.
use super::hash::{hashv, Hash32, TAG_FEE_NODE, TAG_LEAF, TAG_NODE};

pub const ZERO: Hash32 = [0u8; 32];

#[inline]
pub fn leaf_hash(data: &[u8]) -> Hash32 {
    hashv(&[&[TAG_LEAF], data])
}

#[inline]
pub fn node_hash(left: &Hash32, right: &Hash32) -> Hash32 {
    hashv(&[&[TAG_NODE], left, right])
}

/// log2 of the padded width for `n` leaves (0 for n <= 1).
pub fn depth_for(n: u64) -> u32 {
    let mut d = 0u32;
    while (1u64 << d) < n {
        d += 1;
    }
    d
}

/// Recomputes the root from a leaf hash and its siblings, rejecting indexes that point at
/// padding and proofs of the wrong length so padding leaves can never be proven.
pub fn root_from_proof(leaf: &Hash32, index: u64, count: u64, siblings: &[Hash32]) -> Option<Hash32> {
    if count == 0 || index >= count || siblings.len() as u32 != depth_for(count) {
        return None;
    }
    let mut acc = *leaf;
    for (k, s) in siblings.iter().enumerate() {
        acc = if (index >> k) & 1 == 1 {
            node_hash(s, &acc)
        } else {
            node_hash(&acc, s)
        };
    }
    Some(acc)
}

pub fn verify(root: &Hash32, leaf: &Hash32, index: u64, count: u64, siblings: &[Hash32]) -> bool {
    matches!(root_from_proof(leaf, index, count, siblings), Some(r) if &r == root)
}

/// A batch tree node (docs/PROTOCOL.md "Batch tree"): H(0x09 || left || left_fees u64 LE || right ||
/// right_fees u64 LE), each side's hash with the sum of its leaves' record fees.
#[inline]
pub fn fee_node_hash(left: &Hash32, left_fees: u64, right: &Hash32, right_fees: u64) -> Hash32 {
    hashv(&[
        &[TAG_FEE_NODE],
        left,
        &left_fees.to_le_bytes(),
        right,
        &right_fees.to_le_bytes(),
    ])
}

/// Recomputes a batch tree's root and fee sum from a leaf (its hash and its record's fee) and its
/// siblings `(hash, fee sum)`, leaf row upwards. None for an index on padding or a proof of the wrong
/// length. Sums saturate at u64::MAX rather than fail: a tree whose sums pass u64 still opens (so its
/// records stay disputable), with a fee sum no escrow reaches (claims refused, the short escrow
/// provable). With sums non-negative and saturating, the fees of any set of distinct leaves that open
/// one root add up to at most the root's sum whenever that sum is below u64::MAX.
pub fn fee_root_from_proof<'a>(
    leaf: &Hash32,
    fee: u64,
    index: u64,
    count: u64,
    siblings: impl ExactSizeIterator<Item = (&'a Hash32, u64)>,
) -> Option<(Hash32, u64)> {
    if count == 0 || index >= count || siblings.len() as u32 != depth_for(count) {
        return None;
    }
    let (mut acc, mut sum) = (*leaf, fee);
    for (k, (s, s_fees)) in siblings.enumerate() {
        acc = if (index >> k) & 1 == 1 {
            fee_node_hash(s, s_fees, &acc, sum)
        } else {
            fee_node_hash(&acc, sum, s, s_fees)
        };
        sum = sum.saturating_add(s_fees);
    }
    Some((acc, sum))
}

/// Root over leaf hashes produced one at a time by `leaf_at`, keeping only one pending subtree
/// root per level instead of a whole row: the SBF heap is 32 KiB.
pub fn root_streaming(count: u64, mut leaf_at: impl FnMut(u64) -> Hash32) -> Hash32 {
    if count == 0 {
        return ZERO;
    }
    let padded = 1u64 << depth_for(count);
    // Heap, not stack: every handler is inlined into one 4 KiB SBF frame.
    let mut stack = alloc::vec![ZERO; 34];
    let mut heights = [0u8; 34];
    let mut sp = 0usize;
    for i in 0..padded {
        let mut h = if i < count { leaf_at(i) } else { ZERO };
        let mut ht = 0u8;
        while sp > 0 && heights[sp - 1] == ht {
            h = node_hash(&stack[sp - 1], &h);
            sp -= 1;
            ht += 1;
        }
        stack[sp] = h;
        heights[sp] = ht;
        sp += 1;
    }
    stack[0]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_leaves_cannot_be_proven() {
        let leaves: std::vec::Vec<Hash32> = (0..3u8).map(|i| leaf_hash(&[i])).collect();
        let root = root_streaming(3, |i| leaf_hash(&[i as u8]));
        // Index 3 is padding (ZERO); its "proof" is the real sibling path but must be refused.
        let l01 = node_hash(&leaves[0], &leaves[1]);
        assert!(!verify(&root, &ZERO, 3, 3, &[leaves[2], l01]));
        assert!(verify(&root, &leaves[2], 2, 3, &[ZERO, l01]));
        assert_eq!(root, node_hash(&l01, &node_hash(&leaves[2], &ZERO)));
    }

    #[test]
    fn fee_tree_opens_its_sum_and_refuses_overflow() {
        let (a, b, c) = (leaf_hash(b"a"), leaf_hash(b"b"), leaf_hash(b"c"));
        let ab = fee_node_hash(&a, 5, &b, 7);
        let cz = fee_node_hash(&c, 9, &ZERO, 0);
        let root = fee_node_hash(&ab, 12, &cz, 9);
        let open = |leaf: &Hash32, fee: u64, i: u64, n: u64, sibs: &[(Hash32, u64)]| {
            fee_root_from_proof(leaf, fee, i, n, sibs.iter().map(|(h, f)| (h, *f)))
        };
        assert_eq!(open(&b, 7, 1, 3, &[(a, 5), (cz, 9)]), Some((root, 21)));
        assert_eq!(open(&c, 9, 2, 3, &[(ZERO, 0), (ab, 12)]), Some((root, 21)));
        // Padding cannot be opened and a short proof is refused; a sum past u64 saturates.
        assert_eq!(open(&ZERO, 0, 3, 3, &[(c, 9), (ab, 12)]), None);
        assert_eq!(open(&b, 7, 1, 3, &[(a, 5)]), None);
        let top = fee_node_hash(&a, 1, &b, u64::MAX);
        assert_eq!(open(&b, u64::MAX, 1, 2, &[(a, 1)]), Some((top, u64::MAX)));
        // A fee other than the committed one opens another root.
        assert_ne!(open(&b, 8, 1, 3, &[(a, 5), (cz, 9)]).unwrap().0, root);
    }

    #[test]
    fn one_leaf_tree_is_the_leaf() {
        let l = leaf_hash(b"x");
        assert_eq!(root_streaming(1, |_| l), l);
        assert!(verify(&l, &l, 0, 1, &[]));
        assert!(!verify(&l, &l, 0, 1, &[ZERO]));
    }
}
