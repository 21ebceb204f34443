//! Native run of every one-step op on tests/fixtures/op-cases.json and the ONNX conformance export
//! onnx-node-cases.json (the SBF VM runs the same files).
use optinfer::pure::ops::{compute_chunk, OpEntry, Operand};
use optinfer::pure::tensor::{Header, CHUNK_BYTES};
use serde_json::Value;

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn fixture(name: &str) -> Value {
    let p = format!("{}/../tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

#[test]
fn op_cases_match_native() {
    let cases = fixture("op-cases.json");
    let cases = cases.as_array().unwrap();
    assert!(cases.len() > 40);
    run_cases(cases);
}

#[test]
fn onnx_conformance_node_cases_match_native() {
    let f = fixture("onnx-node-cases.json");
    let cases = f["cases"].as_array().unwrap();
    assert!(cases.len() > 40);
    run_cases(cases);
}

fn run_cases(cases: &[Value]) {
    for c in cases {
        let name = c["name"].as_str().unwrap();
        let entry = OpEntry::parse(&hex(c["entry"].as_str().unwrap()));
        let bytes: Vec<Vec<u8>> = c["inputs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| hex(t["bytes"].as_str().unwrap()))
            .collect();
        let ins: Vec<Operand> = c["inputs"]
            .as_array()
            .unwrap()
            .iter()
            .zip(&bytes)
            .map(|(t, b)| {
                let dims: Vec<u32> = t["dims"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|d| d.as_u64().unwrap() as u32)
                    .collect();
                Operand::full(Header::new(t["dtype"].as_u64().unwrap() as u8, &dims).unwrap(), b)
            })
            .collect();
        let mut out = [0u8; CHUNK_BYTES];
        let (h, len) = compute_chunk(&entry, &ins, c["chunk"].as_u64().unwrap(), &mut out)
            .unwrap_or_else(|e| panic!("{name}: {e:?}"));
        let mut packed = vec![h.dtype, h.rank];
        for d in h.dims {
            packed.extend_from_slice(&d.to_le_bytes());
        }
        assert_eq!(packed, hex(c["header"].as_str().unwrap()), "{name}: header");
        assert_eq!(out[..len].to_vec(), hex(c["out"].as_str().unwrap()), "{name}: bytes");
    }
}
