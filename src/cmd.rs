//! One module per command group.

pub mod name;
pub mod packet;
