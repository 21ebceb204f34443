//! Native checks of the dispute phase table in game.rs (dispute/phases.test.ts compares it with TypeScript).
use optinfer::game::{Move, Mover, Phase, PHASES};
use optinfer::pure::tensor::Header;

#[test]
fn rows_are_indexed_by_the_stored_phase_byte() {
    for (i, r) in PHASES.iter().enumerate() {
        assert_eq!(r.phase as usize, i);
        assert_eq!(Phase::from_u8(i as u8), Some(r.phase));
        assert_eq!(r.phase.rule().phase, r.phase);
    }
    assert_eq!(Phase::from_u8(PHASES.len() as u8), None);
}

#[test]
fn every_open_phase_can_time_out_and_resolved_is_final() {
    for r in &PHASES[..PHASES.len() - 1] {
        assert!(r.phase.allows(Move::ClaimTimeout), "{:?}", r.phase);
        assert!(r.next.contains(&Phase::Resolved), "{:?}", r.phase);
        assert_ne!(r.mover, Mover::None, "{:?}", r.phase);
    }
    let end = Phase::Resolved.rule();
    assert!(end.moves.is_empty() && end.next.is_empty() && end.mover == Mover::None);
}

#[test]
fn each_dispute_move_belongs_to_its_phases() {
    assert!(Phase::ExecTrace.allows(Move::CommitTrace) && Phase::ChalTrace.allows(Move::CommitTrace));
    assert!(Phase::LayerBisect.allows(Move::BisectLayer) && !Phase::LayerBisect.allows(Move::RevealLayer));
    assert!(Phase::LayerReveal.allows(Move::RevealLayer));
    assert!(Phase::ChunkBisect.allows(Move::BisectChunk));
    assert!(Phase::OneStep.allows(Move::OneStep) && !Phase::OneStep.allows(Move::BisectChunk));
}

#[test]
fn packed_header_round_trips() {
    let h = Header::new(3, &[2, 70000, 1]).unwrap();
    let p = h.pack();
    assert_eq!(&p[..6], &[3, 3, 2, 0, 0, 0]);
    assert_eq!(Header::unpack(&p), h);
}
