//! One module per command group.

pub mod name;
pub mod nfdc;
pub mod packet;
