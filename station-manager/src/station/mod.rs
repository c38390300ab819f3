//! One state machine per station (phone).
