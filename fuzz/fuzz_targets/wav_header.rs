//! WAV reader on arbitrary bytes: never panics; 16-bit files re-emitted by our writer read back
//! to the same samples.
#![no_main]
use codecs::wav::{SampleFormat, WavReader, WavWriter};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(mut reader) = WavReader::new(data) else {
        return;
    };
    let spec = reader.spec();
    let mut samples = Vec::new();
    let mut buf = [0i16; 777];
    while let Ok(n @ 1..) = reader.read_samples(&mut buf) {
        samples.extend_from_slice(&buf[..n]);
    }
    assert_eq!(samples.len() % usize::from(spec.channels), 0);
    if let Some(t) = reader.truncation() {
        assert!(t.read_bytes < t.declared_bytes);
    }
    // mono read of the same input gives one sample per frame
    let mut mono_reader = WavReader::new(data).expect("parsed once");
    let mut mono = 0;
    while let Ok(n @ 1..) = mono_reader.read_mono(&mut buf) {
        mono += n;
    }
    assert_eq!(mono * usize::from(spec.channels), samples.len());

    if spec.format == SampleFormat::I16 && spec.channels <= 2 {
        let frames = (samples.len() / usize::from(spec.channels)) as u64;
        let mut w = WavWriter::new(Vec::new(), spec.sample_rate, spec.channels, Some(frames))
            .expect("spec from a parsed file");
        w.write_samples(&samples).expect("declared length");
        let bytes = w.finish().expect("complete");
        let mut again = WavReader::new(&bytes[..]).expect("our own header");
        assert_eq!(again.spec(), spec);
        let mut back = Vec::new();
        while let Ok(n @ 1..) = again.read_samples(&mut buf) {
            back.extend_from_slice(&buf[..n]);
        }
        assert_eq!(back, samples);
    }
});
