//! One module per command group.

pub mod images;
pub mod name;
pub mod nfdc;
pub mod packet;
