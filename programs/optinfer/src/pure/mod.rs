//! Pure, allocation-free functions shared by the instructions and by the native and in-VM tests.
pub mod hash;
pub mod merkle;
pub mod ops;
pub mod tensor;
pub mod trace;
