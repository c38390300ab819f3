//! The `offhook` binary.
fn main() {}
