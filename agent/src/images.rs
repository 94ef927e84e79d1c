//! The paper's service images (being written).
