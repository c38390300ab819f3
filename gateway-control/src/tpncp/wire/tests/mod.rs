mod errors;
mod framing;
mod layouts;
mod roundtrip;
mod strategies;
mod vectors;
