//! Ogg on arbitrary bytes: a parsed page re-emits to the same bytes; packets read from the
//! stream, re-written by our writer, read back the same; the Ogg Opus reader never panics.
#![no_main]
use codecs::ogg::{GRANULE_NONE, PacketReader, PacketWriter, Page};
use codecs::oggopus::OggOpusReader;
use codecs::opus::SampleRate;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok((page, len)) = Page::parse(data, 0) {
        let mut out = Vec::new();
        page.emit(&mut out);
        assert_eq!(&out[..], &data[..len]);
        let (again, len2) = Page::parse(&out, 0).expect("our own page");
        assert_eq!(again, page);
        assert_eq!(len2, len);
    }

    let mut reader = PacketReader::with_max_packet_len(data, 64 * 1024);
    let mut packets = Vec::new();
    for _ in 0..10_000 {
        match reader.next_packet() {
            Ok(Some(p)) => packets.push(p.data.to_vec()),
            Ok(None) => break,
            Err(_) => {}
        }
    }
    let mut w = PacketWriter::new(Vec::new(), 1);
    for (i, p) in packets.iter().enumerate() {
        w.write_packet(p, if i % 3 == 0 { GRANULE_NONE } else { i as u64 }, false)
            .expect("not ended");
        if i % 5 == 4 {
            w.flush_page().expect("vec");
        }
    }
    let bytes = w.finish().expect("vec");
    let mut again = PacketReader::new(&bytes[..]);
    let mut back = Vec::new();
    while let Some(p) = again.next_packet().expect("our own stream") {
        back.push(p.data.to_vec());
    }
    assert_eq!(back, packets);

    if let Ok(mut opus) = OggOpusReader::new(data, SampleRate::Hz8000) {
        let mut buf = [0i16; 960];
        for _ in 0..1000 {
            match opus.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    }
});
