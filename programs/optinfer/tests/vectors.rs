//! Native run of the program's pure functions on state/vectors.json (the SBF VM runs the same file).
use optinfer::instructions::open_dispute::{record_fee, signed_leaf};
use optinfer::pure::{merkle, tensor, trace};
use optinfer::state::{open_batch_tree, BatchSibling};
use serde_json::Value;

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}
fn h32(s: &str) -> [u8; 32] {
    hex(s).try_into().unwrap()
}
fn vectors() -> Value {
    let p = concat!(env!("CARGO_MANIFEST_DIR"), "/../../state/vectors.json");
    serde_json::from_str(&std::fs::read_to_string(p).expect("state/vectors.json")).unwrap()
}

#[test]
fn merkle_vectors() {
    let v = vectors();
    for m in v["merkle"].as_array().unwrap() {
        let leaves: Vec<Vec<u8>> = m["leaves"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| hex(l.as_str().unwrap()))
            .collect();
        let root = h32(m["root"].as_str().unwrap());
        let n = leaves.len() as u64;
        assert_eq!(
            merkle::root_streaming(n, |i| merkle::leaf_hash(&leaves[i as usize])),
            root
        );
        for p in m["proofs"].as_array().unwrap() {
            let idx = p["index"].as_u64().unwrap();
            let sib: Vec<[u8; 32]> = p["siblings"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| h32(s.as_str().unwrap()))
                .collect();
            let leaf = merkle::leaf_hash(&leaves[idx as usize]);
            assert!(merkle::verify(&root, &leaf, idx, n, &sib));
            assert!(
                !merkle::verify(&root, &leaf, n, n, &sib),
                "index past the leaf count must fail"
            );
            let mut short = sib.clone();
            short.push([0u8; 32]);
            assert!(
                !merkle::verify(&root, &leaf, idx, n, &short),
                "wrong proof length must fail"
            );
        }
    }
}

#[test]
fn tensor_vectors() {
    let v = vectors();
    assert_eq!(v["chunkBytes"].as_u64().unwrap() as usize, tensor::CHUNK_BYTES);
    for t in v["tensors"].as_array().unwrap() {
        let dims: Vec<u32> = t["dims"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_u64().unwrap() as u32)
            .collect();
        let h = tensor::Header::new(t["dtype"].as_u64().unwrap() as u8, &dims).unwrap();
        let bytes = hex(t["bytes"].as_str().unwrap());
        assert_eq!(h.byte_len(), Some(bytes.len() as u64));
        assert_eq!(tensor::chunk_root(&bytes), h32(t["chunkRoot"].as_str().unwrap()));
        assert_eq!(tensor::tensor_digest(&h, &bytes), h32(t["digest"].as_str().unwrap()));
    }
}

#[test]
fn trace_vectors() {
    let v = vectors();
    for t in v["traces"].as_array().unwrap() {
        let mut p = trace::seed(
            &h32(t["modelId"].as_str().unwrap()),
            &h32(t["inputDigest"].as_str().unwrap()),
            &h32(t["profileHash"].as_str().unwrap()),
        );
        let ds = t["layerDigests"].as_array().unwrap();
        let want: Vec<[u8; 32]> = t["prefixes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| h32(s.as_str().unwrap()))
            .collect();
        for (i, d) in ds.iter().enumerate() {
            p = trace::step(&p, i as u32, &h32(d.as_str().unwrap()));
            assert_eq!(p, want[i]);
        }
        let root = merkle::root_streaming(want.len() as u64, |i| merkle::leaf_hash(&want[i as usize]));
        assert_eq!(root, h32(t["root"].as_str().unwrap()));
    }
}

#[test]
fn batch_vectors() {
    let v = vectors();
    for b in v["batches"].as_array().unwrap() {
        let recs: Vec<Vec<u8>> = b["records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| hex(r.as_str().unwrap()))
            .collect();
        assert!(recs.iter().all(|r| r.len() == 168));
        let sigs: Vec<Vec<u8>> = b["signatures"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| hex(s.as_str().unwrap()))
            .collect();
        assert_eq!(sigs.len(), recs.len());
        // The leaf commits to the executor's signature: H(0x00 || record || signature), as open_dispute hashes it.
        let leaves: Vec<[u8; 32]> = recs
            .iter()
            .zip(&sigs)
            .map(|(r, s)| signed_leaf(r.as_slice().try_into().unwrap(), s.as_slice().try_into().unwrap()))
            .collect();
        let root = h32(b["root"].as_str().unwrap());
        let fee_sum: u64 = b["feeSum"].as_str().unwrap().parse().unwrap();
        // The batch tree is a sum tree: every opening shows the same root and the batch's fee sum.
        for p in b["proofs"].as_array().unwrap() {
            let idx = p["index"].as_u64().unwrap();
            let fees = p["siblingFees"].as_array().unwrap();
            let sib: Vec<BatchSibling> = p["siblings"]
                .as_array()
                .unwrap()
                .iter()
                .zip(fees)
                .map(|(s, f)| BatchSibling {
                    hash: h32(s.as_str().unwrap()),
                    fees: f.as_str().unwrap().parse().unwrap(),
                })
                .collect();
            let rec: &[u8; 168] = recs[idx as usize].as_slice().try_into().unwrap();
            let sum = open_batch_tree(
                &root,
                &leaves[idx as usize],
                record_fee(rec),
                idx,
                recs.len() as u64,
                &sib,
            );
            assert_eq!(sum, Some(fee_sum));
            // Past the leaf row, any other fee for the leaf opens no root (a 1-job tree is its leaf, whose
            // hash holds the record and so its fee; the program always reads the fee from the record).
            if recs.len() > 1 {
                assert_eq!(
                    open_batch_tree(
                        &root,
                        &leaves[idx as usize],
                        record_fee(rec) + 1,
                        idx,
                        recs.len() as u64,
                        &sib
                    ),
                    None
                );
            }
        }
    }
}
