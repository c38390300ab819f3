//! Strategies the codecs' property tests share: text matching a regular expression, borrowed
//! for the whole test run as the messages' `&'a str` fields want.

use proptest::prelude::*;

/// `s`, kept for the rest of the process (test data only).
pub(crate) fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

/// Text matching `re`.
pub(crate) fn text(re: &'static str) -> impl Strategy<Value = &'static str> {
    proptest::string::string_regex(re)
        .expect("valid regex")
        .prop_map(leak)
}
