//! The streaming media pipeline the rest of the product uses.
