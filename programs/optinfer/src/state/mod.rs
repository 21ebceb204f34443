//! Account layouts (one file per account) and the PDA seeds, which live only in seeds.rs.
pub mod batch;
pub mod config;
pub mod data_request;
pub mod deposit;
pub mod dispute;
pub mod job;
pub mod model;
pub mod model_shapes;
pub mod operator;
pub mod proof_buffer;
pub mod seeds;
pub mod vault;

pub use batch::*;
pub use config::*;
pub use data_request::*;
pub use deposit::*;
pub use dispute::*;
pub use job::*;
pub use model::*;
pub use model_shapes::*;
pub use operator::*;
pub use proof_buffer::*;
pub use vault::*;
