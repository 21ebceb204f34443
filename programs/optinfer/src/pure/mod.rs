//! Pure functions (no accounts, no Anchor) shared by the instructions and by the native and in-VM tests.
pub mod hash;
pub mod ieee;
pub mod input_set;
pub mod merkle;
pub mod ops;
pub mod reader;
pub mod shapes;
pub mod tensor;
pub mod tolerant;
pub mod trace;
pub mod transcend;
