//! The subcommands of the `offhook` binary, one module each.
pub(crate) mod convert;
